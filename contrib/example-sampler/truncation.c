/* An out-of-tree tessera sampler plugin: eta and epsilon truncation (Hewitt,
 * Manning and Liang, "Truncation Sampling as Language Model Desmoothing",
 * 2022), the `eta_cutoff` and `epsilon_cutoff` of Hugging Face transformers
 * and text-generation-webui. Both cut the long tail of unlikely tokens that a
 * smoothed model spreads probability over, by an absolute probability floor
 * rather than a rank (top_k) or a mass (top_p):
 *
 *   epsilon_cutoff  keeps tokens with p >= epsilon;
 *   eta_cutoff      keeps tokens with p >= min(eta, sqrt(eta) * exp(-H)),
 *                   H the entropy of the distribution in nats, so the floor
 *                   drops when the model is unsure and many tokens are
 *                   plausible.
 *
 * p = softmax(logit) over the candidates as they come in; survivors keep
 * their order; at least min_keep (the most likely) always survive.
 *
 * One shared object carrying two plugins, built with nothing but the
 * installed header: `cc $(pkg-config --cflags tessera) -shared -fPIC`. It
 * exports exactly tsr_plugin_entry and talks to tessera only through the host
 * table it is handed. */
#include <math.h>
#include <string.h>

#include <tessera/plugin.h>

typedef struct cutoff_state {
    const tsr_host *host;
    double level;      /* epsilon or eta */
    bool by_entropy;   /* eta_cutoff */
    size_t min_keep;
} cutoff_state;

static const tsr_param_desc epsilon_params[] = {
    {.name = "epsilon", .type = TSR_PARAM_FLOAT, .min = 0, .max = 1, .default_number = 3e-4,
     .doc = "keep tokens with probability >= epsilon; the paper suggests 3e-4 to 9e-4"},
    {.name = "min_keep", .type = TSR_PARAM_INT, .min = 1, .max = 1e9, .default_number = 1,
     .doc = "keep at least this many of the most likely tokens"},
};

static const tsr_param_desc eta_params[] = {
    {.name = "eta", .type = TSR_PARAM_FLOAT, .min = 0, .max = 1, .default_number = 9e-4,
     .doc = "floor min(eta, sqrt(eta) * exp(-entropy)); the paper suggests 3e-4 to 2e-3"},
    {.name = "min_keep", .type = TSR_PARAM_INT, .min = 1, .max = 1e9, .default_number = 1,
     .doc = "keep at least this many of the most likely tokens"},
};

static tsr_status cutoff_create(const tsr_host *host, const tsr_param_value *params,
                                bool by_entropy, void **state, tsr_error *err)
{
    cutoff_state *s = host->alloc(sizeof *s);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "out of memory");
    memset(s, 0, sizeof *s);
    s->host = host;
    s->level = params[0].number;
    s->by_entropy = by_entropy;
    s->min_keep = (size_t)params[1].integer;
    *state = s;
    return TSR_OK;
}

static tsr_status epsilon_create(const tsr_host *host, const tsr_param_value *params,
                                 const tsr_sampler_init *init, void **state, tsr_error *err)
{
    (void)init;
    return cutoff_create(host, params, false, state, err);
}

static tsr_status eta_create(const tsr_host *host, const tsr_param_value *params,
                             const tsr_sampler_init *init, void **state, tsr_error *err)
{
    (void)init;
    return cutoff_create(host, params, true, state, err);
}

static void cutoff_destroy(void *state)
{
    cutoff_state *s = state;
    s->host->free(s);
}

static tsr_status cutoff_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    (void)err; /* no input is impossible here */
    cutoff_state *s = state;
    if (s->level <= 0.0 || cands->size <= s->min_keep)
        return TSR_OK;
    s->host->candidates_softmax(cands);
    double floor_p = s->level;
    if (s->by_entropy) {
        double entropy = 0.0;
        for (size_t i = 0; i < cands->size; i++) {
            double p = cands->data[i].p;
            if (p > 0.0)
                entropy -= p * log(p);
        }
        floor_p = fmin(s->level, sqrt(s->level) * exp(-entropy));
    }
    size_t passing = 0;
    for (size_t i = 0; i < cands->size; i++)
        passing += cands->data[i].p >= floor_p;
    if (passing < s->min_keep) {
        /* The most likely min_keep, however unlikely they are. */
        s->host->candidates_partial_sort(cands, s->min_keep);
        cands->size = s->min_keep;
        cands->sorted = true;
        return TSR_OK;
    }
    size_t kept = 0;
    for (size_t i = 0; i < cands->size; i++)
        if (cands->data[i].p >= floor_p)
            cands->data[kept++] = cands->data[i];
    cands->size = kept;
    return TSR_OK;
}

static const tsr_sampler_vtable epsilon_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = epsilon_create,
    .destroy = cutoff_destroy,
    .apply = cutoff_apply,
};

static const tsr_sampler_vtable eta_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = eta_create,
    .destroy = cutoff_destroy,
    .apply = cutoff_apply,
};

static const tsr_plugin_desc plugins[] = {
    {.abi = TSR_ABI_INIT(tsr_plugin_desc),
     .kind = TSR_PLUGIN_SAMPLER,
     .name = "epsilon_cutoff",
     .version = "1.0.0",
     .summary = "cut tokens less likely than epsilon (truncation sampling)",
     .params = epsilon_params,
     .n_params = sizeof epsilon_params / sizeof epsilon_params[0],
     .vtable = &epsilon_vtable},
    {.abi = TSR_ABI_INIT(tsr_plugin_desc),
     .kind = TSR_PLUGIN_SAMPLER,
     .name = "eta_cutoff",
     .version = "1.0.0",
     .summary = "cut tokens below an entropy-dependent floor (eta sampling)",
     .params = eta_params,
     .n_params = sizeof eta_params / sizeof eta_params[0],
     .vtable = &eta_vtable},
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index < sizeof plugins / sizeof plugins[0] ? &plugins[index] : NULL;
}
