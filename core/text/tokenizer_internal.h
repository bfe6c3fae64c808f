/* The tokenizer's insides, shared by tokenizer.c (opening, the encode
 * driver), tokenizer_bpe.c (pre-tokenizer regexes and rank merges),
 * tokenizer_spm.c (score merges), merge_queue.c (the queue both merge loops
 * run) and the unit tests. The vocabulary under them is vocab.h's. */
#ifndef TSR_CORE_TOKENIZER_INTERNAL_H
#define TSR_CORE_TOKENIZER_INTERNAL_H

#include "vocab.h"

/* Collects encode's output: writes while there is room, always counts. */
typedef struct tsr_token_sink {
    int32_t *tokens;
    size_t max_tokens;
    size_t n;
} tsr_token_sink;

static inline void tsr_sink_push(tsr_token_sink *sink, int32_t token)
{
    if (sink->n < sink->max_tokens)
        sink->tokens[sink->n] = token;
    sink->n++;
}

/* Scratch memory one encode call reuses across its words; freed at its end. */
typedef struct tsr_encode_scratch {
    char *text;          /* the fragment re-encoded as valid UTF-8 */
    size_t text_cap;
    char *match_text;    /* the copy the regexes read (stand-ins for odd code points) */
    size_t match_text_cap;
    void *symbols;
    size_t symbols_cap;
    void *heap;
    size_t heap_cap;
    pcre2_match_data *match_data[TSR_PRE_MAX_REGEXES];
} tsr_encode_scratch;

/* Grows *buf to hold at least n elements of elem_bytes; false when out of memory. */
bool tsr_scratch_reserve(void **buf, size_t *cap, size_t n, size_t elem_bytes);
void tsr_scratch_free(tsr_encode_scratch *scratch);

/* ---- the merge queue (merge_queue.c) ------------------------------------
 * Both merge loops start from one symbol per byte (BPE) or character (SPM),
 * linked left to right, and merge the best pair of neighbours until no pair
 * is a token. A pair is queued when found; popped, it is stale if either
 * side has changed since. */
typedef struct tsr_merge_symbol {
    int32_t prev, next;
    uint32_t start, n_bytes; /* into the text; n_bytes 0 once merged away */
} tsr_merge_symbol;

/* A pair of neighbours, left and right, as they were when found. The queue
 * gives the lowest key first, on a tie the leftmost pair. */
typedef struct tsr_merge_pair {
    double key;      /* BPE: the merge rank; SPM: minus the merged token's score */
    int32_t left, right;
    uint32_t left_bytes, right_bytes;
} tsr_merge_pair;

/* A binary heap of n pairs in heap (room for one more on push). */
void tsr_merge_queue_push(tsr_merge_pair *heap, size_t *n, tsr_merge_pair pair);
tsr_merge_pair tsr_merge_queue_pop(tsr_merge_pair *heap, size_t *n);
/* Joins symbol right, the one after left, into left. */
void tsr_merge_symbols(tsr_merge_symbol *symbols, int32_t left, int32_t right);

/* ---- BPE (tokenizer_bpe.c) --------------------------------------------- */
/* Sets vocab's regexes, ignore_merges and default add_bos for a
 * tokenizer.ggml.pre value; TSR_ERR_UNSUPPORTED for an unknown one. */
tsr_status tsr_bpe_setup_pre(tsr_vocab *vocab, const char *pre, int *add_bos_default,
                             tsr_error *err);
/* Reads the "left right" merge rules into vocab's rank table. */
tsr_status tsr_bpe_add_merges(tsr_vocab *vocab, const tsr_tokenizer_spec *spec, const char *source,
                              tsr_error *err);
tsr_status tsr_bpe_encode(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                          tsr_encode_scratch *scratch, tsr_token_sink *sink, tsr_error *err);
/* The pre-tokenizer alone (tests): writes the end offset, in bytes of the
 * re-encoded text, of each word; returns the number of words or -1. */
long tsr_bpe_split(const tsr_vocab *vocab, const char *text, size_t n_bytes, size_t *word_ends,
                   size_t max_words);

/* ---- SentencePiece (tokenizer_spm.c) ----------------------------------- */
tsr_status tsr_spm_encode(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                          bool space_prefix, tsr_encode_scratch *scratch, tsr_token_sink *sink,
                          tsr_error *err);

/* Length of the UTF-8 sequence a lead byte starts, as llama.cpp counts it
 * (continuation and invalid bytes count 1). */
static inline size_t tsr_utf8_lead_len(unsigned char byte)
{
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[byte >> 4];
}

#endif
