/* A YAML document as a tree of located nodes, read from libyaml's events
 * with an explicit stack (no recursion, so no depth can overflow ours). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <yaml.h>

#include "yaml_tree.h"

typedef struct reader {
    const char *file;
    tsr_diagnostics *diags;
    tsr_yaml_node *stack[TSR_YAML_MAX_DEPTH + 1];
    size_t depth;
    tsr_yaml_node *pending_key[TSR_YAML_MAX_DEPTH + 1]; /* per mapping on the stack */
    tsr_yaml_node **trash; /* nodes dropped (bad or duplicate keys), freed at the end */
    size_t n_trash, cap_trash;
    bool failed; /* an error diagnostic was added */
    bool out_of_memory;
} reader;

void tsr_yaml_free(tsr_yaml_node *node)
{
    if (!node)
        return;
    /* Free children iteratively through a worklist, as deep trees are allowed. */
    tsr_yaml_node **work = malloc(sizeof *work);
    size_t n = 0, cap = 1;
    if (!work) {
        /* Out of memory: fall back to recursion (depth is bounded by the reader). */
        for (size_t i = 0; i < node->n_items; i++) {
            if (node->keys)
                tsr_yaml_free(node->keys[i]);
            tsr_yaml_free(node->items[i]);
        }
        free(node->keys);
        free(node->items);
        free(node->text);
        free(node);
        return;
    }
    work[n++] = node;
    while (n > 0) {
        tsr_yaml_node *x = work[--n];
        size_t children = x->n_items * (x->keys ? 2 : 1);
        if (n + children > cap) {
            size_t bigger_cap = (n + children) * 2;
            tsr_yaml_node **bigger = realloc(work, bigger_cap * sizeof *bigger);
            if (!bigger) {
                /* Free this subtree recursively instead. */
                for (size_t i = 0; i < x->n_items; i++) {
                    if (x->keys)
                        tsr_yaml_free(x->keys[i]);
                    tsr_yaml_free(x->items[i]);
                }
                x->n_items = 0;
                children = 0;
            } else {
                work = bigger;
                cap = bigger_cap;
            }
        }
        for (size_t i = 0; i < x->n_items; i++) {
            if (x->keys && x->keys[i])
                work[n++] = x->keys[i];
            if (x->items[i])
                work[n++] = x->items[i];
        }
        free(x->keys);
        free(x->items);
        free(x->text);
        free(x);
    }
    free(work);
}

static void error_at(reader *r, uint32_t line, uint32_t column, const char *fmt, ...)
    TSR_PRINTF(4, 5);

static void error_at(reader *r, uint32_t line, uint32_t column, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    tsr_diag_addv(r->diags, TSR_SEVERITY_ERROR, r->file, line, column, fmt, args);
    va_end(args);
    r->failed = true;
}

static tsr_yaml_node *new_node(reader *r, tsr_yaml_kind kind, const yaml_mark_t *mark)
{
    tsr_yaml_node *node = calloc(1, sizeof *node);
    if (!node) {
        r->out_of_memory = true;
        return NULL;
    }
    node->kind = kind;
    node->line = (uint32_t)mark->line + 1;
    node->column = (uint32_t)mark->column + 1;
    return node;
}

static bool throw_away(reader *r, tsr_yaml_node *node)
{
    if (r->n_trash == r->cap_trash) {
        size_t cap = r->cap_trash ? r->cap_trash * 2 : 8;
        tsr_yaml_node **bigger = realloc(r->trash, cap * sizeof *bigger);
        if (!bigger) {
            tsr_yaml_free(node);
            r->out_of_memory = true;
            return false;
        }
        r->trash = bigger;
        r->cap_trash = cap;
    }
    r->trash[r->n_trash++] = node;
    return true;
}

static bool append(reader *r, tsr_yaml_node *parent, tsr_yaml_node *key, tsr_yaml_node *item)
{
    if (parent->n_items == parent->capacity) {
        size_t cap = parent->capacity ? parent->capacity * 2 : 4;
        tsr_yaml_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items) {
            r->out_of_memory = true;
            return false;
        }
        parent->items = items;
        if (parent->kind == TSR_YAML_MAPPING) {
            tsr_yaml_node **keys = realloc(parent->keys, cap * sizeof *keys);
            if (!keys) {
                r->out_of_memory = true;
                return false;
            }
            parent->keys = keys;
        }
        parent->capacity = cap;
    }
    if (parent->kind == TSR_YAML_MAPPING)
        parent->keys[parent->n_items] = key;
    parent->items[parent->n_items++] = item;
    return true;
}

