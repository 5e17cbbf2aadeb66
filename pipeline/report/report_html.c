/* The inspector report (report.h): an index page (filters, search, map, the table of
 * flagged claims) and one page per case (time line, image chips), in the language of
 * <templates>/<lang>/report.conf. The pages' small inline scripts read only the pages'
 * own data-* attributes and the location hash. Every text from outside goes through
 * report_html_escape. */
#define _GNU_SOURCE
#include "report.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dates.h"
#include "error.h"
#include "log.h"
#include "report_chips.h"
#include "report_gis.h"
#include "report_text.h"

void report_html_escape(FILE *out, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: /* control characters (from a registry field, say): never raw */
            fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, out);
        }
    }
}

/* ---- the report's words (report.conf) ---- */
typedef struct report_words {
    report_kv kv;
    char path[4200];
    const char *lang;
    const char *months[12];
    char *months_text; /* owns months[] */
} report_words;

static const char *const required_words[] = {
    "page.title", "page.heading", "page.shown", "page.of", "page.intro", "filter.search",
    "filter.search_hint", "filter.outcome", "filter.tile", "filter.review", "filter.pmin",
    "filter.pmax", "filter.sort", "filter.all", "sort.table", "sort.risk", "review.none",
    "review.any", "review.mowed", "review.not_mowed", "review.needs_visit",
    "outcome.not_mowed", "outcome.inconclusive", "col.case", "col.claim", "col.parcel",
    "col.season", "col.tile", "col.outcome", "col.p", "col.p_title", "col.review",
    "col.reason", "p.none", "map.heading", "map.hint", "map.none", "case.heading", "case.back",
    "case.scheme", "case.window", "case.timeline", "case.timeline_legend", "case.images",
    "case.images_hint", "case.scale", "case.true_colour", "case.no_data", "chip.before", "chip.after",
    "chip.clear", "images.none", "obs.summary", "timeline.aria", "timeline.cloud",
    "timeline.ndvi", "timeline.window", "timeline.event", "months", "footer.written",
    "footer.runs", "footer.no_runs", "footer.started", "footer.time_na", "footer.energy_na",
    "footer.cpu_energy", "footer.per_parcel_date", "footer.energy_per_parcel_date",
    "footer.energy_estimated"};

static void words_free(report_words *w)
{
    report_kv_free(&w->kv);
    free(w->months_text);
}

static int words_load(const report_options *o, report_words *w)
{
    memset(w, 0, sizeof *w);
    w->lang = o->lang && *o->lang ? o->lang : "en";
    char dir[4096];
    if (strchr(w->lang, '/') || w->lang[0] == '.')
        return mc_fail("--lang: '%s' is not a language folder", w->lang);
    if (report_template_dir(o->template_dir, dir, sizeof dir) != MC_OK)
        return MC_ERR;
    snprintf(w->path, sizeof w->path, "%s/%s/report.conf", dir, w->lang);
    if (report_kv_load(w->path, &w->kv) != MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < sizeof required_words / sizeof *required_words; i++)
        if (!report_kv_get(&w->kv, required_words[i]))
            return mc_fail("%s: no '%s'", w->path, required_words[i]);
    w->months_text = strdup(report_kv_get(&w->kv, "months"));
    if (!w->months_text)
        return mc_fail("report: out of memory");
    int n = 0;
    for (char *save = NULL, *t = strtok_r(w->months_text, " ", &save); t && n < 12;
         t = strtok_r(NULL, " ", &save))
        w->months[n++] = t;
    if (n != 12)
        return mc_fail("%s: months must name the 12 months, separated by spaces", w->path);
    return MC_OK;
}

static const char *word(const report_words *w, const char *key)
{
    const char *v = report_kv_get(&w->kv, key);
    return v ? v : key; /* every key used is in required_words */
}

/* The words of a code (key prefix + code), or the code where report.conf has none. */
static const char *code_word(const report_words *w, const char *prefix, const char *code)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", prefix, code);
    const char *v = report_kv_get(&w->kv, key);
    return v ? v : code;
}

/* The decision rule in the report's words (report.conf rule.<code>; optional). */
static void put_rule(FILE *out, const report_words *w, const char *rule)
{
    char key[96];
    snprintf(key, sizeof key, "rule.%s", rule ? rule : "");
    const char *v = report_kv_get(&w->kv, key);
    if (v) {
        fputs("<strong>", out);
        report_html_escape(out, v);
        fputs("</strong> ", out);
    }
}

static void put_word(FILE *out, const report_words *w, const char *key)
{
    report_html_escape(out, word(w, key));
}

/* A report.conf template with its variables, escaped; a failure leaves the text out. */
static void put_rendered(FILE *out, const report_words *w, const char *key, const report_var *v,
                         size_t n)
{
    if (report_render(out, word(w, key), w->path, v, n, 1) != MC_OK)
        log_warn("report: %s", mc_error_message());
}

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

static void svg_axes(FILE *out, const svg_scale *s, const report_words *w)
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
        if (x + 22 <= SVG_W) { /* a label that fits */
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", x + 2, bottom + 14);
            report_html_escape(out, w->months[m - 1]);
            fputs("</text>", out);
        }
        fputc('\n', out);
    }
    fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#999\"/>\n",
            SVG_LEFT, bottom, SVG_W - SVG_RIGHT, bottom);
}

static void svg_window(FILE *out, const svg_scale *s, const store_report_detail *d,
                       const report_words *w)
{
    if (d->window_start == INT32_MIN || d->window_end == INT32_MIN)
        return;
    char a[11], b[11];
    date_format(d->window_start, a);
    date_format(d->window_end, b);
    double x0 = svg_x(s, d->window_start), x1 = svg_x(s, d->window_end + 1);
    fprintf(out, "<rect class=\"window\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\""
                 " fill=\"#2e7d32\" fill-opacity=\"0.10\"><title>",
            x0, SVG_TOP, x1 - x0, SVG_H - SVG_TOP - SVG_BOTTOM);
    report_var v[] = {{"start", a}, {"end", b}};
    put_rendered(out, w, "timeline.window", v, 2);
    fputs("</title></rect>\n", out);
}

