/* Progress of a long stage (scenes, parcels, claims) for an operator at a terminal.
 *
 * Where stderr is a terminal and the log shows info lines (not --quiet), one line
 * redraws itself in place with '\r': label, bar, n/total, percent, elapsed time and
 * the time left, at most about ten times a second, and ends with a newline. Where
 * stderr is a file or a pipe (cron, Slurm, systemd) nothing is drawn: the log lines
 * are the record. log.c wipes the bar before a message and draws it again after,
 * so a message never lands in the middle of a bar.
 *
 *     progress p;
 *     progress_begin(&p, "scenes", n);
 *     for (...) { ...; progress_step(&p, 1); }
 *     progress_end(&p);
 *
 * One bar at a time per process; progress_step may be called from one thread while
 * others log. */
#ifndef MOWCHECK_PROGRESS_H
#define MOWCHECK_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct progress {
    const char *label;
    int64_t total, done;
    double start_s, last_draw_s; /* CLOCK_MONOTONIC */
    int active;                  /* drawing: stderr is a terminal, not --quiet, total > 0 */
} progress;

/* Minimum time between two redraws (the final state is always drawn). */
#define PROGRESS_REDRAW_S 0.1

void progress_begin(progress *p, const char *label, int64_t total);
/* n more items done (done never passes total). */
void progress_step(progress *p, int64_t n);
/* Draws the final state and ends the line. Safe to call on a bar that never drew. */
void progress_end(progress *p);

/* The log line hooks that progress_begin registers (log_set_line_hooks): wipe the bar's line before a message, draw it again after. Between the
 * two calls no bar is drawn by another thread. */
void progress_log_suspend(void);
void progress_log_resume(void);

/* The bar's text without '\r', at most columns - 1 characters, e.g.
 * "scenes [##########..........] 50/100  50% 0:10 elapsed, 0:10 left".
 * elapsed_s: time since progress_begin; the time left is elapsed / done * (total - done)
 * ("?" before the first item is done). Returns the length written. */
size_t progress_format(char *buf, size_t size, const char *label, int64_t done, int64_t total,
                       double elapsed_s, int columns);

/* "M:SS" or "H:MM:SS"; negative or non-finite: "?". */
void progress_format_duration(double seconds, char *buf, size_t size);

#endif
