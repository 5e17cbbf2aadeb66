/* The decision rule: one claim, one season, one outcome (DESIGN.md, "Decisions").
 * Pure: no I/O, no database, no clock. The decide stage (decide_stage.c) gathers
 * the input; tests feed it decision cases kept as data (tests/decide/cases.txt).
 *
 * Outcomes. Automatic outcomes are approvals only: `not_mowed` and `inconclusive`
 * are flags for a person, `pending` waits, `error` is retried next night.
 *
 * Counting events against the window [window_start, window_end] (both days
 * included). An event happened some day in its interval [day_start, day_end]
 * (the last clear observation before the cut, the first clear one after it);
 * `day` is the detector's best estimate. An event is "confident" when its
 * confidence is at least params.min_confidence. Events are counted by their
 * best-estimate date: `in_window` = confident events with window_start <= day <=
 * window_end. Where the interval straddles a window edge the count could be one
 * more or one less, so the rule also counts by the interval ends:
 *   certain  = confident events whose whole interval lies inside the window,
 *   possible = confident events whose interval overlaps the window
 * (certain <= in_window <= possible). The outcome is decided only where both agree:
 * approved needs certain >= min_mowings; not_mowed needs possible < min_mowings;
 * in between the count depends on the straddling interval and the outcome is
 * `inconclusive` (reason "edge"), for a person.
 *
 * The rule, first match wins:
 *   1. a failure (registry, exchange, data) .................... error
 *   2. certain >= min_mowings (events wholly inside the window with
 *      confidence >= min_confidence, the approval threshold) ..... approved
 *   3. as_of <= window_end (window still open) .................. pending
 *   4. no clear observation of the parcel in the season ......... inconclusive
 *   5. no clear observation on or after window_end: within
 *      wait_after_window_days of window_end ...................... pending,
 *      later ..................................................... inconclusive
 *   6. possible >= min_mowings (count depends on an edge) ........ inconclusive
 *   7. possible + unsure events overlapping the window >= min_mowings,
 *      or the detector cannot rule a mowing out (its season model
 *      does not support "not mowed") ............................ inconclusive
 *   8. fewer than min_clear_in_window clear observations in the window, or a
 *      gap between clear observations longer than max_gap_days across it
 *      (the window edges count as points, as in the detector) .... inconclusive
 *   9. otherwise: the window is covered and shows too few mowings  not_mowed
 * Only the events decide an approval: the detector's whole-season probability is
 * a figure for the report and the "not mowed" support, never a veto on an
 * approval the events support. Nothing is rejected automatically: not_mowed and
 * inconclusive are flags for a person. */
#ifndef MOWCHECK_DECIDE_H
#define MOWCHECK_DECIDE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    DECIDE_APPROVED = 0,
    DECIDE_NOT_MOWED,
    DECIDE_INCONCLUSIVE,
    DECIDE_PENDING,
    DECIDE_ERROR,
    DECIDE_N_OUTCOMES
} decide_outcome;

/* Which step of the rule gave the outcome (decide_why_code gives a stable code). */
typedef enum {
    DECIDE_WHY_FAILURE = 0,         /* error: registry or data failure */
    DECIDE_WHY_BAD_CLAIM,           /* error: the claim's window or min_mowings is invalid */
    DECIDE_WHY_ENOUGH_MOWINGS,      /* approved */
    DECIDE_WHY_WINDOW_OPEN,         /* pending */
    DECIDE_WHY_AWAITING_OBSERVATION,/* pending: window over, no clear view after it yet */
    DECIDE_WHY_NO_OBSERVATIONS,     /* inconclusive: never seen clearly (too small, cloud) */
    DECIDE_WHY_NOT_SEEN_AFTER,      /* inconclusive: no clear view after the window, waited */
    DECIDE_WHY_EDGE,                /* inconclusive: count depends on a straddling interval */
    DECIDE_WHY_UNSURE,              /* inconclusive: classifier unsure */
    DECIDE_WHY_TOO_FEW_OBSERVATIONS,/* inconclusive */
    DECIDE_WHY_COVERAGE_GAP,        /* inconclusive */
    DECIDE_WHY_TOO_FEW_MOWINGS,     /* not_mowed */
    DECIDE_WHY_SEASON_UNCONFIRMED,  /* no longer given (the season model once vetoed
                                     * approvals); kept so that decisions stored
                                     * before keep their code and wording */
    DECIDE_N_WHY
} decide_why;

