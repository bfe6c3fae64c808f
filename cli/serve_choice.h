/* One choice's output as the scheduler makes it: the generated text, of
 * which only what cannot be the start of a stop string (nor a split UTF-8
 * character) is released to the client, and log-probabilities. */
#ifndef TSR_CLI_SERVE_CHOICE_H
#define TSR_CLI_SERVE_CHOICE_H

#include <stdbool.h>
#include <stddef.h>

#include "serve_sched.h"

typedef struct serve_text {
    char *bytes;        /* every byte generated (cut at a stop string) */
    size_t n, cap;
    size_t released;    /* bytes[0..released) may be sent */
} serve_text;

/* Appends a token's bytes. true: a stop string now appears in the text,
 * which is cut where it starts and released whole. false with *failed set:
 * out of memory. */
bool serve_text_append(serve_text *t, const char *piece, size_t n, char *const *stop,
                       size_t n_stop, bool *failed);
/* The choice ended: everything is released (a partial stop string too). */
void serve_text_release_all(serve_text *t);
void serve_text_clear(serve_text *t);
void serve_text_free(serve_text *t);

/* token's log-probability under logits (log-softmax) and the n_top most
 * likely tokens' (n_top <= SERVE_MAX_TOP_LOGPROBS). */
void serve_logprob_fill(serve_logprob *lp, const float *logits, uint32_t n_vocab,
                        tsr_token token, uint32_t n_top);

#endif
