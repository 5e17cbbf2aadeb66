#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MESSAGE_CAPACITY = 2048 };
static _Thread_local char last_message[MESSAGE_CAPACITY];

int mc_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return MC_ERR;
}

int mc_fail_wrap(const char *fmt, ...)
{
    char previous[MESSAGE_CAPACITY];
    char context[MESSAGE_CAPACITY];
    memcpy(previous, last_message, sizeof previous);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    /* context + ": " + previous, cut at the capacity (messages are for people). */
    size_t used = strlen(context);
    memcpy(last_message, context, used + 1);
    if (previous[0] != '\0' && used + 2 < sizeof last_message) {
        memcpy(last_message + used, ": ", 3);
        used += 2;
        size_t room = sizeof last_message - 1 - used;
        size_t len = strlen(previous);
        if (len > room)
            len = room;
        memcpy(last_message + used, previous, len);
        last_message[used + len] = '\0';
    }
    return MC_ERR;
}

const char *mc_error_message(void) { return last_message; }

void mc_error_clear(void) { last_message[0] = '\0'; }
