/* sampler/top_n_sigma (Tang et al. 2024, "Top-nσ"): keeps the candidates whose
 * logit is within n standard deviations of the largest, logit >= max - n*σ,
 * with the mean and (population) standard deviation taken over the finite
 * logits. Dividing logits by a temperature scales max and σ alike, so the
 * kept set does not depend on temperature. Survivors keep their order. n = 0
 * changes nothing. */
#include <math.h>

#include "../sampler_util.h"

typedef struct top_n_sigma_state {
    const tsr_host *host;
    double n;
} top_n_sigma_state;

static const tsr_param_desc top_n_sigma_params[] = {
    SAMPLER_FLOAT("n", 0, 100, 1.0,
                  "keep tokens with logit >= max - n * stddev(logits); 0 = off"),
};

static tsr_status top_n_sigma_create(const tsr_host *host, const tsr_param_value *params,
                                     const tsr_sampler_init *init, void **state, tsr_error *err)
{
    top_n_sigma_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->n = params[0].number;
    *state = s;
    return TSR_OK;
}

static void top_n_sigma_destroy(void *state)
{
    top_n_sigma_state *s = state;
    s->host->free(s);
}

static bool taken(float logit) /* -inf (a banned token) is left out */
{
    return logit != -INFINITY;
}

/* Sum, count and maximum of the finite logits. Four lanes of sums, so that a
 * whole vocabulary does not wait on one chain of dependent additions. */
static double finite_sum(const tsr_candidates *cands, size_t *count, float *max)
{
    double sum[4] = {0, 0, 0, 0};
    size_t n = 0;
    float top = -INFINITY;
    for (size_t i = 0; i < cands->size; i++) {
        float x = cands->data[i].logit;
        if (!taken(x))
            continue;
        sum[i % 4] += x;
        n++;
        top = x > top ? x : top;
    }
    *count = n;
    *max = top;
    return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

/* Sum of the finite logits' squared distances from mean, in four lanes. */
static double finite_squares(const tsr_candidates *cands, double mean)
{
    double sum[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < cands->size; i++) {
        float x = cands->data[i].logit;
        if (taken(x))
            sum[i % 4] += (x - mean) * (x - mean);
    }
    return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

static tsr_status top_n_sigma_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    top_n_sigma_state *s = state;
    if (s->n <= 0.0 || cands->size <= 1)
        return TSR_OK;
    size_t count;
    float max;
    double mean = finite_sum(cands, &count, &max);
    if (count == 0)
        return TSR_OK;
    mean /= (double)count;
    double threshold = max - s->n * sqrt(finite_squares(cands, mean) / (double)count);
    /* Branch-free: every candidate is written, the kept ones advance. */
    size_t kept = 0;
    for (size_t i = 0; i < cands->size; i++) {
        cands->data[kept] = cands->data[i];
        kept += cands->data[i].logit >= threshold;
    }
    cands->size = kept;
    return TSR_OK;
}

static const tsr_sampler_vtable top_n_sigma_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = top_n_sigma_create,
    .destroy = top_n_sigma_destroy,
    .apply = top_n_sigma_apply,
};

static const tsr_plugin_desc top_n_sigma_desc =
    SAMPLER_DESC("top_n_sigma", "keep tokens within n standard deviations of the best logit",
                 top_n_sigma_params, top_n_sigma_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &top_n_sigma_desc : NULL;
}
