/* The generation loop over decode and sample: prompt, then token by token,
 * text handed out in whole characters with stop strings held back. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *tsr_stop_reason_name(tsr_stop_reason reason)
{
    static const char *const names[] = {"eos", "length", "stop", "context", "caller"};
    return (unsigned)reason < 5 ? names[reason] : "unknown";
}

void tsr_generate_params_init(tsr_generate_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->max_tokens = SIZE_MAX;
}

/* NaN or Inf in a model's weights (a norm, a block scale) spreads to every
 * logit, and a sampler then picks an arbitrary token: most often
 * end-of-generation, an empty answer that looks like success. One pass over
 * the logits a step samples (n_vocab floats, a few microseconds against
 * milliseconds of forward pass) tells. step 0 is the prompt. */
static tsr_status check_logits(const float *logits, uint32_t n_vocab, size_t step,
                               tsr_error *err)
{
    for (uint32_t i = 0; i < n_vocab; i++)
        if (!isfinite(logits[i]))
            return tsr_error_set(err, TSR_ERR_FORMAT, "step %zu (%s): the logit of token %u is "
                                 "%s: the model's weights (or a kernel) gave a non-finite "
                                 "value; is the model file damaged?",
                                 step, step == 0 ? "the prompt" : "generating", i,
                                 isnan(logits[i]) ? "NaN" : "infinite");
    return TSR_OK;
}

/* Text not yet handed out: kept while its end could begin a stop string. */
typedef struct pending_text {
    char *data;
    size_t len, cap;
} pending_text;

static bool pending_append(pending_text *p, const char *s, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        while (cap < p->len + n)
            cap *= 2;
        char *bigger = realloc(p->data, cap);
        if (!bigger)
            return false;
        p->data = bigger;
        p->cap = cap;
    }
    memcpy(p->data + p->len, s, n);
    p->len += n;
    return true;
}

