/* A YAML document as a small tree of scalars, sequences and mappings, each
 * node with its 1-based line and column, read with libyaml. Only what a
 * configuration file needs: one document, scalar keys, no aliases (they are
 * refused, which also rules out "billion laughs" documents), a bounded
 * depth. Every problem becomes a diagnostic; reading goes on past the ones
 * that allow it (a duplicate key, an alias) and stops at a syntax error. */
#ifndef TSR_CORE_YAML_TREE_H
#define TSR_CORE_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef enum tsr_yaml_kind {
    TSR_YAML_SCALAR = 1,
    TSR_YAML_SEQUENCE = 2,
    TSR_YAML_MAPPING = 3,
} tsr_yaml_kind;

typedef struct tsr_yaml_node tsr_yaml_node;
struct tsr_yaml_node {
    tsr_yaml_kind kind;
    uint32_t line, column; /* where the node starts, 1-based */
    char *text;            /* SCALAR: its value, NUL-terminated */
    size_t length;         /* SCALAR: bytes of text (text may hold a NUL of its own) */
    bool quoted;           /* SCALAR: written in quotes or as a block (never null or a number
                              by YAML's rules) */
    tsr_yaml_node **keys;  /* MAPPING: scalar keys, in file order, no duplicates */
    tsr_yaml_node **items; /* SEQUENCE: items; MAPPING: the value of keys[i] */
    size_t n_items;
    size_t capacity; /* private: room in keys / items */
};

/* Deepest nesting read; deeper documents are refused. */
enum { TSR_YAML_MAX_DEPTH = 64 };

/* Reads text (n_bytes, need not be NUL-terminated). *root is the document's
 * top node, or NULL for an empty document or when a syntax error stopped the
 * reading. Problems are added to diags with file as their file. Returns
 * TSR_OK, TSR_ERR_INVALID when it added an error, or TSR_ERR_NOMEM. */
tsr_status tsr_yaml_read(const char *text, size_t n_bytes, const char *file, tsr_yaml_node **root,
                         tsr_diagnostics *diags, tsr_error *err);
void tsr_yaml_free(tsr_yaml_node *node);

/* A plain scalar YAML reads as null: empty, ~, null, Null, NULL. */
bool tsr_yaml_is_null(const tsr_yaml_node *node);
/* The value of key in a mapping, or NULL; *key_node (may be NULL) gets the key. */
const tsr_yaml_node *tsr_yaml_get(const tsr_yaml_node *mapping, const char *key,
                                  const tsr_yaml_node **key_node);
/* YAML's core schema for a scalar, plain or quoted: true/True/TRUE,
 * false/False/FALSE. False when the node is not one of those. */
bool tsr_yaml_bool(const tsr_yaml_node *node, bool *value);
/* A decimal number (sign, digits, fraction, exponent) or an infinity (.inf,
 * -.inf, inf, -inf); never NaN, hex or trailing text. False otherwise. */
bool tsr_yaml_number(const tsr_yaml_node *node, double *value);

/* "a mapping", "a list", "a value", "null": how messages name what was found. */
const char *tsr_yaml_describe(const tsr_yaml_node *node);

#endif
