/* sampler/mirostat (Basu et al. 2021): chooses the token while steering the
 * text's surprise (-log2 p of the chosen tokens) towards a target tau, with
 * a running truncation level mu (2 * tau at the start of a request), after
 * each choice mu -= eta * (surprise - tau).
 *
 * version 2 keeps the candidates whose surprise -log2 p is at most mu (the
 * most likely one if none), renormalizes and draws.
 * version 1 estimates the Zipf exponent s of the distribution from its m most
 * likely tokens (least squares over ln(p_i / p_i+1) against ln((i+1) / i)),
 * keeps the k = (e * 2^mu / (1 - N^-e))^(1/s) most likely, e = s - 1, N the
 * vocabulary size, renormalizes and draws.
 * version 0 draws from all candidates and leaves mu alone (llama.cpp's
 * --mirostat 0: off).
 *
 * The surprise that updates mu is that of the drawn token under the
 * renormalized distribution, as in llama.cpp. Draws use the sequence's
 * seeded generator. */
#include <math.h>

#include "../sampler_util.h"

typedef struct mirostat_state {
    const tsr_host *host;
    tsr_rng *rng;
    int64_t version, m;
    double tau, eta, mu;
    int32_t n_vocab;
} mirostat_state;

static const tsr_param_desc mirostat_params[] = {
    SAMPLER_INT("version", 0, 2, 2, "1 or 2: the algorithm; 0 = off (plain draw)"),
    SAMPLER_FLOAT("tau", 0, 100, 5.0, "target surprise in bits per token; lower = more focused"),
    SAMPLER_FLOAT("eta", 0, 1, 0.1, "learning rate of mu: how fast the surprise is corrected"),
    SAMPLER_INT("m", 1, SAMPLER_BIG, 100,
                "version 1: how many of the most likely tokens estimate the Zipf exponent"),
};

static tsr_status mirostat_create(const tsr_host *host, const tsr_param_value *params,
                                  const tsr_sampler_init *init, void **state, tsr_error *err)
{
    mirostat_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->rng = init->rng;
    s->version = params[0].integer;
    s->tau = params[1].number;
    s->eta = params[2].number;
    s->m = params[3].integer;
    s->n_vocab = init->n_vocab;
    s->mu = 2.0 * s->tau;
    *state = s;
    return TSR_OK;
}

static void mirostat_destroy(void *state)
{
    mirostat_state *s = state;
    s->host->free(s);
}

static void mirostat_reset(void *state)
{
    mirostat_state *s = state;
    s->mu = 2.0 * s->tau;
}

/* Version 1: how many of the most likely tokens to keep. */
static size_t mirostat_v1_k(mirostat_state *s, tsr_candidates *cands)
{
    size_t m = (size_t)s->m < cands->size ? (size_t)s->m : cands->size;
    s->host->candidates_softmax(cands);
    s->host->candidates_partial_sort(cands, m);
    double sum_tb = 0.0, sum_tt = 0.0;
    for (size_t i = 0; i + 1 < m && cands->data[i + 1].p > 0.0f; i++) {
        double t = log((double)(i + 2) / (double)(i + 1));
        double b = log((double)cands->data[i].p / (double)cands->data[i + 1].p);
        sum_tb += t * b;
        sum_tt += t * t;
    }
    double s_hat = sum_tb / sum_tt;
    double epsilon = s_hat - 1.0;
    double k = pow(epsilon * pow(2.0, s->mu) / (1.0 - pow((double)s->n_vocab, -epsilon)),
                   1.0 / s_hat);
    if (!(k >= 1.0)) /* also NaN: a flat or degenerate distribution */
        return 1;
    return k >= (double)cands->size ? cands->size : (size_t)k;
}

static tsr_status mirostat_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    mirostat_state *s = state;
    if (cands->size == 0)
        return s->host->error_set(err, TSR_ERR_INVALID, "no candidates to draw from");
    if (s->version == 0) {
        cands->selected = (int64_t)sampler_draw(s->host, s->rng, cands);
        return TSR_OK;
    }
    if (s->version == 1) {
        size_t k = cands->size > 1 ? mirostat_v1_k(s, cands) : 1;
        s->host->candidates_partial_sort(cands, k);
        cands->size = k;
        cands->sorted = true;
    } else {
        s->host->candidates_softmax(cands);
        size_t best = sampler_argmax(cands), kept = 0;
        for (size_t i = 0; i < cands->size; i++)
            if (-log2(cands->data[i].p) <= s->mu)
                cands->data[kept++] = cands->data[i];
        if (kept == 0) {
            cands->data[0] = cands->data[best];
            kept = 1;
        }
        cands->size = kept;
    }
    size_t chosen = sampler_draw(s->host, s->rng, cands);
    cands->selected = (int64_t)chosen;
    double surprise = -log2(cands->data[chosen].p);
    s->mu -= s->eta * (surprise - s->tau);
    return TSR_OK;
}

static const tsr_sampler_vtable mirostat_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .flags = TSR_SAMPLER_CHOOSES,
    .create = mirostat_create,
    .destroy = mirostat_destroy,
    .apply = mirostat_apply,
    .reset = mirostat_reset,
};

static const tsr_plugin_desc mirostat_desc =
    SAMPLER_DESC("mirostat", "choose while steering surprise to tau bits (v1, v2)",
                 mirostat_params, mirostat_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &mirostat_desc : NULL;
}
