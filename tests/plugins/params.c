/* Plugins for the profile's tests: one of each kind, with a parameter of
 * every declared type, so validation can be exercised without depending on
 * which real samplers, strategies and formats exist. Names start with test_
 * so they never clash with real plugins. */
#include <stdio.h>
#include <string.h>

#include "tessera/plugin.h"

/* ---- samplers ----------------------------------------------------------- */

static tsr_status sampler_create(const tsr_host *host, const tsr_param_value *params,
                                 const tsr_sampler_init *init, void **state, tsr_error *err)
{
    *state = NULL;
    return TSR_OK;
}
static void sampler_destroy(void *state)
{
}
static tsr_status sampler_keep(void *state, tsr_candidates *cands, tsr_error *err)
{
    return TSR_OK;
}
static tsr_status sampler_first(void *state, tsr_candidates *cands, tsr_error *err)
{
    cands->selected = cands->size ? 0 : -1;
    return TSR_OK;
}

static const tsr_sampler_vtable params_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = sampler_create,
    .destroy = sampler_destroy,
    .apply = sampler_keep,
};
static const tsr_sampler_vtable choose_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .flags = TSR_SAMPLER_CHOOSES,
    .create = sampler_create,
    .destroy = sampler_destroy,
    .apply = sampler_first,
};

static const char *const modes[] = {"fast", "exact", NULL};
static const char *const default_breakers[] = {"\n", ":", NULL};
static const tsr_param_desc test_params[] = {
    {.name = "k",
     .type = TSR_PARAM_INT,
     .min = 1,
     .max = 1000,
     .default_number = 40,
     .doc = "an integer in [1, 1000]"},
    {.name = "p",
     .type = TSR_PARAM_FLOAT,
     .min = 0,
     .max = 1,
     .default_number = 0.9,
     .doc = "a probability"},
    {.name = "enabled", .type = TSR_PARAM_BOOL, .default_number = 1, .doc = "a switch"},
    {.name = "mode",
     .type = TSR_PARAM_STRING,
     .default_string = "fast",
     .choices = modes,
     .doc = "fast or exact"},
    {.name = "breakers",
     .type = TSR_PARAM_STRING_LIST,
     .default_list = default_breakers,
     .doc = "strings"},
    {.name = "bias", .type = TSR_PARAM_FLOAT_MAP, .doc = "token id -> logit offset"},
};

/* ---- speculative strategies --------------------------------------------- */

static tsr_status spec_create(const tsr_host *host, const tsr_param_value *params,
                              const tsr_spec_init *init, void **state, tsr_error *err)
{
    *state = NULL;
    return TSR_OK;
}
static void spec_destroy(void *state)
{
}
static tsr_status spec_propose(void *state, const int32_t *history, size_t n_history, int32_t *out,
                               size_t max_out, size_t *n_out, tsr_error *err)
{
    *n_out = 0;
    return TSR_OK;
}

static const tsr_spec_vtable spec_draft_vtable = {
    .abi = TSR_ABI_INIT(tsr_spec_vtable),
    .flags = TSR_SPEC_NEEDS_DRAFT,
    .create = spec_create,
    .destroy = spec_destroy,
    .propose = spec_propose,
};
static const tsr_spec_vtable spec_alone_vtable = {
    .abi = TSR_ABI_INIT(tsr_spec_vtable),
    .create = spec_create,
    .destroy = spec_destroy,
    .propose = spec_propose,
};
static const tsr_param_desc spec_params[] = {
    {.name = "n_min",
     .type = TSR_PARAM_INT,
     .min = 0,
     .max = 16,
     .default_number = 2,
     .doc = "fewest tokens worth proposing"},
    {.name = "p_min",
     .type = TSR_PARAM_FLOAT,
     .min = 0,
     .max = 1,
     .default_number = 0.5,
     .doc = "least draft probability"},
};

/* ---- number formats ----------------------------------------------------- */

static void quant_dequantize(const void *src, float *dst, int64_t n)
{
}
static void quant_quantize(const float *src, void *dst, int64_t n)
{
}
static void quant_matvec(const void *w, size_t w_row_bytes, const void *x, float *y, int64_t n_cols,
                         int64_t row_begin, int64_t row_end)
{
}
static void quant_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                         float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                         int64_t row_begin, int64_t row_end)
{
}