/* Hangs a new node under the innermost open collection (or makes it the
 * root). Takes ownership of node in every case. */
static bool attach(reader *r, tsr_yaml_node **root, tsr_yaml_node *node)
{
    if (r->depth == 0) {
        *root = node;
        return true;
    }
    tsr_yaml_node *parent = r->stack[r->depth - 1];
    if (parent->kind == TSR_YAML_SEQUENCE) {
        if (append(r, parent, NULL, node))
            return true;
        tsr_yaml_free(node);
        return false;
    }
    tsr_yaml_node **pending = &r->pending_key[r->depth - 1];
    if (!*pending) {
        *pending = node; /* a key; its value comes next */
        return true;
    }
    tsr_yaml_node *key = *pending;
    *pending = NULL;
    bool keep = true;
    if (key->kind != TSR_YAML_SCALAR) {
        error_at(r, key->line, key->column, "a key must be a name, not %s", tsr_yaml_describe(key));
        keep = false;
    } else {
        for (size_t i = 0; i < parent->n_items; i++)
            if (parent->keys[i]->length == key->length &&
                memcmp(parent->keys[i]->text, key->text, key->length) == 0) {
                char shown[TSR_DIAG_QUOTE_BYTES];
                error_at(r, key->line, key->column,
                         "duplicate key '%s' (first given at line %u, column %u)",
                         tsr_diag_quote(key->text, key->length, shown, sizeof shown),
                         parent->keys[i]->line, parent->keys[i]->column);
                keep = false;
                break;
            }
    }
    if (keep && append(r, parent, key, node))
        return true;
    bool ok = throw_away(r, key);
    return throw_away(r, node) && ok;
}

/* 1-based line and column of a byte offset (for reader errors, which carry
 * no mark). */
static void place_of_offset(const char *text, size_t n, size_t offset, uint32_t *line,
                            uint32_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && i < n; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            (*column)++;
        }
    }
}

static void syntax_error(reader *r, const yaml_parser_t *parser, const char *text, size_t n)
{
    uint32_t line, column;
    if (parser->error == YAML_READER_ERROR) {
        place_of_offset(text, n, parser->problem_offset, &line, &column);
        error_at(r, line, column, "not readable as YAML text: %s",
                 parser->problem ? parser->problem : "invalid input");
        return;
    }
    if (parser->error == YAML_MEMORY_ERROR) {
        r->out_of_memory = true;
        return;
    }
    line = (uint32_t)parser->problem_mark.line + 1;
    column = (uint32_t)parser->problem_mark.column + 1;
    const char *problem = parser->problem ? parser->problem : "syntax error";
    if (parser->context)
        error_at(r, line, column, "invalid YAML: %s (%s that started at line %zu, column %zu)",
                 problem, parser->context, parser->context_mark.line + 1,
                 parser->context_mark.column + 1);
    else
        error_at(r, line, column, "invalid YAML: %s", problem);
}

