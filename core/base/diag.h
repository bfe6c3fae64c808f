/* Diagnostics: every problem found in a profile (and, later, by the
 * planner), each with its place in the file, collected rather than stopped
 * at, so a user fixes them all in one go. The library fills the list; the
 * caller prints it. */
#ifndef TSR_CORE_DIAG_H
#define TSR_CORE_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/tessera.h"

/* tsr_severity is public (tessera/tessera.h): the API hands diagnostics on. */

typedef struct tsr_diagnostic {
    tsr_severity severity;
    const char *code;  /* a stable name ("does-not-fit"), static; NULL for profile problems */
    char *file;        /* the file it is about, or NULL */
    uint32_t line;     /* 1-based; 0 when the problem has no place (the file cannot be read) */
    uint32_t column;   /* 1-based; 0 with line 0 */
    char *message;     /* one line, no location, no trailing period */
    char *hint;        /* the change that fixes it, or NULL */
} tsr_diagnostic;

/* A growing list; zero-initialise it ({0}) before first use. */
typedef struct tsr_diagnostics {
    tsr_diagnostic *items;
    size_t count, capacity;
    bool out_of_memory; /* an add failed: the list is incomplete */
} tsr_diagnostics;

void tsr_diagnostics_free(tsr_diagnostics *diags);

/* Appends one problem; the strings are copied. Returns the new entry (to set
 * code or hint on), or NULL when memory ran out (then out_of_memory is set
 * and the list stays valid). */
tsr_diagnostic *tsr_diag_add(tsr_diagnostics *diags, tsr_severity severity, const char *file,
                             uint32_t line, uint32_t column, const char *fmt, ...)
    TSR_PRINTF(6, 7);
tsr_diagnostic *tsr_diag_addv(tsr_diagnostics *diags, tsr_severity severity, const char *file,
                              uint32_t line, uint32_t column, const char *fmt, va_list args);
/* Sets (replaces) the entry's hint; false when memory ran out. */
bool tsr_diag_set_hint(tsr_diagnostic *diag, const char *fmt, ...) TSR_PRINTF(2, 3);

/* How many entries have severity TSR_SEVERITY_ERROR. */
size_t tsr_diag_error_count(const tsr_diagnostics *diags);

/* Orders by file, line and column; entries at the same place keep their
 * order, and entries without a place (line 0) come first. */
void tsr_diag_sort(tsr_diagnostics *diags);

/* Writes "FILE:LINE:COLUMN: message", "FILE: message" without a place, with
 * "warning: " or "note: " before the message for those severities; the hint
 * is not included. Returns what snprintf returns. */
int tsr_diag_format(const tsr_diagnostic *diag, char *buf, size_t buf_bytes);

/* Copies text (length bytes, may hold NULs) into buf for a one-line message:
 * control characters become \xNN, and text
 * longer than about 60 characters is cut with "...". Returns buf. */
enum { TSR_DIAG_QUOTE_BYTES = 256 };
const char *tsr_diag_quote(const char *text, size_t length, char *buf, size_t buf_bytes);

/* The candidate nearest to word by edit distance (Levenshtein, with two
 * swapped neighbours as one edit; case-blind), or NULL when none is near
 * enough to be a plausible typo: at most a third of the word's letters (and
 * at least 1) may have to change. */
const char *tsr_nearest_name(const char *word, const char *const *candidates, size_t n);

#endif
