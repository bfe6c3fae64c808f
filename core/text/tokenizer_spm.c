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

/* Queues left and right when their text together is a token, keyed by minus
 * its score: the highest score first, on a tie the leftmost. */
static void spm_try(const tsr_vocab *vocab, const char *text, const tsr_merge_symbol *symbols,
                    int32_t left, int32_t right, tsr_merge_pair *heap, size_t *n_heap)
{
    if (left < 0 || right < 0)
        return;
    uint32_t left_bytes = symbols[left].n_bytes, right_bytes = symbols[right].n_bytes;
    int32_t id = tsr_vocab_lookup(vocab, text + symbols[left].start, left_bytes + right_bytes);
    if (id != TSR_TOKEN_NONE)
        tsr_merge_queue_push(heap, n_heap,
                             (tsr_merge_pair){-(double)vocab->tokens[id].score, left, right,
                                              left_bytes, right_bytes});
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
    if (!tsr_scratch_reserve(&scratch->symbols, &scratch->symbols_cap, n,
                             sizeof(tsr_merge_symbol)) ||
        !tsr_scratch_reserve(&scratch->heap, &scratch->heap_cap, 2 * n, sizeof(tsr_merge_pair)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "tokenizer: out of memory encoding %zu bytes",
                             n_bytes);
    tsr_merge_symbol *symbols = scratch->symbols;
    tsr_merge_pair *heap = scratch->heap;
    int32_t n_symbols = 0;
    for (size_t at = 0; at < n;) {
        size_t len = tsr_utf8_lead_len((unsigned char)escaped[at]);
        if (len > n - at)
            len = n - at;
        symbols[n_symbols] = (tsr_merge_symbol){n_symbols - 1, at + len < n ? n_symbols + 1 : -1,
                                                (uint32_t)at, (uint32_t)len};
        n_symbols++;
        at += len;
    }
    size_t n_heap = 0;
    for (int32_t i = 1; i < n_symbols; i++)
        spm_try(vocab, escaped, symbols, i - 1, i, heap, &n_heap);
    while (n_heap > 0) {
        tsr_merge_pair b = tsr_merge_queue_pop(heap, &n_heap);
        tsr_merge_symbol *l = &symbols[b.left], *r = &symbols[b.right];
        /* stale: one side has been merged into something else since */
        if (l->n_bytes == 0 || r->n_bytes == 0 ||
            l->n_bytes + r->n_bytes != b.left_bytes + b.right_bytes)
            continue;
        tsr_merge_symbols(symbols, b.left, b.right);
        spm_try(vocab, escaped, symbols, l->prev, b.left, heap, &n_heap);
        spm_try(vocab, escaped, symbols, b.left, l->next, heap, &n_heap);
    }
    for (int32_t i = 0; i != -1; i = symbols[i].next) {
        const tsr_merge_symbol *s = &symbols[i];
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
