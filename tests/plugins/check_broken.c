/* Plugins that load but break the contract, one per check that must catch
 * it (tests/plugin-check.sh): `tessera plugin check` has to fail each. The
 * build compiles this file once per case with -DCHECK_BROKEN_<CASE>. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tessera/plugin.h"

#if defined(CHECK_BROKEN_QUANT)
/* A 32-float block format (a private GGUF type) computing with f32
 * activations, whose fast matmat adds a small error the reference lacks. */
enum { ELEMS = 32 };
static void copy_dequantize(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static void copy_quantize(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static void reference(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                      float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                      int64_t row_begin, int64_t row_end)
{
    for (int64_t t = 0; t < n_tokens; t++)
        for (int64_t r = row_begin; r < row_end; r++) {
            const float *wr = (const float *)((const char *)w + (size_t)r * w_row_bytes);
            const float *xt = (const float *)((const char *)x + (size_t)t * x_row_bytes);
            float sum = 0;
            for (int64_t i = 0; i < n_cols; i++)
                sum += wr[i] * xt[i];
            y[(size_t)t * y_stride + (size_t)r] = sum;
        }
}
static void off_by_a_bit(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                         float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                         int64_t row_begin, int64_t row_end)
{
    reference(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin, row_end);
    y[(size_t)row_begin] += 0.5f;
}
static void matvec(const void *w, size_t w_row_bytes, const void *x, float *y, int64_t n_cols,
                   int64_t row_begin, int64_t row_end)
{
    reference(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}
static const tsr_quant_vtable vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = 9201,
    .block_elems = ELEMS,
    .block_bytes = ELEMS * sizeof(float),
    .act_gguf_type = 0, /* f32 */
    .dequantize = copy_dequantize,
    .quantize = copy_quantize,
    .quantize_reference = copy_quantize,
    .matvec = matvec,
    .matmat = off_by_a_bit,
    .matmat_reference = reference,
};
#define KIND TSR_PLUGIN_QUANT
#define NAME "check_broken_quant"

#elif defined(CHECK_BROKEN_ABORT)
/* Gives up on the spot: a plugin must never abort (plugin.h: errors are
 * values). The checker reports it and goes on to say so. */
#include <stdlib.h>
static void dequantize_and_abort(const void *src, float *dst, int64_t n)
{
    abort();
}
static const tsr_quant_vtable vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = 9202,
    .block_elems = 32,
    .block_bytes = 32 * sizeof(float),
    .act_gguf_type = 0,
    .flags = TSR_QUANT_ACTIVATION,
    .dequantize = dequantize_and_abort,
};
#define KIND TSR_PLUGIN_QUANT
#define NAME "check_broken_abort"

#elif defined(CHECK_BROKEN_F32)
/* Claims GGUF's f32 but stores every value negated: consistent with itself
 * (its round trips and products pass), wrong against the installed f32. */
static void negated_dequantize(const void *src, float *dst, int64_t n)
{
    const float *x = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = -x[i];
}
static void negated_quantize(const float *src, void *dst, int64_t n)
{
    float *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = -src[i];
}
static void negated_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                           float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                           int64_t row_begin, int64_t row_end)
{
    for (int64_t t = 0; t < n_tokens; t++)
        for (int64_t r = row_begin; r < row_end; r++) {
            const float *wr = (const float *)((const char *)w + (size_t)r * w_row_bytes);
            const float *xt = (const float *)((const char *)x + (size_t)t * x_row_bytes);
            float sum = 0;
            for (int64_t i = 0; i < n_cols; i++)
                sum += wr[i] * xt[i]; /* (-w) * (-x) */
            y[(size_t)t * y_stride + (size_t)r] = sum;
        }
}
static void negated_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                           int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    negated_matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}
static const tsr_quant_vtable vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = 0,
    .block_elems = 1,
    .block_bytes = 4,
    .act_gguf_type = 0, /* itself */
    .dequantize = negated_dequantize,
    .quantize = negated_quantize,
    .quantize_reference = negated_quantize,
    .matvec = negated_matvec,
    .matmat = negated_matmat,
    .matmat_reference = negated_matmat,
};
#define KIND TSR_PLUGIN_QUANT
#define NAME "check_broken_f32"

#elif defined(CHECK_BROKEN_SAMPLER)
/* Claims the array is sorted without sorting it. */
static tsr_status create(const tsr_host *host, const tsr_param_value *params,
                         const tsr_sampler_init *init, void **state, tsr_error *err)
{
    *state = NULL;
    return TSR_OK;
}
static void destroy(void *state) {}
static tsr_status apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    cands->sorted = true;
    return TSR_OK;
}
static const tsr_sampler_vtable vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = create,
    .destroy = destroy,
    .apply = apply,
};
#define KIND TSR_PLUGIN_SAMPLER
#define NAME "check_broken_sampler"

#elif defined(CHECK_BROKEN_ALLOC)
/* One device that counts, but refuses in words of its own. */
static uint64_t in_use, peak;
static int dummy[4096];
static tsr_status open_(const tsr_host *host, const tsr_alloc_config *config, void **state,
                        tsr_error *err)
{
    *state = dummy;
    return TSR_OK;
}
static void close_(void *state) {}
static uint32_t count(void *state)
{
    return 1;
}
static tsr_status info_(void *state, uint32_t device, tsr_device_info *info, tsr_error *err)
{
    if (device != 0)
        return TSR_ERR_NOT_FOUND;
    snprintf(info->name, sizeof info->name, "tiny0");
    info->capacity_bytes = info->free_bytes = (uint64_t)1 << 20;
    return TSR_OK;
}
static tsr_status reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                          void **arena, tsr_error *err)
{
    if (align == 0 || (align & (align - 1)))
        return TSR_ERR_INVALID;
    if (in_use + bytes > ((uint64_t)1 << 20))
        return TSR_ERR_NOMEM; /* and no message: the shared words are missing */
    in_use += bytes;
    peak = in_use > peak ? in_use : peak;
    *arena = (void *)(((uintptr_t)dummy + 4095) & ~(uintptr_t)4095);
    return TSR_OK;
}
static void release(void *state, uint32_t device, void *arena)
{
    in_use = 0;
}
static uint64_t used(void *state, uint32_t device)
{
    return in_use;
}
static uint64_t peak_(void *state, uint32_t device)
{
    return peak;
}
static const tsr_alloc_vtable vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = open_,
    .close = close_,
    .device_count = count,
    .device_info = info_,
    .reserve = reserve,
    .release = release,
    .bytes_in_use = used,
    .peak_bytes = peak_,
};
#define KIND TSR_PLUGIN_ALLOC
#define NAME "check_broken_alloc"
#endif

static const tsr_plugin_desc desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = KIND,
    .name = NAME,
    .version = "0.0.1",
    .summary = "breaks the contract for tessera plugin check's tests",
    .vtable = &vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