static void svg_events(FILE *out, const svg_scale *s, const store_report_detail *d,
                       const report_words *w)
{
    for (size_t i = 0; i < d->n_events; i++) {
        const store_event_row *e = &d->events[i];
        char a[11], b[11], c[11], conf[16];
        date_format(e->day_start, a);
        date_format(e->day_end, b);
        date_format(e->day, c);
        snprintf(conf, sizeof conf, "%.2f", e->confidence);
        double x0 = svg_x(s, e->day_start), x1 = svg_x(s, e->day_end), x = svg_x(s, e->day);
        fputs("<g class=\"event\"><title>", out);
        report_var v[] = {{"start", a}, {"end", b}, {"day", c}, {"confidence", conf}};
        put_rendered(out, w, "timeline.event", v, 4);
        fprintf(out, "</title>"
                     "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#e65100\""
                     " fill-opacity=\"0.18\"/>"
                     "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e65100\""
                     " stroke-dasharray=\"3,2\"/>"
                     "<text x=\"%.1f\" y=\"%d\" fill=\"#e65100\">%s</text></g>\n",
                x0, SVG_TOP, x1 - x0 > 1 ? x1 - x0 : 1, SVG_H - SVG_TOP - SVG_BOTTOM, x,
                SVG_TOP, x, SVG_H - SVG_BOTTOM, x + 2, SVG_TOP + 9, conf);
    }
}

static void svg_points(FILE *out, const svg_scale *s, const store_report_detail *d,
                       const report_words *w)
{
    fputs("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1\" points=\"", out);
    for (size_t i = 0; i < d->n_points; i++)
        if (d->points[i].observed)
            fprintf(out, "%.1f,%.1f ", svg_x(s, d->points[i].day), svg_y(d->points[i].ndvi));
    fputs("\"/>\n", out);
    double bottom = SVG_H - SVG_BOTTOM;
    for (size_t i = 0; i < d->n_points; i++) {
        const store_report_point *p = &d->points[i];
        char date[11], ndvi[16];
        date_format(p->day, date);
        snprintf(ndvi, sizeof ndvi, "%.3f", p->ndvi);
        report_var v[] = {{"date", date}, {"ndvi", ndvi}};
        double x = svg_x(s, p->day);
        if (p->observed)
            fprintf(out, "<circle class=\"obs\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#1565c0\">"
                         "<title>", x, svg_y(p->ndvi));
        else
            fprintf(out, "<path class=\"cloud\" d=\"M%.1f %.1fl3 -6l3 6z\" fill=\"#9e9e9e\">"
                         "<title>", x - 3, bottom - 1);
        put_rendered(out, w, p->observed ? "timeline.ndvi" : "timeline.cloud", v, 2);
        fputs(p->observed ? "</title></circle>\n" : "</title></path>\n", out);
    }
}

static void svg_timeline(FILE *out, const store_report_detail *d, int season,
                         const report_words *w)
{
    svg_scale s = svg_domain(d, season);
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                 " viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            SVG_W, SVG_H, SVG_W, SVG_H);
    put_word(out, w, "timeline.aria");
    fputs("\">\n", out);
    svg_window(out, &s, d, w);
    svg_axes(out, &s, w);
    svg_events(out, &s, d, w);
    svg_points(out, &s, d, w);
    fputs("</svg>", out);
}

/* ---- the pages' look ---- */
static const char page_style[] =
    "<style>\n"
    "*{box-sizing:border-box}\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:1em 1.5em;color:#222;"
    "max-width:1600px}\n"
    "a{color:#0b57a4}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}\n"
    "thead th{position:sticky;top:0;z-index:1;background:#f3f3f3;cursor:pointer;"
    "user-select:none}\n"
    "th.nosort{cursor:default}\n"
    ".not_mowed{color:#a40000;font-weight:bold}.inconclusive{color:#8a5a00;font-weight:bold}\n"
    ".filters{margin:1em 0;display:flex;gap:.6em 1.5em;flex-wrap:wrap;align-items:center}\n"
    ".filters input[type=number]{width:5em}\n"
    "td.reason{max-width:40em;overflow-wrap:anywhere}\n"
    "details.map summary{cursor:pointer;font-weight:bold;font-size:1.2em;margin:.5em 0}\n"
    "tr.hl td{background:#fff8c4}\n"
    ".muted{color:#666}\n"
    ".map svg{width:100%;max-width:900px;height:auto;border:1px solid #ddd;background:#fafafa}\n"
    ".map path{stroke-width:1.5px;vector-effect:non-scaling-stroke;fill-opacity:.35}\n"
    ".map .not_mowed path,.map .not_mowed circle{fill:#c62828;stroke:#a40000}\n"
    ".map .inconclusive path,.map .inconclusive circle{fill:#f0b000;stroke:#8a5a00}\n"
    ".timeline svg{width:100%;max-width:880px;height:auto}\n"
    "svg text{font:10px sans-serif;fill:#444}\n"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 1em}\n"
    "dl.facts dt{font-weight:bold}dl.facts dd{margin:0;overflow-wrap:anywhere}\n"
    ".chips{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\n"
    "figure{margin:0}figcaption{font-size:12px;color:#555}\n"
    ".chip input{display:none}\n"
    ".chip img{width:192px;height:192px;image-rendering:pixelated;border:1px solid #ccc;"
    "cursor:zoom-in}\n"
    ".chip input:checked+img{width:min(640px,92vw);height:auto;cursor:zoom-out}\n"
    "footer{margin-top:2em;color:#555;font-size:13px}\n"
    "@media (min-width:761px){#claims td:nth-child(-n+3){white-space:nowrap}}\n"
    "@media (max-width:760px){\n"
    " body{padding:.5em}\n"
    " #claims thead{display:none}\n"
    " #claims,#claims tbody,#claims tr,#claims td{display:block;width:100%}\n"
    " #claims tr{border:1px solid #ccc;border-radius:6px;margin:0 0 .8em;padding:.4em .6em}\n"
    " #claims tr[hidden]{display:none}\n"
    " #claims td{border:none;padding:2px 0;max-width:none}\n"
    " h1{font-size:1.5em;overflow-wrap:anywhere}\n"
    " #claims td::before{font-weight:bold}\n"
    " .filters label{flex:1 1 100%}\n"
    " .filters input[type=search],.filters select{max-width:100%}\n"
    " dl.facts{grid-template-columns:1fr}\n"
    "}\n"
    "</style>\n";

