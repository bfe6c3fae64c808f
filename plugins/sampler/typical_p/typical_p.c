/* sampler/typical_p (locally typical sampling, Meister et al. 2022): ranks
 * the candidates by how far their surprise -ln p is from the entropy H of the
 * distribution, |-ln p - H| (closest first), and keeps the first of them whose
 * probabilities add up to more than p, at least min_keep. The survivors stay
 * in that order (not sorted by logit); their p is the softmax over the
 * candidates as they came in. p >= 1 changes nothing. */
#include <math.h>
#include <stdlib.h>

#include "../sampler_util.h"

/* A candidate with its rank key, for sorting a copy (the array is reordered
 * by the copy, only over the kept prefix). */
typedef struct ranked {
    float distance;
    tsr_candidate candidate;
} ranked;

typedef struct typical_state {
    const tsr_host *host;
    double p;
    size_t min_keep;
    ranked *scratch; /* n_vocab entries */
} typical_state;

static const tsr_param_desc typical_params[] = {
    SAMPLER_FLOAT("p", 0, 1, 0.9,
                  "keep the tokens of most typical surprise covering probability p; 1 = off"),
    SAMPLER_MIN_KEEP,
};

static tsr_status typical_create(const tsr_host *host, const tsr_param_value *params,
                                 const tsr_sampler_init *init, void **state, tsr_error *err)
{
    typical_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->p = params[0].number;
    s->min_keep = params[1].integer > 1 ? (size_t)params[1].integer : 1;
    s->scratch = host->alloc((size_t)init->n_vocab * sizeof *s->scratch);
    if (!s->scratch) {
        host->free(s);
        return host->error_set(err, TSR_ERR_NOMEM, "out of memory for %d candidates",
                               init->n_vocab);
    }
    *state = s;
    return TSR_OK;
}

static void typical_destroy(void *state)
{
    typical_state *s = state;
    s->host->free(s->scratch);
    s->host->free(s);
}

/* Most typical first; equal distances go to the more likely, then lower id. */
static int by_distance(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->distance != y->distance)
        return x->distance < y->distance ? -1 : 1;
    if (x->candidate.p != y->candidate.p)
        return x->candidate.p > y->candidate.p ? -1 : 1;
    return (x->candidate.token > y->candidate.token) - (x->candidate.token < y->candidate.token);
}

static tsr_status typical_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    typical_state *s = state;
    if (s->p >= 1.0 || cands->size <= 1)
        return TSR_OK;
    s->host->candidates_softmax(cands);
    double entropy = 0.0;
    for (size_t i = 0; i < cands->size; i++) {
        double p = cands->data[i].p;
        if (p > 0.0)
            entropy -= p * log(p);
    }
    for (size_t i = 0; i < cands->size; i++) {
        double p = cands->data[i].p;
        s->scratch[i].candidate = cands->data[i];
        s->scratch[i].distance = p > 0.0 ? (float)fabs(-log(p) - entropy) : INFINITY;
    }
    qsort(s->scratch, cands->size, sizeof s->scratch[0], by_distance);
    double sum = 0.0;
    size_t keep = cands->size;
    for (size_t i = 0; i < cands->size; i++) {
        sum += s->scratch[i].candidate.p;
        if (sum > s->p && i + 1 >= s->min_keep) {
            keep = i + 1;
            break;
        }
    }
    for (size_t i = 0; i < keep; i++)
        cands->data[i] = s->scratch[i].candidate;
    cands->size = keep;
    cands->sorted = false;
    return TSR_OK;
}

static const tsr_sampler_vtable typical_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = typical_create,
    .destroy = typical_destroy,
    .apply = typical_apply,
};

static const tsr_plugin_desc typical_desc =
    SAMPLER_DESC("typical_p", "locally typical: keep tokens whose surprise is near the entropy",
                 typical_params, typical_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &typical_desc : NULL;
}
