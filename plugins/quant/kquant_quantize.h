/* The K-quant quantizers' common part, header-only: choosing a block's
 * integer levels and its two-level scales (small integer scales per
 * sub-block, f16 super-block scales over them). Each format then packs the
 * levels into its own bytes.
 *
 * Rounding every value to the nearest level of a grid that covers the
 * sub-block's whole range wastes levels on a lone extreme value; a grid a
 * little finer, which clips that value, has the smaller squared error.
 * So each sub-block searches: for a few dozen candidate grids (its range
 * divided by slightly more or fewer steps than it has levels) it assigns
 * each value its nearest level, fits the scale (and offset) to those
 * levels by least squares, and keeps the fit of least squared error,
 * weighted towards the larger magnitudes (a value's weight is the block's
 * RMS plus its own magnitude: big weights carry most of a product). The
 * sub-block scales are then rounded to the format's integers over f16
 * super-block scales, and every value goes to its nearest level of the
 * grid its rounded scales make, which keeps each value within half a step
 * of it unless the value lies outside the grid (clipped on purpose). */
#ifndef TSR_QUANT_KQUANT_QUANTIZE_H
#define TSR_QUANT_KQUANT_QUANTIZE_H

#include <math.h>

#include "kquant.h"

static inline int kq_clamp(int v, int low, int high)
{
    return v < low ? low : v > high ? high : v;
}

/* The candidate grids: the sub-block's range over max_q + k / 8 steps for
 * k in [KQ_SEARCH_FIRST, KQ_SEARCH_LAST] (k = 0: the covering grid). Finer
 * grids than that clip too much to win; these few are where ggml's files'
 * error was matched (tests/test_quant_k.c). */
enum { KQ_SEARCH_FIRST = -12, KQ_SEARCH_LAST = 24 };
#define KQ_SEARCH_STEP 0.125f

/* Weights of one block's values: its RMS plus each magnitude. */
static inline void kq_weights(const float *x, float *w)
{
    float sum2 = 0.0f;
    for (int i = 0; i < KQ_BLOCK_ELEMS; i++)
        sum2 += x[i] * x[i];
    float rms = sqrtf(sum2 / (float)KQ_BLOCK_ELEMS);
    for (int i = 0; i < KQ_BLOCK_ELEMS; i++)
        w[i] = rms + fabsf(x[i]);
}

/* Sums of one assignment of levels, and its least-squares fit. */
typedef struct kq_affine_sums {
    double sw, sx, sxx; /* of the values alone */
    double sl, sll, slx;
} kq_affine_sums;

/* Levels for x ~ scale * L + offset: each value's nearest; then the
 * scale and offset (at or below zero) that fit those levels best, and the
 * weighted squared error they leave (-1: no fit). */
static inline double kq_affine_refit(const float *x, const float *w, int n, int max_q,
                                     kq_affine_sums *s, float inv_step, float from,
                                     double *scale, double *offset)
{
    double sl = 0, sll = 0, slx = 0;
    for (int i = 0; i < n; i++) {
        double l = kq_clamp(kq_nearest_int((x[i] - from) * inv_step), 0, max_q);
        sl += w[i] * l;
        sll += w[i] * l * l;
        slx += w[i] * l * x[i];
    }
    s->sl = sl;
    s->sll = sll;
    s->slx = slx;
    double det = s->sw * s->sll - s->sl * s->sl, a = 0, b = 0;
    if (det > 0) {
        a = (s->sw * s->slx - s->sl * s->sx) / det;
        b = (s->sll * s->sx - s->sl * s->slx) / det;
    }
    if (det <= 0 || b > 0) { /* one level used, or an offset above zero: none */
        b = 0;
        a = s->sll > 0 ? s->slx / s->sll : 0;
    }
    if (a <= 0)
        return -1;
    *scale = a;
    *offset = b;
    /* sum w (a l + b - x)^2, from the sums (an exact fit can come out a
     * hair below zero) */
    double err = s->sxx + a * a * s->sll + b * b * s->sw +
                 2 * (a * b * s->sl - a * s->slx - b * s->sx);
    return err > 0 ? err : 0;
}

/* The best x ~ scale * L + offset (offset <= 0, L in [0, max_q]) of n
 * values by the search above. */
static inline void kq_fit_affine(const float *x, const float *w, int n, int max_q,
                                 float *scale, float *offset)
{
    kq_affine_sums s = {0};
    float lo = 0.0f, hi = x[0];
    for (int i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        s.sw += w[i];
        s.sx += w[i] * x[i];
        s.sxx += w[i] * x[i] * x[i];
    }
    /* no fit at all: the covering grid */
    *scale = hi > lo ? (hi - lo) / (float)max_q : 0.0f;
    *offset = lo;
    if (hi <= lo)
        return;
    double best = -1;
    for (int k = KQ_SEARCH_FIRST; k <= KQ_SEARCH_LAST; k++) {
        float steps = (float)max_q + KQ_SEARCH_STEP * (float)k;
        double a, b;
        if (steps < 1.0f || kq_affine_refit(x, w, n, max_q, &s, steps / (hi - lo), lo, &a, &b) < 0)
            continue;
        /* judged by the error of the fitted grid itself, each value at its
         * nearest level of it */
        float err = 0, fa = (float)a, fb = (float)b;
        for (int i = 0; i < n; i++) {
            float l = (float)kq_clamp(kq_nearest_int((x[i] - fb) / fa), 0, max_q);
            float e = fa * l + fb - x[i];
            err += w[i] * e * e;
        }
        if (best < 0 || err < best) {
            best = err;
            *scale = (float)a;
            *offset = (float)b;
        }
    }
}

