/* quant/q8_k: the 8-bit activation form of every K-quant (and of iq4_xs):
 * ggml's Q8_K, byte-exact with quantize_row_q8_K_ref. An activation form
 * only: the core quantizes each activation row with it before a product; it
 * has no products of its own. The layout is drawn in kquant.h:
 *
 *   256 values in 292 bytes: dx (f32), p[256] (int8), bsums[16] (int16)
 *
 * x[i] = dx * p[i]. The quantizer takes the value of largest magnitude
 * (the first one, on ties), maps it to -127 with dx = max / -127 (kept as
 * the reciprocal of the float -127 / max, as ggml does), and rounds every
 * other value to the nearest integer, ties to even. bsums[g] is the sum of
 * p[16g .. 16g + 15], which the weight formats use for their minimums. */
#include "kquant.h"

static void q8_k_dequantize(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q8_K_BLOCK_BYTES) {
        float d = kq_q8k_scale(block);
        const int8_t *p = (const int8_t *)(block + Q8_K_QS);
        for (int j = 0; j < KQ_BLOCK_ELEMS; j++)
            dst[b * KQ_BLOCK_ELEMS + j] = d * (float)p[j];
    }
}

/* Writes dx and bsums of a block whose p[] is already written. */
static void q8_k_finish_block(uint8_t *block, float d)
{
    memcpy(block, &d, sizeof d);
    const int8_t *p = (const int8_t *)(block + Q8_K_QS);
    for (int g = 0; g < KQ_GROUPS; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += p[16 * g + j];
        quant_store_u16(block + Q8_K_BSUMS + 2 * g, (uint16_t)(int16_t)sum);
    }
}

/* An all-zero block: d = 0, every p and bsum 0. (ggml leaves bsums as they
 * were; zero is what they sum to.) */
static void q8_k_zero_block(uint8_t *block)
{
    memset(block, 0, Q8_K_BLOCK_BYTES);
}

/* ggml's quantize_row_q8_K_ref. Non-finite input, or a largest magnitude
 * below about 1e-36 (where -127 / max overflows), gives unspecified bytes. */
static void q8_k_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q8_K_BLOCK_BYTES) {
        const float *x = src + b * KQ_BLOCK_ELEMS;
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < KQ_BLOCK_ELEMS; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            if (a > amax) {
                amax = a;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            q8_k_zero_block(block);
            continue;
        }
        float iscale = -127.0f / max;
        int8_t *p = (int8_t *)(block + Q8_K_QS);
        for (int j = 0; j < KQ_BLOCK_ELEMS; j++) {
            int v = kq_nearest_int(iscale * x[j]);
            p[j] = (int8_t)(v < 127 ? v : 127);
        }
        q8_k_finish_block(block, 1.0f / iscale);
    }
}

#if QUANT_X86
/* The same bytes with 8 lanes: |max| first, then the first value that has
 * it (its sign decides the sign of dx), then round-to-nearest-even
 * conversions, which are nearest_int for |v| <= 2^22. */
static QUANT_TARGET_AVX2 void q8_k_quantize_avx2(const float *src, void *dst, int64_t n_elems)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q8_K_BLOCK_BYTES) {
        const float *x = src + b * KQ_BLOCK_ELEMS;
        __m256 amax8 = _mm256_setzero_ps();
        for (int j = 0; j < KQ_BLOCK_ELEMS; j += 8)
            amax8 = _mm256_max_ps(amax8, _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask));
        float amax = quant_hmax_ps(amax8);
        if (amax == 0.0f) {
            q8_k_zero_block(block);
            continue;
        }
        __m256 target = _mm256_set1_ps(amax);
        int first = 0;
        for (int j = 0; j < KQ_BLOCK_ELEMS; j += 8) {
            __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
            int hits = _mm256_movemask_ps(_mm256_cmp_ps(a, target, _CMP_EQ_OQ));
            if (hits) {
                first = j + __builtin_ctz((unsigned)hits);
                break;
            }
        }
        float iscale = -127.0f / x[first];
        __m256 scale = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        int8_t *p = (int8_t *)(block + Q8_K_QS);
        for (int j = 0; j < KQ_BLOCK_ELEMS; j += 32) {
            __m256i i0 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), scale)), top);
            __m256i i1 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), scale)), top);
            __m256i i2 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), scale)), top);
            __m256i i3 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), scale)), top);
            /* the group sums, as int32 before packing */
            __m256i s01 = _mm256_add_epi32(i0, i1), s23 = _mm256_add_epi32(i2, i3);
            __m256i sums = _mm256_hadd_epi32(s01, s23); /* [a a b b | a a b b] in 64-bit pairs */
            sums = _mm256_hadd_epi32(sums, sums);
            int sum_a = _mm256_extract_epi32(sums, 0) + _mm256_extract_epi32(sums, 4);
            int sum_b = _mm256_extract_epi32(sums, 1) + _mm256_extract_epi32(sums, 5);
            quant_store_u16(block + Q8_K_BSUMS + 2 * (j / 16), (uint16_t)(int16_t)sum_a);
            quant_store_u16(block + Q8_K_BSUMS + 2 * (j / 16 + 1), (uint16_t)(int16_t)sum_b);
            /* 32 x int32 -> 32 x int8; the packs interleave 128-bit lanes */
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(p + j), bytes);
        }
        float d = 1.0f / iscale;
        memcpy(block, &d, sizeof d);
    }
}

