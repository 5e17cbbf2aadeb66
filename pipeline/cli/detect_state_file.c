/* The detect state's file: a base (the whole state) and a section per night
 * appended since, each a header (magic, version, byte order, length, SHA-256 of the
 * contents) and its contents; detect_state.h says what they hold. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect_state.h"
#include "detect_state_internal.h"
#include "error.h"
#include "log.h"

static const char state_magic[8] = "MCDETST", section_magic[8] = "MCDETSC";
/* A night appends a section while the sections stay under half the base; then the
 * state is written whole again. */
enum { MAX_SECTIONS = 64 };
static const uint32_t byte_order_mark = 0x01020304u;

typedef struct writer {
    FILE *f;
    EVP_MD_CTX *md;
    uint64_t len;
    int failed;
} writer;

static void put(writer *w, const void *data, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (fwrite(data, 1, n, w->f) != n || !EVP_DigestUpdate(w->md, data, n))
        w->failed = 1;
    w->len += n;
}

static void put_u32(writer *w, uint32_t v) { put(w, &v, sizeof v); }
static void put_i64(writer *w, int64_t v) { put(w, &v, sizeof v); }

static void put_str(writer *w, const char *s)
{
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    put(w, s, n);
}

typedef struct header {
    char magic[8];
    uint32_t version, order;
    uint64_t payload_len;
    unsigned char sha256[32];
} header;

static void put_scene(writer *w, const store_series_scene *sc)
{
    put_str(w, sc->scene_id);
    put_str(w, sc->tile_id);
    put_u32(w, (uint32_t)sc->day);
    put_i64(w, sc->ingested_us);
    put_i64(w, sc->run_id);
    put_u32(w, (uint32_t)sc->has_swir);
}

/* The bytes put_results writes (a section names them, so a reader can skip them). */
static uint64_t results_bytes(const detect_state *st)
{
    uint64_t n = 8 + 8 + 4 + (st->model_version ? strlen(st->model_version) : 0) + 8;
    for (size_t i = 0; i < st->n_digests; i++)
        n += 4 + strlen(st->digests[i].parcel_id) + 4 + 2 * DIGEST_BYTES;
    return n;
}

static void put_results(writer *w, const detect_state *st)
{
    put_i64(w, st->stored_by.run_id);
    put_i64(w, st->stored_by.started_us);
    put_str(w, st->model_version ? st->model_version : "");
    put_i64(w, (int64_t)st->n_digests);
    for (size_t i = 0; i < st->n_digests; i++) {
        put_str(w, st->digests[i].parcel_id);
        put_u32(w, (uint32_t)st->digests[i].season);
        put(w, st->digests[i].summary, DIGEST_BYTES);
        put(w, st->digests[i].events, DIGEST_BYTES);
    }
}

static void write_base(writer *w, const detect_state *st)
{
    put_str(w, st->db_key);
    put_u32(w, (uint32_t)st->season);
    put_str(w, st->set_hash);
    put_i64(w, (int64_t)st->n_scenes);
    for (size_t i = 0; i < st->n_scenes; i++)
        put_scene(w, &st->scenes[i]);
    put_i64(w, (int64_t)st->n_parcels);
    for (size_t p = 0; p < st->n_parcels; p++) {
        put_str(w, st->ids[p]);
        put_u32(w, st->n_obs[p]);
    }
    for (size_t p = 0; p < st->n_parcels; p++)
        put(w, st->obs + st->first[p], st->n_obs[p] * sizeof *st->obs);
    put_i64(w, (int64_t)st->n_wide);
    put(w, st->wide, st->n_wide * sizeof *st->wide);
    put_results(w, st);
}

/* This night's scenes, new parcel ids and parts (their wide sums numbered within
 * the section), and the results. */
