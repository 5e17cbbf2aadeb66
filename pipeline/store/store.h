/* Storage: the one narrow door between the stages and PostgreSQL.
 *
 * store_open() connects to the DSN given, or, with none, starts (and later
 * stops) a private cluster in the state directory: initdb + pg_ctl, Unix socket
 * only, run as an unprivileged user when we are root. It then applies the
 * migrations in schemas/ that are not applied yet.
 *
 * Every write that belongs together is one transaction: a scene's observations
 * are either all stored with the scene marked ingested, or none are. */
#ifndef MOWCHECK_STORE_H
#define MOWCHECK_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "casenum.h"
#include "kernel.h"
#include "scene_types.h"

typedef struct store store;

typedef struct store_options {
    const char *dsn;        /* libpq connection string; NULL or "": private cluster */
    const char *state_dir;  /* where the private cluster lives (required without dsn) */
    const char *schema_dir; /* migrations; NULL: the installed/source schemas/ */
} store_options;

int store_open(const store_options *opt, store **out);
/* Closes the connection and stops the private cluster if this process started it. */
void store_close(store *s);

/* ---- one batch at a time ---- */
/* A session-level advisory lock named after a command or stage ("run"): with wait
 * 0, *acquired = 0 where another session holds it; with wait 1, blocks until it is
 * free. Released by store_stage_unlock or when the connection ends, so a killed
 * run never leaves it held. */
int store_stage_lock(store *s, const char *name, int wait, int *acquired);
void store_stage_unlock(store *s, const char *name);

/* ---- runs ---- */
int store_run_begin(store *s, const char *command, int64_t *run_id);
/* status: "ok", "failed", "partial"; summary_json may be NULL. */
int store_run_end(store *s, int64_t run_id, const char *status, const char *summary_json);

/* ---- parcel sets and tiles ---- */
/* Records the parcel set (content hash of file + id field + buffer) as the current one. */
int store_parcel_set_put(store *s, const char *set_hash, const char *source_path,
                         const char *id_field, size_t n_parcels);
int store_tile_put(store *s, const tile_grid *grid);
/* All tiles ever seen; caller frees *grids with free(). */
int store_tiles_get(store *s, tile_grid **grids, size_t *n);
/* Replaces the pixel counts of the set's parcels in this tile (pixels the tile owns). */
int store_parcel_tile_put(store *s, const char *set_hash, const char *tile_id,
                          const char *const *parcel_ids, const int64_t *n_pixels, size_t n);

/* Every parcel of a parcel set and the overlaps between them (schemas/030), so that
 * decide asks about each one, also those no tile holds a pixel of. */
typedef struct store_parcel_overlap {
    const char *parcel_id, *other_parcel_id;
    double share;              /* of parcel_id's area that other_parcel_id covers */
} store_parcel_overlap;
/* *known = 1 where the set's members are stored already. */
int store_parcel_members_known(store *s, const char *set_hash, int *known);
/* Stores them once per set (one transaction; a set stored meanwhile by another
 * worker is left as it is). refused[i]: why parcel i's geometry was refused, NULL
 * where accepted (refused may be NULL: none). */
int store_parcel_members_put(store *s, const char *set_hash, const char *const *ids,
                             const char *const *refused, size_t n,
                             const store_parcel_overlap *overlaps, size_t n_overlaps);

/* ---- scenes ---- */
/* What the store holds of a scene, for the parcel set being ingested. */
typedef enum {
    STORE_SCENE_NEW = 0,        /* not stored */
    STORE_SCENE_STORED = 1,     /* stored for this parcel set: nothing to do */
    STORE_SCENE_OTHER_SET = 2,  /* stored for another parcel set: measured again for this one */
    STORE_SCENE_SWIR_ADDED = 3, /* stored without B11, which the folder has now: measured
                                 * again so that its date gets NDMI */
} store_scene_state;
/* swir_on_disk: the scene's folder has B11.tif now. */
int store_scene_state_of(store *s, const char *scene_id, const char *set_hash, int swir_on_disk,
                         store_scene_state *state);
/* Takes a session-level advisory lock on the scene so that concurrent workers
 * skip it: *claimed = 0 where another session holds it or it is already stored for
 * set_hash (and with B11 where swir_on_disk). */
int store_scene_claim(store *s, const char *scene_id, const char *set_hash, int swir_on_disk,
                      int *claimed);
