/* sampler/top_k: keeps the k most likely candidates (highest logits; a tie
 * at the edge goes to the lower token id), sorted. k = 0, or k at least the
 * number of candidates, changes nothing. */
#include "../sampler_util.h"

typedef struct top_k_state {
    const tsr_host *host;
    int64_t k;
} top_k_state;

static const tsr_param_desc top_k_params[] = {
    SAMPLER_INT("k", 0, SAMPLER_BIG, 40, "keep the k most likely tokens; 0 = keep all"),
};

static tsr_status top_k_create(const tsr_host *host, const tsr_param_value *params,
                               const tsr_sampler_init *init, void **state, tsr_error *err)
{
    top_k_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->k = params[0].integer;
    *state = s;
    return TSR_OK;
}

static void top_k_destroy(void *state)
{
    top_k_state *s = state;
    s->host->free(s);
}

static tsr_status top_k_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    top_k_state *s = state;
    if (s->k <= 0 || (uint64_t)s->k >= cands->size)
        return TSR_OK;
    s->host->candidates_partial_sort(cands, (size_t)s->k);
    cands->size = (size_t)s->k;
    cands->sorted = true;
    return TSR_OK;
}

static const tsr_sampler_vtable top_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = top_k_create,
    .destroy = top_k_destroy,
    .apply = top_k_apply,
};

static const tsr_plugin_desc top_k_desc =
    SAMPLER_DESC("top_k", "keep the k most likely tokens", top_k_params, top_k_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &top_k_desc : NULL;
}
