/* sampler/top_p (nucleus sampling): keeps the most likely candidates whose
 * probabilities first add up to at least p (the one that crosses p stays), and
 * at least min_keep of them; the survivors are sorted and their p is the
 * softmax over the candidates as they came in (not renormalized). p >= 1
 * changes nothing. */
#include "../sampler_util.h"

typedef struct top_p_state {
    const tsr_host *host;
    double p;
    size_t min_keep;
} top_p_state;

static const tsr_param_desc top_p_params[] = {
    SAMPLER_FLOAT("p", 0, 1, 0.95,
                  "keep the most likely tokens whose probabilities sum to at least p; 1 = off"),
    SAMPLER_MIN_KEEP,
};

static tsr_status top_p_create(const tsr_host *host, const tsr_param_value *params,
                               const tsr_sampler_init *init, void **state, tsr_error *err)
{
    top_p_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->p = params[0].number;
    s->min_keep = params[1].integer > 1 ? (size_t)params[1].integer : 1;
    *state = s;
    return TSR_OK;
}

static void top_p_destroy(void *state)
{
    top_p_state *s = state;
    s->host->free(s);
}

/* Sorting a whole vocabulary costs far more than the nucleus usually needs:
 * the best few hundred are sorted first, and the rest only if the sum of
 * those falls short of p. */
enum { TOP_P_FIRST_SORT = 256 };

static tsr_status top_p_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    top_p_state *s = state;
    if (s->p >= 1.0)
        return TSR_OK;
    s->host->candidates_softmax(cands);
    size_t sorted_upto = cands->size;
    if (!cands->sorted) {
        sorted_upto = cands->size > 4 * TOP_P_FIRST_SORT ? TOP_P_FIRST_SORT : cands->size;
        s->host->candidates_partial_sort(cands, sorted_upto);
    }
    double sum = 0.0;
    size_t keep = cands->size;
    for (size_t i = 0; i < cands->size; i++) {
        if (i == sorted_upto) {
            /* The best sorted_upto are already in place; a full sort keeps
             * them there. */
            s->host->candidates_sort(cands);
            sorted_upto = cands->size;
        }
        sum += cands->data[i].p;
        if (sum >= s->p && i + 1 >= s->min_keep) {
            keep = i + 1;
            break;
        }
    }
    cands->size = keep;
    cands->sorted = true;
    return TSR_OK;
}

static const tsr_sampler_vtable top_p_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = top_p_create,
    .destroy = top_p_destroy,
    .apply = top_p_apply,
};

static const tsr_plugin_desc top_p_desc =
    SAMPLER_DESC("top_p", "nucleus: keep the most likely tokens covering probability p",
                 top_p_params, top_p_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &top_p_desc : NULL;
}
