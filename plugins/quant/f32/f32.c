/* quant/f32: plain 32-bit floats (GGUF type 0): the norm weights of most
 * models, a KV cache without rounding, and the activation form of the
 * formats that multiply floats (f32 itself, bf16). A "block" is one value:
 *
 *   byte 0               4
 *        +---------------+
 *        | IEEE binary32 |  little-endian
 *        +---------------+
 *
 * Dequantizing and quantizing copy bytes; the products multiply and add in
 * float, a row range at a time. */
#include "common.h"

static void f32_copy_out(const void *src, float *dst, int64_t n_elems)
{
    memcpy(dst, src, (size_t)n_elems * sizeof(float));
}

static void f32_copy_in(const float *src, void *dst, int64_t n_elems)
{
    memcpy(dst, src, (size_t)n_elems * sizeof(float));
}

static void f32_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                 size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                 int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t c = 0; c < n_cols; c++) {
                float product = quant_load_f32(w_row + 4 * c) * quant_load_f32(x_row + 4 * c);
                sum += product;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

#if defined(__x86_64__)
#define W_BYTES 4
#define X_BYTES 4
#define LOAD_W8(p) _mm256_loadu_ps((const float *)(const void *)(p))
#define LOAD_X8(p) _mm256_loadu_ps((const float *)(const void *)(p))
#define W_TO_F32(p) quant_load_f32(p)
#define X_TO_F32(p) quant_load_f32(p)

#define TIER(name) f32_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 2
#include "float_tier.h"
#undef TIER
#undef TIER_TARGET
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

#define TIER(name) f32_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "float_tier.h"
#undef TIER
#undef TIER_TARGET
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

static const quant_kernels f32_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, f32_copy_out, f32_copy_in,
                                               f32_matmat_avx2};
static const quant_kernels f32_kernels_avx512 = {"avx512", QUANT_ISA_AVX512, f32_copy_out,
                                                 f32_copy_in, f32_matmat_avx512};
#endif

static const quant_kernels f32_kernels_scalar = {"scalar", QUANT_ISA_SCALAR, f32_copy_out,
                                                 f32_copy_in, f32_matmat_reference};

static const quant_kernels *const f32_candidates[] = {
#if defined(__x86_64__)
    &f32_kernels_avx512, &f32_kernels_avx2,
#endif
    &f32_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *f32_active = &f32_kernels_scalar;

static tsr_status f32_init(const tsr_host *host, tsr_error *err)
{
    f32_active = quant_pick(f32_candidates, sizeof f32_candidates / sizeof f32_candidates[0],
                            host->cpu_features);
    return TSR_OK;
}

static const char *f32_kernel_name(void)
{
    return f32_active->name;
}

static void f32_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                       int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    f32_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void f32_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                       float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                       int64_t row_begin, int64_t row_end)
{
    f32_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                       row_end);
}

static const tsr_quant_vtable f32_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_F32,
    .block_elems = 1,
    .block_bytes = 4,
    .act_gguf_type = QUANT_GGUF_F32,
    .flags = TSR_QUANT_KV_CACHE,
    .init = f32_init,
    .kernel_name = f32_kernel_name,
    .dequantize = f32_copy_out,
    .quantize = f32_copy_in,
    .matvec = f32_matvec,
    .matmat = f32_matmat,
    .matmat_reference = f32_matmat_reference,
    .quantize_reference = f32_copy_in,
};

static const tsr_plugin_desc f32_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "f32",
    .version = "1.0.0",
    .summary = "32-bit floats (GGUF F32); weights, KV cache, activations",
    .vtable = &f32_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &f32_desc : NULL;
}
