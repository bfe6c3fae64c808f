/* The vocabulary both encoders read: every token's text, the key the merge
 * loops look it up by, the piece it decodes to and its type; lookups by key
 * and by text; the special tokens, longest first; the end-of-generation set;
 * and the token of each byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* ---- the GPT-2 byte map ------------------------------------------------- */

/* GPT-2 shows bytes 0x21-0x7e, 0xa1-0xac and 0xae-0xff as the characters of
 * the same code; the other 68 bytes, in order, as U+0100 to U+0143. */
static bool byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/* The byte a code point of the map stands for, or -1. The 68 shifted bytes
 * are 0x00-0x20, 0x7f-0xa0 and 0xad, in that order. */
static int gpt2_byte_of(uint32_t cp)
{
    if (cp < 0x100)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 0x144)
        return -1;
    uint32_t n = cp - 0x100;
    return n < 33 ? (int)n : n < 67 ? (int)(0x7f + n - 33) : 0xad;
}

long tsr_gpt2_unmap(const char *text, size_t n_bytes, char *out)
{
    const unsigned char *s = (const unsigned char *)text;
    long w = 0;
    for (size_t i = 0; i < n_bytes;) {
        uint32_t cp;
        if (s[i] < 0x80) {
            cp = s[i++];
        } else if ((s[i] & 0xe0) == 0xc0 && i + 1 < n_bytes && (s[i + 1] & 0xc0) == 0x80) {
            cp = (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f);
            i += 2;
        } else {
            return -1; /* the map only uses code points below U+0800 */
        }
        int b = gpt2_byte_of(cp);
        if (b < 0)
            return -1;
        out[w++] = (char)b;
    }
    return w;
}

/* ---- byte-string hash maps --------------------------------------------- */

bool tsr_byte_map_init(tsr_byte_map *map, size_t n_entries)
{
    size_t n = 16;
    while (n < 2 * n_entries)
        n *= 2;
    map->slots = calloc(n, sizeof *map->slots);
    map->n_slots = n;
    return map->slots != NULL;
}

static const char *token_key(const tsr_vocab *vocab, int32_t id, size_t *n)
{
    const tsr_token_entry *t = &vocab->tokens[id];
    *n = t->key_bytes;
    return vocab->blob + t->key_offset;
}

int32_t tsr_vocab_lookup(const tsr_vocab *vocab, const char *bytes, size_t n_bytes)
{
    const tsr_byte_map *map = &vocab->token_by_key;
    size_t mask = map->n_slots - 1;
    for (size_t i = tsr_hash_bytes(bytes, n_bytes, 0) & mask;; i = (i + 1) & mask) {
        uint32_t slot = map->slots[i];
        if (!slot)
            return TSR_TOKEN_NONE;
        size_t key_bytes;
        const char *key = token_key(vocab, (int32_t)(slot - 1), &key_bytes);
        if (key_bytes == n_bytes && memcmp(key, bytes, n_bytes) == 0)
            return (int32_t)(slot - 1);
    }
}

/* Inserts token id under its key; returns the id already there, or NONE. */
static int32_t token_map_insert(tsr_vocab *vocab, int32_t id)
{
    size_t n_bytes;
    const char *bytes = token_key(vocab, id, &n_bytes);
    tsr_byte_map *map = &vocab->token_by_key;
    size_t mask = map->n_slots - 1;
    for (size_t i = tsr_hash_bytes(bytes, n_bytes, 0) & mask;; i = (i + 1) & mask) {
        uint32_t slot = map->slots[i];
        if (!slot) {
            map->slots[i] = (uint32_t)id + 1;
            return TSR_TOKEN_NONE;
        }
        size_t key_bytes;
        const char *key = token_key(vocab, (int32_t)(slot - 1), &key_bytes);
        if (key_bytes == n_bytes && memcmp(key, bytes, n_bytes) == 0)
            return (int32_t)(slot - 1);
    }
}

/* ---- building the vocabulary -------------------------------------------- */

/* Token texts llama.cpp recognises (it has no metadata for most of these).
 * An end-of-turn token is the EOT when the file names none. */
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>", NULL,
};
/* Every token with one of these texts ends a generation. */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
    "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL,
};
/* Fill-in-the-middle padding, repository and file separators: they end a
 * generation too (a code model that emits one has finished the file). */