void store_scene_release(store *s, const char *scene_id);

typedef struct store_obs_part {
    const char *parcel_id;
    int64_t n_total;   /* parcel pixels this tile owns */
    kernel_stats stats;
} store_obs_part;

/* One transaction: the scene row (status ingested) plus its observation parts (COPY).
 * *duplicate = 1 (and nothing written) where another scene of the same tile and date
 * is already ingested. A scene stored for another parcel set, or stored without B11
 * where scene->has_swir, is taken over: its old parts are replaced by these and the
 * row names set_hash and has_swir (*remeasured = 1; may be NULL). */
int store_scene_commit(store *s, int64_t run_id, const scene_info *scene, const char *set_hash,
                       const store_obs_part *parts, size_t n_parts, int *duplicate,
                       int *remeasured);
/* Stored scenes (of these tiles; all tiles where n_tiles is 0) measured for a parcel
 * set other than set_hash: their dates are missing from set_hash's series. */
int store_scenes_of_other_sets(store *s, const char *set_hash, const char *const *tiles,
                               size_t n_tiles, long *n);
/* Records that a scene was refused and why (kept per path; a later night retries it). */
int store_scene_reject(store *s, int64_t run_id, const char *scene_id, const char *path,
                       const char *reason);
/* An operator's acknowledgement of a permanently bad delivery (store_ignore.c): scene is a
 * scene id, a delivery path or its folder name; a second call replaces the reason. */
int store_scene_ignore(store *s, const char *scene, const char *reason);
/* Whether a refused delivery was acknowledged: by its scene id, its path, or the last
 * component of the path. Fills reason (may be NULL) where it was. */
int store_scene_ignored(store *s, const char *scene_id, const char *path, int *ignored,
                        char *reason, size_t reason_size);

/* ---- series ---- */
typedef struct store_series_filter {
    int64_t min_valid_pixels;  /* below: the date is "not observed" (ndvi empty) */
    double min_valid_share;    /* n_valid / n_total below this: not observed */
    int season;                /* 0: all */
} store_series_filter;

/* Writes the series CSV: parcel_id,date,ndvi,valid_share,n_valid,n_total,ndvi_std,n_seen,ndmi
 * ordered by parcel_id, date. ndvi and ndvi_std are empty where the date is not observed;
 * ndmi also where fewer than half of the valid pixels had B11 (SWIR) data. */
int store_export_series(store *s, const store_series_filter *filter, FILE *out);

/* ---- the season's observations as stored sums, for the detect stage's own state
 * (store_series.c). A snapshot is one read-only REPEATABLE READ transaction:
 * everything read between store_series_begin and store_series_end sees the same
 * committed scenes. ---- */
enum { STORE_PARCEL_ID_MAX = 256 }; /* bytes of a parcel id, its NUL included */

typedef struct store_series_scene {
    char *scene_id, *tile_id;
    int32_t day;            /* acquired on, days since 1970-01-01 */
    int64_t ingested_us;    /* when its parts were written (re-measuring renews it) */
    int64_t run_id;         /* the run that wrote them (0: none) */
    int has_swir;
} store_series_scene;

typedef struct store_parcel_size {
    char *parcel_id;
    int64_t n_pixels;       /* over all tiles of the current set: the observations' n_total */
} store_parcel_size;

typedef struct store_series_snapshot {
    char *set_hash;                 /* the current parcel set; "" where none is */
    store_series_scene *scenes;     /* the season's scenes of that set, by scene_id (bytes) */
    size_t n_scenes;
    store_parcel_size *sizes;       /* the set's parcels that some tile holds, any order */
    size_t n_sizes;
} store_series_snapshot;

/* One parcel's part of one scene, or the sum of a parcel's parts on one date. */
typedef struct store_raw_part {
    int32_t day;
    int64_t n_total, n_valid, n_moist, sum_q, sum_m; /* NDMI sums 0 where the scene had no B11 */
} store_raw_part;

/* season 0: all. Where no parcel set is current, scenes of several sets are refused
 * (the series would hold a parcel's date twice). */
int store_series_begin(store *s, int season, store_series_snapshot *snap);
/* Ends the snapshot's transaction and frees it. */
void store_series_end(store *s, store_series_snapshot *snap);
typedef int (*store_part_fn)(void *arg, const char *parcel_id, const store_raw_part *part);
/* Inside a snapshot: the parts of these scenes (binary COPY), in no order. */
int store_series_parts(store *s, const store_series_scene *const *scenes, size_t n,
                       store_part_fn fn, void *arg);
