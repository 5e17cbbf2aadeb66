/* The decision rule (decide.h has the rule and how events are counted). */
#include "decide.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "dates.h"

static const char *const outcome_names[DECIDE_N_OUTCOMES] = {
    "approved", "not_mowed", "inconclusive", "pending", "error"};

static const char *const why_codes[DECIDE_N_WHY] = {
    "failure",        "bad_claim",     "enough_mowings",       "window_open",
    "awaiting_observation", "no_observations", "not_seen_after", "edge",
    "unsure",         "too_few_observations", "coverage_gap",  "too_few_mowings",
    "season_unconfirmed"};

void decide_params_default(decide_params *p)
{
    p->min_confidence = 0.95;
    p->min_clear_in_window = 3;
    p->max_gap_days = 30;
    p->wait_after_window_days = 30;
}

const char *decide_outcome_name(decide_outcome o)
{
    return o >= 0 && o < DECIDE_N_OUTCOMES ? outcome_names[o] : "?";
}

int decide_outcome_parse(const char *name, decide_outcome *o)
{
    for (int i = 0; i < DECIDE_N_OUTCOMES; i++)
        if (name && strcmp(name, outcome_names[i]) == 0) {
            *o = (decide_outcome)i;
            return MC_OK;
        }
    return mc_fail("unknown decision outcome '%s'", name ? name : "(null)");
}

const char *decide_why_code(decide_why w)
{
    return w >= 0 && w < DECIDE_N_WHY ? why_codes[w] : "?";
}

int decide_outcome_is_flag(decide_outcome o)
{
    return o == DECIDE_NOT_MOWED || o == DECIDE_INCONCLUSIVE;
}

/* ---- counting ---- */

typedef enum { POS_BEFORE, POS_STRADDLES_START, POS_INSIDE, POS_STRADDLES_END,
               POS_SPANS_WINDOW, POS_AFTER } event_position;

static const char *position_name(event_position p)
{
    static const char *const names[] = {"before", "straddles_start", "inside",
                                        "straddles_end", "spans_window", "after"};
    return names[p];
}

static event_position position_of(const decide_event *e, int32_t ws, int32_t we)
{
    if (e->day_end < ws)
        return POS_BEFORE;
    if (e->day_start > we)
        return POS_AFTER;
    if (e->day_start >= ws && e->day_end <= we)
        return POS_INSIDE;
    if (e->day_start < ws && e->day_end > we)
        return POS_SPANS_WINDOW;
    return e->day_start < ws ? POS_STRADDLES_START : POS_STRADDLES_END;
}

/* The two ways an event counts against the window: towards an approval (confident,
 * wholly inside), and as possibly affecting it (its interval touches the window). */
static int counted_for_approval(const decide_claim_input *in, const decide_params *p,
                                const decide_event *e)
{
    return e->confidence >= p->min_confidence &&
           position_of(e, in->window_start, in->window_end) == POS_INSIDE;
}

static int overlapping_window(const decide_claim_input *in, const decide_params *p,
                              const decide_event *e)
{
    (void)p;
    event_position pos = position_of(e, in->window_start, in->window_end);
    return pos != POS_BEFORE && pos != POS_AFTER;
}

static void count_events(const decide_claim_input *in, const decide_params *p, decide_result *r)
{
    for (size_t i = 0; i < in->n_events; i++) {
        const decide_event *e = &in->events[i];
        int overlaps = overlapping_window(in, p, e);
        if (e->confidence >= p->min_confidence) {
            r->n_in_window += e->day >= in->window_start && e->day <= in->window_end;
            r->n_certain += counted_for_approval(in, p, e);
            r->n_possible += overlaps;
        } else {
            r->n_unsure += overlaps;
        }
    }
}

/* Clear observations inside the window, and the longest gap between consecutive
 * points of: the last clear day at or before window_start (else window_start
 * itself), the clear days inside, and the first clear day at or after window_end
 * (else window_end itself). */
static void note_gap(decide_result *r, int32_t from, int32_t to)
{
    if (to - from <= r->longest_gap_days)
        return;
    r->longest_gap_days = to - from;
    r->gap_from = from;
    r->gap_to = to;
}

