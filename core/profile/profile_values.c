/* Reading one value of a profile (a string, a whole number, a size, a list
 * of sizes, a path, a model file) and reporting what is wrong with it. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_internal.h"
#include "units.h"

/* ---- reporting ---------------------------------------------------------- */

void tsr_profile_report(tsr_profile_checker *c, tsr_severity severity, tsr_profile_loc at,
                        const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    tsr_diag_addv(c->diags, severity, c->profile->file, at.line, at.line ? at.column : 0, fmt,
                  args);
    va_end(args);
    if (severity == TSR_SEVERITY_ERROR)
        c->failed = true;
}

tsr_profile_loc tsr_profile_loc_of(const tsr_yaml_node *node)
{
    return node ? (tsr_profile_loc){node->line, node->column} : (tsr_profile_loc){0, 0};
}

const char *tsr_profile_shown(const tsr_yaml_node *node, char *buf, size_t buf_bytes)
{
    if (node && node->kind == TSR_YAML_SCALAR && !tsr_yaml_is_null(node)) {
        char quoted[TSR_DIAG_QUOTE_BYTES];
        snprintf(buf, buf_bytes, "'%s'",
                 tsr_diag_quote(node->text, node->length, quoted, sizeof quoted));
    } else {
        snprintf(buf, buf_bytes, "%s", tsr_yaml_describe(node));
    }
    return buf;
}

/* "a, b, c" into buf. */
void tsr_profile_join(const char *const *names, size_t n, char *buf, size_t buf_bytes)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < buf_bytes; i++) {
        int k = snprintf(buf + used, buf_bytes - used, "%s%s", i ? ", " : "", names[i]);
        if (k < 0)
            break;
        used += (size_t)k < buf_bytes - used ? (size_t)k : buf_bytes - used - 1;
    }
}

#define ERROR_AT(c, node, ...)                                                                     \
    tsr_profile_report(c, TSR_SEVERITY_ERROR, tsr_profile_loc_of(node), __VA_ARGS__)

/* ---- values ------------------------------------------------------------- */

/* A non-empty string without NUL bytes; NULL for null (the default), and
 * NULL with an error for anything else. */
const char *tsr_profile_string(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name)
{
    if (tsr_yaml_is_null(node))
        return NULL;
    char shown[TSR_DIAG_QUOTE_BYTES + 8];
    if (node->kind != TSR_YAML_SCALAR)
        ERROR_AT(c, node, "%s must be a string, not %s", name,
                 tsr_profile_shown(node, shown, sizeof shown));
    else if (node->length != strlen(node->text))
        ERROR_AT(c, node, "%s contains a NUL byte", name);
    else if (node->length == 0)
        ERROR_AT(c, node, "%s must not be empty (write null for the default)", name);
    else
        return node->text;
    return NULL;
}

void tsr_profile_set_string(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                            char **out, tsr_profile_loc *loc)
{
    const char *text = tsr_profile_string(c, node, name);
    if (!text)
        return;
    char *copy = strdup(text);
    if (!copy) {
        c->out_of_memory = true;
        return;
    }
    free(*out);
    *out = copy;
    *loc = tsr_profile_loc_of(node);
}

void tsr_profile_set_uint(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                          uint64_t min, uint64_t max, uint64_t *out, tsr_profile_loc *loc)
{
    if (tsr_yaml_is_null(node))
        return;
    char shown[TSR_DIAG_QUOTE_BYTES + 8];
    tsr_profile_shown(node, shown, sizeof shown);
    if (node->kind != TSR_YAML_SCALAR || node->length != strlen(node->text)) {
        ERROR_AT(c, node, "%s must be a whole number, not %s", name, shown);
        return;
    }
    const char *text = node->text;
    bool negative = text[0] == '-';
    const char *digits = text[0] == '-' || text[0] == '+' ? text + 1 : text;
    bool all_digits = digits[0] != '\0';
    for (const char *p = digits; *p && all_digits; p++)
        all_digits = *p >= '0' && *p <= '9';
    double number;
    if (!all_digits) {
        if (tsr_yaml_number(node, &number) && number < 0)
            ERROR_AT(c, node, "%s must not be negative (got %s)", name, text);
        else
            ERROR_AT(c, node, "%s must be a whole number, not %s", name, shown);
        return;
    }
    errno = 0;
    unsigned long long value = strtoull(digits, NULL, 10);
    bool too_big = errno == ERANGE || value > max;
    if (negative && value != 0) {
        ERROR_AT(c, node, "%s must not be negative (got %s)", name, text);
    } else if (too_big) {
        ERROR_AT(c, node, "%s = %s is absurd: at most %" PRIu64, name, text, max);
    } else if (value < min) {
        ERROR_AT(c, node, "%s must be from %" PRIu64 " to %" PRIu64 ", not %s", name, min, max,
                 text);
    } else {
        *out = value;
        *loc = tsr_profile_loc_of(node);
    }
}

