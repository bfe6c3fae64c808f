/* The scale search of ggml's 4-bit non-linear quantizers (quantize_iq4_nl
 * and quantize_iq4_xs, without an importance matrix), shared by the iq4_nl
 * and iq4_xs plugins: both store 32 values as indices into iq4_nl_values
 * times a scale, and differ only in how the scale is stored.
 *
 * For one group of 32 values x, with weights x^2 (large values matter
 * most): start from the scale that maps the value of largest magnitude onto
 * the table's end, -127, pick each value's nearest step, and take the
 * weighted least-squares scale for those steps, sum(w q x) / sum(w q^2).
 * Then try 2 * ntry + 1 more starting scales, (itry - 127) / max for itry in
 * [-ntry, ntry], keeping the one whose steps explain most of sum(w x^2)
 * (largest sum(w q x)^2 / sum(w q^2)). Every sum is accumulated in float in
 * ggml's order, so the bytes written match ggml's for the same input. */
#ifndef TSR_QUANT_IQ4_SEARCH_H
#define TSR_QUANT_IQ4_SEARCH_H

#include "iq4_nl/iq4_nl.h"

/* ggml's GROUP_MAX_EPS: below it a group counts as all zeros. */
#define IQ4_GROUP_MAX_EPS 1e-15f

/* The index of the step nearest to v (ggml's best_index_int8: ties go up). */
static inline int iq4_nearest_index(float v)
{
    const int8_t *values = iq4_nl_values;
    if (v <= values[0])
        return 0;
    if (v >= values[15])
        return 15;
    int low = 0, high = 15;
    while (high - low > 1) {
        int mid = (low + high) / 2;
        if (v < values[mid])
            high = mid;
        else
            low = mid;
    }
    return v - values[high - 1] < values[high] - v ? high - 1 : high;
}

/* The best scale for the 32 values x, by the search above with ntry extra
 * starting points; 0 for an all-zero group. (The callers then pick each
 * value's step for the scale they store.) */
static inline float iq4_search_scale(const float *x, int ntry)
{
    const int8_t *values = iq4_nl_values;
    float weight[32];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        weight[j] = x[j] * x[j];
        float a = x[j] < 0 ? -x[j] : x[j];
        if (a > amax) {
            amax = a;
            max = x[j];
        }
    }
    if (amax < IQ4_GROUP_MAX_EPS)
        return 0.0f;
    float d = ntry > 0 ? -max / (float)values[0] : max / (float)values[0];
    float id = 1.0f / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        /* separate statements: no compiler may fuse them into an fma */
        float scaled = id * x[j];
        float q = (float)values[iq4_nearest_index(scaled)];
        float wq = weight[j] * q;
        float wqx = wq * x[j];
        float wqq = wq * q;
        sumqx += wqx;
        sumq2 += wqq;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; itry++) {
        id = (float)(itry + values[0]) / max;
        sumqx = 0.0f;
        sumq2 = 0.0f;
        for (int j = 0; j < 32; j++) {
            float scaled = id * x[j];
            float q = (float)values[iq4_nearest_index(scaled)];
            float wq = weight[j] * q;
            float wqx = wq * x[j];
            float wqq = wq * q;
            sumqx += wqx;
            sumq2 += wqq;
        }
        float lhs = sumqx * sumqx, rhs = best * sumq2;
        if (sumq2 > 0 && lhs > rhs) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

#endif