/* text as a CSS string ("..."): quotes, backslashes, '<' and controls escaped */
static void css_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '<' || (unsigned char)*p < 0x20)
            fprintf(out, "\\%x ", (unsigned char)*p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static const char *const column_keys[] = {"col.case", "col.claim", "col.parcel",
                                          "col.season", "col.tile", "col.outcome",
                                          "col.p", "col.review", "col.reason"};

/* On a narrow screen each row is a card whose cells say what they are. */
static void card_labels(FILE *out, const report_words *w)
{
    fputs("<style>@media (max-width:760px){\n", out);
    for (size_t i = 0; i < sizeof column_keys / sizeof *column_keys; i++) {
        fprintf(out, "#claims td:nth-child(%zu)::before{content:", i + 1);
        css_string(out, word(w, column_keys[i]));
        fputs(" \": \"}\n", out);
    }
    fputs("}</style>\n", out);
}

static void page_start(FILE *out, const report_words *w, const char *title,
                       void (*extra_style)(FILE *, const report_words *))
{
    fputs("<!DOCTYPE html>\n<html lang=\"", out);
    report_html_escape(out, w->lang);
    fputs("\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          out);
    report_html_escape(out, title);
    fputs("</title>\n", out);
    fputs(page_style, out);
    if (extra_style)
        extra_style(out, w);
    fputs("</head><body>\n", out);
}

/* The index page's script: filters, search and order live in the location hash
 * (#outcome=not_mowed&tile=35vlf&review=none&q=P-1&sort=risk, #case=MC-...), so a link
 * opens the page filtered and editing the hash of an open page filters it again; it
 * reads the page only, so no outside text reaches it. */
static const char index_script[] =
    "<script>\n"
    "(function(){\n"
    "var body=document.getElementById('claims').tBodies[0];\n"
    "var rows=Array.prototype.slice.call(body.rows),listed=rows.slice();\n"
    /* the searchable text: case, claim and parcel */
    "rows.forEach(function(r){r.q=[0,1,2].map(function(i){return r.cells[i].textContent;})\n"
    " .join(' ').toLowerCase();});\n"
    "function key(r,c){var s=r.cells[c].dataset.sort;\n"
    " return s===undefined?r.cells[c].textContent:s;}\n"
    "var keys=['q','outcome','tile','review','pmin','pmax','sort'];\n"
    "function el(k){return document.getElementById('f-'+k);}\n"
    "function readHash(){var s={};\n"
    " location.hash.replace(/^#/,'').split('&').forEach(function(kv){\n"
    "  var i=kv.indexOf('=');if(i<0)return;\n"
    "  try{s[decodeURIComponent(kv.slice(0,i)).toLowerCase()]=\n"
    "   decodeURIComponent(kv.slice(i+1).replace(/\\+/g,' '));}catch(e){}});\n"
    " return s;}\n"
    /* a value in any letter case selects its option; an unknown one is kept, not dropped */
    "function setSelect(sel,v){v=v||'';var m=null;\n"
    " Array.prototype.forEach.call(sel.options,function(o){\n"
    "  if(o.value.toLowerCase()===v.toLowerCase())m=o;});\n"
    " if(!m&&v){m=document.createElement('option');m.value=v;m.textContent=v;sel.appendChild(m);}\n"
    " sel.value=m?m.value:'';}\n"
    "function toControls(s){keys.forEach(function(k){var e=el(k);\n"
    " if(e.tagName==='SELECT')setSelect(e,s[k]);\n"
    " else e.value=s[k]!==undefined?s[k]:e.defaultValue;});}\n"
    "function state(){var s={};keys.forEach(function(k){var e=el(k);\n"
    " if(e.value!==''&&e.value!==e.defaultValue)s[k]=e.value;});return s;}\n"
    "function order(list){list.forEach(function(r){body.appendChild(r);});}\n"
    "function risk(a,b){var x=parseFloat(a.dataset.p),y=parseFloat(b.dataset.p);\n"
    " if(isNaN(x))x=2;if(isNaN(y))y=2;\n"
    " return x-y||(a.dataset.outcome===b.dataset.outcome?0:\n"
    "  a.dataset.outcome==='not_mowed'?-1:1);}\n"
    "function apply(){var s=state(),o=(s.outcome||'').toLowerCase(),\n"
    " t=(s.tile||'').toUpperCase(),rv=(s.review||'').toLowerCase(),\n"
    " q=(s.q||'').toLowerCase().trim(),lo=parseFloat(s.pmin),hi=parseFloat(s.pmax),n=0;\n"
    " if(isNaN(lo))lo=0;if(isNaN(hi))hi=1;\n"
    " rows.forEach(function(r){var d=r.dataset,p=parseFloat(d.p);\n"
    "  var ok=(!o||d.outcome===o)&&(!t||d.tile.toUpperCase()===t)&&\n"
    "   (!rv||(rv==='none'?d.review==='':rv==='any'?d.review!=='':d.review===rv))&&\n"
    "   (!q||r.q.indexOf(q)>=0)&&(isNaN(p)?(lo<=0&&hi>=1):(p>=lo&&p<=hi));\n"
    "  r.hidden=!ok;if(ok)n++;});\n"
    " if(s.sort==='risk')order(rows.slice().sort(risk));else if(!sorted)order(listed);\n"
    " document.getElementById('shown').textContent=String(n);}\n"
    "function writeHash(){var s=state(),parts=[];\n"
    " Object.keys(s).forEach(function(k){\n"
    "  parts.push(encodeURIComponent(k)+'='+encodeURIComponent(s[k]));});\n"
    " history.replaceState(null,'',parts.length?'#'+parts.join('&'):\n"
    "  location.pathname+location.search);}\n"
    "function fromHash(){var s=readHash();toControls(s);apply();\n"
    " rows.forEach(function(r){r.classList.remove('hl');});\n"
    " if(s['case']){var r=document.getElementById('case-'+s['case'].trim().toUpperCase());\n"
    "  if(r){r.classList.add('hl');r.scrollIntoView({block:'center'});}}}\n"
    "keys.forEach(function(k){['input','change'].forEach(function(ev){\n"
    " el(k).addEventListener(ev,function(){writeHash();apply();});});});\n"
    "var dir={},sorted=false;\n"
    "Array.prototype.forEach.call(document.querySelectorAll('#claims th[data-col]'),\n"
    " function(th){th.addEventListener('click',function(){var c=+th.dataset.col;\n"
    "  dir[c]=-(dir[c]||-1);sorted=true;\n"
    "  order(rows.slice().sort(function(a,b){var x=key(a,c),\n"
    "   y=key(b,c),nx=parseFloat(x),ny=parseFloat(y);\n"
    "   var d=(!isNaN(nx)&&!isNaN(ny))?nx-ny:(x<y?-1:x>y?1:0);return d*dir[c];}));});});\n"
    "window.addEventListener('hashchange',fromHash);\n"
    "fromHash();\n"
    "})();\n"
    "</script>\n";

/* ---- the index page ---- */
typedef struct index_row {
    char tile[32], p[16], clear_text[128];
} index_row;

/* A cell; data-sort only where the sort key is not the text itself (the script sorts
 * by the text otherwise). */
static void cell(FILE *out, const char *cls, const char *sort, const char *text)
{
    fputs("<td", out);
    if (cls) {
        fputs(" class=\"", out);
        report_html_escape(out, cls);
        fputc('"', out);
    }
    if (strcmp(sort, text) != 0) {
        fputs(" data-sort=\"", out);
        report_html_escape(out, sort);
        fputc('"', out);
    }
    fputc('>', out);
    report_html_escape(out, text);
    fputs("</td>", out);
}

static int has_page(const store_flagged *f);

static void index_row_write(FILE *out, const report_words *w, const store_flagged *f,
                            const index_row *x)
{
    char season[16];
    snprintf(season, sizeof season, "%d", f->season);
    fputs("<tr", out);
    if (*f->case_number) {
        fputs(" id=\"case-", out);
        report_html_escape(out, f->case_number);
        fputc('"', out);
    }
    fputs(" data-outcome=\"", out);
    report_html_escape(out, f->outcome);
    fputs("\" data-tile=\"", out);
    report_html_escape(out, x->tile);
    fprintf(out, "\" data-p=\"%s\" data-review=\"", x->p);
    report_html_escape(out, f->reviewed);
    fputs("\"><td>", out);
    if (has_page(f)) {
        fputs("<a href=\"cases/", out);
        report_html_escape(out, f->case_number);
        fputs(".html\">", out);
        report_html_escape(out, f->case_number);
        fputs("</a>", out);
    } else {
        report_html_escape(out, f->case_number);
    }
    fputs("</td>", out);
    cell(out, NULL, f->claim_id, f->claim_id);
    cell(out, NULL, f->parcel_id, f->parcel_id);
    cell(out, NULL, season, season);
    cell(out, NULL, x->tile, *x->tile ? x->tile : "-");
    cell(out, f->outcome, f->outcome, code_word(w, "outcome", f->outcome));
    cell(out, NULL, *x->p ? x->p : "-1", *x->p ? x->p : word(w, "p.none"));
    cell(out, NULL, f->reviewed,
         *f->reviewed ? code_word(w, "review", f->reviewed) : word(w, "review.none"));
    fputs("<td class=\"reason\">", out);
    put_rule(out, w, f->rule);
    report_html_escape(out, f->reason);
    fputs("<br><span class=\"muted\">", out);
    report_html_escape(out, x->clear_text);
    fputs("</span></td></tr>\n", out);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A <select> with "all" and the given values (sorted, distinct), labelled by words. */
static void filter_select(FILE *out, const report_words *w, const char *id,
                          const char *label_key, const char *word_prefix, char **values,
                          size_t n)
{
    qsort(values, n, sizeof *values, compare_strings);
    fprintf(out, "<label>");
    put_word(out, w, label_key);
    fprintf(out, " <select id=\"%s\"><option value=\"\">", id);
    put_word(out, w, "filter.all");
    fputs("</option>", out);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(values[i], values[i - 1]) == 0)
            continue;
        fputs("<option value=\"", out);
        report_html_escape(out, values[i]);
        fputs("\">", out);
        report_html_escape(out, word_prefix ? code_word(w, word_prefix, values[i])
                                : *values[i] ? values[i] : "-");
        fputs("</option>", out);
    }
    fputs("</select></label>\n", out);
}

static void index_filters(FILE *out, const report_words *w, const index_row *x, size_t n)
{
    fputs("<div class=\"filters\">\n<label>", out);
    put_word(out, w, "filter.search");
    fputs(" <input id=\"f-q\" type=\"search\" placeholder=\"", out);
    put_word(out, w, "filter.search_hint");
    fputs("\"></label>\n", out);
    char *outcomes[] = {"inconclusive", "not_mowed"}; /* both, whether any row has them */
    filter_select(out, w, "f-outcome", "filter.outcome", "outcome", outcomes, 2);
    char **tiles = calloc(n ? n : 1, sizeof *tiles);
    size_t n_tiles = 0;
    for (size_t i = 0; tiles && i < n; i++)
        if (*x[i].tile)
            tiles[n_tiles++] = (char *)x[i].tile;
    filter_select(out, w, "f-tile", "filter.tile", NULL, tiles, n_tiles);
    free(tiles);
    char *reviews[] = {"any", "mowed", "needs_visit", "none", "not_mowed"};
    filter_select(out, w, "f-review", "filter.review", "review", reviews, 5);
    fputs("<label>", out);
    put_word(out, w, "filter.pmin");
    fputs(" <input id=\"f-pmin\" type=\"number\" min=\"0\" max=\"1\" step=\"0.05\" value=\"0\">"
          "</label>\n<label>", out);
    put_word(out, w, "filter.pmax");
    fputs(" <input id=\"f-pmax\" type=\"number\" min=\"0\" max=\"1\" step=\"0.05\" value=\"1\">"
          "</label>\n<label>", out);
    put_word(out, w, "filter.sort");
    fputs(" <select id=\"f-sort\"><option value=\"\">", out);
    put_word(out, w, "sort.table");
    fputs("</option><option value=\"risk\">", out);
    put_word(out, w, "sort.risk");
    fputs("</option></select></label>\n</div>\n", out);
}

/* ---- the map: flagged parcels' outlines, drawn from the geometries (EPSG:4326) ---- */
enum { MAP_W = 900, MAP_PAD = 12, MAP_MIN_OUTLINE_PX = 3 };

typedef struct map_frame {
    double lon0, lat1, kx, k; /* x = (lon - lon0) * kx * k, y = (lat1 - lat) * k */
    int h;
} map_frame;

static void map_extent(OGRGeometryH *geoms, size_t n, OGREnvelope *all, int *any)
{
    *any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!geoms[i])
            continue;
        OGREnvelope e;
        OGR_G_GetEnvelope(geoms[i], &e);
        if (!*any)
            *all = e;
        all->MinX = e.MinX < all->MinX ? e.MinX : all->MinX;
        all->MinY = e.MinY < all->MinY ? e.MinY : all->MinY;
        all->MaxX = e.MaxX > all->MaxX ? e.MaxX : all->MaxX;
        all->MaxY = e.MaxY > all->MaxY ? e.MaxY : all->MaxY;
        *any = 1;
    }
}