/* Inside a snapshot: the parts of every scene of the snapshot's season. */
int store_series_all_parts(store *s, int season, store_part_fn fn, void *arg);

/* The observation rule of store_export_series, in C: the same decisions and the same
 * rounded values the series reader would take from the CSV. */
typedef struct store_series_rule {
    int64_t min_valid_pixels;
    uint64_t share_mantissa; /* min_valid_share = mantissa / 10^exp10, its decimal text */
    int share_exp10;
} store_series_rule;

int store_series_rule_make(const store_series_filter *filter, store_series_rule *rule);
/* One date of a parcel (its parts summed; n_total as the view takes it): ndvi and ndmi,
 * NAN where the CSV's field would be empty. MC_ERR (no message) for counts out of range. */
int store_series_apply(const store_series_rule *rule, int64_t n_total, const store_raw_part *sums,
                       float *ndvi, float *ndmi);

/* A run as the detect state remembers it: its id and when it started (an id alone
 * could be another database's, or one made again). */
typedef struct store_detect_run_mark {
    int64_t run_id, started_us;
} store_detect_run_mark;
/* *unchanged = 1 where the run `last` is in this database and no detect run but
 * this_run_id started after it (so the rows it stored are still its own); *this_run:
 * this_run_id's mark. */
int store_detect_runs_check(store *s, const store_detect_run_mark *last, int64_t this_run_id,
                            int *unchanged, store_detect_run_mark *this_run);

/* ---- audit log (registry requests; append-only; store_audit.c, schemas/010_audit.sql) ---- */
/* One row per request ATTEMPT to the registry, committed on its own (autocommit:
 * calling this inside an open transaction is refused, so that a later rollback
 * cannot take the row with it). Arrays of strings; NULL texts are stored as NULL. */
typedef struct store_audit_row {
    int64_t run_id;                 /* 0: none */
    int attempt;                    /* 1, 2, ... within its batch */
    const char *client;             /* X-Road-Client as sent */
    const char *service;            /* INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE as sent */
    const char *user_id, *issue, *purpose;
    int season;
    const char *const *parcel_ids;  /* asked about */
    size_t n_parcels;
    const char *const *claim_ids;   /* returned (validated) claims, n_claims each, */
    const char *const *claim_parcels; /* parallel: the claim's parcel */
    const char *const *applicants;  /* and its applicant (pseudonymous code) */
    size_t n_claims;
    const char *x_road_id;          /* ours (request) */
    const char *response_x_road_id, *request_id, *request_hash; /* NULL if none came */
    int request_hash_check;         /* 1: matches the request sent, -1: differs, 0: unchecked */
    int http_status;                /* 0: no HTTP answer */
    const char *error_type;         /* X-Road-Error type, timeout, connection, malformed,
                                       tls, registry; NULL on success */
    const char *error_message;
    int64_t duration_ms;
} store_audit_row;

int store_audit_append(store *s, const store_audit_row *row);

/* The farmer's view: every attempt that concerned the applicant's parcels (by the
 * applicant in returned claims, or by a parcel asked about in a season in which
 * an answer showed it to be the applicant's). Only the applicant's own parcels
 * and claims are listed; other applicants' never. Oldest first. */
typedef struct store_access_entry {
    int64_t id;
    char *logged_at;      /* ISO 8601, UTC */
    char *client, *user_id, *issue, *purpose, *service, *x_road_id;
    int season;
    char *parcels;        /* the applicant's parcels asked about, comma-separated */
    int64_t n_claims;     /* the applicant's claims returned */
    int http_status;      /* 0: no HTTP answer */
    char *error_type;     /* "" on success */
} store_access_entry;

int store_audit_access_log(store *s, const char *applicant, store_access_entry **entries,
                           size_t *n);
void store_access_entries_free(store_access_entry *entries, size_t n);

/* ---- detector output (store_events.c; schemas/015_events.sql) ---- */
typedef struct store_detected_event {
    const char *parcel_id;
    int season;
    int32_t day_start, day_end, day; /* days since 1970-01-01 */
    double confidence;
} store_detected_event;