/* One mowing event of the parcel-season, as the detector gave it. Days are days
 * since 1970-01-01 (series.h). */
typedef struct decide_event {
    int32_t day_start, day_end; /* interval: last clear before, first clear after */
    int32_t day;                /* best estimate, day_start <= day <= day_end */
    double confidence;          /* calibrated probability in [0, 1] */
} decide_event;

typedef struct decide_params {
    double min_confidence;      /* an event counts towards an approval at this confidence
                                   (the model's approval_threshold, or the agency's
                                   approval_min_confidence) */
    int min_clear_in_window;    /* fewest clear observations inside the window for not_mowed */
    int max_gap_days;           /* longest gap between clear observations across the window */
    int wait_after_window_days; /* how long to wait for a clear view after the window */
} decide_params;

/* Defaults: min_confidence 0.95 (the decide stage sets the model's threshold), min_clear_in_window 3, max_gap_days 30,
 * wait_after_window_days 30. */
void decide_params_default(decide_params *p);

typedef struct decide_claim_input {
    /* the claim (from the registry) */
    const char *claim_id, *parcel_id;
    int season;
    int32_t window_start, window_end; /* days, both included */
    int min_mowings;
    /* a registry, exchange or data failure for this claim: NULL or "" if none */
    const char *failure;
    /* the detector, for this parcel and season */
    const decide_event *events;
    size_t n_events;
    int has_summary;            /* 0: the detector has nothing on this parcel-season */
    int sufficient;             /* the detector's season call (shown in the reason; the
                                   rule does not use it) */
    int unsure;                 /* the detector cannot rule a mowing out this season */
    /* clear observations of the parcel in the season, sorted ascending */
    const int32_t *clear_days;
    size_t n_clear_days;
    /* the run's date: the window is over when as_of > window_end */
    int32_t as_of;
} decide_claim_input;

typedef struct decide_result {
    decide_outcome outcome;
    decide_why why;
    int n_in_window;       /* confident events by best-estimate date inside the window */
    int n_certain;         /* confident events whose interval lies inside */
    int n_possible;        /* confident events whose interval overlaps */
    int n_unsure;          /* less confident events whose interval overlaps */
    int n_clear_in_window; /* clear observations inside the window */
    int longest_gap_days;  /* across the window, edges included (-1: not computed) */
    int32_t gap_from, gap_to; /* that gap: the clear views (or window edges) around it */
    int gap_days_in_window;   /* the days of that gap that lie inside the window */
    int32_t last_clear_day;/* last clear observation of the season (INT32_MIN: none) */
    char text[640];        /* the reason in plain words */
} decide_result;

/* Applies the rule. Always gives an outcome (invalid claims: error). */
void decide_claim(const decide_claim_input *in, const decide_params *p, decide_result *out);

/* "approved", "not_mowed", "inconclusive", "pending", "error". */
const char *decide_outcome_name(decide_outcome o);
/* Parses a name of decide_outcome_name; MC_ERR where unknown. */
int decide_outcome_parse(const char *name, decide_outcome *o);
/* A stable code for the reason: "enough_mowings", "edge", ... */
const char *decide_why_code(decide_why w);
/* not_mowed and inconclusive carry a case number. */
int decide_outcome_is_flag(decide_outcome o);

/* The reason as structured data (a JSON object, compact, keys sorted): the rule step,
 * window, min_mowings, the counts, every event with its dates, confidence and
 * position relative to the window, the observation counts, the detector's flags,
 * model_version and scenes_used (-1: unknown, left out), the failure if any.
 * malloc'ed; NULL on allocation failure. */
char *decide_reason_json(const decide_claim_input *in, const decide_params *p,
                         const decide_result *r, const char *model_version, int64_t scenes_used);

#endif
