/* The K-quant quantizers' common part, header-only: choosing a block's
 * integer levels and its two-level scales (small integer scales per
 * sub-block, f16 super-block scales over them). Each format then packs the
 * levels into its own bytes.
 *
 * These are not ggml's quantizers, which search for the scales with the
 * least squared error (and may clip a sub-block's extremes to get it);
 * they choose the grid that covers each sub-block's whole range with the
 * smallest step its integer scale allows, and round every value to its
 * nearest level. So each value ends up within half a step of where it was,
 * and the step exceeds the sub-block's range / levels by at most one unit
 * of the super-block scale:
 *
 *   affine (q2_K, q4_K, q5_K), x ~ d * sc * L - dmin * m, L in [0, max_q]:
 *     |error| <= ((hi - lo + dmin) / max_q + d) / 2, lo = min(min x, 0),
 *     hi = max x, dmin <= max over sub-blocks of -lo / max_scale, and
 *     d <= max over sub-blocks of (hi - lo + dmin) / max_q / max_scale
 *     (each scale rounded up to a half: a factor 1 + 2^-10 at most)
 *   symmetric (q3_K, q6_K), x ~ d * sc * L, sc signed, L in [q_low, q_high]:
 *     |error| <= (amax / q_high + d) / 2, d <= max amax / q_high / max_scale
 *
 * plus float rounding, for finite inputs whose scales are normal halves
 * (below that, the smallest half is coarser than the data and the bound
 * is d / 2 with the stored d). */
#ifndef TSR_QUANT_KQUANT_QUANTIZE_H
#define TSR_QUANT_KQUANT_QUANTIZE_H

#include "kquant.h"

/* ceil(v) for 0 <= v < 2^31. */
static inline int kq_ceil(float v)
{
    int truncated = (int)v;
    return truncated + ((float)truncated < v);
}

static inline int kq_clamp(int v, int low, int high)
{
    return v < low ? low : v > high ? high : v;
}

/* One block of n_sub * sub_len values as d * sc[j] * L[i] - dmin * m[j]
 * (j the sub-block of i), L in [0, max_q], sc and m in [0, max_scale]. The
 * halves d and dmin come back as bits. */
static inline void kq_quantize_affine(const float *x, int n_sub, int sub_len, int max_q,
                                      int max_scale, uint16_t *d_bits, uint16_t *dmin_bits,
                                      uint8_t *sc, uint8_t *m, uint8_t *L)
{
    float lows[KQ_GROUPS], highs[KQ_GROUPS];
    float max_low = 0.0f;
    for (int j = 0; j < n_sub; j++) {
        float lo = 0.0f, hi = x[j * sub_len];
        for (int i = 0; i < sub_len; i++) {
            float v = x[j * sub_len + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        lows[j] = -lo; /* >= 0: what dmin * m must reach down to */
        highs[j] = hi;
        max_low = lows[j] > max_low ? lows[j] : max_low;
    }

    *dmin_bits = max_low > 0.0f ? kq_fp32_to_fp16_up(max_low / (float)max_scale) : 0;
    float dmin = quant_fp16_to_fp32(*dmin_bits);
    float needs[KQ_GROUPS], max_need = 0.0f;
    for (int j = 0; j < n_sub; j++) {
        m[j] = (uint8_t)(dmin > 0.0f ? kq_clamp(kq_ceil(lows[j] / dmin), 0, max_scale) : 0);
        float offset = dmin * (float)m[j]; /* exact: an 11-bit half times a small integer */
        float need = (highs[j] + offset) / (float)max_q;
        needs[j] = need > 0.0f ? need : 0.0f;
        max_need = needs[j] > max_need ? needs[j] : max_need;
    }

    *d_bits = max_need > 0.0f ? kq_fp32_to_fp16_up(max_need / (float)max_scale) : 0;
    float d = quant_fp16_to_fp32(*d_bits);
    for (int j = 0; j < n_sub; j++) {
        sc[j] = (uint8_t)(d > 0.0f ? kq_clamp(kq_ceil(needs[j] / d), 0, max_scale) : 0);
        float step = d * (float)sc[j];
        float offset = dmin * (float)m[j];
        for (int i = 0; i < sub_len; i++) {
            int level = 0;
            if (step > 0.0f)
                level = kq_clamp(kq_nearest_int((x[j * sub_len + i] + offset) / step), 0, max_q);
            L[j * sub_len + i] = (uint8_t)level;
        }
    }
}

/* One block of 16 groups of 16 values as d * sc[g] * L[i], sc in
 * [-max_scale, max_scale], L in [q_low, q_high] (q_low = -q_high - 1). A
 * group's sign is chosen so that its larger side gets the longer half of
 * the levels. */
static inline void kq_quantize_symmetric(const float *x, int q_high, int max_scale,
                                         uint16_t *d_bits, int8_t *sc, int8_t *L)
{
    const int q_low = -q_high - 1;
    float needs[KQ_GROUPS], max_need = 0.0f;
    int negative[KQ_GROUPS];
    for (int g = 0; g < KQ_GROUPS; g++) {
        float pos = 0.0f, neg = 0.0f;
        for (int i = 0; i < 16; i++) {
            float v = x[16 * g + i];
            pos = v > pos ? v : pos;
            neg = -v > neg ? -v : neg;
        }
        /* a positive scale reaches q_high steps up and -q_low down; a
         * negative one the other way round */
        float up = pos / (float)q_high > neg / (float)-q_low ? pos / (float)q_high
                                                              : neg / (float)-q_low;
        float down = pos / (float)-q_low > neg / (float)q_high ? pos / (float)-q_low
                                                                : neg / (float)q_high;
        negative[g] = down < up;
        needs[g] = negative[g] ? down : up;
        max_need = needs[g] > max_need ? needs[g] : max_need;
    }

    *d_bits = max_need > 0.0f ? kq_fp32_to_fp16_up(max_need / (float)max_scale) : 0;
    float d = quant_fp16_to_fp32(*d_bits);
    for (int g = 0; g < KQ_GROUPS; g++) {
        int magnitude = d > 0.0f ? kq_clamp(kq_ceil(needs[g] / d), 0, max_scale) : 0;
        sc[g] = (int8_t)(negative[g] ? -magnitude : magnitude);
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