static const char *const fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                            "[PAD]", NULL};
static const char *const fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                            "<REPO>", "<reponame>", NULL};
static const char *const fim_sep_texts[] = {"<|file_sep|>", NULL};

/* The lowest id among the tokens whose text is in list, or NONE. */
static int32_t find_by_texts(const tsr_vocab *vocab, const char *const *list)
{
    int32_t best = TSR_TOKEN_NONE;
    for (size_t i = 0; list[i]; i++) {
        int32_t id = tsr_tokenizer_find(vocab, list[i], strlen(list[i]));
        if (id != TSR_TOKEN_NONE && (best == TSR_TOKEN_NONE || id < best))
            best = id;
    }
    return best;
}

static void set_eog(tsr_vocab *vocab, int32_t id)
{
    if (id < 0 || id >= vocab->n_tokens)
        return;
    vocab->eog_bits[id >> 3] |= (uint8_t)(1u << (id & 7));
    /* A token that ends turns but is not marked control would print as text
     * and be split like text; llama.cpp makes it control, and so do we. */
    tsr_token_entry *t = &vocab->tokens[id];
    if (t->type != TSR_TOKEN_CONTROL) {
        t->type = TSR_TOKEN_CONTROL;
        t->piece_offset = t->text_offset;
        t->piece_bytes = t->text_bytes;
    }
}

tsr_status tsr_vocab_build_eog(tsr_vocab *vocab, const tsr_tokenizer_spec *spec)
{
    vocab->eog_bits = calloc((size_t)vocab->n_tokens / 8 + 1, 1);
    if (!vocab->eog_bits)
        return TSR_ERR_NOMEM;
    if (vocab->eot == TSR_TOKEN_NONE)
        vocab->eot = find_by_texts(vocab, eot_texts);
    if (vocab->eom == TSR_TOKEN_NONE)
        vocab->eom = find_by_texts(vocab, (const char *const[]){"<|eom_id|>", NULL});
    set_eog(vocab, spec->fim_pad != TSR_TOKEN_NONE ? spec->fim_pad
                                                   : find_by_texts(vocab, fim_pad_texts));
    set_eog(vocab, spec->fim_rep != TSR_TOKEN_NONE ? spec->fim_rep
                                                   : find_by_texts(vocab, fim_rep_texts));
    set_eog(vocab, spec->fim_sep != TSR_TOKEN_NONE ? spec->fim_sep
                                                   : find_by_texts(vocab, fim_sep_texts));
    for (size_t i = 0; eog_texts[i]; i++)
        set_eog(vocab, tsr_tokenizer_find(vocab, eog_texts[i], strlen(eog_texts[i])));
    set_eog(vocab, vocab->eos);
    set_eog(vocab, vocab->eot);
    set_eog(vocab, vocab->eom);
    return TSR_OK;
}

static int compare_specials(const void *a, const void *b, void *ctx)
{
    const tsr_vocab *vocab = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t nx = vocab->tokens[x].text_bytes, ny = vocab->tokens[y].text_bytes;
    if (nx != ny)
        return nx > ny ? -1 : 1;
    return x < y ? -1 : x > y;
}

tsr_status tsr_vocab_build_specials(tsr_vocab *vocab)
{
    vocab->specials = malloc(((size_t)vocab->n_tokens + 1) * sizeof *vocab->specials);
    if (!vocab->specials)
        return TSR_ERR_NOMEM;
    for (int32_t id = 0; id < vocab->n_tokens; id++) {
        uint8_t type = vocab->tokens[id].type;
        if ((type == TSR_TOKEN_CONTROL || type == TSR_TOKEN_USER_DEFINED ||
             type == TSR_TOKEN_UNKNOWN) && vocab->tokens[id].text_bytes > 0)
            vocab->specials[vocab->n_specials++] = id;
    }
    /* Longest first: "<|im_start|>" must win over a shorter token inside it. */
    qsort_r(vocab->specials, vocab->n_specials, sizeof *vocab->specials, compare_specials, vocab);
    return TSR_OK;
}

