/* Sizes in bytes, as profiles write them and as messages show them.
 *
 * Written: a non-negative decimal number and a unit, "24GiB", "1.5 GiB",
 * "256MiB", "20GB": B, KiB, MiB, GiB, TiB (powers of 1024) and KB, MB, GB, TB
 * (powers of 1000); units are matched without regard to case. A fraction is
 * rounded to the nearest byte. */
#ifndef TSR_CORE_UNITS_H
#define TSR_CORE_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#define TSR_KIB ((uint64_t)1 << 10)
#define TSR_MIB ((uint64_t)1 << 20)
#define TSR_GIB ((uint64_t)1 << 30)
#define TSR_TIB ((uint64_t)1 << 40)

/* Parses text as a size. A bare number (no unit) is taken in bare_unit bytes
 * ("20" with TSR_GIB is 20 GiB); with bare_unit 0 a unit is required, except
 * for a plain 0. Fails with TSR_ERR_INVALID for garbage, a negative number,
 * an unknown unit or a size past 2^64-1 bytes; the message quotes the text
 * and says what was expected, without a location (the caller adds it). */
tsr_status tsr_size_parse(const char *text, uint64_t bare_unit, uint64_t *bytes, tsr_error *err);

/* Writes bytes for a reader: "24.0 GiB", "256.0 MiB", "1.5 KiB", "512 B"
 * (the largest power-of-1024 unit that leaves a number >= 1, one decimal).
 * Returns buf. Bytes are never lost silently: the unit is always shown. */
const char *tsr_size_format(uint64_t bytes, char *buf, size_t buf_bytes);

/* Writes bytes exactly, in a form tsr_size_parse reads back to the same value:
 * the unit giving the smallest whole number ("24GiB", "1536MiB", "20GB",
 * "1000B", "0B"). Returns buf. */
const char *tsr_size_format_exact(uint64_t bytes, char *buf, size_t buf_bytes);

enum { TSR_SIZE_TEXT_BYTES = 32 }; /* enough for either format */

/* Parses text as a duration: a non-negative decimal number and a unit, "ms",
 * "s" or "min" ("500ms", "10s", "1.5min"); rounded to the nearest
 * millisecond. TSR_ERR_INVALID for garbage, a missing or unknown unit, or
 * more than 2^53 ms; the message quotes the text, without a location. */
tsr_status tsr_duration_parse(const char *text, uint64_t *ms, tsr_error *err);
/* Writes ms exactly, in a form tsr_duration_parse reads back: "10s",
 * "1500ms", "2min". Returns buf. */
const char *tsr_duration_format(uint64_t ms, char *buf, size_t buf_bytes);

#endif