tsr_status tsr_yaml_read(const char *text, size_t n_bytes, const char *file,
                         tsr_yaml_node **root_out, tsr_diagnostics *diags, tsr_error *err)
{
    *root_out = NULL;
    reader r = {.file = file, .diags = diags};
    tsr_yaml_node *root = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading YAML");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n_bytes);

    unsigned n_documents = 0;
    bool done = false, stopped = false;
    while (!done && !stopped && !r.out_of_memory) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            syntax_error(&r, &parser, text, n_bytes);
            stopped = true;
            break;
        }
        const yaml_mark_t *mark = &event.start_mark;
        tsr_yaml_node *node = NULL;
        switch (event.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++n_documents > 1) {
                error_at(&r, (uint32_t)mark->line + 1, (uint32_t)mark->column + 1,
                         "a second YAML document starts here; a profile is one document");
                stopped = true;
            }
            break;
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_ALIAS_EVENT: {
            char shown[TSR_DIAG_QUOTE_BYTES];
            const char *anchor = (const char *)event.data.alias.anchor;
            error_at(&r, (uint32_t)mark->line + 1, (uint32_t)mark->column + 1,
                     "aliases (*%s) are not supported in a profile; write the value out",
                     tsr_diag_quote(anchor, strlen(anchor), shown, sizeof shown));
            /* A null stands in, so the structure around it stays whole. */
            if ((node = new_node(&r, TSR_YAML_SCALAR, mark)) && !(node->text = strdup(""))) {
                free(node);
                node = NULL;
                r.out_of_memory = true;
            }
            if (node)
                attach(&r, &root, node);
            break;
        }
        case YAML_SCALAR_EVENT:
            if (!(node = new_node(&r, TSR_YAML_SCALAR, mark)))
                break;
            node->length = event.data.scalar.length;
            node->quoted = event.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            if (!(node->text = malloc(node->length + 1))) {
                free(node);
                r.out_of_memory = true;
                break;
            }
            memcpy(node->text, event.data.scalar.value, node->length);
            node->text[node->length] = '\0';
            attach(&r, &root, node);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (r.depth == TSR_YAML_MAX_DEPTH) {
                error_at(&r, (uint32_t)mark->line + 1, (uint32_t)mark->column + 1,
                         "nested deeper than %d levels", TSR_YAML_MAX_DEPTH);
                stopped = true;
                break;
            }
            node = new_node(
                &r, event.type == YAML_SEQUENCE_START_EVENT ? TSR_YAML_SEQUENCE : TSR_YAML_MAPPING,
                mark);
            if (!node || !attach(&r, &root, node))
                break;
            r.pending_key[r.depth] = NULL;
            r.stack[r.depth++] = node;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (r.depth > 0) {
                r.depth--;
                /* A key without a value cannot happen in valid YAML; be safe. */
                if (r.pending_key[r.depth]) {
                    throw_away(&r, r.pending_key[r.depth]);
                    r.pending_key[r.depth] = NULL;
                }
            }
            break;
        default: break;
        }
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);

    /* Keys still waiting for a value belong to no tree yet. */
    for (size_t i = 0; i < r.depth; i++)
        if (r.pending_key[i])
            throw_away(&r, r.pending_key[i]);
    for (size_t i = 0; i < r.n_trash; i++)
        tsr_yaml_free(r.trash[i]);
    free(r.trash);

    if (r.out_of_memory || diags->out_of_memory) {
        tsr_yaml_free(root);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading YAML");
    }
    if (stopped) {
        tsr_yaml_free(root);
        return TSR_ERR_INVALID;
    }
    *root_out = root;
    return r.failed ? TSR_ERR_INVALID : TSR_OK;
}

bool tsr_yaml_is_null(const tsr_yaml_node *node)
{
    if (!node)
        return true;
    if (node->kind != TSR_YAML_SCALAR || node->quoted)
        return false;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp(node->text, nulls[i]) == 0 && node->length == strlen(nulls[i]))
            return true;
    return false;
}

const tsr_yaml_node *tsr_yaml_get(const tsr_yaml_node *mapping, const char *key,
                                  const tsr_yaml_node **key_node)
{
    if (key_node)
        *key_node = NULL;
    if (!mapping || mapping->kind != TSR_YAML_MAPPING)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < mapping->n_items; i++)
        if (mapping->keys[i]->length == len && memcmp(mapping->keys[i]->text, key, len) == 0) {
            if (key_node)
                *key_node = mapping->keys[i];
            return mapping->items[i];
        }
    return NULL;
}

const char *tsr_yaml_describe(const tsr_yaml_node *node)
{
    if (!node || tsr_yaml_is_null(node))
        return "null";
    switch (node->kind) {
    case TSR_YAML_MAPPING: return "a mapping";
    case TSR_YAML_SEQUENCE: return "a list";
    case TSR_YAML_SCALAR: return "a value";
    }
    return "something else";
}

bool tsr_yaml_bool(const tsr_yaml_node *node, bool *value)
{
    if (!node || node->kind != TSR_YAML_SCALAR)
        return false;
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(node->text, yes[i]) == 0) {
            *value = true;
            return true;
        }
        if (strcmp(node->text, no[i]) == 0) {
            *value = false;
            return true;
        }
    }
    return false;
}

bool tsr_yaml_number(const tsr_yaml_node *node, double *value)
{
    if (!node || node->kind != TSR_YAML_SCALAR || node->length != strlen(node->text))
        return false;
    const char *s = node->text;
    const char *unsigned_part = (*s == '-' || *s == '+') ? s + 1 : s;
    if (strcasecmp(unsigned_part, ".inf") == 0 || strcasecmp(unsigned_part, "inf") == 0) {
        *value = *s == '-' ? -INFINITY : INFINITY;
        return true;
    }
    /* Digits with at most one point, then an optional exponent: strtod alone
     * would also take hex, "nan" and leading blanks. */
    const char *p = unsigned_part;
    size_t digits = 0;
    bool point = false;
    for (; isdigit((unsigned char)*p) || (*p == '.' && !point); p++) {
        if (*p == '.')
            point = true;
        else
            digits++;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        return false;
    char *end;
    double parsed = strtod(s, &end);
    if (*end)
        return false;
    *value = parsed;
    return true;
}