/* Appends bytes to the blob (sized up front); returns their offset. */
static uint32_t blob_put(tsr_vocab *vocab, const char *bytes, size_t n)
{
    uint32_t offset = (uint32_t)vocab->blob_bytes;
    memcpy(vocab->blob + offset, bytes, n);
    vocab->blob_bytes += n;
    return offset;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<0xNN>" -> NN, or -1. */
static int byte_token_value(const char *text, size_t n)
{
    if (n != 6 || memcmp(text, "<0x", 3) != 0 || text[5] != '>')
        return -1;
    int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* SPM pieces: U+2581 (e2 96 81) stands for a space. */
static size_t spm_unescape(const char *text, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && (unsigned char)text[i] == 0xe2 && (unsigned char)text[i + 1] == 0x96 &&
            (unsigned char)text[i + 2] == 0x81) {
            out[w++] = ' ';
            i += 2;
        } else {
            out[w++] = text[i];
        }
    }
    return w;
}

tsr_status tsr_vocab_add_tokens(tsr_vocab *vocab, const tsr_tokenizer_spec *spec,
                                const char *source, tsr_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < spec->n_tokens; i++)
        total += spec->token_lens ? spec->token_lens[i] : strlen(spec->tokens[i]);
    /* text + piece + key, each at most the text's length */
    if (total > (UINT32_MAX - 64) / 3)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.tokens: %zu bytes of text "
                             "is more than this tokenizer can hold", source, total);
    vocab->blob = malloc(3 * total + 1);
    vocab->tokens = calloc(spec->n_tokens, sizeof *vocab->tokens);
    if (!vocab->blob || !vocab->tokens || !tsr_byte_map_init(&vocab->token_by_key, spec->n_tokens))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the %zu tokens of %s",
                             spec->n_tokens, source);
    for (size_t i = 0; i < spec->n_tokens; i++) {
        const char *text = spec->tokens[i];
        size_t n = spec->token_lens ? spec->token_lens[i] : strlen(text);
        tsr_token_entry *t = &vocab->tokens[i];
        int32_t type = spec->token_types ? spec->token_types[i] : TSR_TOKEN_NORMAL;
        t->type = type >= TSR_TOKEN_NORMAL && type <= TSR_TOKEN_BYTE ? (uint8_t)type
                                                                      : TSR_TOKEN_UNDEFINED;
        t->score = spec->scores ? spec->scores[i] : 0.0f;
        t->text_offset = blob_put(vocab, text, n);
        t->text_bytes = (uint32_t)n;

        /* the key merges look it up by */
        char *scratch = vocab->blob + vocab->blob_bytes;
        long key_bytes = (long)n;
        if (vocab->kind == TSR_TOKENIZER_BPE)
            key_bytes = tsr_gpt2_unmap(text, n, scratch);
        else
            memcpy(scratch, text, n);
        t->has_key = key_bytes >= 0 && n > 0;
        if (t->has_key) {
            t->key_offset = (uint32_t)vocab->blob_bytes;
            t->key_bytes = (uint32_t)key_bytes;
            vocab->blob_bytes += (size_t)key_bytes;
        }

        /* the bytes it decodes to, as llama.cpp's token_to_piece gives them */
        int byte = byte_token_value(text, n);
        if (t->type == TSR_TOKEN_CONTROL || t->type == TSR_TOKEN_USER_DEFINED ||
            t->type == TSR_TOKEN_UNKNOWN || (t->type == TSR_TOKEN_NORMAL && !t->has_key)) {
            t->piece_offset = t->text_offset;
            t->piece_bytes = t->text_bytes;
        } else if (t->type == TSR_TOKEN_BYTE && byte >= 0) {
            char b = (char)byte;
            t->piece_offset = blob_put(vocab, &b, 1);
            t->piece_bytes = 1;
        } else if (t->type == TSR_TOKEN_NORMAL && vocab->kind == TSR_TOKENIZER_BPE) {
            t->piece_offset = t->key_offset;
            t->piece_bytes = t->key_bytes;
        } else if (t->type == TSR_TOKEN_NORMAL) {
            scratch = vocab->blob + vocab->blob_bytes;
            size_t w = spm_unescape(text, n, scratch);
            t->piece_offset = (uint32_t)vocab->blob_bytes;
            t->piece_bytes = (uint32_t)w;
            vocab->blob_bytes += w;
        } /* unused and undefined tokens decode to nothing, as in llama.cpp */
    }
    vocab->n_tokens = (int32_t)spec->n_tokens;
    for (int32_t id = 0; id < vocab->n_tokens; id++) {
        if (!vocab->tokens[id].has_key)
            continue;
        int32_t previous = token_map_insert(vocab, id);
        if (previous != TSR_TOKEN_NONE) {
            size_t n = 0;
            const char *text = tsr_tokenizer_token_text(vocab, id, &n);
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%d] \"%.*s\" "
                                 "repeats token %d", source, (int)id, (int)(n > 64 ? 64 : n),
                                 text, (int)previous);
        }
    }
    return TSR_OK;
}

