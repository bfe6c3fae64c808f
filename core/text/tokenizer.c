/* The tokenizer's vocabulary: tokens, lookups, special tokens, the
 * end-of-generation set, and the encode driver that cuts special tokens out
 * of the text and hands the rest to BPE (tokenizer_bpe.c) or SentencePiece
 * (tokenizer_spm.c). Reading a GGUF's metadata into it is tokenizer_gguf.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

void tsr_tokenizer_spec_init(tsr_tokenizer_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->bos = spec->eos = spec->eot = spec->eom = spec->unk = spec->pad = TSR_TOKEN_NONE;
    spec->fim_pad = spec->fim_rep = spec->fim_sep = TSR_TOKEN_NONE;
    spec->add_bos = spec->add_eos = spec->add_space_prefix = -1;
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

/* ---- scratch ------------------------------------------------------------ */

bool tsr_scratch_reserve(void **buf, size_t *cap, size_t n, size_t elem_bytes)
{
    if (n <= *cap)
        return true;
    size_t want = *cap ? *cap : 64;
    while (want < n)
        want *= 2;
    if (want > SIZE_MAX / elem_bytes)
        return false;
    void *grown = realloc(*buf, want * elem_bytes);
    if (!grown)
        return false;
    *buf = grown;
    *cap = want;
    return true;
}

void tsr_scratch_free(tsr_encode_scratch *scratch)
{
    free(scratch->text);
    free(scratch->match_text);
    free(scratch->symbols);
    free(scratch->heap);
    for (size_t i = 0; i < TSR_PRE_MAX_REGEXES; i++)
        pcre2_match_data_free(scratch->match_data[i]);
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

static tsr_status build_eog(tsr_vocab *vocab, const tsr_tokenizer_spec *spec)
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

static tsr_status build_specials(tsr_vocab *vocab)
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

static tsr_status add_tokens(tsr_vocab *vocab, const tsr_tokenizer_spec *spec, const char *source,
                             tsr_error *err)
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

static void find_byte_tokens(tsr_vocab *vocab)
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

static tsr_status check_id(const char *source, const char *what, int32_t id, int32_t n_tokens,
                           tsr_error *err)
{
    if (id != TSR_TOKEN_NONE && (id < 0 || id >= n_tokens))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.%s is %d, outside the "
                             "vocabulary of %d tokens", source, what, (int)id, (int)n_tokens);
    return TSR_OK;
}

