/* What a loaded deployment computes with: each number format of the main
 * model (weights, activations, KV cache) and the quant plugin that served
 * it, so that `run --stats` and `bench` can say which file and which
 * kernels ran. */
#include <stdlib.h>

#include "api_internal.h"

static const tsr_format_role public_role[] = {
    [TSR_MODEL_FORMAT_WEIGHTS] = TSR_FORMAT_WEIGHTS,
    [TSR_MODEL_FORMAT_ACTIVATIONS] = TSR_FORMAT_ACTIVATIONS,
    [TSR_MODEL_FORMAT_CACHE] = TSR_FORMAT_KV_CACHE,
};

tsr_status tsr_api_describe_formats(tsr_deployment *d, tsr_error *err)
{
    size_t n = tsr_model_formats(d->model, NULL, 0);
    tsr_model_format_use *found = calloc(n + 1, sizeof *found);
    d->formats = calloc(n + 1, sizeof *d->formats);
    if (!found || !d->formats || tsr_model_formats(d->model, found, n) != n) {
        free(found);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const tsr_quant_vtable *q = found[i].q;
        const tsr_ggml_type_info *type = tsr_ggml_type(q->gguf_type);
        /* The registry's copy of the vtable is what the model holds. */
        const tsr_plugin *plugin = tsr_registry_find_quant(d->registry, q->gguf_type);
        const char *kernel = q->kernel_name ? q->kernel_name() : NULL;
        d->formats[i] = (tsr_format_use){
            .struct_size = sizeof(tsr_format_use),
            .role = public_role[found[i].role],
            .gguf_type = q->gguf_type,
            .type_name = type ? type->name : "unknown",
            .n_tensors = found[i].n_tensors,
            .plugin = plugin,
            .kernel = kernel ? kernel : "",
        };
    }
    d->n_formats = n;
    free(found);
    return TSR_OK;
}

size_t tsr_deployment_format_count(const tsr_deployment *d)
{
    return d->n_formats;
}

const tsr_format_use *tsr_deployment_format(const tsr_deployment *d, size_t index)
{
    return index < d->n_formats ? &d->formats[index] : NULL;
}

const char *tsr_format_role_name(tsr_format_role role)
{
    switch (role) {
    case TSR_FORMAT_WEIGHTS: return "weights";
    case TSR_FORMAT_ACTIVATIONS: return "activations";
    case TSR_FORMAT_KV_CACHE: return "kv cache";
    }
    return "unknown";
}
