/* sampler/temperature: divides every logit by the temperature T (T < 1
 * sharpens the distribution, T > 1 flattens it); T = 0 keeps only the most
 * likely token. With dynamic_range > 0 the temperature follows the entropy of
 * the candidates (llama.cpp's dynamic temperature): with H the entropy of
 * softmax(logits) over n candidates,
 *     T = T_min + (T_max - T_min) * (H / ln n) ^ exponent,
 * T_min = max(0, temperature - dynamic_range), T_max = temperature +
 * dynamic_range: confident steps get a low temperature, uncertain ones a high
 * one. */
#include <math.h>

#include "../sampler_util.h"

typedef struct temperature_state {
    const tsr_host *host;
    double temperature, dynamic_range, exponent;
} temperature_state;

static const tsr_param_desc temperature_params[] = {
    SAMPLER_FLOAT("temperature", 0, 100, 0.8,
                  "divide logits by this; below 1 sharpens, above 1 flattens, 0 keeps only "
                  "the most likely token"),
    SAMPLER_FLOAT("dynamic_range", 0, 100, 0,
                  "dynamic temperature: T moves within temperature +- this with the "
                  "candidates' entropy; 0 = fixed temperature"),
    SAMPLER_FLOAT("exponent", 0, 100, 1,
                  "dynamic temperature: the normalized entropy is raised to this power "
                  "before it is mapped to a temperature"),
};

static tsr_status temperature_create(const tsr_host *host, const tsr_param_value *params,
                                     const tsr_sampler_init *init, void **state, tsr_error *err)
{
    temperature_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->temperature = params[0].number;
    s->dynamic_range = params[1].number;
    s->exponent = params[2].number;
    *state = s;
    return TSR_OK;
}

static void temperature_destroy(void *state)
{
    temperature_state *s = state;
    s->host->free(s);
}

/* The entropy-driven temperature for these candidates (size >= 2). */
static double dynamic_temperature(const temperature_state *s, tsr_candidates *cands)
{
    double low = fmax(0.0, s->temperature - s->dynamic_range);
    double high = s->temperature + s->dynamic_range;
    s->host->candidates_softmax(cands);
    double entropy = 0.0;
    for (size_t i = 0; i < cands->size; i++) {
        double p = cands->data[i].p;
        if (p > 0.0)
            entropy -= p * log(p);
    }
    double normalized = entropy / log((double)cands->size);
    return low + (high - low) * pow(normalized, s->exponent);
}

static tsr_status temperature_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    temperature_state *s = state;
    double t = s->temperature;
    if (s->dynamic_range > 0.0) {
        if (cands->size <= 1)
            return TSR_OK;
        t = dynamic_temperature(s, cands);
    }
    if (t <= 0.0) {
        /* The limit of T -> 0: all the probability on the best token. */
        cands->data[0] = cands->data[sampler_argmax(cands)];
        cands->size = 1;
        cands->sorted = true;
        return TSR_OK;
    }
    if (t == 1.0)
        return TSR_OK;
    float scale = (float)(1.0 / t);
    for (size_t i = 0; i < cands->size; i++)
        cands->data[i].logit *= scale;
    return TSR_OK; /* dividing by T > 0 keeps the order, so sorted stays true */
}

static const tsr_sampler_vtable temperature_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = temperature_create,
    .destroy = temperature_destroy,
    .apply = temperature_apply,
};

static const tsr_plugin_desc temperature_desc =
    SAMPLER_DESC("temperature", "scale logits by 1/T, optionally with entropy-driven dynamic T",
                 temperature_params, temperature_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &temperature_desc : NULL;
}