/* Equirectangular at the middle latitude, fitted to MAP_W wide. */
static map_frame map_fit(const OGREnvelope *e)
{
    map_frame f;
    f.kx = cos((e->MinY + e->MaxY) / 2 * M_PI / 180);
    double w = (e->MaxX - e->MinX) * f.kx, h = e->MaxY - e->MinY;
    if (w < 1e-9 && h < 1e-9)
        w = h = 1e-3; /* one parcel, or points */
    double inner = MAP_W - 2 * MAP_PAD;
    f.k = w >= h ? inner / (w > 0 ? w : h) : inner / h;
    int hpx = (int)ceil(h * f.k) + 2 * MAP_PAD;
    f.h = hpx < 120 ? 120 : hpx > 700 ? 700 : hpx;
    if (h * f.k > f.h - 2 * MAP_PAD) /* tall: fit the height instead */
        f.k = (f.h - 2 * MAP_PAD) / h;
    f.lon0 = e->MinX;
    f.lat1 = e->MaxY;
    return f;
}

static void map_ring(FILE *out, const map_frame *f, OGRGeometryH ring)
{
    int n = OGR_G_GetPointCount(ring);
    for (int i = 0; i < n; i++)
        fprintf(out, "%c%.0f %.0f", i ? 'L' : 'M',
                MAP_PAD + (OGR_G_GetX(ring, i) - f->lon0) * f->kx * f->k,
                MAP_PAD + (f->lat1 - OGR_G_GetY(ring, i)) * f->k);
    if (n)
        fputc('Z', out);
}

