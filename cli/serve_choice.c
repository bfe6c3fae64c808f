/* What a choice may release, and log-probabilities. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve_choice.h"

/* How many bytes at the end of text[0..n) start a UTF-8 character that is
 * not complete yet. */
static size_t incomplete_utf8_tail(const char *text, size_t n)
{
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)text[n - back];
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back */
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return len > back ? back : 0;
    }
    return 0;
}

/* A stop string could start at the first byte not released: once bytes are
 * released, the tail held back never contained one. */
static bool cut_at_stop(serve_text *t, char *const *stop, size_t n_stop)
{
    size_t first = t->n;
    for (size_t k = 0; k < n_stop; k++) {
        size_t len = strlen(stop[k]);
        for (size_t i = t->released; i + len <= t->n && i < first; i++)
            if (memcmp(t->bytes + i, stop[k], len) == 0)
                first = i;
    }
    if (first == t->n)
        return false;
    t->n = t->released = first;
    return true;
}

/* The first byte from which the text's end could still grow into a stop
 * string, or t->n. */
static size_t hold_from(const serve_text *t, char *const *stop, size_t n_stop)
{
    for (size_t i = t->released; i < t->n; i++)
        for (size_t k = 0; k < n_stop; k++) {
            size_t tail = t->n - i, len = strlen(stop[k]);
            if (tail < len && memcmp(t->bytes + i, stop[k], tail) == 0)
                return i;
        }
    return t->n;
}

bool serve_text_append(serve_text *t, const char *piece, size_t n, char *const *stop,
                       size_t n_stop, bool *failed)
{
    *failed = false;
    if (n == 0)
        return false; /* a control token: nothing new to look at */
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        while (cap < t->n + n)
            cap *= 2;
        char *p = realloc(t->bytes, cap);
        if (!p) {
            *failed = true;
            return false;
        }
        t->bytes = p;
        t->cap = cap;
    }
    memcpy(t->bytes + t->n, piece, n);
    t->n += n;
    if (cut_at_stop(t, stop, n_stop))
        return true;
    size_t until = hold_from(t, stop, n_stop);
    until -= incomplete_utf8_tail(t->bytes, until);
    if (until > t->released)
        t->released = until;
    return false;
}

void serve_text_release_all(serve_text *t)
{
    t->released = t->n;
}

void serve_text_clear(serve_text *t)
{
    t->n = t->released = 0;
}

void serve_text_free(serve_text *t)
{
    free(t->bytes);
    memset(t, 0, sizeof *t);
}

void serve_logprob_fill(serve_logprob *lp, const float *logits, uint32_t n_vocab,
                        tsr_token token, uint32_t n_top)
{
    float max = logits[0];
    for (uint32_t i = 1; i < n_vocab; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0;
    for (uint32_t i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - max);
    float log_z = max + (float)log(sum);
    lp->token = token;
    lp->logprob = logits[token] - log_z;
    lp->n_top = 0;
    /* The n_top best by insertion: n_top is at most 20. */
    for (uint32_t i = 0; i < n_vocab; i++) {
        float v = logits[i];
        if (lp->n_top == n_top && (n_top == 0 || v <= lp->top_logprobs[n_top - 1]))
            continue;
        uint32_t at = lp->n_top < n_top ? lp->n_top++ : n_top - 1;
        while (at > 0 && lp->top_logprobs[at - 1] < v) {
            lp->top_logprobs[at] = lp->top_logprobs[at - 1];
            lp->top_tokens[at] = lp->top_tokens[at - 1];
            at--;
        }
        lp->top_logprobs[at] = v;
        lp->top_tokens[at] = (tsr_token)i;
    }
    for (uint32_t i = 0; i < lp->n_top; i++)
        lp->top_logprobs[i] -= log_z;
}
