/* Checks and guards for outside text (text_check.h). */
#include "text_check.h"

#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (n bytes left), 0 where it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int text_is_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(p + i, n - i);
        if (len == 0)
            return 0;
        i += len;
    }
    return 1;
}

int text_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

const char *text_id_problem(const char *id)
{
    size_t n = strlen(id);
    if (n == 0)
        return "is empty";
    if (n > MC_ID_MAX)
        return "is longer than 255 bytes";
    if (!text_is_utf8(id, n))
        return "is not valid UTF-8";
    if (text_has_control(id))
        return "holds a control character (newline, tab, escape, ...)";
    return NULL;
}

char *text_escape(const char *s, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
    size_t n = strlen((const char *)p), k = 0;
    if (size == 0)
        return out;
    for (size_t i = 0; i < n;) {
        char piece[8];
        size_t len = utf8_sequence(p + i, n - i), plen;
        unsigned char c = p[i];
        if (len == 1 && (c < 0x20 || c == 0x7f)) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                                : c == 0x1b ? "\\e" : NULL;
            plen = named ? (size_t)snprintf(piece, sizeof piece, "%s", named)
                         : (size_t)snprintf(piece, sizeof piece, "\\x%02x", c);
            len = 1;
        } else if (len == 0) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", c);
            len = 1;
        } else {
            memcpy(piece, p + i, len);
            plen = len;
        }
        if (k + plen + 1 > size) {
            size_t keep = size > 4 ? size - 4 : 0;
            if (k > keep) {
                k = keep;
                /* do not cut a UTF-8 sequence in two */
                while (k > 0 && ((unsigned char)out[k] & 0xc0) == 0x80)
                    k--;
            }
            snprintf(out + k, size - k, "...");
            return out;
        }
        memcpy(out + k, piece, plen);
        k += plen;
        i += len;
    }
    out[k] = '\0';
    return out;
}

int text_csv_formula(const char *s)
{
    return s && (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r');
}

void text_csv_cell(FILE *out, const char *v, int last)
{
    const char *guard = text_csv_formula(v) && *v != '\t' && *v != '\r' ? "'" : "";
    int quote = strpbrk(v, ",\"") != NULL;
    if (quote)
        fputc('"', out);
    fputs(guard, out);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
    }
    if (quote)
        fputc('"', out);
    fputc(last ? '\n' : ',', out);
}
