/* The recent-token window the penalty samplers share: the last last_n
 * accepted tokens (or all of them since reset, for last_n = -1), how often
 * each occurs there, and the distinct tokens, so a step touches only those.
 * Header-only, compiled into each penalty plugin. */
#ifndef TSR_TOKEN_WINDOW_H
#define TSR_TOKEN_WINDOW_H

#include "sampler_util.h"

typedef struct token_window {
    const tsr_host *host;
    int32_t n_vocab;
    bool off;           /* last_n == 0 */
    bool unbounded;     /* last_n == -1: every token since reset */
    size_t capacity;    /* last_n otherwise */
    int32_t *ring;      /* capacity tokens, oldest at next once full */
    size_t n_ring, next;
    int32_t *counts;    /* n_vocab: occurrences in the window */
    int32_t *distinct;  /* the tokens with counts > 0 */
    int32_t *slot;      /* n_vocab: index in distinct, or -1 */
    size_t n_distinct;
} token_window;

#define TOKEN_WINDOW_PARAM                                                                    \
    SAMPLER_INT("last_n", -1, 1000000, 64,                                                    \
                "penalize tokens among the last n accepted; -1 = all since the request "       \
                "began, 0 = off")

static inline void token_window_free(token_window *w)
{
    if (!w->host)
        return;
    w->host->free(w->ring);
    w->host->free(w->counts);
    w->host->free(w->distinct);
    w->host->free(w->slot);
}

static inline tsr_status token_window_init(token_window *w, const tsr_host *host,
                                           int32_t n_vocab, int64_t last_n, tsr_error *err)
{
    memset(w, 0, sizeof *w);
    w->host = host;
    w->n_vocab = n_vocab;
    w->off = last_n == 0;
    w->unbounded = last_n < 0;
    if (w->off)
        return TSR_OK;
    w->capacity = w->unbounded ? 0 : (size_t)last_n;
    size_t n_distinct_max = w->unbounded || w->capacity > (size_t)n_vocab ? (size_t)n_vocab
                                                                           : w->capacity;
    w->ring = w->capacity ? sampler_alloc(host, w->capacity * sizeof *w->ring, err) : NULL;
    w->counts = sampler_alloc(host, (size_t)n_vocab * sizeof *w->counts, err);
    w->distinct = sampler_alloc(host, n_distinct_max * sizeof *w->distinct, err);
    w->slot = sampler_alloc(host, (size_t)n_vocab * sizeof *w->slot, err);
    if ((w->capacity && !w->ring) || !w->counts || !w->distinct || !w->slot) {
        token_window_free(w);
        return TSR_ERR_NOMEM;
    }
    for (int32_t t = 0; t < n_vocab; t++)
        w->slot[t] = -1;
    return TSR_OK;
}

static inline void token_window_count(token_window *w, int32_t token, int32_t delta)
{
    int32_t before = w->counts[token];
    w->counts[token] = before + delta;
    if (before == 0) {
        w->slot[token] = (int32_t)w->n_distinct;
        w->distinct[w->n_distinct++] = token;
    } else if (before + delta == 0) {
        /* The last distinct token takes the leaving one's place. */
        int32_t moved = w->distinct[--w->n_distinct];
        w->distinct[w->slot[token]] = moved;
        w->slot[moved] = w->slot[token];
        w->slot[token] = -1;
    }
}

/* Hot: records an accepted token, forgetting the oldest beyond last_n. */
static inline void token_window_push(token_window *w, int32_t token)
{
    if (w->off || token < 0 || token >= w->n_vocab)
        return;
    if (!w->unbounded) {
        if (w->n_ring == w->capacity)
            token_window_count(w, w->ring[w->next], -1);
        else
            w->n_ring++;
        w->ring[w->next] = token;
        w->next = (w->next + 1) % w->capacity;
    }
    token_window_count(w, token, +1);
}

static inline void token_window_clear(token_window *w)
{
    if (w->off)
        return;
    for (size_t i = 0; i < w->n_distinct; i++) {
        w->counts[w->distinct[i]] = 0;
        w->slot[w->distinct[i]] = -1;
    }
    w->n_distinct = w->n_ring = w->next = 0;
}

static inline bool token_window_listed(const void *ctx, int32_t token)
{
    return ((const token_window *)ctx)->counts[token] > 0;
}


/* ---- a penalty sampler: a window and one coefficient --------------------
 * repetition_penalty, frequency_penalty and presence_penalty differ only in
 * what they do to the logit of a token seen `count` times in the window;
 * each declares (penalty, last_n) in that order and supplies the formula. */

typedef float (*penalty_formula)(float logit, int32_t count, float penalty);

typedef struct penalty_state {
    token_window window;
    float penalty;
    penalty_formula formula;
} penalty_state;

static inline tsr_status penalty_create(const tsr_host *host, const tsr_param_value *params,
                                        const tsr_sampler_init *init, penalty_formula formula,
                                        void **state, tsr_error *err)
{
    penalty_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->penalty = (float)params[0].number;
    s->formula = formula;
    if (token_window_init(&s->window, host, init->n_vocab, params[1].integer, err) != TSR_OK) {
        host->free(s);
        return host->error_set(err, TSR_ERR_NOMEM,
                               "out of memory for a window over %d tokens", init->n_vocab);
    }
    *state = s;
    return TSR_OK;
}

static inline void penalty_destroy(void *state)
{
    penalty_state *s = state;
    const tsr_host *host = s->window.host;
    token_window_free(&s->window);
    host->free(s);
}

static inline void penalty_accept(void *state, int32_t token)
{
    token_window_push(&((penalty_state *)state)->window, token);
}

static inline void penalty_reset(void *state)
{
    token_window_clear(&((penalty_state *)state)->window);
}

static inline bool penalty_listed(const void *ctx, int32_t token)
{
    return token_window_listed(&((const penalty_state *)ctx)->window, token);
}

static inline void penalty_touch(void *ctx, tsr_candidate *c)
{
    penalty_state *s = ctx;
    c->logit = s->formula(c->logit, s->window.counts[c->token], s->penalty);
}

static inline tsr_status penalty_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    penalty_state *s = state;
    if (s->window.off || s->window.n_distinct == 0)
        return TSR_OK;
    sampler_for_each_listed(cands, s->window.distinct, s->window.n_distinct, penalty_listed,
                            penalty_touch, s);
    cands->sorted = false;
    return TSR_OK;
}

#define PENALTY_VTABLE(name_, formula_)                                                       \
    static tsr_status name_##_create(const tsr_host *host, const tsr_param_value *params,    \
                                     const tsr_sampler_init *init, void **state,             \
                                     tsr_error *err)                                         \
    {                                                                                         \
        return penalty_create(host, params, init, formula_, state, err);                     \
    }                                                                                         \
    static const tsr_sampler_vtable name_##_vtable = {                                        \
        .abi = TSR_ABI_INIT(tsr_sampler_vtable),                                              \
        .create = name_##_create,                                                             \
        .destroy = penalty_destroy,                                                           \
        .apply = penalty_apply,                                                               \
        .accept = penalty_accept,                                                             \
        .reset = penalty_reset,                                                               \
    }

#endif
