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
 * activations (f32); only the weights are rounded, except on AVX512-BF16,
 * whose products round the activations to bfloat16 too (as ggml's do; see
 * bf16_matmat_avx512bf16). */
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

#if QUANT_X86
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

/* AVX512-BF16: vdpbf16ps multiplies pairs of bfloat16 and adds both
 * products into a float lane, 32 values per instruction. The activations
 * are rounded to bfloat16 on the way in (nearest even, as ggml's bf16
 * products round theirs), 32 columns at a time from the float row, so the
 * result differs from the f32 paths by at most 2^-9 of sum |w x| (each
 * activation moves by at most half an ulp of its 8 significant bits) plus
 * the summation's rounding; vdpbf16ps also treats subnormal inputs and
 * results as zero. Every (row, token) adds its 32-column steps in column
 * order, the last partial step through masked loads (zeros beyond n_cols),
 * and sums its 16 lanes in one fixed order: matvec and every tile shape of
 * matmat give the same bits. */
#define BF16_DOT_ROWS 4
#define BF16_DOT_TOKENS 4

/* 32 activations at p (n of them, the rest zero) as bfloat16. */
QUANT_INLINE QUANT_TARGET_AVX512BF16 __m512bh bf16_dot_load_x(const uint8_t *p, int64_t n)
{
    const float *f = (const float *)(const void *)p;
    if (n >= 32)
        return _mm512_cvtne2ps_pbh(_mm512_loadu_ps(f + 16), _mm512_loadu_ps(f));
    __mmask16 lo = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
    __mmask16 hi = (__mmask16)(n >= 16 ? (1u << (n - 16)) - 1 : 0);
    return _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, f + 16), _mm512_maskz_loadu_ps(lo, f));
}

/* 32 bfloat16 weights at p (n of them, the rest zero). */
QUANT_INLINE QUANT_TARGET_AVX512BF16 __m512bh bf16_dot_load_w(const uint8_t *p, int64_t n)
{
    if (n >= 32)
        return (__m512bh)_mm512_loadu_si512((const void *)p);
    __mmask32 m = (__mmask32)((1ull << n) - 1);
    return (__m512bh)_mm512_maskz_loadu_epi16(m, (const void *)p);
}

/* y[t * y_stride + r] for r < R, t < T, R and T compile-time constants
 * where inlined (the accumulators stay in registers). */
QUANT_INLINE QUANT_TARGET_AVX512BF16 void bf16_dot_tile(const uint8_t *w, size_t w_row_bytes,
                                                       const uint8_t *x, size_t x_row_bytes,
                                                       float *y, size_t y_stride,
                                                       int64_t n_cols, const int R, const int T)
{
    __m512 acc[BF16_DOT_ROWS][BF16_DOT_TOKENS];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t c = 0; c < n_cols; c += 32) {
        int64_t n = n_cols - c;
        /* the tile's R rows as one region, prefetched as one stream (see
         * the quantized tiles) */
        uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(c * R * 2);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++)
            _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
        __m512bh wv[BF16_DOT_ROWS];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = bf16_dot_load_w(w + r * w_row_bytes + 2 * c, n);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            __m512bh xv = bf16_dot_load_x(x + t * x_row_bytes + 4 * c, n);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            /* 16 lanes to 8 to one, always in this order */
            __m256 half = _mm256_add_ps(_mm512_castps512_ps256(acc[r][t]),
                                        _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                            _mm512_castps_pd(acc[r][t]), 1)));
            y[t * y_stride + r] = quant_hsum_ps(half);
        }
}

/* Rows [0, R) against all n_tokens, T at a time, then the rest. */
QUANT_INLINE QUANT_TARGET_AVX512BF16 void bf16_dot_row_tile(const uint8_t *w, size_t w_row_bytes,
                                                           const uint8_t *x, size_t x_row_bytes,
                                                           float *y, size_t y_stride,
                                                           int64_t n_cols, int64_t n_tokens,
                                                           const int R)
{
    const int T = BF16_DOT_TOKENS;
    int64_t t = 0;
    for (; t + T <= n_tokens; t += T)
        bf16_dot_tile(w, w_row_bytes, x + t * x_row_bytes, x_row_bytes, y + t * y_stride,
                      y_stride, n_cols, R, T);
    const uint8_t *xt = x + t * x_row_bytes;
    float *yt = y + t * y_stride;
    switch (n_tokens - t) {
    case 3: bf16_dot_tile(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_cols, R, 3); break;
    case 2: bf16_dot_tile(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_cols, R, 2); break;
    case 1: bf16_dot_tile(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_cols, R, 1); break;
    default: break;
    }
}

/* Tokens taken this many at a time, so that their activations stay in the
 * L2 cache while every row of the range passes over them. */
enum { BF16_DOT_TOKEN_CHUNK = 32 };

static QUANT_TARGET_AVX512BF16 void bf16_matmat_avx512bf16(const void *w, size_t w_row_bytes,
                                                          const void *x, size_t x_row_bytes,
                                                          float *y, size_t y_stride,
                                                          int64_t n_cols, int64_t n_tokens,
                                                          int64_t row_begin, int64_t row_end)
{
    const uint8_t *wr = (const uint8_t *)w;
    const int R = BF16_DOT_ROWS;
    if (n_tokens == 1) {
        int64_t r = row_begin;
        for (; r + R <= row_end; r += R)
            bf16_dot_tile(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_cols, R, 1);
        for (; r < row_end; r++)
            bf16_dot_tile(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_cols, 1, 1);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += BF16_DOT_TOKEN_CHUNK) {
        int64_t n_chunk =
            n_tokens - t0 < BF16_DOT_TOKEN_CHUNK ? n_tokens - t0 : BF16_DOT_TOKEN_CHUNK;
        const uint8_t *xc = (const uint8_t *)x + t0 * x_row_bytes;
        float *yc = y + t0 * y_stride;
        int64_t r = row_begin;
        for (; r + R <= row_end; r += R)
            bf16_dot_row_tile(wr + r * w_row_bytes, w_row_bytes, xc, x_row_bytes, yc + r,
                              y_stride, n_cols, n_chunk, R);
        for (; r < row_end; r++)
            bf16_dot_row_tile(wr + r * w_row_bytes, w_row_bytes, xc, x_row_bytes, yc + r,
                              y_stride, n_cols, n_chunk, 1);
    }
}

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
static const quant_kernels bf16_kernels_avx512bf16 = {
    "avx512bf16", QUANT_ISA_AVX512BF16, bf16_dequantize_avx2, bf16_quantize_avx2,
    bf16_matmat_avx512bf16};
#endif

static const quant_kernels bf16_kernels_scalar = {"scalar", QUANT_ISA_SCALAR,
                                                  bf16_dequantize_scalar,
                                                  bf16_quantize_reference, bf16_matmat_reference};

static const quant_kernels *const bf16_candidates[] = {
#if QUANT_X86
    &bf16_kernels_avx512bf16, &bf16_kernels_avx512, &bf16_kernels_avx2,
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
    /* the AVX512-BF16 path's activations, rounded to bfloat16 */
    .product_rounding = 0x1p-8f,
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
