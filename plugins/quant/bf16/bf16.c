/* quant/bf16: bfloat16 (GGUF type 30), the top half of a float: weights as
 * many models ship them, and a KV cache. A "block" is one value:
 *
 *   byte 0               2
 *        +---------------+
 *        |   bfloat16    |  little-endian: sign, 8 exponent bits, 7 mantissa bits
 *        +---------------+
 *
 * Quantizing rounds to nearest even and keeps NaNs quiet NaNs (ggml's and
 * the gguf package's rule); dequantizing is exact. Products take float
 * activations (f32), so only the weights are rounded. */
#include "common.h"

static void bf16_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *h = src;
    for (int64_t i = 0; i < n_elems; i++)
        dst[i] = quant_bf16_to_fp32(quant_load_u16(h + 2 * i));
}

static void bf16_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *h = dst;
    for (int64_t i = 0; i < n_elems; i++)
        quant_store_u16(h + 2 * i, quant_fp32_to_bf16(src[i]));
}

static void bf16_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t c = 0; c < n_cols; c++) {
                float product = quant_bf16_to_fp32(quant_load_u16(w_row + 2 * c)) *
                                quant_load_f32(x_row + 4 * c);
                sum += product;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

#if defined(__x86_64__)
/* 8 bfloat16 at p, widened: each becomes the top half of a float. */
QUANT_INLINE QUANT_TARGET_AVX2 __m256 bf16_load8(const void *p)
{
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

#define W_BYTES 2
#define X_BYTES 4
#define LOAD_W8(p) bf16_load8(p)
#define LOAD_X8(p) _mm256_loadu_ps((const float *)(const void *)(p))
#define W_TO_F32(p) quant_bf16_to_fp32(quant_load_u16(p))
#define X_TO_F32(p) quant_load_f32(p)

#define TIER(name) bf16_##name##_avx2
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

#define TIER(name) bf16_##name##_avx512
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

static QUANT_TARGET_AVX2 void bf16_dequantize_avx2(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *h = src;
    int64_t i = 0;
    for (; i + 8 <= n_elems; i += 8)
        _mm256_storeu_ps(dst + i, bf16_load8(h + 2 * i));
    for (; i < n_elems; i++)
        dst[i] = quant_bf16_to_fp32(quant_load_u16(h + 2 * i));
}

/* quant_fp32_to_bf16 on 8 lanes: round to nearest even, NaN made quiet. */
static QUANT_TARGET_AVX2 void bf16_quantize_avx2(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *h = dst;
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    const __m256i infinity = _mm256_set1_epi32(0x7f800000);
    int64_t i = 0;
    for (; i + 8 <= n_elems; i += 8) {
        __m256i bits = _mm256_castps_si256(_mm256_loadu_ps(src + i));
        __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(bits, abs_mask), infinity);
        __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
        __m256i rounded = _mm256_srli_epi32(
            _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
        __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
        __m256i halves = _mm256_blendv_epi8(rounded, quiet, is_nan);
        /* 8 x uint32 (each < 2^16) -> 8 x uint16 */
        __m256i packed = _mm256_packus_epi32(halves, halves);
        packed = _mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0));
        _mm_storeu_si128((__m128i *)(h + 2 * i), _mm256_castsi256_si128(packed));
    }
    for (; i < n_elems; i++)
        quant_store_u16(h + 2 * i, quant_fp32_to_bf16(src[i]));
}

static const quant_kernels bf16_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, bf16_dequantize_avx2,
                                                bf16_quantize_avx2, bf16_matmat_avx2};
static const quant_kernels bf16_kernels_avx512 = {"avx512", QUANT_ISA_AVX512,
                                                  bf16_dequantize_avx2, bf16_quantize_avx2,
                                                  bf16_matmat_avx512};
#endif

static const quant_kernels bf16_kernels_scalar = {"scalar", QUANT_ISA_SCALAR,
                                                  bf16_dequantize_scalar,
                                                  bf16_quantize_reference, bf16_matmat_reference};

static const quant_kernels *const bf16_candidates[] = {
#if defined(__x86_64__)
    &bf16_kernels_avx512, &bf16_kernels_avx2,
#endif
    &bf16_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *bf16_active = &bf16_kernels_scalar;

static tsr_status bf16_init(const tsr_host *host, tsr_error *err)
{
    bf16_active = quant_pick(bf16_candidates, sizeof bf16_candidates / sizeof bf16_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *bf16_kernel_name(void)
{
    return bf16_active->name;
}

static void bf16_dequantize(const void *src, float *dst, int64_t n_elems)
{
    bf16_active->dequantize(src, dst, n_elems);
}

static void bf16_quantize(const float *src, void *dst, int64_t n_elems)
{
    bf16_active->quantize(src, dst, n_elems);
}

static void bf16_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    bf16_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void bf16_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    bf16_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable bf16_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_BF16,
    .block_elems = 1,
    .block_bytes = 2,
    .act_gguf_type = QUANT_GGUF_F32,
    .flags = TSR_QUANT_KV_CACHE,
    .init = bf16_init,
    .kernel_name = bf16_kernel_name,
    .dequantize = bf16_dequantize,
    .quantize = bf16_quantize,
    .matvec = bf16_matvec,
    .matmat = bf16_matmat,
    .matmat_reference = bf16_matmat_reference,
    .quantize_reference = bf16_quantize_reference,
};

static const tsr_plugin_desc bf16_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "bf16",
    .version = "1.0.0",
    .summary = "bfloat16 (GGUF BF16); weights and KV cache, products against f32",
    .vtable = &bf16_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &bf16_desc : NULL;
}
