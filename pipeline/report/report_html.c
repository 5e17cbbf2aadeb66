/* The inspector report (report.h): a table of flagged claims, sortable and filterable by
 * a small inline script that reads only the page's own data-* attributes, each claim with
 * an inline SVG time line of its NDVI. Every text from outside goes through
 * report_html_escape. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "error.h"
#include "log.h"
#include "report_chips.h"
#include "report_gis.h"
#include "dates.h"

void report_html_escape(FILE *out, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*p, out);
        }
    }
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>mowcheck: flagged claims</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}\n"
    "th{background:#f3f3f3;cursor:pointer;user-select:none}\n"
    "th.nosort{cursor:default}\n"
    ".not_mowed{color:#a40000;font-weight:bold}.inconclusive{color:#8a5a00;font-weight:bold}\n"
    ".filters{margin:1em 0;display:flex;gap:1.5em;flex-wrap:wrap}\n"
    ".reason{min-width:16em;max-width:32em}.muted{color:#666}td:first-child{white-space:nowrap}\n"
    "svg text{font:10px sans-serif;fill:#444}\n"
    "footer{margin-top:2em;color:#555;font-size:13px}\n"
    "figure{display:inline-block;margin:0 4px}figcaption{font-size:11px;color:#555}\n"
    "img{image-rendering:pixelated}\n"
    "</style></head><body>\n";

/* Sorting by column (numbers where data-sort holds one) and filtering by outcome, tile
 * and the detector's P(mowed); it reads the page only, so no outside text reaches it. */
static const char page_script[] =
    "<script>\n"
    "(function(){\n"
    "var body=document.getElementById('claims').tBodies[0];\n"
    "var rows=Array.prototype.slice.call(body.rows);\n"
    "function val(id){return document.getElementById(id).value;}\n"
    "function apply(){\n"
    " var o=val('f-outcome'),t=val('f-tile'),lo=parseFloat(val('f-pmin')),hi=parseFloat(val('f-pmax'));\n"
    " if(isNaN(lo))lo=0; if(isNaN(hi))hi=1; var n=0;\n"
    " rows.forEach(function(r){var p=parseFloat(r.dataset.p);\n"
    "  var ok=(!o||r.dataset.outcome===o)&&(!t||r.dataset.tile===t)&&\n"
    "   (isNaN(p)?(lo<=0&&hi>=1):(p>=lo&&p<=hi));\n"
    "  r.hidden=!ok; if(ok)n++;});\n"
    " document.getElementById('shown').textContent=String(n);\n"
    "}\n"
    "['f-outcome','f-tile','f-pmin','f-pmax'].forEach(function(id){\n"
    " document.getElementById(id).addEventListener('input',apply);\n"
    " document.getElementById(id).addEventListener('change',apply);});\n"
    "var dir={};\n"
    "Array.prototype.forEach.call(document.querySelectorAll('#claims th[data-col]'),function(th){\n"
    " th.addEventListener('click',function(){var c=+th.dataset.col;dir[c]=-(dir[c]||-1);\n"
    "  rows.sort(function(a,b){var x=a.cells[c].dataset.sort,y=b.cells[c].dataset.sort;\n"
    "   var nx=parseFloat(x),ny=parseFloat(y);\n"
    "   var d=(!isNaN(nx)&&!isNaN(ny))?nx-ny:(x<y?-1:x>y?1:0);return d*dir[c];});\n"
    "  rows.forEach(function(r){body.appendChild(r);});});});\n"
    /* report.html#outcome=not_mowed&tile=35VLF&pmin=0.2: a link that opens filtered */
    "location.hash.replace(/^#/,'').split('&').forEach(function(kv){\n"
    " var i=kv.indexOf('='); if(i<0)return;\n"
    " var el=document.getElementById('f-'+decodeURIComponent(kv.slice(0,i)));\n"
    " if(el)el.value=decodeURIComponent(kv.slice(i+1));});\n"
    "apply();\n"
    "})();\n"
    "</script>\n";

/* ---- the SVG time line ---- */
enum { SVG_W = 440, SVG_H = 130, SVG_LEFT = 30, SVG_RIGHT = 10, SVG_TOP = 8, SVG_BOTTOM = 28 };
static const double NDVI_LO = -0.2, NDVI_HI = 1.0;