void tsr_vocab_find_byte_tokens(tsr_vocab *vocab)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (vocab->kind == TSR_TOKENIZER_BPE) {
            vocab->byte_tokens[b] = tsr_vocab_lookup(vocab, &c, 1);
            continue;
        }
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = tsr_vocab_lookup(vocab, hex, 6);
        vocab->byte_tokens[b] = id != TSR_TOKEN_NONE ? id : tsr_vocab_lookup(vocab, &c, 1);
    }
}

/* ---- queries ------------------------------------------------------------- */

tsr_tokenizer_kind tsr_tokenizer_kind_of(const tsr_tokenizer *tok) { return tok->kind; }
const char *tsr_tokenizer_pre(const tsr_tokenizer *tok) { return tok->pre; }
int32_t tsr_tokenizer_n_tokens(const tsr_tokenizer *tok) { return tok->n_tokens; }
int32_t tsr_tokenizer_bos(const tsr_tokenizer *tok) { return tok->bos; }
int32_t tsr_tokenizer_eos(const tsr_tokenizer *tok) { return tok->eos; }
int32_t tsr_tokenizer_eot(const tsr_tokenizer *tok) { return tok->eot; }
bool tsr_tokenizer_adds_bos(const tsr_tokenizer *tok) { return tok->add_bos; }
bool tsr_tokenizer_adds_eos(const tsr_tokenizer *tok) { return tok->add_eos; }
size_t tsr_tokenizer_max_piece_bytes(const tsr_tokenizer *tok) { return tok->max_piece_bytes; }

tsr_token_type tsr_tokenizer_token_type(const tsr_tokenizer *tok, int32_t token)
{
    if (token < 0 || token >= tok->n_tokens)
        return TSR_TOKEN_UNDEFINED;
    return (tsr_token_type)tok->tokens[token].type;
}

const char *tsr_tokenizer_token_text(const tsr_tokenizer *tok, int32_t token, size_t *n_bytes)
{
    if (token < 0 || token >= tok->n_tokens)
        return NULL;
    *n_bytes = tok->tokens[token].text_bytes;
    return tok->blob + tok->tokens[token].text_offset;
}

const char *tsr_tokenizer_piece(const tsr_tokenizer *tok, int32_t token, size_t *n_bytes)
{
    if (token < 0 || token >= tok->n_tokens)
        return NULL;
    *n_bytes = tok->tokens[token].piece_bytes;
    return tok->blob + tok->tokens[token].piece_offset;
}

int32_t tsr_tokenizer_find(const tsr_tokenizer *tok, const char *text, size_t n_bytes)
{
    int32_t id = TSR_TOKEN_NONE;
    if (tok->kind == TSR_TOKENIZER_SPM) {
        id = tsr_vocab_lookup(tok, text, n_bytes);
    } else {
        char *key = malloc(n_bytes + 1);
        long n = key ? tsr_gpt2_unmap(text, n_bytes, key) : -1;
        if (n >= 0)
            id = tsr_vocab_lookup(tok, key, (size_t)n);
        free(key);
    }
    if (id != TSR_TOKEN_NONE && (tok->tokens[id].text_bytes != n_bytes ||
                                 memcmp(tok->blob + tok->tokens[id].text_offset, text, n_bytes)))
        return TSR_TOKEN_NONE;
    if (id == TSR_TOKEN_NONE) {
        /* tokens whose text has no key (outside the byte map) */
        for (int32_t i = 0; i < tok->n_tokens; i++)
            if (!tok->tokens[i].has_key && tok->tokens[i].text_bytes == n_bytes &&
                memcmp(tok->blob + tok->tokens[i].text_offset, text, n_bytes) == 0)
                return i;
    }
    return id;
}

bool tsr_tokenizer_is_eog(const tsr_tokenizer *tok, int32_t token)
{
    return token >= 0 && token < tok->n_tokens && (tok->eog_bits[token >> 3] >> (token & 7)) & 1;
}

const char *tsr_tokenizer_chat_template(const tsr_tokenizer *tok, size_t *n_bytes)
{
    *n_bytes = tok->chat_template_bytes;
    return tok->chat_template;
}
