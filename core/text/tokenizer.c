/* The tokenizer: opening one from a spec (its vocabulary is vocab.c's), and
 * the encode driver that cuts special tokens out of the text and hands the
 * rest to BPE (tokenizer_bpe.c) or SentencePiece (tokenizer_spm.c). Reading
 * a GGUF's metadata into a spec is tokenizer_gguf.c. */
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
    if ((st = tsr_vocab_add_tokens(vocab, spec, source, err)) != TSR_OK)
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
    if (tsr_vocab_build_eog(vocab, spec) != TSR_OK || tsr_vocab_build_specials(vocab) != TSR_OK) {
        st = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the special tokens of %s",
                           source);
        goto fail;
    }
    tsr_vocab_find_byte_tokens(vocab);
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