typedef struct store_detected_season {
    const char *parcel_id;
    int season;
    int n_clear_obs;
    int sufficient;
    double mowed_probability;
    const char *reason; /* detect_reason_text */
    int keep_events;    /* 1: its stored events are still right; events must hold none of it */
} store_detected_season;

/* The model versions (detect_model_version) the stored detections of a season were
 * made with, distinct and sorted. Free with store_strings_free. */
int store_detection_models(store *s, int season, char ***versions, size_t *n);
/* One transaction: the events and summaries of the given parcel-seasons replace the
 * rows those parcel-seasons had (a re-run changes nothing; a parcel-season whose
 * events disappeared loses them), but for the events of a season with keep_events. */
int store_detection_replace(store *s, int64_t run_id, const char *model_version,
                            const store_detected_season *seasons, size_t n_seasons,
                            const store_detected_event *events, size_t n_events);
/* The same, for a caller that left out the parcel-seasons it believes were stored by
 * run `written_by` and are unchanged since: under the detect lock, the last run that
 * stored detections (schemas/095) must be written_by; where it is not, nothing is
 * written and *stale = 1, and the caller stores every parcel-season instead. */
int store_detection_replace_since(store *s, int64_t written_by, int64_t run_id,
                                  const char *model_version,
                                  const store_detected_season *seasons, size_t n_seasons,
                                  const store_detected_event *events, size_t n_events,
                                  int *stale);

/* ---- decisions, cases, reviews (store_decisions.c; schemas/015_events.sql, 020_decisions.sql) ---- */
/* What the decide stage needs of one parcel in one season: the detector's summary and
 * events (tables parcel_seasons, events) and its clear observations up to as_of (the
 * same "observed" test as store_export_series). Days are days since 1970-01-01. */
typedef struct store_event_row {
    int32_t day_start, day_end, day;
    double confidence;
} store_event_row;

typedef struct store_evidence {
    char *parcel_id;
    int has_summary, sufficient, unsure; /* unsure: the detector's reason is uncertain_event
                                            or no_event_unconfirmed (a plausible candidate) */
    char *model_version;                 /* "" where none */
    store_event_row *events;             /* day_end <= as_of */
    size_t n_events;
    int32_t *clear_days;                 /* ascending, <= as_of */
    size_t n_clear_days;
    int64_t scenes_used;                 /* scenes of the season (<= as_of) that saw the parcel */
} store_evidence;

/* All parcels with a summary, events or observations in the season; sorted by
 * parcel_id (byte order). */
int store_evidence_load(store *s, int season, int32_t as_of_day,
                        const store_series_filter *observed, store_evidence **ev, size_t *n);
void store_evidence_free(store_evidence *ev, size_t n);
/* The parcels to ask the registry about: the current parcel set's and any with evidence
 * in the season (sorted, distinct). Free with store_strings_free. */
int store_decide_parcel_ids(store *s, int season, char ***ids, size_t *n);
void store_strings_free(char **v, size_t n);

/* Parcels of the current set whose claims the satellite cannot decide: the geometry
 * was refused, other parcels cover more than parcel_overlap_share of it, or no
 * tile measured a pixel of it (after the inner buffer; only once some tile of the
 * set was measured). Sorted by parcel_id (byte order). */
typedef enum {
    STORE_PARCEL_REFUSED = 0,   /* detail: why the geometry was refused */
    STORE_PARCEL_OVERLAP,       /* detail: the other parcel covering the largest share
                                 * (n_overlaps: how many overlap it; share: all of them) */
    STORE_PARCEL_NO_PIXELS      /* detail: "" */
} store_parcel_problem_kind;

typedef struct store_parcel_problem {
    char *parcel_id;
    store_parcel_problem_kind kind;
    char *detail;
    double share;               /* STORE_PARCEL_OVERLAP: of this parcel's area, in all */
    size_t n_overlaps;          /* STORE_PARCEL_OVERLAP: parcels that overlap it */
} store_parcel_problem;

int store_parcel_problems_load(store *s, store_parcel_problem **out, size_t *n);
void store_parcel_problems_free(store_parcel_problem *p, size_t n);

/* The nightly invariant, read after the decisions are committed: every claim id
 * has exactly one current decision in the season, every parcel at least one
 * (its claims' or its own error). *n_bad: those that do not; `bad` names the
 * first of them ("" where none). */
