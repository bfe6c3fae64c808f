/* Internal to kernels/cpu: the per-ISA entry points the tables in kernels.c
 * gather, and the vector helpers they share (x86 only).
 *
 * No global -march: each vector function carries its instruction set in a
 * target attribute, and kernels.c only hands them out when the processor
 * (limited by TESSERA_ISA) has it. Helpers are static inline with the same
 * attribute, so they inline into their callers.
 */
#ifndef TSR_KERNELS_CPU_SIMD_H
#define TSR_KERNELS_CPU_SIMD_H

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define TSR_KERNELS_X86 1
#include <immintrin.h>

#define TSR_TARGET_AVX2 __attribute__((target("avx,avx2,fma,f16c")))
#define TSR_TARGET_AVX512 __attribute__((target("avx,avx2,fma,f16c,avx512f,avx512vl,avx512bw")))

/* The kernels each instruction set provides, named tsr_<kernel>_<isa>. */
#define TSR_DECLARE_KERNELS(isa)                                                                   \
    void tsr_rmsnorm_##isa(float *y, const float *x, const float *weight, int64_t n, float eps);   \
    void tsr_rope_##isa(float *x, int64_t n_heads, int64_t head_dim,                               \
                        const tsr_rope_config *config, const float *table);                        \
    void tsr_softmax_##isa(float *x, int64_t n);                                                   \
    void tsr_swiglu_##isa(float *y, const float *gate, const float *up, int64_t n);                \
    void tsr_add_##isa(float *y, const float *a, const float *b, int64_t n);                       \
    void tsr_attention_##isa(const tsr_attention_args *args, int64_t head_begin, int64_t head_end, \
                             void *scratch);
TSR_DECLARE_KERNELS(avx2)
TSR_DECLARE_KERNELS(avx512)
#endif

/* The scalar table's attention (blocked, like the vector ones). */
void tsr_attention_scalar(const tsr_attention_args *args, int64_t head_begin, int64_t head_end,
                          void *scratch);

#ifdef TSR_KERNELS_X86
/* exp(x) for the lanes of x, as Cephes' expf: x = n ln2 + r with |r| <=
 * ln2/2, a degree-6 polynomial for e^r, and 2^n put into the exponent.
 * Within 1 ulp of expf for x in [-87.3, 88.3] (checked in steps of 7e-4);
 * above, exp(88.3); below,
 * exactly 0 (expf gives a denormal < 1.2e-38 there), so -inf gives 0. */
#define TSR_EXP_LO (-87.33654f) /* ln of the smallest normal float */
#define TSR_EXP_HI 88.37626f    /* keeps n <= 127 */
#define TSR_EXP_POLY(FMA, SET1, p, r)                                                              \
    p = SET1(1.9875691500e-4f);                                                                    \
    p = FMA(p, r, SET1(1.3981999507e-3f));                                                         \
    p = FMA(p, r, SET1(8.3334519073e-3f));                                                         \
    p = FMA(p, r, SET1(4.1665795894e-2f));                                                         \
    p = FMA(p, r, SET1(1.6666665459e-1f));                                                         \
    p = FMA(p, r, SET1(5.0000001201e-1f))

static inline TSR_TARGET_AVX2 __m256 tsr_exp_avx2(__m256 x)
{
    __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(TSR_EXP_LO), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(TSR_EXP_LO)), _mm256_set1_ps(TSR_EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln2 split in two so that n * ln2_hi is exact. */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p;
    TSR_EXP_POLY(_mm256_fmadd_ps, _mm256_set1_ps, p, r);
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(underflow, p);
}

static inline TSR_TARGET_AVX2 float tsr_hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Lane r of the result is the sum of the lanes of v[r], r in [0, 8): two
 * rounds of pairwise adds leave each 128-bit half with four rows' partial
 * sums, and adding the halves finishes them. */
static inline TSR_TARGET_AVX2 __m256 tsr_hsum8_avx2(const __m256 *v)
{
    __m256 v01 = _mm256_hadd_ps(v[0], v[1]), v23 = _mm256_hadd_ps(v[2], v[3]);
    __m256 v45 = _mm256_hadd_ps(v[4], v[5]), v67 = _mm256_hadd_ps(v[6], v[7]);
    __m256 v0123 = _mm256_hadd_ps(v01, v23), v4567 = _mm256_hadd_ps(v45, v67);
    return _mm256_add_ps(_mm256_permute2f128_ps(v0123, v4567, 0x20),
                         _mm256_permute2f128_ps(v0123, v4567, 0x31));
}

static inline TSR_TARGET_AVX2 float tsr_hmax_avx2(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline TSR_TARGET_AVX512 __m512 tsr_exp_avx512(__m512 x)
{
    __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(TSR_EXP_LO), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(TSR_EXP_LO)), _mm512_set1_ps(TSR_EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p;
    TSR_EXP_POLY(_mm512_fmadd_ps, _mm512_set1_ps, p, r);
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    p = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    return _mm512_maskz_mov_ps((__mmask16)~underflow, p);
}

/* The lanes [0, n) of a 16-lane vector, n <= 16. */
static inline TSR_TARGET_AVX512 __mmask16 tsr_mask_avx512(int64_t n)
{
    return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
}
#endif

#endif
