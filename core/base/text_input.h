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

/* The readers are public (tessera/tessera.h, "reading text a user hands
 * over"): the CLI reads prompts and chat lines with them. */
#include "tessera/tessera.h"

#endif
