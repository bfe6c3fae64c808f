/* tessera — errors are values.
 *
 * Every fallible function of libtessera and of every plugin returns a
 * tsr_status and, when it is not TSR_OK, fills a caller-owned tsr_error with
 * the same code and a message a user can act on. Nothing in the library or a
 * plugin prints or exits; only the CLI talks to the terminal.
 */
#ifndef TESSERA_ERROR_H
#define TESSERA_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a symbol as part of the exported interface; everything else is hidden
 * (the build uses -fvisibility=hidden). Plugins export only tsr_plugin_entry. */
#if defined(__GNUC__) || defined(__clang__)
#define TSR_EXPORT __attribute__((visibility("default")))
#define TSR_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define TSR_EXPORT
#define TSR_PRINTF(fmt_index, first_arg)
#endif

/* What went wrong, coarsely; the message says precisely. Values are stable. */
typedef enum tsr_status {
    TSR_OK = 0,
    TSR_ERR_INVALID = 1,     /* a bad argument or value (profile, parameter, option) */
    TSR_ERR_NOMEM = 2,       /* host or device memory could not be had */
    TSR_ERR_IO = 3,          /* a file could not be opened, read or mapped */
    TSR_ERR_FORMAT = 4,      /* a file is malformed, truncated or hostile */
    TSR_ERR_UNSUPPORTED = 5, /* well-formed, but not something this build can do */
    TSR_ERR_ABI = 6,         /* a plugin built for an ABI this core does not speak */
    TSR_ERR_NOT_FOUND = 7,   /* a named plugin, tensor, key or file does not exist */
    TSR_ERR_REFUSED = 8,     /* the planner refused the deployment */
    TSR_ERR_INTERNAL = 9,    /* a bug: an invariant of tessera itself failed */
    TSR_ERR_NO_KV_ROOM = 10, /* a sequence would outgrow the KV cache the plan provisioned */
    TSR_ERR_ABORTED = 11,    /* the caller's abort callback asked to stop */
    TSR_ERR_PEER = 12,       /* across hosts: another rank of the job disagreed at the
                                handshake, failed, or stopped answering */
} tsr_status;

enum { TSR_ERROR_MESSAGE_BYTES = 1024 };

/* Filled by a failing call; owned by the caller, usually on its stack.
 * message is always NUL-terminated (truncated if longer). */
typedef struct tsr_error {
    tsr_status code;
    char message[TSR_ERROR_MESSAGE_BYTES];
} tsr_error;

/* Sets err (when non-NULL) to code and the formatted message; returns code so
 * that `return tsr_error_set(err, ...)` reads naturally. Thread-safe. */
TSR_EXPORT tsr_status tsr_error_set(tsr_error *err, tsr_status code, const char *fmt, ...)
    TSR_PRINTF(3, 4);
TSR_EXPORT tsr_status tsr_error_setv(tsr_error *err, tsr_status code, const char *fmt,
                                     va_list args);

/* Prepends "context: " to an already set message, e.g. the file name. */
TSR_EXPORT tsr_status tsr_error_prefix(tsr_error *err, const char *fmt, ...) TSR_PRINTF(2, 3);

/* A short, stable name for a status ("invalid", "out of memory", ...). */
TSR_EXPORT const char *tsr_status_name(tsr_status code);

#ifdef __cplusplus
}
#endif
#endif
