/* Element-wise kernels: softmax, SwiGLU (Shazeer 2020: the gated feed-forward
 * of the Llama family) and the residual add. */
#include <math.h>

#include "simd.h"

void tsr_softmax_reference(float *x, int64_t n)
{
    /* Subtracting the maximum keeps every exponent <= 0: no overflow. */
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void tsr_swiglu_reference(float *y, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void tsr_add_reference(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

#ifdef TSR_KERNELS_X86
TSR_TARGET_AVX2 void tsr_softmax_avx2(float *x, int64_t n)
{
    __m256 vmax = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float max = tsr_hmax_avx2(vmax);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    /* The sum in double, as the reference's: over a vocabulary of 50k
     * entries a float sum would lose up to 1e-4 relative. */
    __m256 sub = _mm256_set1_ps(max);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = tsr_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), sub));
        _mm256_storeu_ps(x + i, e);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(acc0, acc1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    __m256 vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    for (; i < n; i++)
        x[i] *= inv;
}

static inline TSR_TARGET_AVX2 __m256 swiglu8_avx2(__m256 g, __m256 u)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, tsr_exp_avx2(_mm256_sub_ps(zero, g))));
    return _mm256_mul_ps(silu, u);
}

TSR_TARGET_AVX2 void tsr_swiglu_avx2(float *y, const float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, swiglu8_avx2(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    /* The last n % 8 through the same vector exp, in masked lanes: threads
     * split a row at any boundary, and a value must not depend on whether
     * it fell in a call's tail (expf rounds differently). */
    if (i < n) {
        __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 g = _mm256_maskload_ps(gate + i, lanes), u = _mm256_maskload_ps(up + i, lanes);
        _mm256_maskstore_ps(y + i, lanes, swiglu8_avx2(g, u));
    }
}

TSR_TARGET_AVX2 void tsr_add_avx2(float *y, const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

TSR_TARGET_AVX512 void tsr_softmax_avx512(float *x, int64_t n)
{
    __m512 vmax = _mm512_set1_ps(x[0]);
    for (int64_t i = 0; i < n; i += 16)
        vmax = _mm512_mask_max_ps(vmax, tsr_mask_avx512(n - i), vmax,
                                  _mm512_maskz_loadu_ps(tsr_mask_avx512(n - i), x + i));
    __m512 sub = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tsr_mask_avx512(n - i);
        /* Lanes past n are zeroed: they add nothing to the sum. */
        __m512 e = _mm512_maskz_mov_ps(
            m, tsr_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sub)));
        _mm512_mask_storeu_ps(x + i, m, e);
        __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1));
        acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(high));
    }
    __m512 vinv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1))));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tsr_mask_avx512(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vinv));
    }
}

TSR_TARGET_AVX512 void tsr_swiglu_avx512(float *y, const float *gate, const float *up, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tsr_mask_avx512(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, tsr_exp_avx512(_mm512_sub_ps(zero, g))));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

TSR_TARGET_AVX512 void tsr_add_avx512(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tsr_mask_avx512(n - i);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}
#endif
