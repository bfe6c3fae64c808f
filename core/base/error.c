/* Errors are values: a code and a message a user can act on. */
#include <stdio.h>
#include <string.h>

#include "tessera/error.h"

tsr_status tsr_error_setv(tsr_error *err, tsr_status code, const char *fmt, va_list args)
{
    if (err) {
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, args);
    }
    return code;
}

tsr_status tsr_error_set(tsr_error *err, tsr_status code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    tsr_error_setv(err, code, fmt, args);
    va_end(args);
    return code;
}

tsr_status tsr_error_prefix(tsr_error *err, const char *fmt, ...)
{
    if (!err)
        return TSR_ERR_INTERNAL;
    char prefix[TSR_ERROR_MESSAGE_BYTES];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    /* prefix + ": " + message, cut to fit */
    char joined[TSR_ERROR_MESSAGE_BYTES];
    size_t n = strlen(prefix);
    memcpy(joined, prefix, n);
    size_t room = sizeof joined - n - 1;
    const char *parts[] = {": ", err->message};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(parts[i]);
        if (len > room)
            len = room;
        memcpy(joined + n, parts[i], len);
        n += len;
        room -= len;
    }
    joined[n] = '\0';
    memcpy(err->message, joined, n + 1);
    return err->code;
}

const char *tsr_status_name(tsr_status code)
{
    switch (code) {
    case TSR_OK: return "ok";
    case TSR_ERR_INVALID: return "invalid";
    case TSR_ERR_NOMEM: return "out of memory";
    case TSR_ERR_IO: return "i/o error";
    case TSR_ERR_FORMAT: return "malformed file";
    case TSR_ERR_UNSUPPORTED: return "unsupported";
    case TSR_ERR_ABI: return "plugin ABI mismatch";
    case TSR_ERR_NOT_FOUND: return "not found";
    case TSR_ERR_REFUSED: return "refused";
    case TSR_ERR_INTERNAL: return "internal error";
    case TSR_ERR_NO_KV_ROOM: return "no KV cache room";
    case TSR_ERR_ABORTED: return "aborted";
    case TSR_ERR_PEER: return "another rank failed";
    }
    return "unknown error";
}