/* AVX-512: one register is one 16-value group. */
static QUANT_TARGET_AVX512 void q8_k_quantize_avx512(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q8_K_BLOCK_BYTES) {
        const float *x = src + b * KQ_BLOCK_ELEMS;
        __m512 amax16 = _mm512_setzero_ps();
        for (int j = 0; j < KQ_BLOCK_ELEMS; j += 16)
            amax16 = _mm512_max_ps(amax16, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
        float amax = _mm512_reduce_max_ps(amax16);
        if (amax == 0.0f) {
            q8_k_zero_block(block);
            continue;
        }
        __m512 target = _mm512_set1_ps(amax);
        int first = 0;
        for (int j = 0; j < KQ_BLOCK_ELEMS; j += 16) {
            __mmask16 hits =
                _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), target, _CMP_EQ_OQ);
            if (hits) {
                first = j + __builtin_ctz((unsigned)hits);
                break;
            }
        }
        float iscale = -127.0f / x[first];
        __m512 scale = _mm512_set1_ps(iscale);
        const __m512i top = _mm512_set1_epi32(127);
        int8_t *p = (int8_t *)(block + Q8_K_QS);
        for (int g = 0; g < KQ_GROUPS; g++) {
            __m512i q = _mm512_min_epi32(
                _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * g), scale)), top);
            _mm_storeu_si128((__m128i *)(p + 16 * g), _mm512_cvtsepi32_epi8(q));
            quant_store_u16(block + Q8_K_BSUMS + 2 * g,
                            (uint16_t)(int16_t)quant_hsum_epi32_512(q));
        }
        float d = 1.0f / iscale;
        memcpy(block, &d, sizeof d);
    }
}

static const quant_kernels q8_k_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, q8_k_dequantize,
                                                q8_k_quantize_avx2, NULL};
static const quant_kernels q8_k_kernels_avx512 = {"avx512", QUANT_ISA_AVX512, q8_k_dequantize,
                                                  q8_k_quantize_avx512, NULL};
#endif

static const quant_kernels q8_k_kernels_scalar = {"scalar", QUANT_ISA_SCALAR, q8_k_dequantize,
                                                  q8_k_quantize_reference, NULL};

static const quant_kernels *const q8_k_candidates[] = {
#if QUANT_X86
    &q8_k_kernels_avx512, &q8_k_kernels_avx2,
#endif
    &q8_k_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q8_k_active = &q8_k_kernels_scalar;

static tsr_status q8_k_init(const tsr_host *host, tsr_error *err)
{
    q8_k_active = quant_pick(q8_k_candidates, sizeof q8_k_candidates / sizeof q8_k_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q8_k_kernel_name(void)
{
    return q8_k_active->name;
}

static void q8_k_quantize(const float *src, void *dst, int64_t n_elems)
{
    q8_k_active->quantize(src, dst, n_elems);
}

static const tsr_quant_vtable q8_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q8_K,
    .block_elems = KQ_BLOCK_ELEMS,
    .block_bytes = Q8_K_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = TSR_QUANT_ACTIVATION,
    .init = q8_k_init,
    .kernel_name = q8_k_kernel_name,
    .dequantize = q8_k_dequantize,
    .quantize = q8_k_quantize,
    .quantize_reference = q8_k_quantize_reference,
};

static const tsr_plugin_desc q8_k_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q8_k",
    .version = "1.0.0",
    .summary = "8-bit activations with a float scale and 16-value sums per 256 (GGUF Q8_K), "
               "for the K-quants",
    .vtable = &q8_k_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q8_k_desc : NULL;
}
