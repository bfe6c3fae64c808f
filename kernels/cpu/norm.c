/* RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019),
 * the normalisation before every attention and feed-forward block of the
 * Llama family. */
#include <math.h>

#include "simd.h"

/* The scale 1 / sqrt(mean + eps), from the sum of squares, in double as
 * llama.cpp computes it; every version shares it so that they differ only in
 * how they sum. */
static float inverse_rms(double sum_of_squares, int64_t n, float eps)
{
    return (float)(1.0 / sqrt(sum_of_squares / (double)n + (double)eps));
}

void tsr_rmsnorm_reference(float *y, const float *x, const float *weight, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    float scale = inverse_rms(sum, n, eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * scale * weight[i];
}

#ifdef TSR_KERNELS_X86
TSR_TARGET_AVX2 void tsr_rmsnorm_avx2(float *y, const float *x, const float *weight, int64_t n,
                                      float eps)
{
    /* Two accumulators of 8 lanes: 16 partial sums keep the float rounding
     * of a long sum small and hide the FMA latency. */
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        acc0 = _mm256_fmadd_ps(a, a, acc0);
        acc1 = _mm256_fmadd_ps(b, b, acc1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(x + i);
        acc0 = _mm256_fmadd_ps(a, a, acc0);
    }
    double sum = tsr_hsum_avx2(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    float scale = inverse_rms(sum, n, eps);
    __m256 vscale = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)));
    }
    for (; i < n; i++)
        y[i] = x[i] * scale * weight[i];
}

TSR_TARGET_AVX512 void tsr_rmsnorm_avx512(float *y, const float *x, const float *weight, int64_t n,
                                          float eps)
{
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        acc0 = _mm512_fmadd_ps(a, a, acc0);
        acc1 = _mm512_fmadd_ps(b, b, acc1);
    }
    for (; i < n; i += 16) {
        __m512 a = _mm512_maskz_loadu_ps(tsr_mask_avx512(n - i), x + i);
        acc0 = _mm512_fmadd_ps(a, a, acc0);
    }
    float scale = inverse_rms(_mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)), n, eps);
    __m512 vscale = _mm512_set1_ps(scale);
    for (i = 0; i < n; i += 16) {
        __mmask16 m = tsr_mask_avx512(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, weight + i)));
    }
}
#endif
