/* mowcheck-make-sample: writes the sample region (or one full-size benchmark
 * tile), deterministically from a seed. See data-samples/README.md. */
#include <dirent.h>
#include <errno.h>
#include <gdal.h>
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpl_conv.h"
#include "error.h"
#include "sample.h"

enum { DEFAULT_SEED = 2026 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mowcheck-make-sample --out DIR [--seed N] [--with-faults] [--vectors-only]\n"
            "                            [--threads N] [--force]\n"
            "       mowcheck-make-sample --bench-tile DIR [--parcels N] [--seed N] [--bench-b11]\n"
            "\n"
            "  --out DIR        write the sample region: DIR/scenes/<scene_id>/{B04,B08,B11,SCL}.tif\n"
            "                   and item.json, DIR/parcels.gpkg, DIR/truth.csv,\n"
            "                   DIR/truth-events.csv, DIR/claims.csv, DIR/scenes.csv\n"
            "  --seed N         seed (default %d); the same seed gives the same bytes\n"
            "  --with-faults    add bad deliveries: truncated B08, missing SCL, item.json that\n"
            "                   does not parse, a duplicate delivery (_1_)\n"
            "  --vectors-only   only parcels.gpkg and the CSVs (what data-samples/region holds)\n"
            "  --threads N      scenes rendered in parallel (default: OpenMP's count)\n"
            "  --force          write into a DIR/scenes that already has scenes\n"
            "  --bench-tile DIR one full-size tile-date (10980 x 10980) and N parcels\n"
            "  --parcels N      parcels for --bench-tile (default 200000)\n"
            "  --bench-b11      --bench-tile writes B11.tif (SWIR, 20 m) too; the ingest\n"
            "                   benchmark is defined without it\n",
            DEFAULT_SEED);
}

typedef struct options {
    const char *out, *bench_dir;
    uint64_t seed;
    long parcels;
    int with_faults, vectors_only, threads, force, bench_b11;
} options;

static int parse_number(const char *flag, const char *text, long long min, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || end == text || v < min)
        return mc_fail("%s: not a number >= %lld: '%s'", flag, min, text);
    *out = v;
    return MC_OK;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){NULL, NULL, DEFAULT_SEED, 200000, 0, 0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        long long v;
        if (!strcmp(a, "--with-faults"))
            o->with_faults = 1;
        else if (!strcmp(a, "--vectors-only"))
            o->vectors_only = 1;
        else if (!strcmp(a, "--force"))
            o->force = 1;
        else if (!strcmp(a, "--bench-b11"))
            o->bench_b11 = 1;
        else if (!strcmp(a, "--out") && has_value)
            o->out = argv[++i];
        else if (!strcmp(a, "--bench-tile") && has_value)
            o->bench_dir = argv[++i];
        else if (!strcmp(a, "--seed") && has_value) {
            if (parse_number(a, argv[++i], 0, &v) != MC_OK)
                return MC_ERR;
            o->seed = (uint64_t)v;
        } else if (!strcmp(a, "--parcels") && has_value) {
            if (parse_number(a, argv[++i], 1, &v) != MC_OK)
                return MC_ERR;
            o->parcels = (long)v;
        } else if (!strcmp(a, "--threads") && has_value) {
            if (parse_number(a, argv[++i], 1, &v) != MC_OK)
                return MC_ERR;
            o->threads = (int)v;
        } else
            return mc_fail("unknown option or missing value: %s", a);
    }
    if (!o->out == !o->bench_dir)
        return mc_fail("give exactly one of --out DIR and --bench-tile DIR");
    if (o->bench_b11 && !o->bench_dir)
        return mc_fail("--bench-b11 goes with --bench-tile DIR");
    return MC_OK;
}

/* Refuse to mix a new sample into an old one unless asked (stale scenes would stay). */
static int check_scenes_empty(const char *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/scenes", out);
    DIR *d = opendir(path);
    if (!d)
        return MC_OK;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    if (n)
        return mc_fail("%s already holds %d scene(s); remove it or pass --force", path, n);
    return MC_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int make_sample(const options *o)
{
    if (!o->force && !o->vectors_only && check_scenes_empty(o->out) != MC_OK)
        return MC_ERR;
    if (sample_mkdirs(o->out) != MC_OK)
        return MC_ERR;
    double t0 = now_s();
    sample_region r;
    if (sample_region_build(o->seed, o->with_faults, &r) != MC_OK)
        return MC_ERR;
    int rc = sample_write_vectors(&r, o->out);
    if (rc == MC_OK)
        rc = sample_write_tables(&r, o->out);
    if (rc == MC_OK && !o->vectors_only) {
        rc = sample_write_scenes(&r, o->out, o->threads > 0 ? o->threads : omp_get_max_threads());
        if (rc == MC_OK)
            rc = sample_write_manifest(&r, o->out);
    }
    if (rc == MC_OK)
        fprintf(stderr,
                "mowcheck-make-sample: %s: %zu parcels, %zu claims, %d dates, %zu scenes "
                "(seed %llu%s) in %.1f s\n",
                o->out, r.n_parcels, r.n_claims, r.n_dates, o->vectors_only ? (size_t)0 : r.n_scenes,
                (unsigned long long)o->seed, o->with_faults ? ", with faults" : "", now_s() - t0);
    sample_region_free(&r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    options o;
    if (parse_args(argc, argv, &o) != MC_OK) {
        fprintf(stderr, "mowcheck-make-sample: %s\n", mc_error_message());
        usage(stderr);
        return 2;
    }
    GDALAllRegister();
    /* GeoPackage stamps the current time into gpkg_contents; pin it so the same
     * seed gives the same bytes. */
    CPLSetConfigOption("OGR_CURRENT_DATE", "2026-01-01T00:00:00.000Z");
    CPLSetConfigOption("GDAL_PAM_ENABLED", "NO");
    json_object_seed(1);
    int rc = o.bench_dir ? sample_bench_tile(o.bench_dir, o.seed, o.parcels, o.bench_b11) : make_sample(&o);
    GDALDestroyDriverManager();
    if (rc != MC_OK) {
        fprintf(stderr, "mowcheck-make-sample: error: %s\n", mc_error_message());
        return 1;
    }
    return 0;
}