typedef struct svg_scale {
    int32_t d0, d1; /* the days at the left and right edge */
} svg_scale;

static double svg_x(const svg_scale *s, int32_t day)
{
    return SVG_LEFT + (double)(day - s->d0) * (SVG_W - SVG_LEFT - SVG_RIGHT) / (s->d1 - s->d0);
}

static double svg_y(double ndvi)
{
    double v = ndvi < NDVI_LO ? NDVI_LO : ndvi > NDVI_HI ? NDVI_HI : ndvi;
    return SVG_TOP + (NDVI_HI - v) * (SVG_H - SVG_TOP - SVG_BOTTOM) / (NDVI_HI - NDVI_LO);
}

/* April to October of the season, widened to every date shown. */
static svg_scale svg_domain(const store_report_detail *d, int season)
{
    svg_scale s = {date_days_from_civil(season, 4, 1), date_days_from_civil(season, 10, 31)};
    for (size_t i = 0; i < d->n_points; i++) {
        s.d0 = d->points[i].day < s.d0 ? d->points[i].day : s.d0;
        s.d1 = d->points[i].day > s.d1 ? d->points[i].day : s.d1;
    }
    for (size_t i = 0; i < d->n_events; i++) {
        s.d0 = d->events[i].day_start < s.d0 ? d->events[i].day_start : s.d0;
        s.d1 = d->events[i].day_end > s.d1 ? d->events[i].day_end : s.d1;
    }
    if (d->window_start != INT32_MIN && d->window_start < s.d0)
        s.d0 = d->window_start;
    if (d->window_end != INT32_MIN && d->window_end > s.d1)
        s.d1 = d->window_end;
    s.d0 -= 3;
    s.d1 += 3;
    return s;
}

static void svg_axes(FILE *out, const svg_scale *s)
{
    double bottom = SVG_H - SVG_BOTTOM;
    for (int k = 0; k <= 4; k++) { /* NDVI 0, 0.25, ... 1 */
        double v = k * 0.25, y = svg_y(v);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                     "<text x=\"2\" y=\"%.1f\">%.2g</text>\n",
                SVG_LEFT, y, SVG_W - SVG_RIGHT, y, y + 3, v);
    }
    int y0, m0, dd;
    date_civil_from_days(s->d0, &y0, &m0, &dd);
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int y = y0, m = m0 + 1;; m++) {
        if (m > 12) {
            m = 1;
            y++;
        }
        int32_t day = date_days_from_civil(y, m, 1);
        if (day > s->d1)
            break;
        double x = svg_x(s, day);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>",
                x, bottom, x, bottom + 4);
        if (x + 22 <= SVG_W) /* a label that fits */
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", x + 2, bottom + 14,
                    months[m - 1]);
        fputc('\n', out);
    }
    fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#999\"/>\n",
            SVG_LEFT, bottom, SVG_W - SVG_RIGHT, bottom);
}

static void svg_window(FILE *out, const svg_scale *s, const store_report_detail *d)
{
    if (d->window_start == INT32_MIN || d->window_end == INT32_MIN)
        return;
    char a[11], b[11];
    date_format(d->window_start, a);
    date_format(d->window_end, b);
    double x0 = svg_x(s, d->window_start), x1 = svg_x(s, d->window_end + 1);
    fprintf(out, "<rect class=\"window\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\""
                 " fill=\"#2e7d32\" fill-opacity=\"0.10\"><title>scheme window %s to %s</title>"
                 "</rect>\n",
            x0, SVG_TOP, x1 - x0, SVG_H - SVG_TOP - SVG_BOTTOM, a, b);
}