/* The longest suffix of text that is a proper prefix of some stop string. */
static size_t held_suffix(const char *text, size_t len, const tsr_generate_params *o)
{
    size_t hold = 0;
    for (size_t s = 0; s < o->n_stop; s++) {
        size_t slen = strlen(o->stop[s]);
        for (size_t k = slen > len ? len : slen - 1; k > hold; k--)
            if (memcmp(text + len - k, o->stop[s], k) == 0) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Hands out what is final. Returns false when the caller or a stop string
 * ends generation (*stopped says which). */
static bool flush_pending(pending_text *p, const tsr_generate_params *o, bool at_end,
                          tsr_stop_reason *stopped)
{
    size_t emit = p->len;
    for (size_t s = 0; s < o->n_stop; s++) {
        size_t slen = strlen(o->stop[s]);
        if (slen == 0 || slen > p->len)
            continue;
        const char *hit = memmem(p->data, p->len, o->stop[s], slen);
        if (hit && (size_t)(hit - p->data) < emit) {
            emit = (size_t)(hit - p->data);
            *stopped = TSR_STOP_STRING;
        }
    }
    if (*stopped != TSR_STOP_STRING && !at_end)
        emit -= held_suffix(p->data, p->len, o);
    bool go_on = true;
    if (emit > 0 && o->on_text && !o->on_text(o->on_text_ctx, p->data, emit)) {
        *stopped = TSR_STOP_CALLER;
        go_on = false;
    }
    if (emit > 0) { /* data is NULL until the first text: memmove(NULL, ...) is undefined */
        memmove(p->data, p->data + emit, p->len - emit);
        p->len -= emit;
    }
    return go_on && *stopped != TSR_STOP_STRING;
}

/* Decodes tokens into seq after what it holds, n_batch rows at a time; the
 * last row's logits are wanted. */
static tsr_status decode_run(tsr_context *ctx, tsr_batch *batch, int32_t seq,
                             const tsr_token *tokens, size_t n, tsr_error *err)
{
    for (size_t done = 0; done < n;) {
        tsr_batch_clear(batch);
        int32_t pos = tsr_kv_seq_pos_max(ctx, seq) + 1;
        for (; done < n && batch->n_tokens < batch->capacity; done++)
            tsr_batch_add(batch, tokens[done], pos++, seq, done + 1 == n, err);
        tsr_status s = tsr_decode(ctx, batch, err);
        if (s != TSR_OK)
            return s;
    }
    return TSR_OK;
}

/* The prompt: checked against the room left, decoded, told to the sampler. */
static tsr_status prefill(tsr_context *ctx, tsr_sampler *smp, tsr_batch *batch, int32_t seq,
                          const tsr_token *prompt, size_t n_prompt, tsr_error *err)
{
    const tsr_deployment *d = ctx->deployment;
    uint32_t max_seq_len = tsr_deployment_max_seq_len(d);
    size_t held = (size_t)(tsr_kv_seq_pos_max(ctx, seq) + 1);
    if (n_prompt > max_seq_len - held)
        return tsr_error_set(err, TSR_ERR_NO_KV_ROOM, "the context is full: %zu tokens so far "
                             "plus %zu new exceed max_seq_len %u", held, n_prompt, max_seq_len);
    tsr_status s = decode_run(ctx, batch, seq, prompt, n_prompt, err);
    if (s == TSR_OK)
        s = check_logits(tsr_logits(ctx, (int32_t)batch->n_tokens - 1),
                         tsr_deployment_n_vocab(d), 0, err);
    for (size_t i = 0; s == TSR_OK && i < n_prompt; i++)
        s = tsr_sampler_accept(smp, prompt[i], err);
    return s;
}

/* Sampling and decoding one token at a time after the prompt. */
static tsr_status generate_tokens(tsr_context *ctx, tsr_sampler *smp, tsr_batch *batch,
                                  int32_t seq, const tsr_generate_params *o,
                                  tsr_generate_stats *stats, tsr_error *err)
{
    const tsr_deployment *d = ctx->deployment;
    tsr_detokenizer *detok;
    tsr_status s = tsr_detokenizer_open(d->tokenizer, 0, &detok, err);
    if (s != TSR_OK)
        return s;
    pending_text pending = {0};
    tsr_stop_reason stopped = TSR_STOP_LENGTH;
    int32_t row = (int32_t)batch->n_tokens - 1;
    for (;;) {
        if (stats->n_generated >= o->max_tokens) {
            stopped = TSR_STOP_LENGTH;
            break;
        }
        tsr_token token;
        if ((s = tsr_sample(smp, ctx, row, &token, err)) != TSR_OK)
            break;
        if (!o->ignore_eos && tsr_token_is_eog(d, token)) {
            stopped = TSR_STOP_EOG;
            break;
        }
        stats->n_generated++;
        if (o->on_token)
            o->on_token(o->on_token_ctx, token);
        size_t n;
        const char *text = tsr_detokenizer_push(detok, token, &n);
        if (n && !pending_append(&pending, text, n)) {
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
            break;
        }
        tsr_stop_reason why = TSR_STOP_LENGTH;
        if (!flush_pending(&pending, o, false, &why)) {
            stopped = why;
            break;
        }
        if ((uint32_t)(tsr_kv_seq_pos_max(ctx, seq) + 1) >= tsr_deployment_max_seq_len(d)) {
            stopped = TSR_STOP_CONTEXT;
            break;
        }
        if (stats->n_generated >= o->max_tokens) {
            stopped = TSR_STOP_LENGTH;
            break;
        }
        if ((s = decode_run(ctx, batch, seq, &token, 1, err)) != TSR_OK ||
            (s = check_logits(tsr_logits(ctx, 0), tsr_deployment_n_vocab(d), stats->n_generated,
                              err)) != TSR_OK)
            break;
        row = 0;
    }
    if (s == TSR_OK && stopped != TSR_STOP_STRING && stopped != TSR_STOP_CALLER) {
        size_t n;
        const char *rest = tsr_detokenizer_flush(detok, &n);
        if (n && !pending_append(&pending, rest, n))
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        tsr_stop_reason why = stopped;
        if (s == TSR_OK)
            flush_pending(&pending, o, true, &why);
        stopped = why;
    }
    stats->stop_reason = stopped;
    free(pending.data);
    tsr_detokenizer_close(detok);
    return s;
}

tsr_status tsr_generate(tsr_context *ctx, tsr_sampler *smp, int32_t seq, const tsr_token *prompt,
                        size_t n_prompt, const tsr_generate_params *params,
                        tsr_generate_stats *stats, tsr_error *err)
{
    memset(stats, 0, sizeof *stats);
    stats->n_prompt = n_prompt;
    tsr_generate_params o;
    tsr_generate_params_init(&o);
    tsr_api_copy_params(&o, sizeof o, params);
    if (n_prompt == 0 || !prompt)
        return tsr_error_set(err, TSR_ERR_INVALID, "the prompt is empty: nothing to continue");
    if (seq < 0 || (uint32_t)seq >= ctx->n_seq_max)
        return tsr_error_set(err, TSR_ERR_INVALID, "generate: sequence %d does not exist; the "
                             "context has sequences 0 to %u", seq, ctx->n_seq_max - 1);
    tsr_batch *batch;
    tsr_status s = tsr_batch_open(tsr_deployment_n_batch(ctx->deployment), &batch, err);
    if (s != TSR_OK)
        return s;
    double t0 = now_seconds();
    s = prefill(ctx, smp, batch, seq, prompt, n_prompt, err);
    stats->prompt_seconds = now_seconds() - t0;
    if (s == TSR_OK) {
        double t1 = now_seconds();
        s = generate_tokens(ctx, smp, batch, seq, &o, stats, err);
        stats->generate_seconds = now_seconds() - t1;
    }
    tsr_batch_close(batch);
    return s;
}
