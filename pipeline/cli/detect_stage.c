#include "detect_stage.h"

#include <errno.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "detect.h"
#include "error.h"
#include "log.h"
#include "progress.h"
#include "stage_counts.h"

int detect_model_version(const char *path, const void *model, char *buf, size_t size)
{
    char *text = NULL;
    if (model_to_text((const detect_model *)model, &text) != MC_OK)
        return MC_ERR;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL);
    free(text);
    if (!ok)
        return mc_fail("model version: SHA-256 failed");
    char name_buf[4096];
    snprintf(name_buf, sizeof name_buf, "%s", path && *path ? path : MODEL_DEFAULT_PATH);
    int n = snprintf(buf, size, "%s@", basename(name_buf));
    for (unsigned i = 0; i < 6 && n > 0 && (size_t)n + 2 < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%02x", digest[i]);
    return MC_OK;
}

/* The stored series as CSV in memory (the observed test of the settings applied). */
static int load_stored_series(store *s, const mc_settings *settings, int season, char **csv,
                              size_t *csv_len)
{
    FILE *mem = open_memstream(csv, csv_len);
    if (!mem)
        return mc_fail("detect: cannot open a memory stream: %s", strerror(errno));
    store_series_filter filter = {settings->min_valid_pixels, settings->min_valid_share, season};
    int rc = store_export_series(s, &filter, mem);
    if (fclose(mem) != 0 && rc == MC_OK)
        rc = mc_fail("detect: memory stream: %s", strerror(errno));
    return rc;
}

typedef int (*result_writer)(FILE *, const detect_result *);

typedef struct csv_job {
    result_writer writer;
    const detect_result *result;
} csv_job;

static int write_csv(FILE *out, void *arg)
{
    csv_job *job = arg;
    return job->writer(out, job->result);
}

int detect_stage_write_csv(const char *path, const detect_result *r, result_writer writer)
{
    if (!path)
        return MC_OK;
    csv_job job = {writer, r};
    return output_write(path, write_csv, &job);
}

int detect_stage_detect(const series_set *set, const detect_model *m, detect_result *out)
{
    progress bar;
    progress_begin(&bar, "parcels", (int64_t)set->n_parcels);
    int rc = detect_run_progress(set, m, &bar, out);
    progress_end(&bar);
    return rc;
}

static int store_result(store *s, int64_t run_id, const char *version, const detect_result *r)
{
    store_detected_season *seasons = calloc(r->n_summaries + 1, sizeof *seasons);
    store_detected_event *events = calloc(r->n_events + 1, sizeof *events);
    if (!seasons || !events) {
        free(seasons);
        free(events);
        return mc_fail("detect: out of memory");
    }
    for (size_t i = 0; i < r->n_summaries; i++) {
        const detect_summary *d = &r->summaries[i];
        seasons[i] = (store_detected_season){d->parcel_id, d->season, d->n_clear_obs,
                                             d->sufficient, d->mowed_probability,
                                             detect_reason_text(d->reason)};
    }
    for (size_t i = 0; i < r->n_events; i++) {
        const detect_event *e = &r->events[i];
        events[i] = (store_detected_event){e->parcel_id, e->season, e->day_start,
                                           e->day_end, e->day, e->confidence};
    }
    int rc = store_detection_replace(s, run_id, version, seasons, r->n_summaries, events,
                                     r->n_events);
    free(seasons);
    free(events);
    return rc;
}

static void count_calls(const detect_result *r, detect_stage_summary *out)
{
    out->n_seasons = r->n_summaries;
    out->n_events = r->n_events;
    for (size_t i = 0; i < r->n_summaries; i++) {
        detect_call c = r->summaries[i].call;
        out->n_call_mowed += c == DETECT_CALL_MOWED;
        out->n_call_not_mowed += c == DETECT_CALL_NOT_MOWED;
        out->n_insufficient += c == DETECT_CALL_NONE;
    }
}

int detect_stage_run(store *s, const mc_settings *settings, int season, const char *events_out,
                     const char *summary_out, detect_stage_summary *out)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(out, 0, sizeof *out);
    detect_model m;
    if (detect_load_model(settings->model, &m) != MC_OK ||
        detect_model_version(settings->model, &m, out->model_version,
                             sizeof out->model_version) != MC_OK)
        return MC_ERR;

    int64_t run_id;
    if (store_run_begin(s, "detect", &run_id) != MC_OK)
        return MC_ERR;
    char *csv = NULL;
    size_t csv_len = 0;
    series_set set = {0};
    detect_result r = {0};
    int rc = load_stored_series(s, settings, season, &csv, &csv_len);
    if (rc == MC_OK) {
        FILE *in = fmemopen(csv, csv_len ? csv_len : 1, "r");
        if (!in)
            rc = mc_fail("detect: cannot read the stored series back: %s", strerror(errno));
        else {
            rc = series_read(in, "stored observations", &set);
            fclose(in);
        }
        if (rc == MC_OK && detect_stage_detect(&set, &m, &r) != MC_OK)
            rc = mc_fail_wrap("detecting on the stored observations");
    }
    free(csv);
    if (rc == MC_OK)
        rc = store_result(s, run_id, out->model_version, &r);
    if (rc == MC_OK)
        rc = detect_stage_write_csv(events_out, &r, detect_write_events);
    if (rc == MC_OK)
        rc = detect_stage_write_csv(summary_out, &r, detect_write_summaries);
    out->n_parcels = set.n_parcels;
    count_calls(&r, out);
    if (rc == MC_OK) { /* for `mowcheck run`'s summary */
        stage_counts_set("detect_parcels", (int64_t)out->n_parcels);
        stage_counts_set("parcel_seasons", (int64_t)out->n_seasons);
        stage_counts_set("events", (int64_t)out->n_events);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    char summary_json[512];
    snprintf(summary_json, sizeof summary_json,
             "{\"parcels\": %zu, \"parcel_seasons\": %zu, \"events\": %zu, \"model\": \"%s\"}",
             out->n_parcels, out->n_seasons, out->n_events, out->model_version);
    if (rc != MC_OK) {
        char message[2048];
        snprintf(message, sizeof message, "%s", mc_error_message());
        store_run_end(s, run_id, "failed", NULL);
        mc_fail("%s", message);
    } else if (store_run_end(s, run_id, "ok", summary_json) != MC_OK) {
        rc = MC_ERR;
    }
    detect_result_free(&r);
    series_free(&set);
    return rc;
}