static void svg_events(FILE *out, const svg_scale *s, const store_report_detail *d)
{
    for (size_t i = 0; i < d->n_events; i++) {
        const store_event_row *e = &d->events[i];
        char a[11], b[11], c[11];
        date_format(e->day_start, a);
        date_format(e->day_end, b);
        date_format(e->day, c);
        double x0 = svg_x(s, e->day_start), x1 = svg_x(s, e->day_end), x = svg_x(s, e->day);
        fprintf(out, "<g class=\"event\"><title>mowing between %s and %s (about %s),"
                     " confidence %.2f</title>"
                     "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#e65100\""
                     " fill-opacity=\"0.18\"/>"
                     "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e65100\""
                     " stroke-dasharray=\"3,2\"/>"
                     "<text x=\"%.1f\" y=\"%d\" fill=\"#e65100\">%.2f</text></g>\n",
                a, b, c, e->confidence, x0, SVG_TOP, x1 - x0 > 1 ? x1 - x0 : 1,
                SVG_H - SVG_TOP - SVG_BOTTOM, x, SVG_TOP, x, SVG_H - SVG_BOTTOM, x + 2,
                SVG_TOP + 9, e->confidence);
    }
}

static void svg_points(FILE *out, const svg_scale *s, const store_report_detail *d)
{
    fputs("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1\" points=\"", out);
    for (size_t i = 0; i < d->n_points; i++)
        if (d->points[i].observed)
            fprintf(out, "%.1f,%.1f ", svg_x(s, d->points[i].day), svg_y(d->points[i].ndvi));
    fputs("\"/>\n", out);
    double bottom = SVG_H - SVG_BOTTOM;
    for (size_t i = 0; i < d->n_points; i++) {
        const store_report_point *p = &d->points[i];
        char date[11];
        date_format(p->day, date);
        double x = svg_x(s, p->day);
        if (p->observed)
            fprintf(out, "<circle class=\"obs\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#1565c0\">"
                         "<title>%s NDVI %.3f</title></circle>\n",
                    x, svg_y(p->ndvi), date, p->ndvi);
        else
            fprintf(out, "<path class=\"cloud\" d=\"M%.1f %.1fl3 -6l3 6z\" fill=\"#9e9e9e\">"
                         "<title>%s lost to cloud</title></path>\n",
                    x - 3, bottom - 1, date);
    }
}

static void svg_timeline(FILE *out, const store_report_detail *d, int season)
{
    svg_scale s = svg_domain(d, season);
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                 " viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"NDVI time line\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    svg_window(out, &s, d);
    svg_axes(out, &s);
    svg_events(out, &s, d);
    svg_points(out, &s, d);
    fputs("</svg>", out);
}

/* ---- the table ---- */

static void cell_text(FILE *out, const char *cls, const char *sort, const char *text)
{
    fputs("<td", out);
    if (cls) {
        fputs(" class=\"", out);
        report_html_escape(out, cls);
        fputc('"', out);
    }
    fputs(" data-sort=\"", out);
    report_html_escape(out, sort);
    fputs("\">", out);
    report_html_escape(out, text);
    fputs("</td>", out);
}

typedef struct report_chip {
    int32_t day;
    const char *label; /* "before", "after", "clear date" */
    char *b64;         /* PNG; NULL: no image */
} report_chip;

typedef struct report_chips {
    report_chip c[2];
    int n;
} report_chips;

static void chips_cell(FILE *out, const report_chips *ch)
{
    fputs("<td class=\"chips\">", out);
    int shown = 0;
    for (int i = 0; i < ch->n; i++) {
        if (!ch->c[i].b64)
            continue;
        char date[11];
        date_format(ch->c[i].day, date);
        fprintf(out, "<figure><img width=\"96\" alt=\"%s %s\" src=\"data:image/png;base64,%s\">"
                     "<figcaption>%s %s</figcaption></figure>",
                ch->c[i].label, date, ch->c[i].b64, ch->c[i].label, date);
        shown++;
    }
    if (!shown)
        fputs("<span class=\"muted\">no image</span>", out);
    fputs("</td>", out);
}