tsr_status tsr_tokenizer_open_spec(const tsr_tokenizer_spec *spec, tsr_tokenizer **out,
                                   tsr_error *err)
{
    *out = NULL;
    const char *source = spec->source ? spec->source : "tokenizer";
    tsr_vocab *vocab = calloc(1, sizeof *vocab);
    if (!vocab)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory opening the tokenizer of %s",
                             source);
    tsr_status st = TSR_OK;
    int add_bos_default = 0;
    if (spec->model && strcmp(spec->model, "gpt2") == 0) {
        vocab->kind = TSR_TOKENIZER_BPE;
    } else if (spec->model && strcmp(spec->model, "llama") == 0) {
        vocab->kind = TSR_TOKENIZER_SPM;
        add_bos_default = 1;
    } else {
        st = tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not "
                           "supported (known: \"gpt2\" byte-level BPE, \"llama\" SentencePiece)",
                           source, spec->model ? spec->model : "(missing)");
        goto fail;
    }
    if (spec->n_tokens == 0 || spec->n_tokens > INT32_MAX - 1) {
        st = tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %zu tokens; "
                           "expected 1 to %d", source, spec->n_tokens, INT32_MAX - 1);
        goto fail;
    }
    snprintf(vocab->pre, sizeof vocab->pre, "%s", spec->pre && spec->pre[0] ? spec->pre : "default");
    if (vocab->kind == TSR_TOKENIZER_BPE &&
        (st = tsr_bpe_setup_pre(vocab, vocab->pre, &add_bos_default, err)) != TSR_OK) {
        tsr_error_prefix(err, "%s", source);
        goto fail;
    }
    if ((st = add_tokens(vocab, spec, source, err)) != TSR_OK)
        goto fail;
    if (vocab->kind == TSR_TOKENIZER_BPE) {
        if ((st = tsr_bpe_add_merges(vocab, spec, source, err)) != TSR_OK)
            goto fail;
    }

    const struct { const char *name; int32_t id; } ids[] = {
        {"bos_token_id", spec->bos}, {"eos_token_id", spec->eos}, {"eot_token_id", spec->eot},
        {"eom_token_id", spec->eom}, {"unknown_token_id", spec->unk},
        {"padding_token_id", spec->pad}, {"fim_pad_token_id", spec->fim_pad},
        {"fim_rep_token_id", spec->fim_rep}, {"fim_sep_token_id", spec->fim_sep},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if ((st = check_id(source, ids[i].name, ids[i].id, vocab->n_tokens, err)) != TSR_OK)
            goto fail;
    /* SentencePiece's ids when the file names none (llama.cpp's defaults) */
    bool spm = vocab->kind == TSR_TOKENIZER_SPM;
    vocab->bos = spec->bos != TSR_TOKEN_NONE ? spec->bos : spm ? 1 : TSR_TOKEN_NONE;
    vocab->eos = spec->eos != TSR_TOKEN_NONE ? spec->eos : spm ? 2 : TSR_TOKEN_NONE;
    vocab->unk = spec->unk != TSR_TOKEN_NONE ? spec->unk : spm ? 0 : TSR_TOKEN_NONE;
    /* a default outside a small vocabulary means none */
    if (vocab->bos >= vocab->n_tokens)
        vocab->bos = TSR_TOKEN_NONE;
    if (vocab->eos >= vocab->n_tokens)
        vocab->eos = TSR_TOKEN_NONE;
    if (vocab->unk >= vocab->n_tokens)
        vocab->unk = TSR_TOKEN_NONE;
    vocab->eot = spec->eot;
    vocab->eom = spec->eom;
    vocab->pad = spec->pad;
    vocab->add_bos = spec->add_bos >= 0 ? spec->add_bos != 0 : add_bos_default != 0;
    vocab->add_eos = spec->add_eos >= 0 ? spec->add_eos != 0 : false;
    vocab->add_space_prefix = spec->add_space_prefix >= 0 ? spec->add_space_prefix != 0 : spm;
    /* a family's default BOS needs a BOS id; only the file's own flag insists */
    if (spec->add_bos < 0 && vocab->bos == TSR_TOKEN_NONE)
        vocab->add_bos = false;
    if (vocab->add_bos && vocab->bos == TSR_TOKEN_NONE) {
        st = tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.add_bos_token is true, but "
                           "tokenizer.ggml.bos_token_id is not set", source);
        goto fail;
    }
    if (vocab->add_eos && vocab->eos == TSR_TOKEN_NONE) {
        st = tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.add_eos_token is true, but "
                           "tokenizer.ggml.eos_token_id is not set", source);
        goto fail;
    }
    if (build_eog(vocab, spec) != TSR_OK || build_specials(vocab) != TSR_OK) {
        st = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the special tokens of %s",
                           source);
        goto fail;
    }
    find_byte_tokens(vocab);
    for (int32_t id = 0; id < vocab->n_tokens; id++)
        if (vocab->tokens[id].piece_bytes > vocab->max_piece_bytes)
            vocab->max_piece_bytes = vocab->tokens[id].piece_bytes;
    if (spec->chat_template) {
        vocab->chat_template = malloc(spec->chat_template_len + 1);
        if (!vocab->chat_template) {
            st = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the chat template of %s",
                               source);
            goto fail;
        }
        memcpy(vocab->chat_template, spec->chat_template, spec->chat_template_len);
        vocab->chat_template[spec->chat_template_len] = '\0';
        vocab->chat_template_bytes = spec->chat_template_len;
    }
    *out = vocab;
    return TSR_OK;
fail:
    tsr_tokenizer_close(vocab);
    return st;
}

