/* sampler/min_p: keeps the candidates at least p times as likely as the most
 * likely one, i.e. logit >= max_logit + ln p (no softmax needed), in their
 * order; when fewer than min_keep pass, the min_keep most likely. p = 0
 * changes nothing. */
#include <math.h>

#include "../sampler_util.h"

typedef struct min_p_state {
    const tsr_host *host;
    float log_p;
    bool off;
    size_t min_keep;
} min_p_state;

static const tsr_param_desc min_p_params[] = {
    SAMPLER_FLOAT("p", 0, 1, 0.05,
                  "keep tokens at least p times as likely as the most likely one; 0 = off"),
    SAMPLER_MIN_KEEP,
};

static tsr_status min_p_create(const tsr_host *host, const tsr_param_value *params,
                               const tsr_sampler_init *init, void **state, tsr_error *err)
{
    min_p_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->off = params[0].number <= 0.0;
    s->log_p = s->off ? 0.0f : logf((float)params[0].number);
    s->min_keep = params[1].integer > 1 ? (size_t)params[1].integer : 1;
    *state = s;
    return TSR_OK;
}

static void min_p_destroy(void *state)
{
    min_p_state *s = state;
    s->host->free(s);
}

static tsr_status min_p_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    min_p_state *s = state;
    if (s->off || cands->size == 0)
        return TSR_OK;
    float threshold = cands->data[sampler_argmax(cands)].logit + s->log_p;
    size_t passing = 0;
    for (size_t i = 0; i < cands->size; i++)
        passing += cands->data[i].logit >= threshold;
    if (passing < s->min_keep) {
        size_t keep = s->min_keep < cands->size ? s->min_keep : cands->size;
        s->host->candidates_partial_sort(cands, keep);
        cands->size = keep;
        cands->sorted = true;
        return TSR_OK;
    }
    /* In place and in order, so a sorted array stays sorted. */
    size_t kept = 0;
    for (size_t i = 0; i < cands->size; i++) {
        cands->data[kept] = cands->data[i]; /* branch-free: the kept ones advance */
        kept += cands->data[i].logit >= threshold;
    }
    cands->size = kept;
    return TSR_OK;
}

static const tsr_sampler_vtable min_p_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = min_p_create,
    .destroy = min_p_destroy,
    .apply = min_p_apply,
};

static const tsr_plugin_desc min_p_desc =
    SAMPLER_DESC("min_p", "keep tokens at least p times as likely as the best one",
                 min_p_params, min_p_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &min_p_desc : NULL;
}
