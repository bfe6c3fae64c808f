/* Whether two model files are the same model, and whether two models
 * tokenize alike — from headers, never by hashing gigabytes of weights.
 * The planner uses them for draft-is-main and draft-vocab-mismatch. */
#ifndef TSR_CORE_MODEL_IDENTITY_H
#define TSR_CORE_MODEL_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"

typedef enum tsr_same_model {
    TSR_MODEL_DIFFERENT = 0,
    TSR_MODEL_SAME_PATH,    /* the same file named the same way (after resolving '.' and '..') */
    TSR_MODEL_SYMLINK,      /* one name reaches the other's file through a symbolic link */
    TSR_MODEL_HARD_LINK,    /* two names (hard links) of one file */
    TSR_MODEL_COPY,         /* two files of equal size, header, metadata and tensor layout */
} tsr_same_model;

/* Compares the files a and b were opened from: the same file by path or
 * inode, else a copy by a fingerprint of everything before the tensor data
 * (magic, metadata, tensor names, types, shapes and offsets) and the file
 * size. Reads at most the two headers. TSR_ERR_IO when a file cannot be
 * read again. */
tsr_status tsr_model_identity(const tsr_gguf *a, const tsr_gguf *b, tsr_same_model *out,
                              tsr_error *err);

/* 64-bit FNV-1a of the bytes before the tensor data. */
tsr_status tsr_gguf_header_fingerprint(const tsr_gguf *gguf, uint64_t *out, tsr_error *err);

/* How two vocabularies differ (tokenizer.ggml.tokens, then the tokenizer
 * type and the special tokens; a model without tokens is compared by its
 * vocabulary size alone). a is the main model, b the draft. */
typedef struct tsr_vocab_difference {
    bool differs;
    uint64_t n_a, n_b;         /* tokens in each */
    int64_t first_token;       /* the first id whose text differs, or -1 (sizes differ first) */
    char text_a[80], text_b[80]; /* that token's text in each, quoted for a message */
    /* Same tokens, but another tokenizer type or special token: what differs,
     * "the end-of-sequence token is 2 in the main model and 0 in the draft",
     * else empty. */
    char other[160];
} tsr_vocab_difference;

void tsr_vocab_compare(const tsr_gguf *a, uint64_t n_vocab_a, const tsr_gguf *b,
                       uint64_t n_vocab_b, tsr_vocab_difference *out);

#endif
