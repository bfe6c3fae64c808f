/* The generation loop over decode and sample: prompt, then token by token,
 * text handed out in whole characters with stop strings held back. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "rng.h"
#include "speculate.h"

double tsr_api_now(void)
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

/* What generation after the prompt carries from step to step. */
typedef struct gen_state {
    tsr_context *ctx;
    tsr_sampler *smp;
    tsr_batch *batch;
    int32_t seq;
    const tsr_generate_params *o;
    tsr_generate_stats *stats;
    tsr_detokenizer *detok;
    pending_text pending;
    tsr_stop_reason stopped;
    /* The sequence's tokens as generated (the prompt's kept by the caller):
     * what a strategy proposes after. NULL without speculation. */
    tsr_token *history;
    size_t n_history, cap_history;
    /* Where the chain ends in a draw from a distribution (speculate.h): its
     * generator, lent to strategies that sample their drafts, and room for
     * the target's distribution p of a row (n_vocab floats). NULL else. */
    tsr_rng *rng;
    float *p;
} gen_state;

/* The token of one row, by the stochastic rule: the draft d was drawn from
 * q, p is the chain's distribution here; keeps d with probability
 * min(1, p(d)/q(d)), else draws from max(0, p - q). The chain's generator
 * gives both uniforms and the chain hears the token, as a plain draw. */
static tsr_status pick_by_rule(gen_state *g, const float *logits, const float *q, tsr_token d,
                               tsr_token *token, tsr_error *err)
{
    tsr_sampler_chain *chain = g->smp->chain;
    int32_t n_vocab = (int32_t)tsr_deployment_n_vocab(g->ctx->deployment);
    tsr_status s = tsr_sampler_chain_distribution(chain, logits, g->p, err);
    if (s != TSR_OK)
        return s;
    double u1 = tsr_rng_uniform(g->rng), u2 = tsr_rng_uniform(g->rng);
    bool kept;
    *token = tsr_spec_stochastic_pick(g->p, q, n_vocab, d, u1, u2, &kept);
    return tsr_sampler_chain_accept(chain, *token, err);
}

/* Samples from logits and hands the token out: false when generation ends
 * there (*s says whether on an error, g->stopped why otherwise). n_held is
 * what the cache holds before the token (drafts decoded after it do not
 * count: without them the cache would not hold them). q: the distribution
 * the draft checked here (draft) was drawn from, for the stochastic rule;
 * NULL: a plain draw, which exact match compares with the draft. */
static bool take_token(gen_state *g, const float *logits, size_t n_held, const float *q,
                       tsr_token draft, tsr_token *token, tsr_status *s, tsr_error *err)
{
    const tsr_deployment *d = g->ctx->deployment;
    const tsr_generate_params *o = g->o;
    if ((*s = check_logits(logits, tsr_deployment_n_vocab(d), g->stats->n_generated,
                           err)) != TSR_OK ||
        (*s = q ? pick_by_rule(g, logits, q, draft, token, err)
                : tsr_sample_logits(g->smp, logits, token, err)) != TSR_OK)
        return false;
    if (!o->ignore_eos && tsr_token_is_eog(d, *token)) {
        g->stopped = TSR_STOP_EOG;
        return false;
    }
    g->stats->n_generated++;
    if (g->history) {
        if (g->n_history == g->cap_history) {
            size_t cap = g->cap_history * 2;
            tsr_token *bigger = realloc(g->history, cap * sizeof *bigger);
            if (!bigger) {
                *s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
                return false;
            }
            g->history = bigger;
            g->cap_history = cap;
        }
        g->history[g->n_history++] = *token;
    }
    if (o->on_token)
        o->on_token(o->on_token_ctx, *token);
    size_t n;
    const char *text = tsr_detokenizer_push(g->detok, *token, &n);
    if (n && !pending_append(&g->pending, text, n)) {
        *s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        return false;
    }
    tsr_stop_reason why = TSR_STOP_LENGTH;
    if (!flush_pending(&g->pending, o, false, &why)) {
        g->stopped = why;
        return false;
    }
    if (n_held >= tsr_deployment_max_seq_len(d)) {
        g->stopped = TSR_STOP_CONTEXT;
        return false;
    }
    if (g->stats->n_generated >= o->max_tokens) {
        g->stopped = TSR_STOP_LENGTH;
        return false;
    }
    return true;
}

/* One step: the pending token t (sampled, not yet decoded) and the drafts
 * after it are decoded together, then the rows are sampled in order while
 * each sampled token equals the draft it checks. The cache keeps t and the
 * drafts that were kept; *t becomes the last token sampled. false: stop. */