static void coverage(const decide_claim_input *in, decide_result *r)
{
    int32_t ws = in->window_start, we = in->window_end;
    int32_t prev = ws, after = we;
    int have_after = 0;
    r->longest_gap_days = 0;
    r->gap_from = r->gap_to = ws;
    r->last_clear_day = in->n_clear_days ? in->clear_days[in->n_clear_days - 1] : INT32_MIN;
    for (size_t i = 0; i < in->n_clear_days; i++) {
        int32_t d = in->clear_days[i];
        r->n_clear_in_window += d >= ws && d <= we;
        if (d <= ws) {
            prev = d;
        } else if (d >= we) {
            if (!have_after)
                after = d;
            have_after = 1;
        } else {
            note_gap(r, prev, d);
            prev = d;
        }
    }
    note_gap(r, prev, after);
    int32_t from = r->gap_from > ws ? r->gap_from : ws, to = r->gap_to < we ? r->gap_to : we;
    r->gap_days_in_window = to > from ? to - from : 0;
}

/* ---- words ---- */

static void day_text(int32_t day, char out[11])
{
    if (day == INT32_MIN)
        snprintf(out, 11, "none");
    else
        date_format(day, out);
}

static void set_text(decide_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_text(decide_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
}

static void finish(decide_result *r, decide_outcome o, decide_why w)
{
    r->outcome = o;
    r->why = w;
}

/* Appends "2026-06-14 (between 2026-06-10 and 2026-06-17, confidence 0.98)" for
 * each event that selected() keeps, separated by "; "; returns how many. */
static int list_events(const decide_claim_input *in, const decide_params *p,
                       int (*selected)(const decide_claim_input *, const decide_params *,
                                       const decide_event *),
                       char *out, size_t size)
{
    size_t len = 0;
    int n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < in->n_events; i++) {
        const decide_event *e = &in->events[i];
        if (!selected(in, p, e))
            continue;
        char d[11], a[11], b[11];
        date_format(e->day, d);
        date_format(e->day_start, a);
        date_format(e->day_end, b);
        int w = snprintf(out + len, size - len, "%s%s (between %s and %s, confidence %.2f)",
                         n ? "; " : "", d, a, b, e->confidence);
        n++;
        if (w < 0 || (size_t)w >= size - len) { /* full: end with an ellipsis */
            if (size > 4)
                memcpy(out + size - 4, "...", 4);
            break;
        }
        len += (size_t)w;
    }
    return n;
}

static void explain_unsure(const decide_claim_input *in, const decide_params *p, decide_result *r,
                           const char *ws, const char *we)
{
    char list[400];
    int n = list_events(in, p, overlapping_window, list, sizeof list);
    if (n == 0) {
        set_text(r, "No mowing was seen inside the window %s to %s (%d required), but the "
                    "satellite series does not show clearly enough that none happened; a "
                    "person needs to check it.", ws, we, in->min_mowings);
        return;
    }
    set_text(r, "A possible mowing was seen around the window %s to %s, but not with the "
                "confidence an automatic approval needs (%.2f): %s; %d required; a person "
                "needs to check it.", ws, we, p->min_confidence, list, in->min_mowings);
}