/* Every ring of a polygon or multipolygon (other geometries draw nothing). */
static void map_rings(FILE *out, const map_frame *f, OGRGeometryH g)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbPolygon) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            map_ring(out, f, OGR_G_GetGeometryRef(g, i));
    } else if (t == wkbMultiPolygon || t == wkbGeometryCollection) {
        for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
            map_rings(out, f, OGR_G_GetGeometryRef(g, i));
    }
}

static void index_map(FILE *out, const report_words *w, const store_flagged *rows,
                      OGRGeometryH *geoms, size_t n)
{
    fputs("<section class=\"map\"><details open><summary>", out);
    put_word(out, w, "map.heading");
    fputs("</summary>\n", out);
    OGREnvelope e = {0, 0, 0, 0};
    int any;
    map_extent(geoms, n, &e, &any);
    if (!any) {
        fputs("<p class=\"muted\">", out);
        put_word(out, w, "map.none");
        fputs("</p></details></section>\n", out);
        return;
    }
    map_frame f = map_fit(&e);
    fputs("<p class=\"muted\">", out);
    put_word(out, w, "map.hint");
    fprintf(out, "</p>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
                 " role=\"img\" aria-label=\"", MAP_W, f.h);
    put_word(out, w, "map.heading");
    fputs("\">\n", out);
    for (size_t i = 0; i < n; i++) {
        if (!geoms[i])
            continue;
        OGREnvelope pe;
        OGR_G_GetEnvelope(geoms[i], &pe);
        double cx = MAP_PAD + ((pe.MinX + pe.MaxX) / 2 - f.lon0) * f.kx * f.k,
               cy = MAP_PAD + (f.lat1 - (pe.MinY + pe.MaxY) / 2) * f.k;
        fputs("<a class=\"parcel ", out);
        report_html_escape(out, rows[i].outcome);
        fputc('"', out);
        if (has_page(&rows[i])) {
            fputs(" href=\"cases/", out);
            report_html_escape(out, rows[i].case_number);
            fputs(".html\"", out);
        }
        fputs("><title>", out);
        report_html_escape(out, rows[i].case_number);
        fputc(' ', out);
        report_html_escape(out, rows[i].parcel_id);
        fputs(" (", out);
        report_html_escape(out, code_word(w, "outcome", rows[i].outcome));
        fputs(")</title>", out);
        /* the outline where it is big enough to see; always a dot at the centre: a parcel
         * is a few pixels wide on a country's map */
        if ((pe.MaxX - pe.MinX) * f.kx * f.k >= MAP_MIN_OUTLINE_PX ||
            (pe.MaxY - pe.MinY) * f.k >= MAP_MIN_OUTLINE_PX) {
            fputs("<path d=\"", out);
            map_rings(out, &f, geoms[i]);
            fputs("\"/>", out);
        }
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/></a>\n", cx, cy);
    }
    fputs("</svg></details></section>\n", out);
}

static const char table_head_cols[][2][16] = {
    {"0", "col.case"}, {"1", "col.claim"}, {"2", "col.parcel"}, {"3", "col.season"},
    {"4", "col.tile"}, {"5", "col.outcome"}, {"6", "col.p"}, {"7", "col.review"}};