static void write_section(writer *w, const detect_state *st)
{
    put_i64(w, (int64_t)st->n_new_scenes);
    for (size_t i = 0; i < st->n_new_scenes; i++)
        put_scene(w, &st->new_scenes[i]);
    put_i64(w, (int64_t)(st->n_parcels - st->first_new_parcel));
    for (size_t p = st->first_new_parcel; p < st->n_parcels; p++)
        put_str(w, st->ids[p]);
    put_i64(w, (int64_t)st->n_new_parts);
    int32_t n_wide = 0;
    for (size_t i = 0; i < st->n_new_parts; i++) {
        new_part np = st->new_parts[i];
        if (np.obs.n_total == WIDE)
            np.obs.sum_q = n_wide++;
        put(w, &np, sizeof np);
    }
    put_i64(w, n_wide);
    for (size_t i = 0; i < st->n_new_parts; i++)
        if (st->new_parts[i].obs.n_total == WIDE)
            put(w, &st->wide[st->new_parts[i].obs.sum_q], sizeof *st->wide);
    put_i64(w, (int64_t)results_bytes(st));
    put_results(w, st);
}

/* Header, then payload, into f at its current position (the header written again
 * once the payload's length and digest are known). */
static int write_block(FILE *f, const char *magic, const detect_state *st,
                       void (*payload)(writer *, const detect_state *), uint64_t *bytes)
{
    long start = ftell(f);
    writer w = {f, EVP_MD_CTX_new(), 0, 0};
    header h = {.version = STATE_VERSION, .order = byte_order_mark};
    memcpy(h.magic, magic, sizeof h.magic);
    w.failed = start < 0 || !w.md || fwrite(&h, sizeof h, 1, f) != 1 ||
               !EVP_DigestInit_ex(w.md, EVP_sha256(), NULL);
    payload(&w, st);
    h.payload_len = w.len;
    unsigned int n = 0;
    if (!w.failed && (!EVP_DigestFinal_ex(w.md, h.sha256, &n) || fseek(f, start, SEEK_SET) != 0 ||
                      fwrite(&h, sizeof h, 1, f) != 1 || fseek(f, 0, SEEK_END) != 0))
        w.failed = 1;
    EVP_MD_CTX_free(w.md);
    *bytes = sizeof h + w.len;
    return w.failed ? MC_ERR : MC_OK;
}

/* The whole state, to a temporary file renamed over path. */
static int save_whole(const detect_state *st, const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return mc_fail("detect state %s: cannot write: %s", tmp, strerror(errno));
    uint64_t bytes;
    /* synced before the rename, so that a crash leaves the old file or the whole new
     * one (a torn file would fail its checksum and be rebuilt, more slowly) */
    int failed = write_block(f, state_magic, st, write_base, &bytes) != MC_OK ||
                 fflush(f) != 0 || fsync(fileno(f)) != 0;
    int err = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (failed || rename(tmp, path) != 0) {
        if (!failed)
            err = errno;
        unlink(tmp);
        return mc_fail("detect state %s: cannot write: %s", path, strerror(err));
    }
    return MC_OK;
}

/* This night as a section at the end of the file it was read from; on failure the
 * file is cut back to what it was. *appended = 0 where the file is not as read. */
static int append_section(const detect_state *st, const char *path, int *appended)
{
    *appended = 0;
    FILE *f = fopen(path, "r+b");
    struct stat sb;
    if (!f)
        return MC_OK;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size != st->file_bytes ||
        fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return MC_OK;
    }
    uint64_t bytes;
    int rc = write_block(f, section_magic, st, write_section, &bytes);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = MC_ERR;
    int err = errno;
    if (rc != MC_OK && ftruncate(fileno(f), (off_t)st->file_bytes) != 0)
        unlink(path);
    if (fclose(f) != 0 && rc == MC_OK) {
        rc = MC_ERR;
        err = errno;
    }
    if (rc != MC_OK)
        return mc_fail("detect state %s: cannot append: %s", path, strerror(err));
    *appended = 1;
    return MC_OK;
}