void tsr_profile_set_uint32(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                            uint32_t min, uint32_t max, uint32_t *out, tsr_profile_loc *loc)
{
    uint64_t value = *out;
    tsr_profile_set_uint(c, node, name, min, max, &value, loc);
    *out = (uint32_t)value;
}

/* A size; bare numbers count in bare_unit bytes (0: a unit is required). */
bool tsr_profile_size(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                      uint64_t bare_unit, uint64_t *out)
{
    char shown[TSR_DIAG_QUOTE_BYTES + 8];
    if (node->kind != TSR_YAML_SCALAR || tsr_yaml_is_null(node) ||
        node->length != strlen(node->text)) {
        ERROR_AT(c, node, "%s must be a size such as 256MiB or 24GiB, not %s", name,
                 tsr_profile_shown(node, shown, sizeof shown));
        return false;
    }
    tsr_error err = {0};
    uint64_t bytes;
    if (tsr_size_parse(node->text, bare_unit, &bytes, &err) != TSR_OK) {
        ERROR_AT(c, node, "%s: %s", name, err.message);
        return false;
    }
    if (bytes > TSR_PROFILE_MAX_BYTES) {
        ERROR_AT(c, node, "%s = %s is absurd: at most 1024TiB", name,
                 tsr_profile_shown(node, shown, sizeof shown));
        return false;
    }
    *out = bytes;
    return true;
}

/* A list of sizes (a single size is a list of one), 1..TSR_PROFILE_MAX_DEVICES
 * entries. Replaces *out only when every entry is good. */
void tsr_profile_set_size_list(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                               uint64_t bare_unit, uint64_t **out, size_t *n_out,
                               tsr_profile_loc **locs_out, tsr_profile_loc *loc)
{
    const tsr_yaml_node *const *items = &node;
    size_t n = 1;
    if (node->kind == TSR_YAML_SEQUENCE) {
        items = (const tsr_yaml_node *const *)node->items;
        n = node->n_items;
    }
    if (n == 0 || n > TSR_PROFILE_MAX_DEVICES) {
        ERROR_AT(c, node, "%s must name from 1 to %d devices, not %zu", name,
                 TSR_PROFILE_MAX_DEVICES, n);
        return;
    }
    uint64_t *bytes = calloc(n, sizeof *bytes);
    tsr_profile_loc *locs = calloc(n, sizeof *locs);
    if (!bytes || !locs) {
        free(bytes);
        free(locs);
        c->out_of_memory = true;
        return;
    }
    bool good = true;
    for (size_t i = 0; i < n; i++) {
        char entry[64];
        snprintf(entry, sizeof entry, "%s[%zu]", name, i);
        good = tsr_profile_size(c, items[i], node->kind == TSR_YAML_SEQUENCE ? entry : name,
                                bare_unit, &bytes[i]) &&
               good;
        locs[i] = tsr_profile_loc_of(items[i]);
    }
    if (!good) {
        free(bytes);
        free(locs);
        return;
    }
    free(*out);
    free(*locs_out);
    *out = bytes;
    *locs_out = locs;
    *n_out = n;
    *loc = tsr_profile_loc_of(node);
}

bool tsr_profile_is_word(const tsr_yaml_node *node, const char *word)
{
    return node && node->kind == TSR_YAML_SCALAR && !node->quoted && strcmp(node->text, word) == 0;
}

/* tsr_path_resolve, then "a/./b" -> "a/b" and "a//b" -> "a/b", so messages
 * show the path a reader expects ("..", which may cross a link, stays). */
char *tsr_profile_resolve_path(const char *path, const char *base_dir)
{
    char *resolved = tsr_path_resolve(path, base_dir);
    if (!resolved)
        return NULL;
    char *out = resolved;
    for (const char *in = resolved; *in;) {
        bool after_slash = out > resolved && out[-1] == '/';
        if (after_slash && in[0] == '.' && (in[1] == '/' || in[1] == '\0'))
            in += in[1] ? 2 : 1;
        else if (after_slash && in[0] == '/')
            in++;
        else
            *out++ = *in++;
    }
    if (out > resolved + 1 && out[-1] == '/')
        out--;
    *out = '\0';
    return resolved;
}

/* Where the model path leads; reports when it is not a usable model. */
void tsr_profile_check_model_file(tsr_profile_checker *c, tsr_profile_model *m, const char *name,
                                  const tsr_yaml_node *at)
{
    tsr_error err = {0};
    tsr_status status = tsr_model_probe(m->path, &m->format, &err);
    if (status == TSR_ERR_NOMEM) {
        c->out_of_memory = true;
    } else if (status != TSR_OK) {
        char written[TSR_DIAG_QUOTE_BYTES];
        if (strcmp(m->path, m->path_as_written) != 0)
            ERROR_AT(c, at, "%s: %s (written as '%s')", name, err.message,
                     tsr_diag_quote(m->path_as_written, strlen(m->path_as_written), written,
                                    sizeof written));
        else
            ERROR_AT(c, at, "%s: %s", name, err.message);
    }
}