static void index_table_head(FILE *out, const report_words *w)
{
    fputs("<table id=\"claims\"><thead><tr>", out);
    for (size_t i = 0; i < sizeof table_head_cols / sizeof *table_head_cols; i++) {
        fprintf(out, "<th data-col=\"%s\"", table_head_cols[i][0]);
        if (strcmp(table_head_cols[i][1], "col.p") == 0) {
            fputs(" title=\"", out);
            put_word(out, w, "col.p_title");
            fputc('"', out);
        }
        fputc('>', out);
        put_word(out, w, table_head_cols[i][1]);
        fputs("</th>", out);
    }
    fputs("<th class=\"nosort\">", out);
    put_word(out, w, "col.reason");
    fputs("</th></tr></thead><tbody>\n", out);
}

/* Joules per parcel-date from a `mowcheck run` summary (cmd_run.c): the number where a
 * counter was read, else the run's words ("not available (...)", "none: ..."); nothing
 * for runs that did not record it. */
static void footer_per_parcel_date(FILE *out, const report_words *w, const char *summary)
{
    json_t *j = summary ? json_loads(summary, 0, NULL) : NULL;
    json_t *per = json_object_get(j, "joules_per_parcel_date");
    const char *text = json_string_value(json_object_get(j, "joules_per_parcel_date_text"));
    json_t *est = json_object_get(j, "energy_estimate");
    json_t *est_per = json_object_get(est, "joules_per_parcel_date");
    if (!json_is_number(per) && json_is_number(est_per)) { /* never shown as measured */
        fprintf(out, ", ~%.3g ", json_number_value(est_per));
        put_word(out, w, "footer.per_parcel_date");
        fputs(" (", out);
        put_word(out, w, "footer.energy_estimated");
        fputc(')', out);
    } else if (json_is_number(per)) {
        fprintf(out, ", %.3g ", json_number_value(per));
        put_word(out, w, "footer.per_parcel_date");
    } else if (text) {
        fputs(", ", out);
        put_word(out, w, "footer.energy_per_parcel_date");
        fputs(": ", out);
        report_html_escape(out, text);
    }
    json_decref(j);
}

/* The estimated joules of a `mowcheck run` summary (cpu_watts_per_core, where no
 * counter could be read), or NAN. */
static double run_energy_estimate(const char *summary)
{
    json_t *j = summary ? json_loads(summary, 0, NULL) : NULL;
    json_t *v = json_object_get(json_object_get(j, "energy_estimate"), "joules");
    double joules = json_is_number(v) ? json_number_value(v) : NAN;
    json_decref(j);
    return joules;
}

static void page_footer(FILE *out, const report_words *w, const store_run_info *runs,
                        size_t n_runs)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fputs("<footer><p>", out);
    report_var v[] = {{"time", now}};
    put_rendered(out, w, "footer.written", v, 1);
    fputs("</p><p>", out);
    put_word(out, w, "footer.runs");
    fputs("</p><ul>\n", out);
    if (n_runs == 0) {
        fputs("<li>", out);
        put_word(out, w, "footer.no_runs");
        fputs("</li>\n", out);
    }
    for (size_t i = 0; i < n_runs; i++) {
        const store_run_info *r = &runs[i];
        fputs("<li class=\"run\">", out);
        report_html_escape(out, r->command);
        fputc(' ', out);
        put_word(out, w, "footer.started");
        fputc(' ', out);
        report_html_escape(out, r->started_at);
        fputs(" UTC (", out);
        report_html_escape(out, r->status);
        fputs("): ", out);
        if (isnan(r->seconds))
            put_word(out, w, "footer.time_na");
        else
            fprintf(out, "%.1f s", r->seconds);
        fputs(", ", out);
        double estimate = run_energy_estimate(r->summary);
        if (isnan(r->cpu_joules) && !isnan(estimate)) {
            put_word(out, w, "footer.cpu_energy");
            fprintf(out, " ~%.1f J (", estimate);
            put_word(out, w, "footer.energy_estimated");
            fputc(')', out);
        } else if (isnan(r->cpu_joules)) {
            put_word(out, w, "footer.energy_na");
        } else {
            put_word(out, w, "footer.cpu_energy");
            fprintf(out, " %.1f J", r->cpu_joules);
        }
        footer_per_parcel_date(out, w, r->summary);
        fputs("</li>\n", out);
    }
    fputs("</ul></footer>\n", out);
}

typedef struct index_page {
    const report_words *w;
    const store_flagged *rows;
    const index_row *x;
    OGRGeometryH *geoms;
    size_t n;
    const store_run_info *runs;
    size_t n_runs;
} index_page;

static int index_write(FILE *out, void *arg)
{
    const index_page *p = arg;
    const report_words *w = p->w;
    page_start(out, w, word(w, "page.title"), card_labels);
    fputs("<h1>", out);
    put_word(out, w, "page.heading");
    fprintf(out, "</h1>\n<p><span id=\"shown\">%zu</span> ", p->n);
    put_word(out, w, "page.of");
    fprintf(out, " %zu ", p->n);
    put_word(out, w, "page.shown");
    fputs(". ", out);
    put_word(out, w, "page.intro");
    fputs("</p>\n", out);
    index_map(out, w, p->rows, p->geoms, p->n);
    index_filters(out, w, p->x, p->n);
    index_table_head(out, w);
    for (size_t i = 0; i < p->n; i++)
        index_row_write(out, w, &p->rows[i], &p->x[i]);
    fputs("</tbody></table>\n", out);
    page_footer(out, w, p->runs, p->n_runs);
    fputs(index_script, out);
    fputs("</body></html>\n", out);
    return ferror(out) ? mc_fail("write failed: %s", strerror(errno)) : MC_OK;
}

/* ---- one page per case ---- */
typedef struct report_chip {
    int32_t day;
    const char *label_key; /* chip.before, chip.after, chip.clear */
    char *b64;             /* NDVI PNG; NULL: no image */
    char *rgb_b64;         /* true colour PNG; NULL: the scene has no B02/B03 */
} report_chip;

typedef struct report_chips {
    report_chip c[2];
    int n;
} report_chips;

