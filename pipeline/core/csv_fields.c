#include "csv_fields.h"

#include <string.h>

/* One quoted field starting after its opening quote at *p: unescaped in place. */
static int quoted_field(char **p)
{
    char *w = *p, *r = *p;
    for (;;) {
        if (*r == '\0')
            return -1;
        if (*r == '"' && r[1] == '"') {
            *w++ = '"';
            r += 2;
        } else if (*r == '"') {
            r++;
            break;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    *p = r;
    return 0;
}

int csv_split(char *line, char **fields, int max_fields)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max_fields)
            return n;
        if (*p == '"') {
            fields[n++] = ++p;
            if (quoted_field(&p) != 0)
                return -1;
            if (*p == ',') {
                p++;
                continue;
            }
            return *p == '\0' ? n : -1;
        }
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            return n;
        *comma = '\0';
        p = comma + 1;
    }
}
