/* Generation: prompt prefill, then decode token by token through the
 * sampler chain, streaming whole-character text, until an end-of-generation
 * token, a stop string, the token budget or the end of the context. */
#ifndef TSR_CORE_GENERATE_H
#define TSR_CORE_GENERATE_H

#include "model.h"
#include "sampler_chain.h"
#include "tokenizer.h"

/* Receives generated text as it becomes final (whole UTF-8 characters, stop
 * strings held back until they cannot match). Return false to stop. */
typedef bool (*tsr_text_fn)(void *ctx, const char *text, size_t n_bytes);

typedef struct tsr_generate_options {
    size_t max_tokens;         /* most tokens to generate; 0 = until the context is full */
    const char *const *stop;   /* stop strings (not included in the output) */
    size_t n_stop;
    bool ignore_eos;           /* keep going past end-of-generation tokens */
    tsr_text_fn on_text;       /* may be NULL */
    void *on_text_ctx;
    /* Called with every generated token (end-of-generation tokens excluded),
     * before its text; may be NULL. */
    void (*on_token)(void *ctx, int32_t token);
    void *on_token_ctx;
} tsr_generate_options;

typedef enum tsr_stop_reason {
    TSR_STOP_EOG = 0,      /* the model ended its turn */
    TSR_STOP_LENGTH = 1,   /* max_tokens reached */
    TSR_STOP_STRING = 2,   /* a stop string appeared */
    TSR_STOP_CONTEXT = 3,  /* the KV cache is full */
    TSR_STOP_CALLER = 4,   /* on_text returned false */
} tsr_stop_reason;

typedef struct tsr_generate_stats {
    size_t n_prompt, n_generated;
    double prompt_seconds, generate_seconds;
    tsr_stop_reason stop_reason;
} tsr_generate_stats;

/* Evaluates prompt (appended at the model's current position, so a chat can
 * add a turn to what the cache holds), then generates. Every prompt token is
 * also accepted by the chain, so penalties see it. */
tsr_status tsr_generate(tsr_model *model, const tsr_tokenizer *tokenizer,
                        tsr_sampler_chain *chain, const int32_t *prompt, size_t n_prompt,
                        const tsr_generate_options *options, tsr_generate_stats *stats,
                        tsr_error *err);

/* "eos", "length", "stop", "context", "caller". */
const char *tsr_stop_reason_name(tsr_stop_reason reason);

#endif