static void explain(const decide_claim_input *in, const decide_params *p, decide_result *r)
{
    char ws[11], we[11], last[11], gap_a[11], gap_b[11], list[400];
    day_text(in->window_start, ws);
    day_text(in->window_end, we);
    day_text(r->last_clear_day, last);
    int m = in->min_mowings;
    switch (r->why) {
    case DECIDE_WHY_FAILURE:
        set_text(r, "%s: %s. It is retried on the next run; nothing follows from this.",
                 in->claim_id ? "The claim could not be checked"
                              : "The parcel's claims could not be fetched",
                 in->failure);
        break;
    case DECIDE_WHY_BAD_CLAIM:
        set_text(r, "The claim's window (%s to %s) or required mowings (%d) are not valid; the "
                    "registry's data needs correcting.", ws, we, m);
        break;
    case DECIDE_WHY_ENOUGH_MOWINGS:
        list_events(in, p, counted_for_approval, list, sizeof list);
        set_text(r, "Mowing detected inside the window %s to %s: %d of %d required, each with "
                    "confidence of at least the approval threshold %.2f: %s.",
                 ws, we, r->n_certain, m, p->min_confidence, list);
        break;
    case DECIDE_WHY_WINDOW_OPEN:
        set_text(r, "The window %s to %s is still open: %d of %d required mowings detected so "
                    "far.", ws, we, r->n_certain, m);
        break;
    case DECIDE_WHY_AWAITING_OBSERVATION:
        set_text(r, "The window %s to %s is over, but there is no clear satellite view since "
                    "its end yet (last clear view %s); waiting up to %d days for one.",
                 ws, we, last, p->wait_after_window_days);
        break;
    case DECIDE_WHY_NO_OBSERVATIONS:
        set_text(r, "The parcel was never seen clearly by the satellite this season (too small "
                    "or always under cloud); a person needs to check it.");
        break;
    case DECIDE_WHY_NOT_SEEN_AFTER:
        set_text(r, "No clear satellite view of the parcel after the window %s to %s (last clear "
                    "view %s), so a late mowing cannot be seen; a person needs to check it.",
                 ws, we, last);
        break;
    case DECIDE_WHY_EDGE:
        list_events(in, p, overlapping_window, list, sizeof list);
        set_text(r, "A mowing was detected close to the window's edge (%s to %s) and the "
                    "satellite views do not show on which side of the edge it happened: %s; "
                    "%d certainly inside, %d possibly, %d required; a person needs to check it.",
                 ws, we, list, r->n_certain, r->n_possible, m);
        break;
    case DECIDE_WHY_UNSURE:
        explain_unsure(in, p, r, ws, we);
        break;
    case DECIDE_WHY_SEASON_UNCONFIRMED: /* not given by the rule any more */
        set_text(r, "Mowing detected inside the window %s to %s, but the detector's check of "
                    "the whole season was not strong enough for an automatic approval; a "
                    "person needs to confirm it.", ws, we);
        break;
    case DECIDE_WHY_TOO_FEW_OBSERVATIONS:
        set_text(r, "Too few clear satellite views inside the window %s to %s (%d, at least %d "
                    "needed) to tell; a person needs to check it.",
                 ws, we, r->n_clear_in_window, p->min_clear_in_window);
        break;
    case DECIDE_WHY_COVERAGE_GAP:
        day_text(r->gap_from, gap_a);
        day_text(r->gap_to, gap_b);
        set_text(r, "The satellite had no clear view of the parcel from %s to %s, %d days of "
                    "them inside the window %s to %s (a gap of at most %d days is allowed), so "
                    "a mowing could have been missed; a person needs to check it.",
                 gap_a, gap_b, r->gap_days_in_window, ws, we, p->max_gap_days);
        break;
    case DECIDE_WHY_TOO_FEW_MOWINGS:
        set_text(r, "No mowing (or too few) detected inside the window %s to %s: %d of %d "
                    "required, with %d clear satellite views in the window and no gap longer "
                    "than %d days. This is a flag for an inspector, not a rejection.",
                 ws, we, r->n_possible, m, r->n_clear_in_window, r->longest_gap_days);
        break;
    default:
        set_text(r, "?");
    }
}

/* ---- the rule ---- */

static void apply_rule(const decide_claim_input *in, const decide_params *p, decide_result *r)
{
    int m = in->min_mowings;
    if (in->failure && in->failure[0])
        return finish(r, DECIDE_ERROR, DECIDE_WHY_FAILURE);
    if (m < 1 || in->window_start > in->window_end || date_year(in->window_start) != in->season ||
        date_year(in->window_end) != in->season)
        return finish(r, DECIDE_ERROR, DECIDE_WHY_BAD_CLAIM);
    count_events(in, p, r);
    coverage(in, r);
    if (r->n_certain >= m)
        return finish(r, DECIDE_APPROVED, DECIDE_WHY_ENOUGH_MOWINGS);
    if (in->as_of <= in->window_end)
        return finish(r, DECIDE_PENDING, DECIDE_WHY_WINDOW_OPEN);
    if (!in->has_summary || in->n_clear_days == 0)
        return finish(r, DECIDE_INCONCLUSIVE, DECIDE_WHY_NO_OBSERVATIONS);
    if (r->last_clear_day < in->window_end) {
        if ((int64_t)in->as_of - in->window_end <= p->wait_after_window_days)
            return finish(r, DECIDE_PENDING, DECIDE_WHY_AWAITING_OBSERVATION);
        return finish(r, DECIDE_INCONCLUSIVE, DECIDE_WHY_NOT_SEEN_AFTER);
    }
    if (r->n_possible >= m)
        return finish(r, DECIDE_INCONCLUSIVE, DECIDE_WHY_EDGE);
    if (r->n_possible + r->n_unsure >= m || in->unsure)
        return finish(r, DECIDE_INCONCLUSIVE, DECIDE_WHY_UNSURE);
    if (r->n_clear_in_window < p->min_clear_in_window)
        return finish(r, DECIDE_INCONCLUSIVE, DECIDE_WHY_TOO_FEW_OBSERVATIONS);
    if (r->longest_gap_days > p->max_gap_days)
        return finish(r, DECIDE_INCONCLUSIVE, DECIDE_WHY_COVERAGE_GAP);
    finish(r, DECIDE_NOT_MOWED, DECIDE_WHY_TOO_FEW_MOWINGS);
}