static void claim_row(FILE *out, const store_flagged *f, const store_report_detail *d,
                      const report_chips *ch)
{
    char p[32] = "", season[16], n_obs[64];
    if (d->has_summary)
        snprintf(p, sizeof p, "%.2f", d->mowed_probability);
    snprintf(season, sizeof season, "%d", f->season);
    size_t clear = 0;
    for (size_t i = 0; i < d->n_points; i++)
        clear += d->points[i].observed != 0;
    snprintf(n_obs, sizeof n_obs, "%zu clear of %zu dates; %zu event(s)", clear, d->n_points,
             d->n_events);
    fputs("<tr data-outcome=\"", out);
    report_html_escape(out, f->outcome);
    fputs("\" data-tile=\"", out);
    report_html_escape(out, d->tile_id);
    fprintf(out, "\" data-p=\"%s\">", d->has_summary ? p : "");
    cell_text(out, NULL, f->case_number, f->case_number);
    cell_text(out, NULL, f->claim_id, f->claim_id);
    cell_text(out, NULL, f->parcel_id, f->parcel_id);
    cell_text(out, NULL, season, season);
    cell_text(out, NULL, d->tile_id, *d->tile_id ? d->tile_id : "-");
    cell_text(out, f->outcome, f->outcome, f->outcome);
    cell_text(out, NULL, d->has_summary ? p : "-1", d->has_summary ? p : "none");
    cell_text(out, NULL, f->reviewed, *f->reviewed ? f->reviewed : "not reviewed");
    fputs("<td class=\"reason\">", out);
    report_html_escape(out, f->reason);
    fputs("<br><span class=\"muted\">", out);
    report_html_escape(out, n_obs);
    fputs("</span></td><td>", out);
    svg_timeline(out, d, f->season);
    fputs("</td>", out);
    chips_cell(out, ch);
    fputs("</tr>\n", out);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A <select> of the distinct values (sorted). */
static void filter_select(FILE *out, const char *id, const char *label, char **values, size_t n)
{
    qsort(values, n, sizeof *values, compare_strings);
    fprintf(out, "<label>%s <select id=\"%s\"><option value=\"\">all</option>", label, id);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(values[i], values[i - 1]) == 0)
            continue;
        fputs("<option value=\"", out);
        report_html_escape(out, values[i]);
        fputs("\">", out);
        report_html_escape(out, *values[i] ? values[i] : "(none)");
        fputs("</option>", out);
    }
    fputs("</select></label>\n", out);
}

static void page_filters(FILE *out, const store_flagged *rows, store_report_detail *details,
                         size_t n, char **scratch)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = rows[i].outcome;
    filter_select(out, "f-outcome", "Outcome", scratch, n);
    for (size_t i = 0; i < n; i++)
        scratch[i] = details[i].tile_id;
    filter_select(out, "f-tile", "Tile", scratch, n);
    fputs("<label>P(mowed) from <input id=\"f-pmin\" type=\"number\" min=\"0\" max=\"1\""
          " step=\"0.05\" value=\"0\"></label>\n"
          "<label>to <input id=\"f-pmax\" type=\"number\" min=\"0\" max=\"1\" step=\"0.05\""
          " value=\"1\"></label>\n",
          out);
}

static const char table_head[] =
    "<table id=\"claims\"><thead><tr>"
    "<th data-col=\"0\">Case</th><th data-col=\"1\">Claim</th><th data-col=\"2\">Parcel</th>"
    "<th data-col=\"3\">Season</th><th data-col=\"4\">Tile</th><th data-col=\"5\">Outcome</th>"
    "<th data-col=\"6\" title=\"the detector's probability that the parcel was mowed\">"
    "P(mowed)</th><th data-col=\"7\">Review</th><th class=\"nosort\">Reason</th>"
    "<th class=\"nosort\">NDVI time line (dots: clear dates; grey triangles: lost to cloud;"
    " green: scheme window; orange: detected mowing, confidence)</th>"
    "<th class=\"nosort\">Images (NDVI: brown low, green high; parcel outlined)</th>"
    "</tr></thead><tbody>\n";

/* Joules per parcel-date from a `mowcheck run` summary (cmd_run.c): the number where a
 * counter was read, else the run's words ("not available (...)", "none: ..."); nothing
 * for runs that did not record it. */