int store_decisions_check(store *s, int season, const char *const *claim_ids, size_t n_claims,
                          const char *const *parcel_ids, size_t n_parcels, size_t *n_bad,
                          char *bad, size_t size);

typedef struct store_decision {
    const char *claim_id;      /* NULL: the parcel's claims could not be fetched (error) */
    const char *parcel_id;
    int season;
    const char *applicant, *scheme, *window_start, *window_end; /* NULL where unknown */
    int min_mowings;
    const char *outcome, *rule, *reason_json, *reason_text, *model_version;
    int64_t run_id;
    const char *as_of;         /* YYYY-MM-DD */
} store_decision;

typedef enum {
    STORE_DECISION_NEW = 0,    /* first decision of the claim-season */
    STORE_DECISION_UNCHANGED,  /* same as the current one: nothing written */
    STORE_DECISION_CHANGED,    /* a new current decision; the old one kept as history */
    STORE_DECISION_PROPOSED,   /* reviewed: left as it is, the differing proposal recorded */
    STORE_DECISION_KEPT        /* parcel-level error where the parcel's claims already have
                                  decisions: those are kept, nothing written */
} store_decision_effect;

/* Decisions are written inside store_decide_begin .. store_decide_commit (one
 * transaction; an advisory lock keeps two decide runs apart). */
int store_decide_begin(store *s);
int store_decide_commit(store *s);
void store_decide_abort(store *s); /* rolls back, keeping the error message */
/* Writes one decision as above; a flagged outcome (not_mowed, inconclusive) gets its
 * claim-season's case, made once. case_number (size >= 32) receives the claim's case
 * number, "" where it has none. */
int store_decision_put(store *s, const store_decision *d, store_decision_effect *effect,
                       char *case_number, size_t size);
/* The same for n claims' decisions (every claim_id set), sent together so that the
 * server answers them without a round trip each (libpq pipeline mode); effects[i] and
 * case_numbers[i] as for store_decision_put. A failure names the first claim that
 * failed; the transaction is then aborted like any failed statement. Up to a few
 * hundred at a time: the answers wait in the socket until all are sent. */
int store_decisions_put_claims(store *s, const store_decision *d, size_t n,
                               store_decision_effect *effects, char (*case_numbers)[CASENUM_MAX]);

/* One case as `mowcheck case` shows it. */
typedef struct store_review_row {
    int64_t review_id;
    char *verdict, *inspector, *note, *reviewed_at;
    char *db_login;          /* the database login that recorded it (session_user); "" for
                                reviews recorded before schemas/040 */
    int64_t supersedes;      /* the review it overrides; 0: none */
    char *supersede_reason;  /* NULL where it overrides none */
} store_review_row;

typedef struct store_case {
    char *case_number, *claim_id, *parcel_id, *created_at;
    int season;
    char *applicant, *scheme, *window_start, *window_end;
    int min_mowings;
    char *outcome, *rule, *reason_text, *reason_json, *model_version, *decided_at, *as_of;
    store_review_row *reviews;  /* oldest first; the last one counts */
    size_t n_reviews;
    char *proposal_outcome, *proposal_text, *proposed_at; /* latest proposal; NULL if none */
} store_case;

/* *found = 0 where no such case exists. The number must already be valid (casenum_parse). */
int store_case_get(store *s, const char *case_number, store_case *c, int *found);
void store_case_free(store_case *c);
/* Records a verdict (mowed, not_mowed, needs_visit) on an existing case. A verdict
 * that differs from a final one (mowed, not_mowed) already on the case is refused
 * (schemas/040_review_history.sql): it needs store_review_supersede. */
int store_review_add(store *s, const char *case_number, const char *verdict,
                     const char *inspector, const char *note);
/* Records a verdict that overrides the case's latest review, with the reason why
 * (reason NULL: as store_review_add). inspector NULL: the database login. */
int store_review_supersede(store *s, const char *case_number, const char *verdict,
                           const char *inspector, const char *note, const char *reason);
/* The decision feed: claim_id,parcel_id,season,outcome,case_number,reviewed,reason for
 * every current decision (season 0: all), ordered by season, claim. `reviewed` is the
 * latest verdict (empty where none) and `reason` then starts with the inspector's. */
int store_export_decisions(store *s, int season, FILE *out);

/* ---- reports (store_report.c) ---- */
/* A flagged claim (current decision not_mowed or inconclusive). reviewed: the latest
 * verdict, "" where none; reason as in the decision feed; case_number "" where none. */