/* GGUF type ids far past the real ones, so they claim nothing real. */
static const tsr_quant_vtable kv_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = 9000,
    .block_elems = 32,
    .block_bytes = 34,
    .act_gguf_type = 9000,
    .flags = TSR_QUANT_KV_CACHE,
    .dequantize = quant_dequantize,
    .quantize = quant_quantize,
    .matvec = quant_matvec,
    .matmat = quant_matmat,
    .matmat_reference = quant_matmat,
    .quantize_reference = quant_quantize,
};
static const tsr_quant_vtable weights_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = 9001,
    .block_elems = 256,
    .block_bytes = 144,
    .act_gguf_type = 9000,
    .dequantize = quant_dequantize,
    .matvec = quant_matvec,
    .matmat = quant_matmat,
    .matmat_reference = quant_matmat,
};

/* ---- devices ------------------------------------------------------------ */

/* Declared parameters (ABI 1.1): how many devices and what their names
 * start with, so a test sees the validated devices.options reach open. */
static const tsr_param_desc alloc_params[] = {
    {.name = "devices", .type = TSR_PARAM_INT, .min = 1, .max = 8, .default_number = 3,
     .doc = "how many devices to offer"},
    {.name = "prefix", .type = TSR_PARAM_STRING, .default_string = "t",
     .doc = "the start of every device's name"},
};
static struct {
    uint32_t n_devices;
    char prefix[32];
} alloc_state;

static tsr_status alloc_open(const tsr_host *host, const tsr_alloc_config *config, void **state,
                             tsr_error *err)
{
    /* Not a simulating allocator: devices.sim must never reach it. */
    if (config && config->sim_capacities)
        return host->error_set(err, TSR_ERR_INVALID, "test_alloc was handed devices.sim");
    if (!config || !TSR_COVERS(config->struct_size, tsr_alloc_config, n_params) ||
        config->n_params != 2 || !config->params)
        return host->error_set(err, TSR_ERR_INVALID, "test_alloc got no parameters");
    alloc_state.n_devices = (uint32_t)config->params[0].integer;
    const char *prefix = config->params[1].string ? config->params[1].string : "";
    snprintf(alloc_state.prefix, sizeof alloc_state.prefix, "%s", prefix);
    *state = &alloc_state;
    return TSR_OK;
}
static void alloc_close(void *state)
{
}
static uint32_t alloc_device_count(void *state)
{
    return alloc_state.n_devices;
}
static tsr_status alloc_device_info(void *state, uint32_t device, tsr_device_info *info,
                                    tsr_error *err)
{
    snprintf(info->name, sizeof info->name, "%s%u", alloc_state.prefix, device);
    info->capacity_bytes = info->free_bytes = (uint64_t)8 << 30;
    return TSR_OK;
}
static tsr_status alloc_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                                void **arena, tsr_error *err)
{
    return TSR_ERR_NOMEM;
}
static void alloc_release(void *state, uint32_t device, void *arena)
{
}
static uint64_t alloc_bytes(void *state, uint32_t device)
{
    return 0;
}

static const tsr_alloc_vtable alloc_vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = alloc_open,
    .close = alloc_close,
    .device_count = alloc_device_count,
    .device_info = alloc_device_info,
    .reserve = alloc_reserve,
    .release = alloc_release,
    .bytes_in_use = alloc_bytes,
    .peak_bytes = alloc_bytes,
};

/* ---- the descriptors ---------------------------------------------------- */

#define DESC(kind_, name_, params_, n_params_, vtable_)                                            \
    {                                                                                              \
        .abi = TSR_ABI_INIT(tsr_plugin_desc), .kind = kind_, .name = name_, .version = "0.0.1",    \
        .summary = "a plugin for the profile's tests", .params = params_, .n_params = n_params_,   \
        .vtable = vtable_                                                                          \
    }

static const tsr_plugin_desc descs[] = {
    DESC(TSR_PLUGIN_SAMPLER, "test_params", test_params, 6, &params_vtable),
    DESC(TSR_PLUGIN_SAMPLER, "test_choose", NULL, 0, &choose_vtable),
    DESC(TSR_PLUGIN_SPEC, "test_spec_draft", spec_params, 2, &spec_draft_vtable),
    DESC(TSR_PLUGIN_SPEC, "test_spec_alone", NULL, 0, &spec_alone_vtable),
    DESC(TSR_PLUGIN_QUANT, "test_kv", NULL, 0, &kv_vtable),
    DESC(TSR_PLUGIN_QUANT, "test_weights", NULL, 0, &weights_vtable),
    DESC(TSR_PLUGIN_ALLOC, "test_alloc", alloc_params, 2, &alloc_vtable),
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index < sizeof descs / sizeof descs[0] ? &descs[index] : NULL;
}
