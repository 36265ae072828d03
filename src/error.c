/* error.c -- error strings and the per-thread last-error message. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char message[1024];

const char *raftwal_strerror(int code)
{
    switch (code) {
    case RAFTWAL_OK: return "success";
    case RAFTWAL_EINVAL: return "invalid argument";
    case RAFTWAL_ENOMEM: return "out of memory";
    case RAFTWAL_EIO: return "I/O error";
    case RAFTWAL_ECORRUPT: return "corrupt data";
    case RAFTWAL_ELOCKED: return "log is locked by another handle";
    case RAFTWAL_ECOMPACTED: return "index compacted";
    case RAFTWAL_EUNAVAILABLE: return "index unavailable";
    case RAFTWAL_ENOTFOUND: return "log not found";
    case RAFTWAL_EVERSION: return "unsupported format version";
    case RAFTWAL_EREADONLY: return "log is read-only";
    case RAFTWAL_ENOSPC: return "no space left on device";
    case RAFTWAL_EGAP: return "entries not contiguous";
    case RAFTWAL_ETERM: return "term lower than predecessor's";
    case RAFTWAL_ECOMMITTED: return "would remove committed entries";
    case RAFTWAL_ERANGE: return "buffer too small";
    case RAFTWAL_ECLOSED: return "log is closed";
    case RAFTWAL_EKEY: return "wrong or missing key";
    default: return "unknown error";
    }
}

const char *raftwal_errmsg(void)
{
    return message;
}

void rw_err_clear(void)
{
    message[0] = 0;
}

int rw_api_return(int rc)
{
    if (rc >= 0)
        message[0] = 0;
    return rc;
}

int rw_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return code;
}

int rw_err_context(int code, const char *fmt, ...)
{
    size_t used = strlen(message);
    if (used + 4 >= sizeof message)
        return code;
    char *p = message + used;
    size_t left = sizeof message - used;
    int n = snprintf(p, left, " (");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p + n, left - (size_t)n, fmt, ap);
    va_end(ap);
    used = strlen(message);
    if (used + 2 < sizeof message)
        memcpy(message + used, ")", 2);
    return code;
}

int rw_err_sys(int errnum, int missing_is_notfound, const char *fmt, ...)
{
    int code;
    switch (errnum) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        code = RAFTWAL_ENOSPC;
        break;
    case ENOMEM: code = RAFTWAL_ENOMEM; break;
    case ENOENT: code = missing_is_notfound ? RAFTWAL_ENOTFOUND : RAFTWAL_EIO; break;
    default: code = RAFTWAL_EIO; break;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof message)
        snprintf(message + n, sizeof message - (size_t)n, ": %s", strerror(errnum));
    return code;
}
