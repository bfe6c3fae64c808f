/* quant/f16: IEEE half floats (GGUF type 1): weights, the default KV cache
 * (half the bytes of f32, fast both ways), and the activation form of its
 * own products. A "block" is one value:
 *
 *   byte 0               2
 *        +---------------+
 *        | IEEE binary16 |  little-endian: sign, 5 exponent bits, 10 mantissa bits
 *        +---------------+
 *
 * Quantizing rounds to nearest even (overflow to infinity), as F16C and
 * numpy do; dequantizing is exact. Products widen both sides to float. */
#include "common.h"

static void f16_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *h = src;
    for (int64_t i = 0; i < n_elems; i++)
        dst[i] = quant_fp16_to_fp32(quant_load_u16(h + 2 * i));
}

static void f16_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *h = dst;
    for (int64_t i = 0; i < n_elems; i++)
        quant_store_u16(h + 2 * i, quant_fp32_to_fp16(src[i]));
}

static void f16_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                 size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                 int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t c = 0; c < n_cols; c++) {
                float product = quant_fp16_to_fp32(quant_load_u16(w_row + 2 * c)) *
                                quant_fp16_to_fp32(quant_load_u16(x_row + 2 * c));
                sum += product;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

#if defined(__x86_64__)
#define W_BYTES 2
#define X_BYTES 2
#define LOAD_W8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define LOAD_X8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define W_TO_F32(p) quant_fp16_to_fp32_f16c(quant_load_u16(p))
#define X_TO_F32(p) quant_fp16_to_fp32_f16c(quant_load_u16(p))

#define TIER(name) f16_##name##_avx2
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

#define TIER(name) f16_##name##_avx512
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

static QUANT_TARGET_AVX2 void f16_dequantize_avx2(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *h = src;
    int64_t i = 0;
    for (; i + 8 <= n_elems; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 2 * i))));
    for (; i < n_elems; i++)
        dst[i] = quant_fp16_to_fp32_f16c(quant_load_u16(h + 2 * i));
}

static QUANT_TARGET_AVX2 void f16_quantize_avx2(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *h = dst;
    int64_t i = 0;
    for (; i + 8 <= n_elems; i += 8)
        _mm_storeu_si128((__m128i *)(h + 2 * i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n_elems; i++)
        quant_store_u16(h + 2 * i, quant_fp32_to_fp16_f16c(src[i]));
}

static QUANT_TARGET_AVX512 void f16_dequantize_avx512(const void *src, float *dst,
                                                      int64_t n_elems)
{
    const uint8_t *h = src;
    int64_t i = 0;
    for (; i + 16 <= n_elems; i += 16)
        _mm512_storeu_ps(dst + i,
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + 2 * i))));
    for (; i < n_elems; i++)
        dst[i] = quant_fp16_to_fp32_f16c(quant_load_u16(h + 2 * i));
}

static QUANT_TARGET_AVX512 void f16_quantize_avx512(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *h = dst;
    int64_t i = 0;
    for (; i + 16 <= n_elems; i += 16)
        _mm256_storeu_si256((__m256i *)(h + 2 * i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n_elems; i++)
        quant_store_u16(h + 2 * i, quant_fp32_to_fp16_f16c(src[i]));
}

static const quant_kernels f16_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, f16_dequantize_avx2,
                                               f16_quantize_avx2, f16_matmat_avx2};
static const quant_kernels f16_kernels_avx512 = {"avx512", QUANT_ISA_AVX512,
                                                 f16_dequantize_avx512, f16_quantize_avx512,
                                                 f16_matmat_avx512};
#endif

static const quant_kernels f16_kernels_scalar = {"scalar", QUANT_ISA_SCALAR,
                                                 f16_dequantize_scalar, f16_quantize_reference,
                                                 f16_matmat_reference};

static const quant_kernels *const f16_candidates[] = {
#if defined(__x86_64__)
    &f16_kernels_avx512, &f16_kernels_avx2,
#endif
    &f16_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *f16_active = &f16_kernels_scalar;

static tsr_status f16_init(const tsr_host *host, tsr_error *err)
{
    f16_active = quant_pick(f16_candidates, sizeof f16_candidates / sizeof f16_candidates[0],
                            host->cpu_features);
    return TSR_OK;
}

static const char *f16_kernel_name(void)
{
    return f16_active->name;
}

static void f16_dequantize(const void *src, float *dst, int64_t n_elems)
{
    f16_active->dequantize(src, dst, n_elems);
}

static void f16_quantize(const float *src, void *dst, int64_t n_elems)
{
    f16_active->quantize(src, dst, n_elems);
}

static void f16_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                       int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    f16_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void f16_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                       float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                       int64_t row_begin, int64_t row_end)
{
    f16_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                       row_end);
}

static const tsr_quant_vtable f16_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_F16,
    .block_elems = 1,
    .block_bytes = 2,
    .act_gguf_type = QUANT_GGUF_F16,
    .flags = TSR_QUANT_KV_CACHE,
    .init = f16_init,
    .kernel_name = f16_kernel_name,
    .dequantize = f16_dequantize,
    .quantize = f16_quantize,
    .matvec = f16_matvec,
    .matmat = f16_matmat,
    .matmat_reference = f16_matmat_reference,
    .quantize_reference = f16_quantize_reference,
};

static const tsr_plugin_desc f16_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "f16",
    .version = "1.0.0",
    .summary = "IEEE half floats (GGUF F16); weights, KV cache, activations",
    .vtable = &f16_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &f16_desc : NULL;
}