void decide_claim(const decide_claim_input *in, const decide_params *p, decide_result *out)
{
    memset(out, 0, sizeof *out);
    out->longest_gap_days = -1;
    out->gap_from = out->gap_to = INT32_MIN;
    out->last_clear_day = INT32_MIN;
    apply_rule(in, p, out);
    explain(in, p, out);
}

/* ---- structured reason ---- */

static json_t *date_json(int32_t day)
{
    if (day == INT32_MIN)
        return json_null();
    char d[11];
    date_format(day, d);
    return json_string(d);
}

static json_t *events_json(const decide_claim_input *in, const decide_params *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < in->n_events; i++) {
        const decide_event *e = &in->events[i];
        json_t *o = json_object();
        json_object_set_new(o, "date", date_json(e->day));
        json_object_set_new(o, "date_start", date_json(e->day_start));
        json_object_set_new(o, "date_end", date_json(e->day_end));
        /* rounded so that re-runs on the same data give the same text */
        json_object_set_new(o, "confidence", json_real((double)(int64_t)(e->confidence * 1e4 + 0.5) / 1e4));
        json_object_set_new(o, "confident", json_boolean(e->confidence >= p->min_confidence));
        json_object_set_new(o, "position",
                            json_string(position_name(position_of(e, in->window_start,
                                                                  in->window_end))));
        json_object_set_new(o, "date_in_window",
                            json_boolean(e->day >= in->window_start && e->day <= in->window_end));
        json_array_append_new(a, o);
    }
    return a;
}

char *decide_reason_json(const decide_claim_input *in, const decide_params *p,
                         const decide_result *r, const char *model_version, int64_t scenes_used)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "rule", json_string(decide_why_code(r->why)));
    json_object_set_new(o, "outcome", json_string(decide_outcome_name(r->outcome)));
    json_object_set_new(o, "window_start", date_json(in->window_start));
    json_object_set_new(o, "window_end", date_json(in->window_end));
    json_object_set_new(o, "min_mowings", json_integer(in->min_mowings));
    if (r->why == DECIDE_WHY_FAILURE || r->why == DECIDE_WHY_BAD_CLAIM) {
        if (in->failure && in->failure[0])
            json_object_set_new(o, "failure", json_string(in->failure));
    } else {
        json_t *c = json_object();
        json_object_set_new(c, "in_window", json_integer(r->n_in_window));
        json_object_set_new(c, "certain", json_integer(r->n_certain));
        json_object_set_new(c, "possible", json_integer(r->n_possible));
        json_object_set_new(c, "unsure", json_integer(r->n_unsure));
        json_object_set_new(o, "mowings", c);
        json_object_set_new(o, "events", events_json(in, p));
        json_t *ob = json_object();
        json_object_set_new(ob, "clear_in_season", json_integer((json_int_t)in->n_clear_days));
        json_object_set_new(ob, "clear_in_window", json_integer(r->n_clear_in_window));
        json_object_set_new(ob, "longest_gap_days", json_integer(r->longest_gap_days));
        json_object_set_new(ob, "longest_gap_from", date_json(r->gap_from));
        json_object_set_new(ob, "longest_gap_to", date_json(r->gap_to));
        json_object_set_new(ob, "gap_days_in_window", json_integer(r->gap_days_in_window));
        json_object_set_new(ob, "last_clear", date_json(r->last_clear_day));
        json_object_set_new(o, "observations", ob);
        json_t *d = json_object();
        json_object_set_new(d, "has_summary", json_boolean(in->has_summary));
        json_object_set_new(d, "sufficient", json_boolean(in->sufficient));
        json_object_set_new(d, "unsure", json_boolean(in->unsure));
        json_object_set_new(o, "detector", d);
        json_t *pp = json_object();
        json_object_set_new(pp, "min_confidence", json_real(p->min_confidence));
        json_object_set_new(pp, "min_clear_in_window", json_integer(p->min_clear_in_window));
        json_object_set_new(pp, "max_gap_days", json_integer(p->max_gap_days));
        json_object_set_new(pp, "wait_after_window_days", json_integer(p->wait_after_window_days));
        json_object_set_new(o, "parameters", pp);
    }
    if (model_version && model_version[0])
        json_object_set_new(o, "model_version", json_string(model_version));
    if (scenes_used >= 0)
        json_object_set_new(o, "scenes_used", json_integer(scenes_used));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}
