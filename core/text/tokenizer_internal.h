/* The tokenizer's insides, shared by tokenizer.c (vocabulary, special
 * tokens, encode driver), tokenizer_bpe.c (pre-tokenizer regexes and rank
 * merges), tokenizer_spm.c (score merges) and the unit tests. */
#ifndef TSR_CORE_TOKENIZER_INTERNAL_H
#define TSR_CORE_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"

enum { TSR_PRE_MAX_REGEXES = 6 };

/* One token. Offsets are into tsr_vocab.blob. key is what the merge loop
 * looks tokens up by: for BPE the token's raw bytes (its text read through
 * the GPT-2 byte map; empty when a character is outside the map, so merges
 * can never produce it), for SPM the text itself. */
typedef struct tsr_token_entry {
    uint32_t text_offset, text_bytes;
    uint32_t piece_offset, piece_bytes;
    uint32_t key_offset, key_bytes;
    float score;
    uint8_t type;   /* tsr_token_type */
    bool has_key;
} tsr_token_entry;

/* Open-addressing hash from a byte string to an int32 value. */
typedef struct tsr_byte_map {
    uint32_t *slots;   /* entry index + 1; 0 = empty */
    size_t n_slots;    /* a power of two */
} tsr_byte_map;

/* A merge rule: the bytes of left then right, contiguous in merge_blob. */
typedef struct tsr_merge {
    uint32_t offset;
    uint32_t left_bytes, right_bytes;
    int32_t rank;
} tsr_merge;

struct tsr_vocab {
    tsr_tokenizer_kind kind;
    char pre[64];
    int32_t n_tokens;
    tsr_token_entry *tokens;
    char *blob;
    size_t blob_bytes;
    size_t max_piece_bytes;
    tsr_byte_map token_by_key;

    tsr_merge *merges;
    size_t n_merges;
    char *merge_blob;
    tsr_byte_map merge_by_pair;

    /* Special tokens (control, user-defined, unknown), longest text first. */
    int32_t *specials;
    size_t n_specials;

    /* The pre-tokenizer: each regex cuts every piece the previous ones made. */
    pcre2_code *regexes[TSR_PRE_MAX_REGEXES];
    size_t n_regexes;
    bool ignore_merges; /* a word that is a whole token skips the merges (llama3) */

    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
    int32_t byte_tokens[256]; /* the token of each single byte, or TSR_TOKEN_NONE */
    uint8_t *eog_bits;        /* one bit per token */

    char *chat_template;
    size_t chat_template_bytes;
};

static inline uint64_t tsr_hash_bytes(const char *bytes, size_t n, uint64_t seed)
{
    /* FNV-1a, then a final avalanche so the low bits spread. */
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)bytes[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

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

/* Sizes an empty map for n_entries; false when out of memory. */
bool tsr_byte_map_init(tsr_byte_map *map, size_t n_entries);

/* The token whose key is exactly bytes, or TSR_TOKEN_NONE. */
int32_t tsr_vocab_lookup(const tsr_vocab *vocab, const char *bytes, size_t n_bytes);

/* ---- GPT-2 byte map (tokenizer_bpe.c) ---------------------------------- */
/* Writes the raw bytes a GPT-2-mapped text stands for into out (at most
 * n_bytes); returns how many, or -1 when a character is outside the map. */
long tsr_gpt2_unmap(const char *text, size_t n_bytes, char *out);

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
