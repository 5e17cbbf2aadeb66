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
#include "detect_state.h"
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

/* The state file of this database and season filter ("" where the state directory
 * cannot be used: every night then reads the whole season). */
static int state_file(const mc_settings *settings, int season, char *path, size_t size)
{
    char dir[4096];
    path[0] = '\0';
    if (settings_state_dir(settings, dir, sizeof dir) != MC_OK) {
        log_warn("detect: no state directory (%s); reading the whole season", mc_error_message());
        mc_error_clear();
        return MC_OK;
    }
    const char *db_key = settings->db[0] ? settings->db : "private cluster";
    return detect_state_path(dir, db_key, season, path, size);
}

/* The stored series, through the state (the season's sums kept between nights). */
static int load_series(store *s, const mc_settings *settings, int season, const char *path,
                       detect_state **state, series_set *set, detect_stage_summary *out)
{
    store_series_filter filter = {settings->min_valid_pixels, settings->min_valid_share, season};
    const char *db_key = settings->db[0] ? settings->db : "private cluster";
    int rebuilt = 0;
    if (detect_state_load(s, path, db_key, season, &filter, state, set, &out->n_scenes_read,
                          &rebuilt) != MC_OK)
        return mc_fail_wrap("reading the stored observations");
    out->state_rebuilt = rebuilt;
    return MC_OK;
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

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
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
    char state_path[4200];
    detect_state *state = NULL;
    series_set set = {0};
    detect_result r = {0};
    double t_load = 0, t_detect = 0, t_store = 0, t_save = 0;
    int rc = state_file(settings, season, state_path, sizeof state_path);
    if (rc == MC_OK)
        rc = load_series(s, settings, season, state_path, &state, &set, out);
    t_load = seconds_since(&t0);
    if (rc == MC_OK && detect_stage_detect(&set, &m, &r) != MC_OK)
        rc = mc_fail_wrap("detecting on the stored observations");
    t_detect = seconds_since(&t0);
    if (rc == MC_OK)
        rc = detect_state_store_results(s, state, run_id, out->model_version, &r,
                                        &out->n_stored);
    t_store = seconds_since(&t0);
    if (rc == MC_OK && detect_state_save(state, state_path) != MC_OK) {
        /* the results are committed; the next night rebuilds what is missing */
        log_warn("detect: %s", mc_error_message());
    }
    t_save = seconds_since(&t0);
    log_debug("detect: series %.2f s (%zu scenes read%s), detection %.2f s, storing %zu "
              "parcel-seasons %.2f s, state file %.2f s", t_load, out->n_scenes_read,
              out->state_rebuilt ? ", state rebuilt" : "", t_detect - t_load, out->n_stored,
              t_store - t_detect, t_save - t_store);
    detect_state_free(state);
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
             "{\"parcels\": %zu, \"parcel_seasons\": %zu, \"events\": %zu, \"model\": \"%s\","
             " \"scenes_read\": %zu, \"state_rebuilt\": %s, \"parcel_seasons_stored\": %zu}",
             out->n_parcels, out->n_seasons, out->n_events, out->model_version,
             out->n_scenes_read, out->state_rebuilt ? "true" : "false", out->n_stored);
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
