/* The streaming detokenizer: token pieces in, whole UTF-8 characters out.
 * A byte-level token may end inside a character (an emoji is often four
 * byte tokens); the unfinished tail is held until the next piece. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

struct tsr_detokenizer {
    const tsr_tokenizer *tok;
    uint32_t flags;
    bool seen_text;
    size_t n_held;
    char held[4];
    char *out;       /* held bytes + the longest piece */
    size_t out_cap;
};

tsr_status tsr_detokenizer_open(const tsr_tokenizer *tok, uint32_t flags, tsr_detokenizer **out,
                                tsr_error *err)
{
    *out = NULL;
    tsr_detokenizer *d = calloc(1, sizeof *d);
    size_t cap = tsr_tokenizer_max_piece_bytes(tok) + sizeof d->held;
    char *buf = d ? malloc(cap) : NULL;
    if (!buf) {
        free(d);
        return tsr_error_set(err, TSR_ERR_NOMEM,
                             "out of memory for the detokenizer's %zu-byte buffer", cap);
    }
    d->tok = tok;
    d->flags = flags;
    d->out = buf;
    d->out_cap = cap;
    *out = d;
    return TSR_OK;
}

void tsr_detokenizer_close(tsr_detokenizer *d)
{
    if (!d)
        return;
    free(d->out);
    free(d);
}

/* How many bytes at the end of s[0..n) begin a UTF-8 character that is not
 * finished yet (0 when s ends on a whole character or on bytes that can
 * never become one). */
static size_t unfinished_tail(const unsigned char *s, size_t n)
{
    size_t i = n, continuations = 0;
    while (i > 0 && continuations < 3 && (s[i - 1] & 0xc0) == 0x80) {
        i--;
        continuations++;
    }
    if (i == 0)
        return 0;
    unsigned char lead = s[i - 1];
    size_t need = lead >= 0xc2 && lead <= 0xdf ? 2
                : lead >= 0xe0 && lead <= 0xef ? 3
                : lead >= 0xf0 && lead <= 0xf4 ? 4
                                               : 0;
    return need > continuations + 1 ? continuations + 1 : 0;
}

const char *tsr_detokenizer_push(tsr_detokenizer *d, int32_t token, size_t *n_bytes)
{
    size_t n_piece = 0;
    const char *piece = tsr_tokenizer_piece(d->tok, token, &n_piece);
    tsr_token_type type = tsr_tokenizer_token_type(d->tok, token);
    if (!piece || (!(d->flags & TSR_DETOKENIZE_RENDER_SPECIAL) &&
                   (type == TSR_TOKEN_CONTROL || type == TSR_TOKEN_UNKNOWN)))
        n_piece = 0;
    if (n_piece > 0 && !d->seen_text) {
        d->seen_text = true;
        if ((d->flags & TSR_DETOKENIZE_STRIP_SPACE) && piece[0] == ' ') {
            piece++;
            n_piece--;
        }
    }
    memcpy(d->out, d->held, d->n_held);
    memcpy(d->out + d->n_held, piece, n_piece);
    size_t n = d->n_held + n_piece;
    size_t tail = unfinished_tail((const unsigned char *)d->out, n);
    memcpy(d->held, d->out + n - tail, tail);
    d->n_held = tail;
    *n_bytes = n - tail;
    return d->out;
}

const char *tsr_detokenizer_flush(tsr_detokenizer *d, size_t *n_bytes)
{
    memcpy(d->out, d->held, d->n_held);
    *n_bytes = d->n_held;
    d->n_held = 0;
    d->seen_text = false;
    return d->out;
}
