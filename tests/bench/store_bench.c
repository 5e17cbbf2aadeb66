/* mowcheck-bench-store: the time to store one full tile-date's observation parts.
 *
 *   mowcheck-bench-store --db DSN [--parcels N] [--repeat N] [--swir]
 *
 * Against a database given by DSN (an empty one of a throwaway cluster, e.g.
 * tests/pg-fixture), it commits --repeat scenes of one tile on successive dates,
 * each with N parts (default 200000, ids as in the bench tile: B0000001, ...), through
 * store_scene_commit: partition, scene row, COPY and commit, which is what ingest's
 * "stored in" figure covers. Per scene it prints the wall time, mowcheck's CPU time
 * and the server backend's CPU time (from /proc: the cluster must run on this
 * machine), then the best and the median. Not a test: the benchmark scripts and the
 * performance doc use it. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "store_conn.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of process pid so far; -1 where /proc cannot tell. */
static double proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Plausible statistics of parcel i on scene k (the values do not change the cost). */
static store_obs_part make_part(const char *id, size_t i, int k, int swir)
{
    int64_t n_total = 50 + (int64_t)(i % 400);
    int64_t n_seen = n_total - (int64_t)(i % 3);
    int64_t n_valid = n_seen - (int64_t)((i + (size_t)k) % 7);
    int64_t q = 3000 + (int64_t)((i * 37 + (size_t)k) % 5000);
    store_obs_part p = {id, n_total, {n_valid, n_seen, q * n_valid, q * q * n_valid, 0, 0}};
    if (swir) {
        p.stats.n_moist = n_valid;
        p.stats.sum_m = 1200 * n_valid;
    }
    return p;
}

static void usage(void)
{
    fprintf(stderr, "usage: mowcheck-bench-store --db DSN [--parcels N] [--repeat N] [--swir]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dsn = NULL;
    long n_parcels = 200000, repeat = 5;
    int swir = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dsn = argv[++i];
        else if (!strcmp(argv[i], "--parcels") && i + 1 < argc)
            n_parcels = atol(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atol(argv[++i]);
        else if (!strcmp(argv[i], "--swir"))
            swir = 1;
        else
            usage();
    }
    if (!dsn || n_parcels < 1 || repeat < 1 || repeat > 28)
        usage();

    store_options opt = {.dsn = dsn};
    store *s = NULL;
    if (store_open(&opt, &s) != MC_OK) {
        fprintf(stderr, "mowcheck-bench-store: %s\n", mc_error_message());
        return 1;
    }
    int64_t run_id = 0;
    tile_grid grid = {"35VLF", 3301, {600000, 10, 0, 6500040, 0, -10}, 10980, 10980};
    if (store_run_begin(s, "bench-store", &run_id) != MC_OK ||
        store_parcel_set_put(s, "bench-set", "bench.gpkg", "parcel_id", (size_t)n_parcels) !=
            MC_OK ||
        store_tile_put(s, &grid) != MC_OK) {
        fprintf(stderr, "mowcheck-bench-store: %s\n", mc_error_message());
        return 1;
    }
    char (*ids)[24] = malloc((size_t)n_parcels * sizeof *ids);
    store_obs_part *parts = malloc((size_t)n_parcels * sizeof *parts);
    double *wall = malloc((size_t)repeat * sizeof *wall);
    if (!ids || !parts || !wall)
        return 1;
    for (long i = 0; i < n_parcels; i++)
        snprintf(ids[i], sizeof ids[i], "B%07ld", i + 1);
    int backend = PQbackendPID(s->conn);
    printf("storing %ld scenes of %ld parts%s\n", repeat, n_parcels, swir ? " (with NDMI)" : "");
    for (int k = 0; k < repeat; k++) {
        for (long i = 0; i < n_parcels; i++)
            parts[i] = make_part(ids[i], (size_t)i, k, swir);
        scene_info sc;
        memset(&sc, 0, sizeof sc);
        int day = 1 + k % 28; /* repeat <= 28 */
        snprintf(sc.acquired_on, sizeof sc.acquired_on, "2026-06-%02d", day);
        snprintf(sc.scene_id, sizeof sc.scene_id, "S2B_35VLF_202606%02d_0_L2A", day);
        snprintf(sc.tile_id, sizeof sc.tile_id, "35VLF");
        snprintf(sc.satellite, sizeof sc.satellite, "S2B");
        snprintf(sc.path, sizeof sc.path, "/bench/%s", sc.scene_id);
        sc.reflectance_offset_dn = -1000;
        sc.has_swir = swir;
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        double b0 = proc_cpu_s(backend);
        int duplicate = 0;
        if (store_scene_commit(s, run_id, &sc, "bench-set", parts, (size_t)n_parcels,
                               &duplicate, NULL) != MC_OK ||
            duplicate) {
            fprintf(stderr, "mowcheck-bench-store: %s\n",
                    duplicate ? "scene already stored (use an empty database)"
                              : mc_error_message());
            return 1;
        }
        wall[k] = clock_s(CLOCK_MONOTONIC) - t0;
        double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, b1 = proc_cpu_s(backend);
        printf("scene %d: %.3f s wall, mowcheck cpu %.3f s, server cpu %.3f s\n", k + 1,
               wall[k], cpu, b0 >= 0 && b1 >= 0 ? b1 - b0 : -1.0);
    }
    qsort(wall, (size_t)repeat, sizeof *wall, cmp_double);
    printf("store %ld parts: best %.3f s, median %.3f s wall\n", n_parcels, wall[0],
           wall[repeat / 2]);
    free(ids);
    free(parts);
    free(wall);
    store_close(s);
    return 0;
}
