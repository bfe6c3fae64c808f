/* SentencePiece BPE (Llama 2 style), as llama.cpp runs it on a GGUF vocab.
 *
 * Spaces become U+2581 ("▁") and, when the model asks for it, one is put
 * before the text. The text starts as one symbol per UTF-8 character; the
 * adjacent pair whose concatenation is a token with the highest score is
 * merged (leftmost on a tie) until no pair forms a token. A final symbol
 * that is not a token (a character the vocabulary lacks) is written as its
 * bytes, with the <0xNN> byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

typedef struct spm_symbol {
    int32_t prev, next;
    uint32_t start, n_bytes; /* into the escaped text; 0 once merged away */
} spm_symbol;

typedef struct spm_bigram {
    float score;
    int32_t left, right;
    uint32_t n_bytes; /* of the merged text, when the pair was found */
} spm_bigram;

/* Highest score first; on a tie the leftmost. */
static bool spm_before(const spm_bigram *a, const spm_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void spm_push(spm_bigram *heap, size_t *n, spm_bigram item)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!spm_before(&item, &heap[parent]))
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

static spm_bigram spm_pop(spm_bigram *heap, size_t *n)
{
    spm_bigram top = heap[0], last = heap[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && spm_before(&heap[child + 1], &heap[child]))
            child++;
        if (!spm_before(&heap[child], &last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n > 0)
        heap[i] = last;
    return top;
}

static void spm_try(const tsr_vocab *vocab, const char *text, const spm_symbol *symbols,
                    int32_t left, int32_t right, spm_bigram *heap, size_t *n_heap)
{
    if (left < 0 || right < 0)
        return;
    uint32_t n = symbols[left].n_bytes + symbols[right].n_bytes;
    int32_t id = tsr_vocab_lookup(vocab, text + symbols[left].start, n);
    if (id != TSR_TOKEN_NONE)
        spm_push(heap, n_heap, (spm_bigram){vocab->tokens[id].score, left, right, n});
}

tsr_status tsr_spm_encode(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                          bool space_prefix, tsr_encode_scratch *scratch, tsr_token_sink *sink,
                          tsr_error *err)
{
    /* every space may grow into the 3 bytes of U+2581 */
    if (n_bytes > (SIZE_MAX - 3) / 3 || 3 * n_bytes + 3 > INT32_MAX ||
        !tsr_scratch_reserve((void **)&scratch->text, &scratch->text_cap, 3 * n_bytes + 3, 1))
        return tsr_error_set(err, TSR_ERR_NOMEM, "tokenizer: out of memory encoding %zu bytes",
                             n_bytes);
    char *escaped = scratch->text;
    size_t n = 0;
    if (space_prefix) {
        memcpy(escaped, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < n_bytes; i++) {
        if (text[i] == ' ') {
            memcpy(escaped + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            escaped[n++] = text[i];
        }
    }
    if (n == 0)
        return TSR_OK;
    if (!tsr_scratch_reserve(&scratch->symbols, &scratch->symbols_cap, n, sizeof(spm_symbol)) ||
        !tsr_scratch_reserve(&scratch->heap, &scratch->heap_cap, 2 * n, sizeof(spm_bigram)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "tokenizer: out of memory encoding %zu bytes",
                             n_bytes);
    spm_symbol *symbols = scratch->symbols;
    spm_bigram *heap = scratch->heap;
    int32_t n_symbols = 0;
    for (size_t at = 0; at < n;) {
        size_t len = tsr_utf8_lead_len((unsigned char)escaped[at]);
        if (len > n - at)
            len = n - at;
        symbols[n_symbols] = (spm_symbol){n_symbols - 1, at + len < n ? n_symbols + 1 : -1,
                                          (uint32_t)at, (uint32_t)len};
        n_symbols++;
        at += len;
    }
    size_t n_heap = 0;
    for (int32_t i = 1; i < n_symbols; i++)
        spm_try(vocab, escaped, symbols, i - 1, i, heap, &n_heap);
    while (n_heap > 0) {
        spm_bigram b = spm_pop(heap, &n_heap);
        spm_symbol *l = &symbols[b.left], *r = &symbols[b.right];
        /* stale: one side has been merged into something else since */
        if (l->n_bytes == 0 || r->n_bytes == 0 || l->n_bytes + r->n_bytes != b.n_bytes)
            continue;
        l->n_bytes += r->n_bytes;
        r->n_bytes = 0;
        l->next = r->next;
        if (r->next >= 0)
            symbols[r->next].prev = b.left;
        spm_try(vocab, escaped, symbols, l->prev, b.left, heap, &n_heap);
        spm_try(vocab, escaped, symbols, b.left, l->next, heap, &n_heap);
    }
    for (int32_t i = 0; i != -1; i = symbols[i].next) {
        const spm_symbol *s = &symbols[i];
        int32_t id = tsr_vocab_lookup(vocab, escaped + s->start, s->n_bytes);
        if (id != TSR_TOKEN_NONE) {
            tsr_sink_push(sink, id);
            continue;
        }
        /* byte fallback: <0xNN> for each byte of a character the vocab lacks */
        for (uint32_t k = 0; k < s->n_bytes; k++) {
            int32_t byte_id = vocab->byte_tokens[(unsigned char)escaped[s->start + k]];
            if (byte_id == TSR_TOKEN_NONE)
                byte_id = vocab->unk;
            if (byte_id != TSR_TOKEN_NONE)
                tsr_sink_push(sink, byte_id);
        }
    }
    return TSR_OK;
}
