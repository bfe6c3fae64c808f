/* Which tensor of a model file holds a NaN or an Inf.
 *
 * Generation stops when a step's logits are not finite (core/api/generate.c);
 * the step alone does not say where the value came from. Asked after that
 * error, this reads every tensor of the file through its quant plugin's
 * dequantize, row by row, and names the first one holding a non-finite
 * value: its name carries the layer ("blk.3.ffn_up.weight"). A second or
 * so for a small model, and only on that error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"
#include "loader.h"

/* The first non-finite value of one tensor: its index, or -1. */
static int64_t first_nonfinite(const tsr_gguf_tensor *t, const tsr_quant_vtable *q, float *row)
{
    int64_t row_elems = (int64_t)t->dims[0];
    uint64_t rows = t->n_elems / t->dims[0];
    uint64_t row_bytes = t->n_bytes / rows;
    for (uint64_t r = 0; r < rows; r++) {
        q->dequantize((const char *)t->data + r * row_bytes, row, row_elems);
        for (int64_t i = 0; i < row_elems; i++)
            if (!isfinite(row[i]))
                return (int64_t)r * row_elems + i;
    }
    return -1;
}

bool tsr_deployment_find_nonfinite(const tsr_deployment *d, char *out, size_t out_bytes)
{
    const tsr_gguf *gguf = d->gguf;
    const tsr_registry *registry = d->registry;
    for (uint64_t k = 0; k < tsr_gguf_tensor_count(gguf); k++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(gguf, k);
        const tsr_plugin *plugin = tsr_registry_find_quant(registry, t->type);
        const tsr_quant_vtable *q = plugin ? tsr_plugin_quant(plugin) : NULL;
        if (!q || !q->dequantize || !t->data || t->dims[0] % q->block_elems != 0)
            continue;
        float *row = malloc(t->dims[0] * sizeof *row);
        if (!row)
            return false;
        int64_t at = first_nonfinite(t, q, row);
        free(row);
        if (at >= 0) {
            snprintf(out, out_bytes, "%s: tensor %s holds non-finite values (the first at "
                     "element %lld)", tsr_gguf_path(gguf), t->name, (long long)at);
            return true;
        }
    }
    return false;
}