typedef struct store_flagged {
    char *claim_id, *parcel_id, *outcome, *case_number, *reviewed, *reason;
    int season;
    char *applicant, *scheme, *window_start, *window_end; /* "" where unknown */
    char *rule; /* the decision rule's code (decide_why_code), e.g. "coverage_gap" */
    int64_t decision_id; /* the current decision */
    int64_t review_id;   /* the latest review; 0: none */
} store_flagged;

/* Ordered by season, claim_id (byte order). season 0: all seasons. */
int store_flagged_load(store *s, int season, store_flagged **rows, size_t *n);
void store_flagged_free(store_flagged *rows, size_t n);
/* The current parcel set's file and id field (*found = 0 where none was recorded). */
int store_parcel_source(store *s, char **path, char **id_field, int *found);

/* What the inspector report shows of one flagged claim. Days since 1970-01-01. */
typedef struct store_report_point {
    int32_t day;
    int observed;  /* 0: lost to cloud (too few valid pixels, the filter of store_export_series) */
    double ndvi;   /* where observed */
} store_report_point;

typedef struct store_report_detail {
    int32_t window_start, window_end; /* INT32_MIN where unknown */
    char *tile_id;                    /* the tile holding most of the parcel; "" where none */
    int has_summary;
    double window_confidence;         /* the figure the decision rule compared with the
                                       * approval threshold: the most confident event
                                       * touching the claim's window (0: none) */
    char *detector_reason;            /* "" where none */
    store_event_row *events;          /* the season's detected events, by date */
    size_t n_events;
    store_report_point *points;       /* the season's dates that saw the parcel, ascending */
    size_t n_points;
} store_report_detail;

/* Every flagged claim of a season (0: all) with its window, events and points (read with
 * the filter given), read in two queries and held in memory for a report run (about 250
 * bytes a claim and 16 a date). Read claim by claim, the points cost a scan of the whole
 * season per claim: observation_parts has no index on parcel_id
 * (schemas/022_observation_parts_brin.sql). Call it outside a transaction. */
typedef struct store_report_prefetch store_report_prefetch;

int store_report_prefetch_load(store *s, int season, const store_series_filter *observed,
                               store_report_prefetch **prefetch);
void store_report_prefetch_free(store_report_prefetch *prefetch);

/* prefetch: NULL, or from store_report_prefetch_load; what it does not hold (a claim
 * flagged since, points of another filter) is read from the database. */
int store_report_detail_load(store *s, const store_flagged *f,
                             const store_series_filter *observed,
                             const store_report_prefetch *prefetch, store_report_detail *d);
void store_report_detail_free(store_report_detail *d);

/* ---- farmer notices as issued (store_notices.c; schemas/040_review_history.sql) ---- */
typedef struct store_notice_key {
    const char *case_number, *lang;
    int64_t decision_id, review_id; /* review_id 0: the notice reflects no review */
} store_notice_key;

typedef struct store_farmer_notice {
    int64_t notice_id;
    char *state;
    int32_t issued_on, deadline;    /* days since 1970-01-01; deadline INT32_MIN: none */
    char *body_text, *body_html;
    int intact;                     /* the bodies still hash to content_sha256 */
} store_farmer_notice;

/* The notice already issued for key (*found = 0 where none). */
int store_notice_find(store *s, const store_notice_key *key, store_farmer_notice *n, int *found);
/* Records a notice for key unless one exists (then nothing changes: the first wins). */
int store_notice_put(store *s, const store_notice_key *key, const store_farmer_notice *n);
void store_notice_free(store_farmer_notice *n);

/* The latest run of each stage command (ingest, detect, decide, run), by command:
 * seconds NaN while still running; cpu_joules NaN where the run's summary has none. */
typedef struct store_run_info {
    char *command, *status, *started_at; /* started_at: YYYY-MM-DD HH:MM:SS UTC */
    double seconds, cpu_joules;
    char *summary;                       /* the run's summary JSON; NULL where none */
} store_run_info;

int store_report_runs(store *s, store_run_info **runs, size_t *n);
/* The scene of a tile on a day: its folder and reflectance offset (*found = 0: none). */
int store_report_scene(store *s, const char *tile_id, int32_t day, char **path,
                       int32_t *offset_dn, int *found);
void store_report_runs_free(store_run_info *runs, size_t n);

#endif