int detect_state_save(const detect_state *st, const char *path)
{
    if (!path[0])
        return MC_OK;
    uint64_t section = 64 + 20 * (uint64_t)st->n_new_parts + results_bytes(st);
    if (st->from_file && st->n_sections < MAX_SECTIONS &&
        st->file_bytes - st->base_bytes + section < st->base_bytes / 2) {
        int appended = 0;
        if (append_section(st, path, &appended) == MC_OK && appended)
            return MC_OK;
        log_warn("detect: %s; writing the state whole", mc_error_message()); /* then whole */
    }
    return save_whole(st, path);
}

typedef struct reader {
    const unsigned char *p, *end;
    int bad;
} reader;

static void get(reader *r, void *out, size_t n)
{
    if (n == 0) /* (out may be the NULL array of an empty section) */
        return;
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

static uint32_t get_u32(reader *r)
{
    uint32_t v;
    get(r, &v, sizeof v);
    return v;
}

static int64_t get_i64(reader *r)
{
    int64_t v;
    get(r, &v, sizeof v);
    return v;
}

static char *get_str(reader *r)
{
    uint32_t n = get_u32(r);
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    char *s = strndup((const char *)r->p, n);
    r->p += n;
    if (!s || strlen(s) != n)
        r->bad = 1;
    return s;
}

/* A count read from the file that must fit what is left of it. */
static size_t get_count(reader *r, size_t min_bytes_each)
{
    int64_t n = get_i64(r);
    if (n < 0 || (uint64_t)n > (uint64_t)(r->end - r->p) / min_bytes_each) {
        r->bad = 1;
        return 0;
    }
    return (size_t)n;
}

static int add_scene_slot(detect_state *st)
{
    store_series_scene *grown = realloc(st->scenes, (st->n_scenes + 1) * sizeof *grown);
    if (!grown)
        return MC_ERR;
    st->scenes = grown;
    memset(&st->scenes[st->n_scenes], 0, sizeof *st->scenes);
    return MC_OK;
}

static void read_scenes(reader *r, detect_state *st)
{
    size_t n = get_count(r, 36);
    for (size_t i = 0; i < n && !r->bad; i++) {
        if (add_scene_slot(st) != MC_OK) {
            r->bad = 1;
            return;
        }
        store_series_scene *sc = &st->scenes[st->n_scenes++];
        sc->scene_id = get_str(r);
        sc->tile_id = get_str(r);
        sc->day = (int32_t)get_u32(r);
        sc->ingested_us = get_i64(r);
        sc->run_id = get_i64(r);
        sc->has_swir = (int)get_u32(r);
    }
}

static int by_scene_id(const void *a, const void *b)
{
    return strcmp(((const store_series_scene *)a)->scene_id,
                  ((const store_series_scene *)b)->scene_id);
}

/* Sections add scenes in any order: by id again, each once. */
static void sort_scenes(reader *r, detect_state *st)
{
    if (r->bad)
        return;
    qsort(st->scenes, st->n_scenes, sizeof *st->scenes, by_scene_id);
    for (size_t i = 1; i < st->n_scenes; i++)
        if (strcmp(st->scenes[i - 1].scene_id, st->scenes[i].scene_id) == 0)
            r->bad = 1;
}

static void read_parcels(reader *r, detect_state *st)
{
    size_t n = get_count(r, 8);
    uint64_t total = 0;
    for (size_t p = 0; p < n && !r->bad; p++) {
        char *id = get_str(r);
        uint32_t parcel;
        if (!id || dstate_intern(st, id, &parcel) != MC_OK || parcel != p)
            r->bad = 1; /* a repeated id */
        free(id);
        if (!r->bad) {
            st->n_obs[p] = get_u32(r);
            st->first[p] = total;
            total += st->n_obs[p];
        }
    }
    if (r->bad || total > (uint64_t)(r->end - r->p) / sizeof *st->obs) {
        r->bad = 1;
        return;
    }
    st->obs = malloc((total + 1) * sizeof *st->obs);
    if (!st->obs) {
        r->bad = 1;
        return;
    }
    get(r, st->obs, total * sizeof *st->obs);
    st->n_obs_total = total;
    size_t n_wide = get_count(r, sizeof *st->wide);
    st->wide = malloc((n_wide + 1) * sizeof *st->wide);
    if (!st->wide) {
        r->bad = 1;
        return;
    }
    get(r, st->wide, n_wide * sizeof *st->wide);
    st->n_wide = st->cap_wide = n_wide;
    for (size_t i = 0; i < total && !r->bad; i++) /* wide references inside the table */
        if (st->obs[i].n_total == WIDE &&
            (st->obs[i].sum_q < 0 || (size_t)st->obs[i].sum_q >= n_wide))
            r->bad = 1;
}

static void read_section_parts(reader *r, detect_state *st, part_batch *b)
{
    size_t n_ids = get_count(r, 4);
    for (size_t i = 0; i < n_ids && !r->bad; i++) {
        char *id = get_str(r);
        uint32_t parcel;
        size_t before = st->n_parcels;
        if (!id || dstate_intern(st, id, &parcel) != MC_OK || parcel != before)
            r->bad = 1; /* an id the state had */
        free(id);
    }
    size_t n = get_count(r, sizeof(new_part));
    if (r->bad || dstate_reserve_parts(b, b->n + n) != MC_OK) {
        r->bad = 1;
        return;
    }
    size_t first = b->n, wide_base = st->n_wide;
    get(r, b->parts + first, n * sizeof *b->parts);
    b->n += n;
    size_t n_wide = get_count(r, sizeof *st->wide);
    for (size_t i = 0; i < n_wide && !r->bad; i++) {
        wide_obs w;
        get(r, &w, sizeof w);
        store_raw_part v = {0, w.n_total, w.n_valid, w.n_moist, w.sum_q, w.sum_m};
        state_obs o;
        if (!r->bad && (dstate_obs_set(st, &v, "(state)", &o) != MC_OK || o.n_total != WIDE))
            r->bad = 1; /* a wide entry that would fit 16 bytes was not written by us */
    }
    for (size_t i = first; i < b->n && !r->bad; i++) {
        new_part *np = &b->parts[i];
        if (np->parcel >= st->n_parcels ||
            (np->obs.n_total == WIDE && (np->obs.sum_q < 0 || (size_t)np->obs.sum_q >= n_wide)))
            r->bad = 1;
        else if (np->obs.n_total == WIDE)
            np->obs.sum_q += (int32_t)wide_base;
    }
}

static void read_results(reader *r, detect_state *st)
{
    st->stored_by.run_id = get_i64(r);
    st->stored_by.started_us = get_i64(r);
    free(st->model_version);
    st->model_version = get_str(r);
    size_t n = get_count(r, 4 + 4 + 2 * DIGEST_BYTES);
    st->digests = calloc(n + 1, sizeof *st->digests);
    if (!st->digests) {
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < n && !r->bad; i++) {
        result_digest *d = &st->digests[i];
        d->parcel_id = get_str(r);
        d->season = (int32_t)get_u32(r);
        get(r, d->summary, DIGEST_BYTES);
        get(r, d->events, DIGEST_BYTES);
        st->n_digests++;
    }
}

/* The block at buf[at]: its header checked, *payload and *len set; "" or why not. */
static void check_block(const unsigned char *buf, uint64_t size, uint64_t at, const char *magic,
                        const unsigned char **payload, uint64_t *len, char *why, size_t why_size)
{
    header h;
    if (size - at < sizeof h) {
        snprintf(why, why_size, "cut short at byte %llu", (unsigned long long)at);
        return;
    }
    memcpy(&h, buf + at, sizeof h);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (memcmp(h.magic, magic, sizeof h.magic) != 0)
        snprintf(why, why_size, "not a detect state file at byte %llu", (unsigned long long)at);
    else if (h.version != STATE_VERSION || h.order != byte_order_mark)
        snprintf(why, why_size, "version %u, this mowcheck writes %d", h.version, STATE_VERSION);
    else if (h.payload_len > size - at - sizeof h)
        snprintf(why, why_size, "cut short (a block at byte %llu wants %llu bytes)",
                 (unsigned long long)at, (unsigned long long)h.payload_len);
    else if (!EVP_Digest(buf + at + sizeof h, h.payload_len, digest, &n, EVP_sha256(), NULL) ||
             memcmp(digest, h.sha256, sizeof h.sha256) != 0)
        snprintf(why, why_size, "checksum mismatch at byte %llu (damaged)",
                 (unsigned long long)at);
    *payload = buf + at + sizeof h;
    *len = h.payload_len;
}

/* The sections after the base: scenes and parcels added, parts merged, and the
 * results of the last one. */
static void read_sections(const unsigned char *buf, uint64_t size, detect_state *st, char *why,
                          size_t why_size)
{
    part_batch b = {st, NULL, 0, 0};
    const unsigned char *results = NULL;
    uint64_t results_len = 0, at = st->base_bytes;
    reader r = {buf, buf, 0};
    while (at < size && !why[0] && !r.bad) {
        const unsigned char *payload = NULL;
        uint64_t len = 0;
        check_block(buf, size, at, section_magic, &payload, &len, why, why_size);
        if (why[0])
            break;
        r = (reader){payload, payload + len, 0};
        read_scenes(&r, st);
        read_section_parts(&r, st, &b);
        results_len = (uint64_t)get_i64(&r);
        results = r.p;
        if (results_len != (uint64_t)(r.end - r.p))
            r.bad = 1;
        at += sizeof(header) + len;
        st->n_sections++;
    }
    if (!why[0] && results) {
        dstate_forget_results(st);
        reader rr = {results, results + results_len, 0};
        read_results(&rr, st);
        r.bad |= rr.bad || rr.p != rr.end;
    }
    sort_scenes(&r, st);
    if (!why[0] && r.bad)
        snprintf(why, why_size, "a section's contents do not parse");
    if (!why[0] && b.n && dstate_merge_parts(st, &b) != MC_OK)
        snprintf(why, why_size, "%s", mc_error_message());
    free(b.parts);
}

static void read_base(const unsigned char *payload, uint64_t len, detect_state *st, char *why,
                      size_t why_size)
{
    reader r = {payload, payload + len, 0};
    st->db_key = get_str(&r);
    st->season = (int32_t)get_u32(&r);
    st->set_hash = get_str(&r);
    read_scenes(&r, st);
    sort_scenes(&r, st);
    read_parcels(&r, st);
    read_results(&r, st);
    if (r.bad || r.p != r.end)
        snprintf(why, why_size, "its contents do not parse");
}

/* Reads the file into st; *why: what is wrong with it ("" where nothing is; a
 * missing file is not wrong, *missing = 1). */
int dstate_read_file(const char *path, detect_state *st, int *missing, char *why,
                           size_t size)
{
    why[0] = '\0';
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            *missing = 1;
        else
            snprintf(why, size, "cannot open: %s", strerror(errno));
        return MC_OK;
    }
    struct stat sb;
    unsigned char *buf = MAP_FAILED; /* mapped: read once, by the checksum, not copied */
    uint64_t bytes = 0;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < (off_t)sizeof(header))
        snprintf(why, size, "not a detect state file");
    else if ((buf = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fileno(f), 0)) ==
             MAP_FAILED)
        snprintf(why, size, "cannot read: %s", strerror(errno));
    else
        bytes = (uint64_t)sb.st_size;
    fclose(f);
    const unsigned char *payload = NULL;
    uint64_t len = 0;
    if (!why[0])
        check_block(buf, bytes, 0, state_magic, &payload, &len, why, size);
    if (!why[0]) {
        st->base_bytes = sizeof(header) + len;
        st->file_bytes = bytes;
        read_base(payload, len, st, why, size);
    }
    if (!why[0])
        read_sections(buf, bytes, st, why, size);
    if (buf != MAP_FAILED)
        munmap(buf, (size_t)sb.st_size);
    return MC_OK;
}