/* Claims whose case number can name a file get a page (case numbers always can). */
static int has_page(const store_flagged *f)
{
    if (!*f->case_number)
        return 0;
    for (const char *p = f->case_number; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    return 1;
}

/* The colours of report_chips.c: NDVI 0 brown to 0.9 green, grey no data. */
static void chips_scale(FILE *out, const report_words *w)
{
    fputs("<figure class=\"scale\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"220\""
          " height=\"34\" viewBox=\"0 0 220 34\" role=\"img\" aria-label=\"", out);
    put_word(out, w, "case.scale");
    fputs("\"><defs><linearGradient id=\"ndvi\"><stop offset=\"0\" stop-color=\"rgb(165,120,80)\"/>"
          "<stop offset=\"1\" stop-color=\"rgb(20,140,40)\"/></linearGradient></defs>"
          "<rect x=\"10\" y=\"2\" width=\"200\" height=\"14\" fill=\"url(#ndvi)\"/>"
          "<text x=\"10\" y=\"30\">0</text><text x=\"100\" y=\"30\">0.45</text>"
          "<text x=\"196\" y=\"30\">0.9</text></svg><figcaption>", out);
    put_word(out, w, "case.scale");
    fputs("; ", out);
    put_word(out, w, "case.no_data");
    fputs("</figcaption></figure>\n", out);
}

/* One chip: a label around a hidden checkbox so that a click enlarges it (CSS). */
static void chip_figure(FILE *out, const report_words *w, const report_chip *c,
                        const char *kind_key, const char *b64)
{
    char date[11];
    date_format(c->day, date);
    fputs("<figure class=\"chip\"><label><input type=\"checkbox\"><img alt=\"", out);
    put_word(out, w, c->label_key);
    fprintf(out, " %s\" src=\"data:image/png;base64,%s\"></label><figcaption>", date, b64);
    put_word(out, w, kind_key);
    fputs(", ", out);
    put_word(out, w, c->label_key);
    fprintf(out, " %s</figcaption></figure>\n", date);
}

static void case_chips(FILE *out, const report_words *w, const report_chips *ch)
{
    fputs("<div class=\"chips\">\n", out);
    int shown = 0;
    for (int i = 0; i < ch->n; i++) {
        if (ch->c[i].b64) {
            chip_figure(out, w, &ch->c[i], "case.scale", ch->c[i].b64);
            shown++;
        }
        if (ch->c[i].rgb_b64)
            chip_figure(out, w, &ch->c[i], "case.true_colour", ch->c[i].rgb_b64);
    }
    if (shown)
        chips_scale(out, w);
    else {
        fputs("<p class=\"muted\">", out);
        put_word(out, w, "images.none");
        fputs("</p>\n", out);
    }
    fputs("</div>\n", out);
}

static void fact(FILE *out, const report_words *w, const char *key, const char *value)
{
    fputs("<dt>", out);
    put_word(out, w, key);
    fputs("</dt><dd>", out);
    report_html_escape(out, value);
    fputs("</dd>\n", out);
}

typedef struct case_page {
    const report_words *w;
    const store_flagged *f;
    const store_report_detail *d;
    const index_row *x;
    const report_chips *ch;
} case_page;

static int case_write(FILE *out, void *arg)
{
    const case_page *p = arg;
    const report_words *w = p->w;
    const store_flagged *f = p->f;
    char title[160], season[16], window[32];
    snprintf(title, sizeof title, "%s %s", word(w, "case.heading"), f->case_number);
    snprintf(season, sizeof season, "%d", f->season);
    snprintf(window, sizeof window, "%s .. %s", f->window_start, f->window_end);
    page_start(out, w, title, NULL);
    fputs("<p><a href=\"../report.html#case=", out);
    report_html_escape(out, f->case_number);
    fputs("\">", out);
    put_word(out, w, "case.back");
    fputs("</a></p>\n<h1>", out);
    report_html_escape(out, title);
    fputs("</h1>\n<dl class=\"facts\">\n", out);
    fact(out, w, "col.claim", f->claim_id);
    fact(out, w, "col.parcel", f->parcel_id);
    fact(out, w, "col.season", season);
    fact(out, w, "case.scheme", f->scheme);
    fact(out, w, "case.window", window);
    fact(out, w, "col.tile", *p->x->tile ? p->x->tile : "-");
    fact(out, w, "col.outcome", code_word(w, "outcome", f->outcome));
    fact(out, w, "col.p", *p->x->p ? p->x->p : word(w, "p.none"));
    fact(out, w, "col.review",
         *f->reviewed ? code_word(w, "review", f->reviewed) : word(w, "review.none"));
    fputs("</dl>\n<h2>", out);
    put_word(out, w, "col.reason");
    fputs("</h2>\n<p class=\"reason\">", out);
    put_rule(out, w, f->rule);
    report_html_escape(out, f->reason);
    fputs("</p><p class=\"muted\">", out);
    report_html_escape(out, p->x->clear_text);
    fputs("</p>\n<h2>", out);
    put_word(out, w, "case.timeline");
    fputs("</h2>\n<div class=\"timeline\">", out);
    svg_timeline(out, p->d, f->season, w);
    fputs("</div>\n<p class=\"muted\">", out);
    put_word(out, w, "case.timeline_legend");
    fputs("</p>\n<h2>", out);
    put_word(out, w, "case.images");
    fputs("</h2>\n<p class=\"muted\">", out);
    put_word(out, w, "case.images_hint");
    fputs("</p>\n", out);
    case_chips(out, w, p->ch);
    fputs("</body></html>\n", out);
    return ferror(out) ? mc_fail("write failed: %s", strerror(errno)) : MC_OK;
}

/* Writes path whole or not at all (a temporary file renamed into place). */
static int write_whole(const char *path, int (*write)(FILE *, void *), void *arg)
{
    char tmp[4300];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return mc_fail("report %s: path too long", path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return mc_fail("report %s: %s", tmp, strerror(errno));
    int rc = write(out, arg);
    if (fclose(out) != 0 && rc == MC_OK)
        rc = mc_fail("report %s: %s", tmp, strerror(errno));
    if (rc == MC_OK && rename(tmp, path) != 0)
        rc = mc_fail("report %s: %s", path, strerror(errno));
    if (rc != MC_OK)
        unlink(tmp);
    return rc;
}

/* ---- gathering ---- */

/* The flagged claims with their geometry; without a readable parcel file, without
 * (no map, no chips: a warning). */
static int report_set_load(store *s, const report_options *o, report_flagged_set *set)
{
    if (report_flagged_set_load(s, o->season, o->parcels_path, o->id_field, set) == MC_OK)
        return MC_OK;
    log_warn("report: no map and no image chips: %s", mc_error_message());
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
        ch->c[0] = (report_chip){best->day_start, "chip.before", NULL, NULL};
        ch->c[1] = (report_chip){best->day_end, "chip.after", NULL, NULL};
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
    ch->c[ch->n++] = (report_chip){first, "chip.clear", NULL, NULL};
    if (last != first)
        ch->c[ch->n++] = (report_chip){last, "chip.clear", NULL, NULL};
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
        if (rc == MC_OK && found)
            rc = report_chip_true_colour_base64(path, offset, geom, &ch->c[i].rgb_b64);
        if (rc != MC_OK || !found)
            log_warn("report: parcel %s: no image of %s: %s", f->parcel_id, date,
                     rc != MC_OK ? mc_error_message() : "no scene of its tile that day");
        free(path);
    }
}

static void chips_free(report_chips *ch)
{
    for (int k = 0; k < ch->n; k++) {
        free(ch->c[k].b64);
        free(ch->c[k].rgb_b64);
    }
    ch->n = 0;
}

/* What the index keeps of a claim once its page is written. */
static void index_row_fill(const report_words *w, const store_report_detail *d, index_row *x)
{
    snprintf(x->tile, sizeof x->tile, "%s", d->tile_id);
    if (d->has_summary)
        snprintf(x->p, sizeof x->p, "%.2f", d->window_confidence);
    size_t clear = 0;
    for (size_t i = 0; i < d->n_points; i++)
        clear += d->points[i].observed != 0;
    char a[24], b[24], c[24];
    snprintf(a, sizeof a, "%zu", clear);
    snprintf(b, sizeof b, "%zu", d->n_points);
    snprintf(c, sizeof c, "%zu", d->n_events);
    report_var v[] = {{"clear", a}, {"dates", b}, {"events", c}};
    char *text = NULL;
    if (report_render_alloc(word(w, "obs.summary"), w->path, v, 3, 0, &text) == MC_OK)
        snprintf(x->clear_text, sizeof x->clear_text, "%s", text);
    free(text);
}

/* Loads each claim's detail, makes its chips and writes its page (cases/CASE.html),
 * keeping only what the index needs: memory stays small however many claims. */
static int cases_write(store *s, const report_options *o, const report_words *w,
                       const char *cases_dir, const report_flagged_set *set, index_row *x)
{
    for (size_t i = 0; i < set->n; i++) {
        const store_flagged *f = &set->rows[i];
        store_report_detail d;
        if (store_report_detail_load(s, f, &o->observed, o->prefetch, &d) != MC_OK)
            return MC_ERR;
        index_row_fill(w, &d, &x[i]);
        int rc = MC_OK;
        if (has_page(f)) {
            report_chips ch = {0};
            if (o->chips && set->geoms[i])
                chips_make(s, f, &d, set->geoms[i], &ch);
            char path[4400];
            snprintf(path, sizeof path, "%s/%s.html", cases_dir, f->case_number);
            case_page p = {w, f, &d, &x[i], &ch};
            rc = write_whole(path, case_write, &p);
            chips_free(&ch);
        }
        store_report_detail_free(&d);
        if (rc != MC_OK)
            return rc;
    }
    return MC_OK;
}

/* Removes the case pages of earlier runs whose claim this report does not list, so that
 * no page outlives its row (a claim approved since, or outside --season). */
static void cases_prune(const char *cases_dir, const report_flagged_set *set)
{
    const char **listed = calloc(set->n ? set->n : 1, sizeof *listed);
    DIR *d = listed ? opendir(cases_dir) : NULL;
    if (!d) {
        free(listed);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        if (has_page(&set->rows[i]))
            listed[n++] = set->rows[i].case_number;
    qsort(listed, n, sizeof *listed, compare_strings);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".html") != 0)
            continue;
        char number[256], path[4500];
        snprintf(number, sizeof number, "%.*s", (int)(len - 5), e->d_name);
        const char *key = number;
        if (bsearch(&key, listed, n, sizeof *listed, compare_strings))
            continue;
        snprintf(path, sizeof path, "%s/%s", cases_dir, e->d_name);
        if (unlink(path) == 0)
            log_debug("report: removed %s (no longer listed)", path);
    }
    closedir(d);
    free(listed);
}

