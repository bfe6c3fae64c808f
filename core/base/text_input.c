/* Bounded readers for the text a user hands over (see text_input.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text_input.h"

static tsr_status too_long(const char *name, size_t max_bytes, const char *limit_reason,
                           tsr_error *err)
{
    return tsr_error_set(err, TSR_ERR_INVALID, "%s: more than %zu bytes, %s", name, max_bytes,
                         limit_reason);
}

static tsr_status no_memory(const char *name, size_t n_bytes, tsr_error *err)
{
    return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading %s (%zu bytes)", name,
                         n_bytes);
}

static tsr_status read_failed(const char *name, int errnum, tsr_error *err)
{
    char buf[128];
    return tsr_error_set(err, TSR_ERR_IO, "%s: cannot read: %s", name,
                         strerror_r(errnum, buf, sizeof buf));
}

/* Makes room for at least need + 1 bytes (the NUL), doubling but never past
 * max_bytes + 1. */
static bool reserve(char **buf, size_t *cap, size_t need, size_t max_bytes)
{
    if (need + 1 <= *cap)
        return true;
    size_t grown = *cap ? *cap : 256;
    while (grown < need + 1)
        grown = grown > SIZE_MAX / 2 ? SIZE_MAX : grown * 2;
    if (grown > max_bytes + 1)
        grown = max_bytes + 1;
    char *bigger = realloc(*buf, grown);
    if (!bigger)
        return false;
    *buf = bigger;
    *cap = grown;
    return true;
}

tsr_status tsr_text_read_stream(FILE *f, const char *name, const char *what, size_t max_bytes,
                                const char *limit_reason, char **text, size_t *n_bytes,
                                tsr_error *err)
{
    *text = NULL;
    *n_bytes = 0;
    if (max_bytes >= SIZE_MAX - 1)
        max_bytes = SIZE_MAX - 2;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    errno = 0;
    for (;;) {
        /* One byte past the bound tells "exactly max_bytes" from "more". */
        size_t want = len + 4096 <= max_bytes + 1 ? len + 4096 : max_bytes + 1;
        if (!reserve(&buf, &cap, want, max_bytes + 1)) {
            free(buf);
            return no_memory(name, want, err);
        }
        size_t room = want - len;
        size_t got = fread(buf + len, 1, room, f);
        const char *nul = memchr(buf + len, '\0', got);
        if (nul) {
            size_t at = (size_t)(nul - buf);
            free(buf);
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: byte %zu is a NUL byte: %s is text",
                                 name, at, what);
        }
        len += got;
        if (len > max_bytes) {
            free(buf);
            return too_long(name, max_bytes, limit_reason, err);
        }
        if (got < room) { /* fread stops short only at the end or on an error */
            if (ferror(f)) {
                int errnum = errno ? errno : EIO;
                free(buf);
                return read_failed(name, errnum, err);
            }
            break;
        }
    }
    buf[len] = '\0';
    *text = buf;
    *n_bytes = len;
    return TSR_OK;
}

tsr_status tsr_text_read_file(const char *path, const char *what, size_t max_bytes,
                              const char *limit_reason, char **text, size_t *n_bytes,
                              tsr_error *err)
{
    *text = NULL;
    *n_bytes = 0;
    char buf[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int errnum = errno;
        return tsr_error_set(err, errnum == ENOMEM ? TSR_ERR_NOMEM : TSR_ERR_IO,
                             "%s: cannot open: %s", path, strerror_r(errnum, buf, sizeof buf));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int errnum = errno;
        close(fd);
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot stat: %s", path,
                             strerror_r(errnum, buf, sizeof buf));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return tsr_error_set(err, TSR_ERR_IO, "%s: is a folder, not a file", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: %llu bytes, more than %zu, %s", path,
                             (unsigned long long)st.st_size, max_bytes, limit_reason);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int errnum = errno;
        close(fd);
        return errnum == ENOMEM ? no_memory(path, 0, err) : read_failed(path, errnum, err);
    }
    tsr_status status = tsr_text_read_stream(f, path, what, max_bytes, limit_reason, text,
                                             n_bytes, err);
    fclose(f);
    return status;
}

tsr_status tsr_line_read(tsr_line_reader *r, FILE *f, const char *name, size_t max_bytes,
                         const char *limit_reason, bool *at_end, tsr_error *err)
{
    *at_end = false;
    r->n_bytes = 0;
    if (max_bytes >= SIZE_MAX - 2)
        max_bytes = SIZE_MAX - 3;
    size_t len = 0;
    int c;
    errno = 0;
    /* The line and its "\r" may take max_bytes + 1; a byte more is too long. */
    while ((c = getc(f)) != EOF && c != '\n') {
        if (c == '\0')
            return tsr_error_set(err, TSR_ERR_FORMAT,
                                 "%s: line %llu: byte %zu is a NUL byte: not text",
                                 name, (unsigned long long)r->line_no + 1, len);
        if (len == max_bytes + 1)
            return tsr_error_set(err, TSR_ERR_INVALID, "%s: line %llu is longer than %zu bytes, %s",
                                 name, (unsigned long long)r->line_no + 1, max_bytes,
                                 limit_reason);
        if (!reserve(&r->line, &r->cap, len + 1, max_bytes + 1))
            return no_memory(name, len + 1, err);
        r->line[len++] = (char)c;
    }
    if (c == EOF && ferror(f))
        return read_failed(name, errno ? errno : EIO, err);
    if (c == EOF && len == 0) {
        *at_end = true;
        return TSR_OK;
    }
    if (len > 0 && r->line[len - 1] == '\r')
        len--;
    if (len > max_bytes)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: line %llu is longer than %zu bytes, %s",
                             name, (unsigned long long)r->line_no + 1, max_bytes, limit_reason);
    if (!reserve(&r->line, &r->cap, len, max_bytes + 1))
        return no_memory(name, len + 1, err);
    r->line[len] = '\0';
    r->n_bytes = len;
    r->line_no++;
    return TSR_OK;
}

void tsr_line_reader_free(tsr_line_reader *r)
{
    free(r->line);
    memset(r, 0, sizeof *r);
}
