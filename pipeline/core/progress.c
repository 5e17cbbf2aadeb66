#include "progress.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The bar being shown (one at a time) and what of it is on the screen now. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static progress *shown;
static size_t drawn_len; /* characters of the bar on the current line; 0: none */
static int64_t drawn_done; /* the count last drawn */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* A bar only where a person watches: a terminal that can go back to the line start. */
static int stderr_wants_bar(void)
{
    const char *term = getenv("TERM");
    return isatty(STDERR_FILENO) && log_get_level() <= LOG_INFO &&
           !(term && strcmp(term, "dumb") == 0);
}

void progress_format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e8) {
        snprintf(buf, size, "?");
        return;
    }
    long s = lround(seconds);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

size_t progress_format(char *buf, size_t size, const char *label, int64_t done, int64_t total,
                       double elapsed_s, int columns)
{
    if (size == 0)
        return 0;
    if (total < 1)
        total = 1;
    if (done > total)
        done = total;
    int percent = (int)(done * 100 / total); /* floor: 100% only when all are done */
    char elapsed[32], left[32], tail[160];
    progress_format_duration(elapsed_s, elapsed, sizeof elapsed);
    if (done > 0)
        progress_format_duration(elapsed_s / (double)done * (double)(total - done), left,
                                 sizeof left);
    else
        snprintf(left, sizeof left, "?");
    /* done as wide as total, so that the bar keeps its width as the count grows */
    char total_text[24];
    int digits = snprintf(total_text, sizeof total_text, "%lld", (long long)total);
    snprintf(tail, sizeof tail, " %*lld/%s %3d%% %s elapsed, %s left", digits, (long long)done,
             total_text, percent, elapsed, left);
    /* The bar takes what the label and the numbers leave of the line, 10..40 cells;
     * none at all on a very narrow terminal (a wrapped line could not be redrawn). */
    int room = columns - 1 - (int)strlen(label) - (int)strlen(tail) - 3;
    int width = room > 40 ? 40 : room;
    size_t n;
    if (width >= 10) {
        char bar[41];
        int filled = (int)(done * width / total);
        memset(bar, '#', (size_t)filled);
        memset(bar + filled, '.', (size_t)(width - filled));
        bar[width] = '\0';
        n = (size_t)snprintf(buf, size, "%s [%s]%s", label, bar, tail);
    } else {
        n = (size_t)snprintf(buf, size, "%s%s", label, tail);
    }
    if (n >= size)
        n = size - 1;
    if (columns > 1 && n > (size_t)columns - 1) {
        n = (size_t)columns - 1;
        buf[n] = '\0';
    }
    return n;
}

/* Draws p over the current line (caller holds the lock). */
static void draw_locked(progress *p, double now)
{
    char line[512], out[1100];
    size_t n = progress_format(line, sizeof line, p->label, p->done, p->total,
                               now - p->start_s, terminal_columns());
    /* spaces wipe what a longer earlier bar left on the line */
    size_t pad = drawn_len > n ? drawn_len - n : 0;
    if (pad > sizeof out - n - 2)
        pad = sizeof out - n - 2;
    out[0] = '\r';
    memcpy(out + 1, line, n);
    memset(out + 1 + n, ' ', pad);
    fwrite(out, 1, 1 + n + pad, stderr);
    fflush(stderr);
    drawn_len = n;
    drawn_done = p->done;
    p->last_draw_s = now;
}

/* Wipes the bar's line and goes back to its start (caller holds the lock). */
static void wipe_locked(void)
{
    if (drawn_len == 0)
        return;
    char out[600];
    size_t n = drawn_len < sizeof out - 2 ? drawn_len : sizeof out - 2;
    out[0] = '\r';
    memset(out + 1, ' ', n);
    out[n + 1] = '\r';
    fwrite(out, 1, n + 2, stderr);
    fflush(stderr);
    drawn_len = 0;
}

void progress_begin(progress *p, const char *label, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->start_s = now_s();
    p->active = total > 0 && stderr_wants_bar();
    if (!p->active)
        return;
    log_set_line_hooks(progress_log_suspend, progress_log_resume);
    pthread_mutex_lock(&lock);
    if (shown) { /* a bar left open: end its line rather than draw over it */
        fputc('\n', stderr);
        drawn_len = 0;
    }
    shown = p;
    draw_locked(p, p->start_s);
    pthread_mutex_unlock(&lock);
}

void progress_step(progress *p, int64_t n)
{
    p->done += n;
    if (p->done > p->total)
        p->done = p->total;
    if (!p->active)
        return;
    double now = now_s();
    if (p->done < p->total && now - p->last_draw_s < PROGRESS_REDRAW_S)
        return;
    pthread_mutex_lock(&lock);
    if (shown == p)
        draw_locked(p, now);
    pthread_mutex_unlock(&lock);
}

void progress_end(progress *p)
{
    if (!p->active)
        return;
    pthread_mutex_lock(&lock);
    if (shown == p) {
        if (drawn_len == 0 || drawn_done != p->done)
            draw_locked(p, now_s());
        fputc('\n', stderr);
        fflush(stderr);
        drawn_len = 0;
        shown = NULL;
    }
    pthread_mutex_unlock(&lock);
    p->active = 0;
}

void progress_log_suspend(void)
{
    pthread_mutex_lock(&lock);
    wipe_locked();
}

void progress_log_resume(void)
{
    if (shown)
        draw_locked(shown, now_s());
    pthread_mutex_unlock(&lock);
}