static int folder_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    int n = slash ? snprintf(dir, size, "%.*s", (int)(slash - path), path)
                  : snprintf(dir, size, ".");
    if (n < 0 || (size_t)n >= size)
        return mc_fail("report %s: path too long", path);
    if (!*dir)
        snprintf(dir, size, "/");
    return MC_OK;
}

int report_inspector_write(store *s, const report_options *o, const char *path,
                           size_t *n_claims)
{
    *n_claims = 0;
    report_words w;
    report_flagged_set set = {0};
    store_run_info *runs = NULL;
    size_t n_runs = 0;
    index_row *x = NULL;
    char dir[4096], cases_dir[4200];
    int rc = words_load(o, &w);
    if (rc == MC_OK)
        rc = folder_of(path, dir, sizeof dir);
    if (rc == MC_OK) {
        snprintf(cases_dir, sizeof cases_dir, "%s/cases", dir);
        if (mkdir(cases_dir, 0777) != 0 && errno != EEXIST)
            rc = mc_fail("report: folder %s: %s", cases_dir, strerror(errno));
    }
    if (rc == MC_OK)
        rc = report_set_load(s, o, &set);
    if (rc == MC_OK && !(x = calloc(set.n ? set.n : 1, sizeof *x)))
        rc = mc_fail("report: out of memory");
    if (rc == MC_OK)
        rc = cases_write(s, o, &w, cases_dir, &set, x);
    if (rc == MC_OK)
        cases_prune(cases_dir, &set);
    if (rc == MC_OK)
        rc = store_report_runs(s, &runs, &n_runs);
    if (rc == MC_OK) {
        index_page p = {&w, set.rows, x, set.geoms, set.n, runs, n_runs};
        rc = write_whole(path, index_write, &p);
    }
    if (rc == MC_OK)
        *n_claims = set.n;
    free(x);
    store_report_runs_free(runs, n_runs);
    report_flagged_set_free(&set);
    words_free(&w);
    return rc;
}
