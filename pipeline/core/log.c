#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "text_check.h"

static log_level current_level = LOG_INFO;
/* Set by whoever draws on stderr between log lines (the progress bar); log.c knows
 * nothing of them, so the dependency points one way (progress -> log). */
static _Atomic(log_line_hook) hook_before, hook_after;

void log_set_line_hooks(log_line_hook before, log_line_hook after)
{
    atomic_store(&hook_before, before);
    atomic_store(&hook_after, after);
}

void log_set_level(log_level level) { current_level = level; }

log_level log_get_level(void) { return current_level; }

void log_msg(log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: "};
    if (level < current_level)
        return;
    char raw[4096], line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* One message, one line: names and ids from outside (folder names, parcel ids,
     * registry fields) cannot forge a line or send a terminal escape. */
    text_escape(raw, line, sizeof line);
    /* One fprintf per line so lines from threads do not interleave; a progress bar
     * on the terminal is wiped first (before) and drawn again below the message (after). */
    log_line_hook before = atomic_load(&hook_before), after = atomic_load(&hook_after);
    if (before)
        before();
    fprintf(stderr, "mowcheck: %s%s\n", prefix[level], line);
    if (after)
        after();
}