void tsr_tokenizer_close(tsr_tokenizer *vocab)
{
    if (!vocab)
        return;
    free(vocab->tokens);
    free(vocab->blob);
    free(vocab->token_by_key.slots);
    free(vocab->merges);
    free(vocab->merge_blob);
    free(vocab->merge_by_pair.slots);
    free(vocab->specials);
    for (size_t i = 0; i < vocab->n_regexes; i++)
        pcre2_code_free(vocab->regexes[i]);
    free(vocab->eog_bits);
    free(vocab->chat_template);
    free(vocab);
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

/* ---- encoding ------------------------------------------------------------ */

/* A run of the text: raw text to tokenize, or a special token found in it. */
typedef struct fragment {
    int32_t token; /* TSR_TOKEN_NONE for raw text */
    size_t offset, n_bytes;
    bool literal;  /* raw text inside a literal span: no control token is cut out of it */
} fragment;

typedef struct fragment_list {
    fragment *items;
    size_t n, cap;
} fragment_list;

static bool fragments_push(fragment_list *list, int32_t token, size_t offset, size_t n_bytes,
                           bool literal)
{
    void *items = list->items;
    if (!tsr_scratch_reserve(&items, &list->cap, list->n + 1, sizeof *list->items))
        return false;
    list->items = items;
    list->items[list->n++] = (fragment){token, offset, n_bytes, literal};
    return true;
}

/* The raw text before any special token is cut out: one run, or the runs
 * between the literal spans' edges, each literal span a run of its own. */
static bool initial_fragments(size_t n_bytes, const tsr_text_span *literal, size_t n_literal,
                              fragment_list *list)
{
    size_t at = 0;
    for (size_t i = 0; i < n_literal; i++) {
        size_t begin = literal[i].offset, end = begin + literal[i].n_bytes;
        if (begin > at && !fragments_push(list, TSR_TOKEN_NONE, at, begin - at, false))
            return false;
        if (end > begin && !fragments_push(list, TSR_TOKEN_NONE, begin, end - begin, true))
            return false;
        at = end;
    }
    return at == n_bytes || fragments_push(list, TSR_TOKEN_NONE, at, n_bytes - at, false);
}

/* Joins raw runs that touch (the edges of literal spans, where nothing was
 * cut), so that the text is tokenized as it would be without spans. */
static void merge_raw_runs(fragment_list *list)
{
    size_t w = 0;
    for (size_t r = 0; r < list->n; r++) {
        fragment f = list->items[r];
        fragment *last = w ? &list->items[w - 1] : NULL;
        if (last && last->token == TSR_TOKEN_NONE && f.token == TSR_TOKEN_NONE &&
            last->offset + last->n_bytes == f.offset)
            last->n_bytes += f.n_bytes;
        else
            list->items[w++] = f;
    }
    list->n = w;
}

/* Cuts special tokens out of the text as llama.cpp does: each special token
 * in turn, longest first, splits every raw run at each of its (leftmost,
 * non-overlapping) occurrences. Control and unknown tokens take part only
 * with parse_special, and never in a literal run; user-defined ones always.
 * The spans are in order and inside the text; false: out of memory. */
static bool partition_specials(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                               bool parse_special, const tsr_text_span *literal,
                               size_t n_literal, fragment_list *list)
{
    fragment_list next = {0};
    list->n = 0;
    if (n_bytes == 0)
        return true;
    if (!initial_fragments(n_bytes, literal, n_literal, list))
        return false;
    for (size_t s = 0; s < vocab->n_specials; s++) {
        int32_t id = vocab->specials[s];
        const tsr_token_entry *t = &vocab->tokens[id];
        bool user_defined = t->type == TSR_TOKEN_USER_DEFINED;
        if (!parse_special && !user_defined)
            continue;
        const char *needle = vocab->blob + t->text_offset;
        size_t needle_bytes = t->text_bytes;
        if (!memmem(text, n_bytes, needle, needle_bytes))
            continue;
        next.n = 0;
        for (size_t f = 0; f < list->n; f++) {
            fragment frag = list->items[f];
            if (frag.token != TSR_TOKEN_NONE || (frag.literal && !user_defined)) {
                if (!fragments_push(&next, frag.token, frag.offset, frag.n_bytes, frag.literal))
                    goto nomem;
                continue;
            }
            size_t at = frag.offset, end = frag.offset + frag.n_bytes;
            const char *hit;
            while (at < end && (hit = memmem(text + at, end - at, needle, needle_bytes))) {
                size_t pos = (size_t)(hit - text);
                if (pos > at && !fragments_push(&next, TSR_TOKEN_NONE, at, pos - at, frag.literal))
                    goto nomem;
                if (!fragments_push(&next, id, pos, needle_bytes, false))
                    goto nomem;
                at = pos + needle_bytes;
            }
            if (at < end && !fragments_push(&next, TSR_TOKEN_NONE, at, end - at, frag.literal))
                goto nomem;
        }
        fragment_list swap = *list;
        *list = next;
        next = swap;
    }
    free(next.items);
    merge_raw_runs(list);
    return true;
nomem:
    free(next.items);
    return false;
}

static tsr_status encode(const tsr_tokenizer *vocab, const char *text, size_t n_bytes,
                         bool add_special, bool parse_special, const tsr_text_span *literal,
                         size_t n_literal, int32_t *tokens, size_t max_tokens,
                         size_t *n_needed, tsr_error *err)
{
    tsr_token_sink sink = {tokens, tokens ? max_tokens : 0, 0};
    tsr_encode_scratch scratch = {0};
    fragment_list fragments = {0};
    tsr_status st = TSR_OK;
    *n_needed = 0;
    for (size_t i = 0; i < n_literal; i++)
        if (literal[i].offset > n_bytes || literal[i].n_bytes > n_bytes - literal[i].offset ||
            (i > 0 && literal[i].offset < literal[i - 1].offset + literal[i - 1].n_bytes))
            return tsr_error_set(err, TSR_ERR_INVALID, "tokenizer: literal span %zu (bytes %zu "
                                 "to %zu) is out of order or past the %zu bytes of text", i,
                                 literal[i].offset, literal[i].offset + literal[i].n_bytes,
                                 n_bytes);
    if (!partition_specials(vocab, text, n_bytes, parse_special, literal, n_literal,
                            &fragments)) {
        st = tsr_error_set(err, TSR_ERR_NOMEM, "tokenizer: out of memory splitting %zu bytes "
                           "of text", n_bytes);
        goto done;
    }
    if (add_special && vocab->add_bos)
        tsr_sink_push(&sink, vocab->bos);
    /* SentencePiece puts a space before the text, and again after each
     * special token, so that a word reads the same wherever it stands. */
    bool after_special = true;
    for (size_t f = 0; f < fragments.n && st == TSR_OK; f++) {
        const fragment *frag = &fragments.items[f];
        if (frag->token != TSR_TOKEN_NONE) {
            tsr_sink_push(&sink, frag->token);
            after_special = true;
            continue;
        }
        if (vocab->kind == TSR_TOKENIZER_SPM)
            st = tsr_spm_encode(vocab, text + frag->offset, frag->n_bytes,
                                vocab->add_space_prefix && after_special, &scratch, &sink, err);
        else
            st = tsr_bpe_encode(vocab, text + frag->offset, frag->n_bytes, &scratch, &sink, err);
        after_special = false;
    }
    if (st == TSR_OK && add_special && vocab->add_eos)
        tsr_sink_push(&sink, vocab->eos);
    *n_needed = sink.n;
done:
    free(fragments.items);
    tsr_scratch_free(&scratch);
    return st;
}

tsr_status tsr_tokenizer_encode(const tsr_tokenizer *tok, const char *text, size_t n_bytes,
                                bool add_special, bool parse_special, int32_t *tokens,
                                size_t max_tokens, size_t *n_needed, tsr_error *err)
{
    return encode(tok, text, n_bytes, add_special, parse_special, NULL, 0, tokens, max_tokens,
                  n_needed, err);
}

tsr_status tsr_tokenizer_encode_literal(const tsr_tokenizer *tok, const char *text,
                                        size_t n_bytes, bool add_special,
                                        const tsr_text_span *literal, size_t n_literal,
                                        int32_t *tokens, size_t max_tokens, size_t *n_needed,
                                        tsr_error *err)
{
    return encode(tok, text, n_bytes, add_special, true, literal, n_literal, tokens, max_tokens,
                  n_needed, err);
}
