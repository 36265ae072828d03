/* error.h -- error codes and the per-thread detailed message. */
#ifndef RW_ERROR_H
#define RW_ERROR_H

#include "raftwal.h"

/* Sets the calling thread's message (printf-style) and returns code. */
int rw_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps errno value `errnum` to a raftwal code (ENOSPC/EDQUOT -> ENOSPC,
 * ENOMEM -> ENOMEM, ENOENT -> ENOTFOUND when `missing_is_notfound`, anything
 * else -> EIO), sets the message "<what>: <strerror>" and returns the code. */
int rw_err_sys(int errnum, int missing_is_notfound, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends " (context)" to the thread's current message; returns code. */
int rw_err_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the calling thread's message. */
void rw_err_clear(void);

/* Every public entry point returns its result through this: a call that
 * succeeds (rc >= 0) leaves the message "", whatever errors it met and
 * handled on the way (a torn tail cut at open, a lookup tried first). */
int rw_api_return(int rc);

#endif