static bool step(gen_state *g, tsr_spec_session *spec, tsr_token *t, tsr_status *s,
                 tsr_error *err)
{
    tsr_context *ctx = g->ctx;
    const tsr_deployment *d = ctx->deployment;
    int32_t held = tsr_kv_seq_pos_max(ctx, g->seq) + 1;
    const tsr_token *drafts = NULL;
    const float *dists = NULL;
    uint32_t n_drafts = 0;
    double propose_seconds = 0;
    if (spec) {
        /* Room for the drafts: the cache, the batch, the verified rows, and
         * the tokens still wanted (a step yields up to n_drafts + 1). */
        size_t cap = tsr_deployment_max_seq_len(d) - (size_t)held - 1;
        size_t rows = tsr_deployment_n_outputs(d);
        if (rows > tsr_deployment_n_batch(d))
            rows = tsr_deployment_n_batch(d);
        cap = rows - 1 < cap ? rows - 1 : cap;
        size_t wanted = g->o->max_tokens - g->stats->n_generated;
        cap = wanted - 1 < cap ? wanted - 1 : cap;
        uint32_t k = tsr_spec_choose(spec, cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap,
                                     g->o->no_backoff);
        if (k > 0) {
            double t0 = tsr_api_now();
            *s = tsr_spec_propose(spec, g->history, g->n_history, k, g->rng, &drafts,
                                  &n_drafts, &dists, err);
            propose_seconds = tsr_api_now() - t0;
            if (*s != TSR_OK)
                return false;
        }
    }
    tsr_batch *b = g->batch;
    tsr_batch_clear(b);
    tsr_batch_add(b, *t, held, g->seq, true, NULL);
    for (uint32_t i = 0; i < n_drafts; i++)
        tsr_batch_add(b, drafts[i], held + 1 + (int32_t)i, g->seq, true, NULL);
    double t0 = tsr_api_now();
    if ((*s = tsr_decode(ctx, b, err)) != TSR_OK)
        return false;
    double decode_seconds = tsr_api_now() - t0;
    /* Row i scores the token after t, d0 .. d(i-1). A row that checks a
     * drawn draft di keeps it by the stochastic rule, which emits another
     * token only on a rejection; the last row (every draft kept) draws. */
    uint32_t n_vocab = tsr_deployment_n_vocab(d);
    uint32_t i = 0;
    bool go_on;
    for (;; i++) {
        const float *q = dists && i < n_drafts ? dists + (size_t)i * n_vocab : NULL;
        go_on = take_token(g, tsr_logits(ctx, (int32_t)i), (size_t)held + 1 + i, q,
                           i < n_drafts ? drafts[i] : -1, t, s, err);
        if (!go_on || i == n_drafts || *t != drafts[i])
            break;
    }
    /* Rows past i decoded drafts the target did not take (or after a stop). */
    if (i < n_drafts) {
        tsr_status r = tsr_kv_seq_remove(ctx, g->seq, held + 1 + (int32_t)i, -1, err);
        if (r != TSR_OK && *s == TSR_OK) {
            *s = r;
            go_on = false;
        }
    }
    g->stats->n_plain_steps += n_drafts == 0;
    if (n_drafts) {
        g->stats->n_verifications++;
        g->stats->n_drafted += n_drafts;
        g->stats->n_accepted += i;
    }
    if (spec && go_on) {
        tsr_spec_step st = {n_drafts, i, decode_seconds, propose_seconds};
        size_t n_new = (size_t)i + 1;
        tsr_spec_observe(spec, &st, g->history + g->n_history - n_new, n_new);
    }
    return go_on;
}

/* Sampling after the prompt, then decoding each token (with drafts after
 * it, where the deployment speculates) until something ends generation. */
static tsr_status generate_tokens(tsr_context *ctx, tsr_sampler *smp, tsr_batch *batch,
                                  int32_t seq, const tsr_token *prompt, size_t n_prompt,
                                  const tsr_generate_params *o, tsr_generate_stats *stats,
                                  tsr_error *err)
{
    const tsr_deployment *d = ctx->deployment;
    gen_state g = {ctx, smp, batch, seq, o, stats, NULL, {0}, TSR_STOP_LENGTH,
                   NULL, 0, 0, NULL, NULL};
    tsr_spec_session *spec = o->no_speculation ? NULL : tsr_spec_session_of(ctx, seq);
    tsr_status s = TSR_OK;
    if (spec && tsr_sampler_chain_has_distribution(smp->chain)) {
        g.rng = tsr_sampler_chain_rng(smp->chain);
        if (!(g.p = malloc(tsr_deployment_n_vocab(d) * sizeof *g.p)))
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    if (spec && s == TSR_OK) {
        /* The strategy sees the caller's history and the prompt. */
        size_t before = o->history ? o->n_history : 0;
        g.cap_history = before + n_prompt + 256;
        if (!(g.history = malloc(g.cap_history * sizeof *g.history)))
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        else {
            if (before)
                memcpy(g.history, o->history, before * sizeof *g.history);
            memcpy(g.history + before, prompt, n_prompt * sizeof *prompt);
            g.n_history = before + n_prompt;
            s = tsr_spec_begin(spec, g.history, g.n_history, err);
        }
    }
    if (s == TSR_OK)
        s = tsr_detokenizer_open(d->tokenizer, 0, &g.detok, err);
    if (s != TSR_OK) {
        free(g.history);
        free(g.p);
        return s;
    }
    tsr_token t;
    if (o->max_tokens > 0 &&
        take_token(&g, tsr_logits(ctx, (int32_t)batch->n_tokens - 1),
                   (size_t)(tsr_kv_seq_pos_max(ctx, seq) + 1), NULL, -1, &t, &s, err))
        while (step(&g, spec, &t, &s, err))
            ;
    if (spec)
        tsr_spec_end(spec);
    tsr_stop_reason stopped = g.stopped;
    if (s == TSR_OK && stopped != TSR_STOP_STRING && stopped != TSR_STOP_CALLER) {
        size_t n;
        const char *rest = tsr_detokenizer_flush(g.detok, &n);
        if (n && !pending_append(&g.pending, rest, n))
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        tsr_stop_reason why = stopped;
        if (s == TSR_OK)
            flush_pending(&g.pending, o, true, &why);
        stopped = why;
    }
    stats->stop_reason = stopped;
    free(g.pending.data);
    free(g.history);
    free(g.p);
    tsr_detokenizer_close(g.detok);
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
    double t0 = tsr_api_now();
    s = prefill(ctx, smp, batch, seq, prompt, n_prompt, err);
    stats->prompt_seconds = tsr_api_now() - t0;
    if (s == TSR_OK) {
        double t1 = tsr_api_now();
        s = generate_tokens(ctx, smp, batch, seq, prompt, n_prompt, &o, stats, err);
        stats->generate_seconds = tsr_api_now() - t1;
    }
    tsr_batch_close(batch);
    return s;
}
