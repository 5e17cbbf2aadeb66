/* One error convention for the whole program.
 *
 * A function that can fail returns MC_OK (0) or MC_ERR (-1). Before returning
 * MC_ERR it records a message with mc_fail(), naming the file, scene, parcel or
 * request concerned. Callers that add context wrap it with mc_fail_wrap().
 * The message lives in thread-local storage until the next failure.
 * Asserts are for programming errors only; bad input is never an assert. */
#ifndef MOWCHECK_ERROR_H
#define MOWCHECK_ERROR_H

#define MC_OK 0
#define MC_ERR (-1)

/* Records the message and returns MC_ERR, so `return mc_fail("...")` reads well. */
int mc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes the current message with more context: "<context>: <previous message>". */
int mc_fail_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message recorded on this thread ("" if none). */
const char *mc_error_message(void);

/* Forgets the last message (e.g. after a failure was handled and reported). */
void mc_error_clear(void);

#endif