/* A sub-block's integer scale: v / unit rounded to [0, max]. */
static inline int kq_scale_int(float v, float unit, int max)
{
    return unit > 0.0f ? kq_clamp(kq_nearest_int(v / unit), 0, max) : 0;
}

/* One block of n_sub * sub_len values as d * sc[j] * L[i] - dmin * m[j]
 * (j the sub-block of i), L in [0, max_q], sc and m in [0, max_scale]. The
 * halves d and dmin come back as bits. */
static inline void kq_quantize_affine(const float *x, int n_sub, int sub_len, int max_q,
                                      int max_scale, uint16_t *d_bits, uint16_t *dmin_bits,
                                      uint8_t *sc, uint8_t *m, uint8_t *L)
{
    float w[KQ_BLOCK_ELEMS], scales[KQ_GROUPS], mins[KQ_GROUPS];
    float max_scale_f = 0.0f, max_min = 0.0f;
    kq_weights(x, w);
    for (int j = 0; j < n_sub; j++) {
        float offset;
        kq_fit_affine(x + j * sub_len, w + j * sub_len, sub_len, max_q, &scales[j], &offset);
        mins[j] = -offset;
        max_scale_f = scales[j] > max_scale_f ? scales[j] : max_scale_f;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    *d_bits = quant_fp32_to_fp16(max_scale_f / (float)max_scale);
    *dmin_bits = quant_fp32_to_fp16(max_min / (float)max_scale);
    float d = quant_fp16_to_fp32(*d_bits), dmin = quant_fp16_to_fp32(*dmin_bits);
    for (int j = 0; j < n_sub; j++) {
        sc[j] = (uint8_t)kq_scale_int(scales[j], d, max_scale);
        m[j] = (uint8_t)kq_scale_int(mins[j], dmin, max_scale);
        float step = d * (float)sc[j], offset = dmin * (float)m[j];
        for (int i = 0; i < sub_len; i++) {
            int level = 0;
            if (step > 0.0f)
                level = kq_clamp(kq_nearest_int((x[j * sub_len + i] + offset) / step), 0, max_q);
            L[j * sub_len + i] = (uint8_t)level;
        }
    }
}

/* The best x ~ scale * L of 16 values, L in [q_low, q_high] (q_low =
 * -q_high - 1), scale of either sign (a negative one gives the longer
 * half of the levels to the positive side), by the search above. */
static inline void kq_fit_symmetric(const float *x, const float *w, int q_high, float *scale)
{
    const int q_low = -q_high - 1;
    float amax = 0.0f;
    for (int i = 0; i < 16; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    *scale = 0.0f;
    if (amax <= 0.0f)
        return;
    double best = -1;
    for (int sign = -1; sign <= 1; sign += 2)
        for (int k = KQ_SEARCH_FIRST; k <= KQ_SEARCH_LAST; k++) {
            float steps = (float)q_high + 0.5f + KQ_SEARCH_STEP * (float)k;
            if (steps < 0.5f)
                continue;
            float inv = (float)sign * steps / amax;
            double slx = 0, sll = 0;
            for (int i = 0; i < 16; i++) {
                int l = kq_clamp(kq_nearest_int(x[i] * inv), q_low, q_high);
                slx += w[i] * l * x[i];
                sll += w[i] * l * l;
            }
            /* the least-squares scale for these levels leaves
             * sum w x^2 - slx^2 / sll: the largest slx^2 / sll wins */
            if (sll > 0 && slx * slx / sll > best) {
                best = slx * slx / sll;
                *scale = (float)(slx / sll);
            }
        }
}

/* One block of 16 groups of 16 values as d * sc[g] * L[i], sc in
 * [-max_scale, max_scale], L in [q_low, q_high] (q_low = -q_high - 1). */
static inline void kq_quantize_symmetric(const float *x, int q_high, int max_scale,
                                         uint16_t *d_bits, int8_t *sc, int8_t *L)
{
    const int q_low = -q_high - 1;
    float w[KQ_BLOCK_ELEMS], scales[KQ_GROUPS], max_abs = 0.0f;
    kq_weights(x, w);
    for (int g = 0; g < KQ_GROUPS; g++) {
        kq_fit_symmetric(x + 16 * g, w + 16 * g, q_high, &scales[g]);
        max_abs = fabsf(scales[g]) > max_abs ? fabsf(scales[g]) : max_abs;
    }
    *d_bits = quant_fp32_to_fp16(max_abs / (float)max_scale);
    float d = quant_fp16_to_fp32(*d_bits);
    for (int g = 0; g < KQ_GROUPS; g++) {
        int magnitude = kq_scale_int(fabsf(scales[g]), d, max_scale);
        sc[g] = (int8_t)(scales[g] < 0.0f ? -magnitude : magnitude);
        float step = d * (float)sc[g];
        for (int i = 0; i < 16; i++) {
            int level = 0;
            if (step != 0.0f)
                level = kq_clamp(kq_nearest_int(x[16 * g + i] / step), q_low, q_high);
            L[16 * g + i] = (int8_t)level;
        }
    }
}

#endif
