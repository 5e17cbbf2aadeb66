#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "progress.h"

static log_level current_level = LOG_INFO;

void log_set_level(log_level level) { current_level = level; }

log_level log_get_level(void) { return current_level; }

void log_msg(log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: "};
    if (level < current_level)
        return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line so lines from threads do not interleave; a progress bar
     * on the terminal is wiped first and drawn again below the message. */
    progress_log_suspend();
    fprintf(stderr, "mowcheck: %s%s\n", prefix[level], line);
    progress_log_resume();
}
