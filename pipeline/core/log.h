/* Operator-facing messages on stderr. Levels below the current verbosity are
 * dropped: --quiet shows warnings and errors only, --verbose adds debug lines. */
#ifndef MOWCHECK_LOG_H
#define MOWCHECK_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

void log_set_level(log_level level);
log_level log_get_level(void);

/* Called around every line written (both or neither): lets a progress bar wipe itself
 * before a message and draw itself again after it. NULL: nothing. */
typedef void (*log_line_hook)(void);
void log_set_line_hooks(log_line_hook before, log_line_hook after);

void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
