/* Diagnostics: a list of located problems, and the "did you mean" they offer. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void tsr_diagnostics_free(tsr_diagnostics *diags)
{
    if (!diags)
        return;
    for (size_t i = 0; i < diags->count; i++) {
        free(diags->items[i].file);
        free(diags->items[i].message);
        free(diags->items[i].hint);
    }
    free(diags->items);
    memset(diags, 0, sizeof *diags);
}

tsr_diagnostic *tsr_diag_addv(tsr_diagnostics *diags, tsr_severity severity, const char *file,
                              uint32_t line, uint32_t column, const char *fmt, va_list args)
{
    if (diags->count == diags->capacity) {
        size_t capacity = diags->capacity ? diags->capacity * 2 : 8;
        tsr_diagnostic *bigger = realloc(diags->items, capacity * sizeof *bigger);
        if (!bigger) {
            diags->out_of_memory = true;
            return NULL;
        }
        diags->items = bigger;
        diags->capacity = capacity;
    }
    tsr_diagnostic diag = {.severity = severity, .line = line, .column = line ? column : 0};
    if (vasprintf(&diag.message, fmt, args) < 0) {
        diags->out_of_memory = true;
        return NULL;
    }
    if (file && !(diag.file = strdup(file))) {
        free(diag.message);
        diags->out_of_memory = true;
        return NULL;
    }
    diags->items[diags->count] = diag;
    return &diags->items[diags->count++];
}

tsr_diagnostic *tsr_diag_add(tsr_diagnostics *diags, tsr_severity severity, const char *file,
                             uint32_t line, uint32_t column, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    tsr_diagnostic *diag = tsr_diag_addv(diags, severity, file, line, column, fmt, args);
    va_end(args);
    return diag;
}

bool tsr_diag_set_hint(tsr_diagnostic *diag, const char *fmt, ...)
{
    char *hint;
    va_list args;
    va_start(args, fmt);
    int n = vasprintf(&hint, fmt, args);
    va_end(args);
    if (n < 0)
        return false;
    free(diag->hint);
    diag->hint = hint;
    return true;
}

size_t tsr_diag_error_count(const tsr_diagnostics *diags)
{
    size_t n = 0;
    for (size_t i = 0; i < diags->count; i++)
        n += diags->items[i].severity == TSR_SEVERITY_ERROR;
    return n;
}

static int compare_places(const tsr_diagnostic *a, const tsr_diagnostic *b)
{
    int by_file = strcmp(a->file ? a->file : "", b->file ? b->file : "");
    if (by_file)
        return by_file;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    return 0;
}

void tsr_diag_sort(tsr_diagnostics *diags)
{
    /* Insertion sort: stable, and lists are short. */
    for (size_t i = 1; i < diags->count; i++) {
        tsr_diagnostic item = diags->items[i];
        size_t j = i;
        for (; j > 0 && compare_places(&diags->items[j - 1], &item) > 0; j--)
            diags->items[j] = diags->items[j - 1];
        diags->items[j] = item;
    }
}

int tsr_diag_format(const tsr_diagnostic *diag, char *buf, size_t buf_bytes)
{
    const char *severity = diag->severity == TSR_SEVERITY_WARNING ? "warning: "
                           : diag->severity == TSR_SEVERITY_NOTE  ? "note: "
                                                                  : "";
    if (diag->file && diag->line)
        return snprintf(buf, buf_bytes, "%s:%u:%u: %s%s", diag->file, diag->line, diag->column,
                        severity, diag->message);
    if (diag->file)
        return snprintf(buf, buf_bytes, "%s: %s%s", diag->file, severity, diag->message);
    return snprintf(buf, buf_bytes, "%s%s", severity, diag->message);
}

/* Edit distance, case-blind, where swapping two neighbours counts as one
 * edit like an insertion, deletion or substitution (optimal string
 * alignment), with three rows of the table; words longer than 64 letters
 * are not typos of anything we know. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return SIZE_MAX;
    size_t rows[3][65];
    size_t *before = rows[0], *previous = rows[1], *current = rows[2];
    for (size_t j = 0; j <= m; j++)
        previous[j] = j;
    for (size_t i = 1; i <= n; i++) {
        current[0] = i;
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= m; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = previous[j - 1] + (ca != cb);
            if (previous[j] + 1 < best)
                best = previous[j] + 1;
            if (current[j - 1] + 1 < best)
                best = current[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            current[j] = best;
        }
        size_t *recycled = before;
        before = previous;
        previous = current;
        current = recycled;
    }
    return previous[m];
}

const char *tsr_nearest_name(const char *word, const char *const *candidates, size_t n)
{
    size_t limit = strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d <= limit && d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    return best;
}

const char *tsr_diag_quote(const char *text, size_t length, char *buf, size_t buf_bytes)
{
    enum { SHOWN = 60 };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        char piece[8];
        if (i == SHOWN) {
            snprintf(piece, sizeof piece, "...");
            i = length;
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(piece, sizeof piece, "\\x%02X", c);
        } else {
            piece[0] = (char)c;
            piece[1] = '\0';
        }
        size_t n = strlen(piece);
        if (used + n + 1 > buf_bytes)
            break;
        memcpy(buf + used, piece, n + 1);
        used += n;
    }
    return buf;
}
