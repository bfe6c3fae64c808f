/* Text a user hands over — a profile, tessera.ini, a prompt file, standard
 * input, the lines of a chat — read with a bound.
 *
 * Every such input may be endless (/dev/zero, `yes |`, a FIFO that never
 * closes) or binary. A reader that grows its buffer until the input ends
 * grows it until the machine runs out of memory; these readers stop at
 * max_bytes and refuse, and refuse a NUL byte, which no text holds (C
 * strings would silently end there). A regular file whose size is already
 * over the bound is refused from its size, before anything is read.
 *
 * Errors name the input and what is wrong with it:
 *   TSR_ERR_INVALID  more than max_bytes ("NAME: more than 1048576 bytes,
 *                    the most a profile may hold")
 *   TSR_ERR_FORMAT   a NUL byte ("NAME: byte 1234 is a NUL byte: a prompt
 *                    is text"; lines also give the line number)
 *   TSR_ERR_IO       cannot open (no such file included) or read, or a
 *                    folder given as a file
 *   TSR_ERR_NOMEM    "out of memory reading NAME (N bytes)"
 * The functions keep no state of their own: any thread, one stream each.
 */
#ifndef TSR_CORE_TEXT_INPUT_H
#define TSR_CORE_TEXT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tessera/error.h"

/* Reads the rest of f: at most max_bytes, no NUL byte. *text is malloc'd,
 * NUL-terminated, owned by the caller; *n_bytes its length. name names the
 * input in messages ("standard input"); what says what it is ("a prompt")
 * and limit_reason why the bound is where it is ("the most a profile may
 * hold"). On error *text is NULL. */
tsr_status tsr_text_read_stream(FILE *f, const char *name, const char *what, size_t max_bytes,
                                const char *limit_reason, char **text, size_t *n_bytes,
                                tsr_error *err);

/* Opens path and reads it as tsr_text_read_stream does. A folder is refused
 * (TSR_ERR_IO "is a folder, not a file"); a regular file larger than
 * max_bytes is refused from its size; anything else that reads (a FIFO,
 * /dev/stdin, /dev/null) is read up to the bound. */
tsr_status tsr_text_read_file(const char *path, const char *what, size_t max_bytes,
                              const char *limit_reason, char **text, size_t *n_bytes,
                              tsr_error *err);

/* Reads lines one by one, each into the same buffer. Zero-initialise it;
 * release with tsr_line_reader_free. */
typedef struct tsr_line_reader {
    char *line;        /* the last line read, NUL-terminated, without its line end */
    size_t n_bytes;    /* its length */
    uint64_t line_no;  /* its number, from 1 */
    size_t cap;        /* private */
} tsr_line_reader;

/* Reads the next line of f, at most max_bytes before its end ("\n" or
 * "\r\n"; a last line may lack it), no NUL byte. *at_end is true (and TSR_OK
 * returned) when f ends before a line does. Errors name name, the line's
 * number and, for a NUL, its byte within the line. */
tsr_status tsr_line_read(tsr_line_reader *r, FILE *f, const char *name, size_t max_bytes,
                         const char *limit_reason, bool *at_end, tsr_error *err);
void tsr_line_reader_free(tsr_line_reader *r);

#endif
