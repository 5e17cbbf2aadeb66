/* Shared by the report's pages and the notices: the templates folder, key = value
 * files (strings.conf, report.conf, agency.conf) and {{name}} rendering. */
#define _GNU_SOURCE
#include "report_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_dir.h"
#include "error.h"
#include "report.h"
#include "text_file.h"

int report_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int report_template_dir(const char *option, char *buf, size_t size)
{
    const char *env = getenv("MOWCHECK_TEMPLATE_DIR"), *schemas = getenv("MOWCHECK_SCHEMA_DIR");
    int n;
    if (option && *option)
        n = snprintf(buf, size, "%s", option);
    else if (env && *env)
        n = snprintf(buf, size, "%s", env);
    else if (schemas && *schemas)
        n = snprintf(buf, size, "%s/templates", schemas);
    else
        n = snprintf(buf, size, "%s", mc_data_file("schemas/templates"));
    if (n < 0 || (size_t)n >= size)
        return mc_fail("templates folder: path too long");
    if (!report_is_dir(buf))
        return mc_fail("templates folder %s: not found (set MOWCHECK_TEMPLATE_DIR)", buf);
    return MC_OK;
}

int report_read_template(const char *path, char **text)
{
    switch (text_file_read(path, text, NULL)) {
    case TEXT_FILE_OK: return MC_OK;
    case TEXT_FILE_CANNOT_OPEN: return mc_fail("template %s: %s", path, strerror(errno));
    case TEXT_FILE_CANNOT_READ: break;
    }
    return mc_fail("template %s: cannot read", path);
}

/* ---- key = value files ---- */
void report_kv_free(report_kv *kv)
{
    free(kv->text);
    free(kv->vars);
    memset(kv, 0, sizeof *kv);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int report_kv_load(const char *path, report_kv *kv)
{
    memset(kv, 0, sizeof *kv);
    if (report_read_template(path, &kv->text) != MC_OK)
        return MC_ERR;
    size_t cap = 1;
    for (const char *p = kv->text; *p; p++)
        cap += *p == '\n';
    kv->vars = calloc(cap, sizeof *kv->vars);
    if (!kv->vars)
        return mc_fail("%s: out of memory", path);
    int line = 0;
    for (char *save = NULL, *l = kv->text; l; l = save) {
        save = strchr(l, '\n');
        if (save)
            *save++ = '\0';
        line++;
        char *t = trim(l);
        if (!*t || *t == '#')
            continue;
        char *eq = strchr(t, '=');
        if (!eq)
            return mc_fail("%s: line %d: expected key = value", path, line);
        *eq = '\0';
        kv->vars[kv->n].name = trim(t);
        kv->vars[kv->n++].value = trim(eq + 1);
    }
    return MC_OK;
}

const char *report_kv_get(const report_kv *kv, const char *key)
{
    for (size_t i = kv->n; i-- > 0;) /* the last one wins */
        if (strcmp(kv->vars[i].name, key) == 0)
            return kv->vars[i].value;
    return NULL;
}

/* A value in a plain-text notice: control characters become '?', so no value can
 * start a line of its own, move the cursor or ring a terminal. */
static void put_plain(FILE *out, const char *v)
{
    for (const unsigned char *c = (const unsigned char *)v; *c; c++)
        fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, out);
}

/* ---- rendering ---- */
int report_render(FILE *out, const char *tmpl, const char *what, const report_var *vars,
                  size_t n_vars, int html)
{
    int line = 1;
    for (const char *p = tmpl; *p;) {
        if (p[0] != '{' || p[1] != '{') {
            line += *p == '\n';
            fputc(*p++, out);
            continue;
        }
        const char *end = strstr(p + 2, "}}");
        if (!end || memchr(p + 2, '\n', (size_t)(end - p - 2)))
            return mc_fail("template %s: line %d: '{{' without '}}'", what, line);
        size_t len = (size_t)(end - p - 2);
        const report_var *v = NULL;
        for (size_t i = 0; i < n_vars && !v; i++)
            if (strlen(vars[i].name) == len && memcmp(vars[i].name, p + 2, len) == 0)
                v = &vars[i];
        if (!v)
            return mc_fail("template %s: line %d: unknown {{%.*s}}", what, line, (int)len, p + 2);
        if (html)
            report_html_escape(out, v->value);
        else
            put_plain(out, v->value);
        p = end + 2;
    }
    return ferror(out) ? mc_fail("template %s: write failed", what) : MC_OK;
}

/* Renders to a new string (*text; the caller frees it). */
int report_render_alloc(const char *tmpl, const char *what, const report_var *vars,
                            size_t n, int html, char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return mc_fail("template %s: out of memory", what);
    int rc = report_render(m, tmpl, what, vars, n, html);
    fclose(m);
    if (rc != MC_OK) {
        free(buf);
        return rc;
    }
    *text = buf;
    return MC_OK;
}

/* Renders to a new string (plain text), trailing white space removed. */
int report_render_trimmed(const char *tmpl, const char *what, const report_var *vars, size_t n,
                         char **text)
{
    if (report_render_alloc(tmpl, what, vars, n, 0, text) != MC_OK)
        return MC_ERR;
    size_t len = strlen(*text);
    while (len > 0 && isspace((unsigned char)(*text)[len - 1]))
        (*text)[--len] = '\0';
    return MC_OK;
}

