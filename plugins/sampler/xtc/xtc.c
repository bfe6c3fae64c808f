/* sampler/xtc (exclude top choices, by p-e-w): with the given probability,
 * of the candidates whose p = softmax(logit) is at least threshold, removes
 * all but the least likely one, so the model's most predictable choices give
 * way to a still-plausible alternative. Nothing happens when fewer than two
 * candidates pass the threshold, or when fewer than min_keep would remain.
 * The chance is one draw from the sequence's generator per step (none when
 * probability is 0 or threshold above 0.5, where at most one token can pass).
 * Survivors keep their order. */
#include "../sampler_util.h"

typedef struct xtc_state {
    const tsr_host *host;
    tsr_rng *rng;
    double probability;
    float threshold;
    size_t min_keep;
} xtc_state;

static const tsr_param_desc xtc_params[] = {
    SAMPLER_FLOAT("probability", 0, 1, 0.5,
                  "chance, per token, that the top choices are removed; 0 = off"),
    SAMPLER_FLOAT("threshold", 0, 1, 0.1,
                  "tokens at least this likely are the top choices; above 0.5 = off"),
    SAMPLER_MIN_KEEP,
};

static tsr_status xtc_create(const tsr_host *host, const tsr_param_value *params,
                             const tsr_sampler_init *init, void **state, tsr_error *err)
{
    xtc_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->rng = init->rng;
    s->probability = params[0].number;
    s->threshold = (float)params[1].number;
    s->min_keep = params[2].integer > 1 ? (size_t)params[2].integer : 1;
    *state = s;
    return TSR_OK;
}

static void xtc_destroy(void *state)
{
    xtc_state *s = state;
    s->host->free(s);
}

static tsr_status xtc_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    xtc_state *s = state;
    if (s->probability <= 0.0 || s->threshold > 0.5f || cands->size < 2)
        return TSR_OK;
    if (s->host->rng_uniform(s->rng) >= s->probability)
        return TSR_OK;
    s->host->candidates_softmax(cands);
    /* The least likely of those passing (lowest logit, ties: the higher id,
     * which the sort's order puts last) is the one that stays. */
    size_t passing = 0, stays = 0;
    for (size_t i = 0; i < cands->size; i++) {
        const tsr_candidate *c = &cands->data[i];
        if (c->p < s->threshold)
            continue;
        const tsr_candidate *w = &cands->data[stays];
        if (passing == 0 || c->logit < w->logit || (c->logit == w->logit && c->token > w->token))
            stays = i;
        passing++;
    }
    if (passing < 2 || cands->size - (passing - 1) < s->min_keep)
        return TSR_OK;
    size_t kept = 0;
    for (size_t i = 0; i < cands->size; i++)
        if (cands->data[i].p < s->threshold || i == stays)
            cands->data[kept++] = cands->data[i];
    cands->size = kept;
    return TSR_OK;
}

static const tsr_sampler_vtable xtc_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = xtc_create,
    .destroy = xtc_destroy,
    .apply = xtc_apply,
};

static const tsr_plugin_desc xtc_desc =
    SAMPLER_DESC("xtc", "exclude top choices: sometimes drop all likely tokens but the least",
                 xtc_params, xtc_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &xtc_desc : NULL;
}