static void footer_per_parcel_date(FILE *out, const char *summary)
{
    json_t *j = summary ? json_loads(summary, 0, NULL) : NULL;
    json_t *per = json_object_get(j, "joules_per_parcel_date");
    const char *text = json_string_value(json_object_get(j, "joules_per_parcel_date_text"));
    if (json_is_number(per)) {
        fprintf(out, ", %.3g J per parcel-date", json_number_value(per));
    } else if (text) {
        fputs(", energy per parcel-date: ", out);
        report_html_escape(out, text);
    }
    json_decref(j);
}

static void page_footer(FILE *out, const store_run_info *runs, size_t n_runs)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(out, "<footer><p>Written %s by mowcheck.</p><p>Last runs:</p><ul>\n", now);
    if (n_runs == 0)
        fputs("<li>none recorded</li>\n", out);
    for (size_t i = 0; i < n_runs; i++) {
        const store_run_info *r = &runs[i];
        fputs("<li class=\"run\">", out);
        report_html_escape(out, r->command);
        fputs(" started ", out);
        report_html_escape(out, r->started_at);
        fputs(" UTC (", out);
        report_html_escape(out, r->status);
        if (isnan(r->seconds))
            fputs("): time not available", out);
        else
            fprintf(out, "): %.1f s", r->seconds);
        if (isnan(r->cpu_joules))
            fputs(", energy: not available", out);
        else
            fprintf(out, ", CPU energy %.1f J", r->cpu_joules);
        footer_per_parcel_date(out, r->summary);
        fputs("</li>\n", out);
    }
    fputs("</ul></footer>\n", out);
}

static int write_page(FILE *out, store_flagged *rows, store_report_detail *details,
                      const report_chips *chips, size_t n, const store_run_info *runs,
                      size_t n_runs)
{
    char **scratch = calloc(n ? n : 1, sizeof *scratch);
    if (!scratch)
        return mc_fail("report: out of memory");
    fputs(page_head, out);
    fprintf(out, "<h1>Flagged claims</h1>\n<p><span id=\"shown\">%zu</span> of %zu flagged"
                 " claims shown. A flag is never a rejection: each needs a person's review"
                 " (<code>mowcheck review CASE</code>).</p>\n<div class=\"filters\">\n",
            n, n);
    page_filters(out, rows, details, n, scratch);
    free(scratch);
    fputs("</div>\n", out);
    fputs(table_head, out);
    for (size_t i = 0; i < n; i++)
        claim_row(out, &rows[i], &details[i], &chips[i]);
    fputs("</tbody></table>\n", out);
    page_footer(out, runs, n_runs);
    fputs(page_script, out);
    fputs("</body></html>\n", out);
    return ferror(out) ? mc_fail("write failed: %s", strerror(errno)) : MC_OK;
}

typedef struct report_data {
    report_flagged_set set;
    store_flagged *rows; /* set.rows */
    store_report_detail *details;
    report_chips *chips;
    size_t n;
    store_run_info *runs;
    size_t n_runs;
} report_data;

static void report_data_free(report_data *r)
{
    for (size_t i = 0; r->details && i < r->n; i++)
        store_report_detail_free(&r->details[i]);
    free(r->details);
    for (size_t i = 0; r->chips && i < r->n; i++)
        for (int k = 0; k < r->chips[i].n; k++)
            free(r->chips[i].c[k].b64);
    free(r->chips);
    report_flagged_set_free(&r->set);
    store_report_runs_free(r->runs, r->n_runs);
}

/* The flagged claims with their geometry; without a readable parcel file, without
 * (no chips, a warning). */
static int report_set_load(store *s, const report_options *o, report_flagged_set *set)
{
    if (o->chips &&
        report_flagged_set_load(s, o->season, o->parcels_path, o->id_field, set) == MC_OK)
        return MC_OK;
    if (o->chips)
        log_warn("report: no image chips: %s", mc_error_message());
    memset(set, 0, sizeof *set);
    if (store_flagged_load(s, o->season, &set->rows, &set->n) != MC_OK)
        return MC_ERR;
    set->geoms = calloc(set->n ? set->n : 1, sizeof *set->geoms);
    return set->geoms ? MC_OK : mc_fail("report: out of memory");
}

/* Before and after the most confident event; without one, the first and last clear
 * dates in the window (or the season). */
