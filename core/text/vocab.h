/* The vocabulary (vocab.c): the tokens of a tokenizer and everything looked
 * up in them, which both encoders (BPE, SentencePiece), the decoder and the
 * host table's tsr_vocab read. A tsr_vocab is a tsr_tokenizer. */
#ifndef TSR_CORE_VOCAB_H
#define TSR_CORE_VOCAB_H

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

/* Sizes an empty map for n_entries; false when out of memory. */
bool tsr_byte_map_init(tsr_byte_map *map, size_t n_entries);

/* The token whose key is exactly bytes, or TSR_TOKEN_NONE. */
int32_t tsr_vocab_lookup(const tsr_vocab *vocab, const char *bytes, size_t n_bytes);

/* ---- building it (tsr_tokenizer_open_spec, in this order) ---------------- */
/* Every token of spec: text, key, piece, type, score; the lookup by key.
 * An error names source. */
tsr_status tsr_vocab_add_tokens(tsr_vocab *vocab, const tsr_tokenizer_spec *spec,
                                const char *source, tsr_error *err);
/* The end-of-generation set (and EOT, EOM when the file names none);
 * TSR_ERR_NOMEM or TSR_OK. */
tsr_status tsr_vocab_build_eog(tsr_vocab *vocab, const tsr_tokenizer_spec *spec);
/* The special tokens, longest text first; TSR_ERR_NOMEM or TSR_OK. */
tsr_status tsr_vocab_build_specials(tsr_vocab *vocab);
/* The token of each single byte. */
void tsr_vocab_find_byte_tokens(tsr_vocab *vocab);

/* ---- the GPT-2 byte map --------------------------------------------------- */
/* Writes the raw bytes a GPT-2-mapped text stands for into out (at most
 * n_bytes); returns how many, or -1 when a character is outside the map. */
long tsr_gpt2_unmap(const char *text, size_t n_bytes, char *out);

#endif
