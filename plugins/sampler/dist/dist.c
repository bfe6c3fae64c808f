/* sampler/dist: draws the token from the distribution the candidates' logits
 * define (p = softmax(logit)), with the sequence's seeded generator. The
 * sampler a chain gets appended when it ends without a choice. */
#include "../sampler_util.h"

typedef struct dist_state {
    const tsr_host *host;
    tsr_rng *rng;
} dist_state;

static tsr_status dist_create(const tsr_host *host, const tsr_param_value *params,
                              const tsr_sampler_init *init, void **state, tsr_error *err)
{
    dist_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->rng = init->rng;
    *state = s;
    return TSR_OK;
}

static void dist_destroy(void *state)
{
    dist_state *s = state;
    s->host->free(s);
}

static tsr_status dist_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    dist_state *s = state;
    if (cands->size == 0)
        return s->host->error_set(err, TSR_ERR_INVALID, "no candidates to draw from");
    cands->selected = (int64_t)sampler_draw(s->host, s->rng, cands);
    return TSR_OK;
}

static const tsr_sampler_vtable dist_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .flags = TSR_SAMPLER_CHOOSES,
    .create = dist_create,
    .destroy = dist_destroy,
    .apply = dist_apply,
};

static const tsr_plugin_desc dist_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_SAMPLER,
    .name = "dist",
    .version = "1.0.0",
    .summary = "draw the token from softmax(logits) with the seeded generator",
    .vtable = &dist_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &dist_desc : NULL;
}