static void chips_choose(const store_flagged *f, const store_report_detail *d, report_chips *ch)
{
    ch->n = 0;
    const store_event_row *best = NULL;
    for (size_t i = 0; i < d->n_events; i++)
        if (!best || d->events[i].confidence > best->confidence)
            best = &d->events[i];
    if (best) {
        ch->c[0] = (report_chip){best->day_start, "before", NULL};
        ch->c[1] = (report_chip){best->day_end, "after", NULL};
        ch->n = 2;
        return;
    }
    int32_t a, b, first = INT32_MIN, last = INT32_MIN;
    int window = date_parse(f->window_start, &a) == MC_OK &&
                 date_parse(f->window_end, &b) == MC_OK;
    for (int pass = 0; pass < 2 && first == INT32_MIN; pass++)
        for (size_t i = 0; i < d->n_points; i++) {
            int32_t day = d->points[i].day;
            if (!d->points[i].observed || (pass == 0 && window && (day < a || day > b)))
                continue;
            first = first == INT32_MIN ? day : first;
            last = day;
        }
    if (first == INT32_MIN)
        return;
    ch->c[ch->n++] = (report_chip){first, "clear date", NULL};
    if (last != first)
        ch->c[ch->n++] = (report_chip){last, "clear date", NULL};
}

/* A chip that cannot be made is left out with a warning; the report goes on. */
static void chips_make(store *s, const store_flagged *f, const store_report_detail *d,
                       OGRGeometryH geom, report_chips *ch)
{
    chips_choose(f, d, ch);
    for (int i = 0; i < ch->n && *d->tile_id; i++) {
        char *path = NULL, date[11];
        int32_t offset = 0;
        int found = 0;
        date_format(ch->c[i].day, date);
        int rc = store_report_scene(s, d->tile_id, ch->c[i].day, &path, &offset, &found);
        if (rc == MC_OK && found)
            rc = report_chip_png_base64(path, offset, geom, &ch->c[i].b64);
        if (rc != MC_OK || !found)
            log_warn("report: parcel %s: no image of %s: %s", f->parcel_id, date,
                     rc != MC_OK ? mc_error_message() : "no scene of its tile that day");
        free(path);
    }
}

static int report_data_load(store *s, const report_options *o, report_data *r)
{
    memset(r, 0, sizeof *r);
    if (report_set_load(s, o, &r->set) != MC_OK)
        return MC_ERR;
    r->rows = r->set.rows;
    r->n = r->set.n;
    r->details = calloc(r->n ? r->n : 1, sizeof *r->details);
    r->chips = calloc(r->n ? r->n : 1, sizeof *r->chips);
    if (!r->details || !r->chips)
        return mc_fail("report: out of memory");
    for (size_t i = 0; i < r->n; i++) {
        if (store_report_detail_load(s, &r->rows[i], &o->observed, &r->details[i]) != MC_OK)
            return MC_ERR;
        if (o->chips && r->set.geoms[i])
            chips_make(s, &r->rows[i], &r->details[i], r->set.geoms[i], &r->chips[i]);
    }
    return store_report_runs(s, &r->runs, &r->n_runs);
}

int report_inspector_write(store *s, const report_options *o, const char *path,
                           size_t *n_claims)
{
    *n_claims = 0;
    report_data r;
    int rc = report_data_load(s, o, &r);
    char tmp[4096];
    if (rc == MC_OK && snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        rc = mc_fail("report %s: path too long", path);
    FILE *out = rc == MC_OK ? fopen(tmp, "w") : NULL;
    if (rc == MC_OK && !out)
        rc = mc_fail("report %s: %s", tmp, strerror(errno));
    if (out) {
        rc = write_page(out, r.rows, r.details, r.chips, r.n, r.runs, r.n_runs);
        if (fclose(out) != 0 && rc == MC_OK)
            rc = mc_fail("report %s: %s", tmp, strerror(errno));
        if (rc == MC_OK && rename(tmp, path) != 0)
            rc = mc_fail("report %s: %s", path, strerror(errno));
        if (rc != MC_OK)
            unlink(tmp);
    }
    if (rc == MC_OK)
        *n_claims = r.n;
    report_data_free(&r);
    return rc;
}
