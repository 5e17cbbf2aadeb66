/* Inside the detect state (detect_state.c: parcels, parts, series, results;
 * detect_state_file.c: the file). Not for other files. */
#ifndef MOWCHECK_DETECT_STATE_INTERNAL_H
#define MOWCHECK_DETECT_STATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct detect_state detect_state; /* as in detect_state.h */

enum { STATE_VERSION = 1, DIGEST_BYTES = 16 };

/* One parcel on one date: its parts summed, in 16 bytes (the state's size and the
 * time to read and write it follow from this). Counts below 65535 pixels (6.5 km²)
 * fit, and then so do the sums (|q| <= 10000); a date of a larger parcel keeps its
 * sums in the state's wide table (n_total = WIDE, sum_q = its index there). */
enum { WIDE = 0xFFFF };
typedef struct state_obs {
    uint16_t day; /* days since 1970-01-01 (until 2149) */
    uint16_t n_total, n_valid, n_moist;
    int32_t sum_q, sum_m;
} state_obs;

typedef struct wide_obs {
    int64_t n_total, n_valid, n_moist, sum_q, sum_m;
} wide_obs;

/* A part read from the database, of one parcel. */
typedef struct new_part {
    uint32_t parcel;
    state_obs obs;
} new_part;

/* What is stored of one parcel-season: its parcel_seasons row and its events. */
typedef struct result_digest {
    char *parcel_id;
    int32_t season;
    unsigned char summary[DIGEST_BYTES], events[DIGEST_BYTES];
} result_digest;

struct detect_state {
    char *db_key, *set_hash;
    int32_t season;
    store_series_scene *scenes; /* by scene_id (bytes) */
    size_t n_scenes;
    /* parcels: ids interned (index = parcel), each with its dates */
    char **ids;
    uint32_t *n_obs;
    uint64_t *first;            /* into obs */
    size_t n_parcels, cap_parcels;
    state_obs *obs;
    size_t n_obs_total;
    wide_obs *wide;
    size_t n_wide, cap_wide;
    uint32_t *slots;            /* open addressing: parcel + 1, 0 empty */
    size_t n_slots;
    /* what the last run that saved the state stored */
    store_detect_run_mark stored_by; /* run_id 0: unknown */
    char *model_version;
    result_digest *digests;     /* by parcel_id (bytes), season */
    size_t n_digests;
    /* the file: a base, then one section per night appended to it */
    int from_file, lock_fd;
    size_t n_sections;
    uint64_t base_bytes, file_bytes;
    /* what this night added: the next section */
    store_series_scene *new_scenes;
    size_t n_new_scenes, first_new_parcel;
    new_part *new_parts;
    size_t n_new_parts;
};

typedef struct part_batch {
    detect_state *st;
    new_part *parts;
    size_t n, cap;
} part_batch;

/* The parcel of id, added where new. */
int dstate_intern(detect_state *st, const char *id, uint32_t *parcel);
/* v into *o, in the wide table where it does not fit 16 bytes. */
int dstate_obs_set(detect_state *st, const store_raw_part *v, const char *parcel_id,
                   state_obs *o);
int dstate_reserve_parts(part_batch *b, size_t n);
/* The parts join the parcels' dates (a new array, parcel by parcel). */
int dstate_merge_parts(detect_state *st, const part_batch *b);
void dstate_forget_results(detect_state *st);
/* Reads the file at path into st; why: what is wrong with it ("" where nothing is; a
 * missing file is not wrong: *missing = 1). */
int dstate_read_file(const char *path, detect_state *st, int *missing, char *why, size_t size);

#endif
