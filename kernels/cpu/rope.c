/* Rotary position embedding (Su et al. 2021): each pair of a head's values
 * is rotated by an angle proportional to the token's position, so that the
 * dot product of a query and a key depends on their distance. */
#include <math.h>

#include "simd.h"

void tsr_rope_table(const tsr_rope_config *config, int64_t position, float *table)
{
    int32_t half = config->n_rot / 2;
    for (int32_t i = 0; i < half; i++) {
        /* Double precision: position * frequency reaches 1e5 radians and
         * more, where a float angle would lose the low digits. */
        double frequency = pow((double)config->freq_base, -2.0 * i / config->n_rot);
        if (config->freq_factors)
            frequency /= (double)config->freq_factors[i];
        double theta = (double)position * (double)config->freq_scale * frequency;
        float c = (float)cos(theta), s = (float)sin(theta);
        if (config->mode == TSR_ROPE_NEOX) {
            table[i] = c;
            table[half + i] = s;
        } else {
            table[2 * i] = c;
            table[2 * i + 1] = s;
        }
    }
}

void tsr_rope_llama3_factors(float *factors, int32_t n_rot, float freq_base, float factor,
                             float low_freq_factor, float high_freq_factor,
                             float original_max_positions)
{
    const double two_pi = 6.283185307179586;
    double low_freq_wavelength = original_max_positions / (double)low_freq_factor;
    double high_freq_wavelength = original_max_positions / (double)high_freq_factor;
    for (int32_t i = 0; i < n_rot / 2; i++) {
        double wavelength = two_pi / pow((double)freq_base, -2.0 * i / n_rot);
        if (wavelength < high_freq_wavelength) {
            factors[i] = 1.0f;
        } else if (wavelength > low_freq_wavelength) {
            factors[i] = factor;
        } else {
            /* smooth = 0 at the low-frequency edge (divide by factor), 1 at
             * the high one (keep), linear in 1/wavelength between. */
            double smooth = (original_max_positions / wavelength - low_freq_factor) /
                            ((double)high_freq_factor - low_freq_factor);
            factors[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
}

void tsr_rope_reference(float *x, int64_t n_heads, int64_t head_dim, const tsr_rope_config *config,
                        const float *table)
{
    int64_t half = config->n_rot / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *head = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            bool neox = config->mode == TSR_ROPE_NEOX;
            int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
            float c = table[i0], s = table[i1];
            float x0 = head[i0], x1 = head[i1];
            head[i0] = x0 * c - x1 * s;
            head[i1] = x0 * s + x1 * c;
        }
    }
}

#ifdef TSR_KERNELS_X86
TSR_TARGET_AVX2 void tsr_rope_avx2(float *x, int64_t n_heads, int64_t head_dim,
                                   const tsr_rope_config *config, const float *table)
{
    int64_t n_rot = config->n_rot, half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *head = x + h * head_dim;
        int64_t i = 0;
        if (config->mode == TSR_ROPE_NEOX) {
            for (; i + 8 <= half; i += 8) {
                __m256 c = _mm256_loadu_ps(table + i), s = _mm256_loadu_ps(table + half + i);
                __m256 x0 = _mm256_loadu_ps(head + i), x1 = _mm256_loadu_ps(head + half + i);
                _mm256_storeu_ps(head + i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
                _mm256_storeu_ps(head + half + i, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
            }
            for (; i < half; i++) {
                float c = table[i], s = table[half + i], x0 = head[i], x1 = head[half + i];
                head[i] = x0 * c - x1 * s;
                head[half + i] = x0 * s + x1 * c;
            }
            continue;
        }
        /* NORM: 4 pairs per vector. With c and s duplicated into both lanes
         * of a pair and the pair swapped, (x0 c - x1 s, x1 c + x0 s) is one
         * fmaddsub. */
        for (; i + 8 <= n_rot; i += 8) {
            __m256 cs = _mm256_loadu_ps(table + i), v = _mm256_loadu_ps(head + i);
            __m256 swapped_s = _mm256_mul_ps(_mm256_permute_ps(v, 0xb1), _mm256_movehdup_ps(cs));
            _mm256_storeu_ps(head + i, _mm256_fmaddsub_ps(v, _mm256_moveldup_ps(cs), swapped_s));
        }
        for (; i < n_rot; i += 2) {
            float c = table[i], s = table[i + 1], x0 = head[i], x1 = head[i + 1];
            head[i] = x0 * c - x1 * s;
            head[i + 1] = x0 * s + x1 * c;
        }
    }
}

TSR_TARGET_AVX512 void tsr_rope_avx512(float *x, int64_t n_heads, int64_t head_dim,
                                       const tsr_rope_config *config, const float *table)
{
    int64_t n_rot = config->n_rot, half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *head = x + h * head_dim;
        if (config->mode == TSR_ROPE_NEOX) {
            for (int64_t i = 0; i < half; i += 16) {
                __mmask16 m = tsr_mask_avx512(half - i);
                __m512 c = _mm512_maskz_loadu_ps(m, table + i);
                __m512 s = _mm512_maskz_loadu_ps(m, table + half + i);
                __m512 x0 = _mm512_maskz_loadu_ps(m, head + i);
                __m512 x1 = _mm512_maskz_loadu_ps(m, head + half + i);
                _mm512_mask_storeu_ps(head + i, m, _mm512_fmsub_ps(x0, c, _mm512_mul_ps(x1, s)));
                _mm512_mask_storeu_ps(head + half + i, m,
                                      _mm512_fmadd_ps(x0, s, _mm512_mul_ps(x1, c)));
            }
            continue;
        }
        for (int64_t i = 0; i < n_rot; i += 16) {
            __mmask16 m = tsr_mask_avx512(n_rot - i);
            __m512 cs = _mm512_maskz_loadu_ps(m, table + i), v = _mm512_maskz_loadu_ps(m, head + i);
            __m512 swapped_s = _mm512_mul_ps(_mm512_permute_ps(v, 0xb1), _mm512_movehdup_ps(cs));
            _mm512_mask_storeu_ps(head + i, m,
                                  _mm512_fmaddsub_ps(v, _mm512_moveldup_ps(cs), swapped_s));
        }
    }
}
#endif
