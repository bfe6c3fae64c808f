/* Sizes with units: "24GiB" <-> 25769803776. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

typedef struct size_unit {
    const char *name;
    uint64_t bytes;
} size_unit;

/* Largest first: tsr_size_format_exact takes the first unit that divides. */
static const size_unit units[] = {
    {"TiB", TSR_TIB},      {"TB", 1000000000000ull}, {"GiB", TSR_GIB},
    {"GB", 1000000000ull}, {"MiB", TSR_MIB},         {"MB", 1000000ull},
    {"KiB", TSR_KIB},      {"KB", 1000ull},          {"B", 1},
};
enum { N_UNITS = sizeof units / sizeof units[0] };

static const char *const known_units = "B, KiB, MiB, GiB, TiB, KB, MB, GB, TB";

static tsr_status too_large(const char *text, tsr_error *err)
{
    return tsr_error_set(err, TSR_ERR_INVALID,
                         "size '%s' is too large: it exceeds 2^64-1 bytes (16 EiB)", text);
}

tsr_status tsr_size_parse(const char *text, uint64_t bare_unit, uint64_t *bytes, tsr_error *err)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '-')
        return tsr_error_set(err, TSR_ERR_INVALID, "size '%s' is negative", text);
    if (*p == '+')
        p++;

    /* Whole part exactly, fraction digits as a number in [0, 1). */
    uint64_t whole = 0;
    bool overflow = false;
    size_t n_digits = 0;
    for (; isdigit((unsigned char)*p); p++, n_digits++) {
        unsigned digit = (unsigned)(*p - '0');
        if (whole > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            whole = whole * 10 + digit;
    }
    long double fraction = 0, scale = 1;
    bool has_fraction = false;
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char)*p); p++, n_digits++) {
            scale /= 10;
            fraction += (long double)(*p - '0') * scale;
            has_fraction = has_fraction || *p != '0';
        }
    }
    if (n_digits == 0)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "'%s' is not a size: expected a number and a unit (%s), "
                             "e.g. 24GiB or 256MiB",
                             text, known_units);
    while (*p == ' ' || *p == '\t')
        p++;
    const char *unit_text = p;
    size_t unit_len = strlen(unit_text);
    while (unit_len > 0 && (unit_text[unit_len - 1] == ' ' || unit_text[unit_len - 1] == '\t'))
        unit_len--;

    uint64_t multiplier = 0;
    if (unit_len == 0) {
        if (bare_unit == 0 && (whole != 0 || has_fraction || overflow))
            return tsr_error_set(err, TSR_ERR_INVALID,
                                 "size '%s' has no unit: write it with one of %s, e.g. %sGiB", text,
                                 known_units, text);
        multiplier = bare_unit ? bare_unit : 1;
    } else {
        for (size_t i = 0; i < N_UNITS; i++)
            if (strlen(units[i].name) == unit_len &&
                strncasecmp(units[i].name, unit_text, unit_len) == 0)
                multiplier = units[i].bytes;
        if (multiplier == 0)
            return tsr_error_set(err, TSR_ERR_INVALID,
                                 "size '%s' has an unknown unit '%.*s' (known: %s)", text,
                                 (int)unit_len, unit_text, known_units);
    }
    if (overflow || (whole != 0 && whole > UINT64_MAX / multiplier))
        return too_large(text, err);
    uint64_t total = whole * multiplier;
    if (has_fraction) {
        if (multiplier == 1)
            return tsr_error_set(err, TSR_ERR_INVALID,
                                 "size '%s' has a fraction of a byte: bytes are whole", text);
        /* Round to the nearest byte. */
        long double extra = floorl(fraction * (long double)multiplier + 0.5L);
        if (extra > (long double)(UINT64_MAX - total))
            return too_large(text, err);
        total += (uint64_t)extra;
    }
    *bytes = total;
    return TSR_OK;
}

const char *tsr_size_format(uint64_t bytes, char *buf, size_t buf_bytes)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < TSR_KIB) {
        snprintf(buf, buf_bytes, "%" PRIu64 " B", bytes);
        return buf;
    }
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < sizeof names / sizeof names[0]) {
        value /= 1024.0;
        unit++;
    }
    snprintf(buf, buf_bytes, "%.1f %s", value, names[unit]);
    return buf;
}

const char *tsr_size_format_exact(uint64_t bytes, char *buf, size_t buf_bytes)
{
    for (size_t i = 0; i < N_UNITS; i++)
        if (bytes != 0 && bytes % units[i].bytes == 0) {
            snprintf(buf, buf_bytes, "%" PRIu64 "%s", bytes / units[i].bytes, units[i].name);
            return buf;
        }
    snprintf(buf, buf_bytes, "0B");
    return buf;
}

/* ---- durations ------------------------------------------------------------ */

static const struct {
    const char *name;
    uint64_t ms;
} duration_units[] = {{"ms", 1}, {"s", 1000}, {"min", 60000}};
/* Past 2^53 ms a double no longer holds every millisecond. */
#define MAX_DURATION_MS ((double)((uint64_t)1 << 53))

tsr_status tsr_duration_parse(const char *text, uint64_t *ms, tsr_error *err)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '-')
        return tsr_error_set(err, TSR_ERR_INVALID, "duration '%s' is negative", text);
    char *end;
    double value = isdigit((unsigned char)*p) || *p == '.' ? strtod(p, &end) : -1;
    if (value < 0 || end == p)
        return tsr_error_set(err, TSR_ERR_INVALID, "'%s' is not a duration: expected a number "
                             "and a unit (ms, s, min), e.g. 10s or 500ms", text);
    while (*end == ' ' || *end == '\t')
        end++;
    size_t unit_len = strlen(end);
    while (unit_len > 0 && (end[unit_len - 1] == ' ' || end[unit_len - 1] == '\t'))
        unit_len--;
    if (unit_len == 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "duration '%s' has no unit: write it with "
                             "one of ms, s, min, e.g. %ss", text, text);
    for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++)
        if (strlen(duration_units[i].name) == unit_len &&
            strncasecmp(duration_units[i].name, end, unit_len) == 0) {
            double total = value * (double)duration_units[i].ms + 0.5;
            if (total >= MAX_DURATION_MS)
                return tsr_error_set(err, TSR_ERR_INVALID, "duration '%s' is absurdly long",
                                     text);
            *ms = (uint64_t)total;
            return TSR_OK;
        }
    return tsr_error_set(err, TSR_ERR_INVALID, "duration '%s' has an unknown unit '%.*s' "
                         "(known: ms, s, min)", text, (int)unit_len, end);
}

const char *tsr_duration_format(uint64_t ms, char *buf, size_t buf_bytes)
{
    if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, buf_bytes, "%llumin", (unsigned long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, buf_bytes, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, buf_bytes, "%llums", (unsigned long long)ms);
    return buf;
}
