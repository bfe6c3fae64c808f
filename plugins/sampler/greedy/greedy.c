/* sampler/greedy: chooses the most likely token (argmax of the logits; the
 * lowest id wins a tie, so the choice is the same everywhere). */
#include "tessera/plugin.h"

static tsr_status greedy_create(const tsr_host *host, const tsr_param_value *params,
                                const tsr_sampler_init *init, void **state, tsr_error *err)
{
    *state = (void *)host; /* stateless: keeps the host table for errors */
    return TSR_OK;
}

static void greedy_destroy(void *state)
{
}

static tsr_status greedy_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    const tsr_host *host = state;
    if (cands->size == 0)
        return host->error_set(err, TSR_ERR_INVALID, "greedy: no candidates to choose from");
    size_t best = 0;
    for (size_t i = 1; i < cands->size; i++) {
        const tsr_candidate *c = &cands->data[i], *b = &cands->data[best];
        if (c->logit > b->logit || (c->logit == b->logit && c->token < b->token))
            best = i;
    }
    cands->selected = (int64_t)best;
    return TSR_OK;
}

static const tsr_sampler_vtable greedy_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .flags = TSR_SAMPLER_CHOOSES,
    .create = greedy_create,
    .destroy = greedy_destroy,
    .apply = greedy_apply,
};

static const tsr_plugin_desc greedy_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_SAMPLER,
    .name = "greedy",
    .version = "1.0.0",
    .summary = "choose the most likely token (argmax; ties go to the lowest id)",
    .vtable = &greedy_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &greedy_desc : NULL;
}
