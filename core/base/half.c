/* Half and bfloat16 conversions by bit manipulation, so the result does not
 * depend on the compiler or the CPU (no _Float16, no F16C).
 *
 * fp16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Normals
 * cover 2^-14 .. 65504; below that, subnormals in steps of 2^-24.
 * bf16: the upper 16 bits of a float (8 exponent bits, 7 fraction bits). */
#include <string.h>

#include "half.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Shifts v right by shift, rounding to nearest with ties to even. */
static uint32_t shift_round_even(uint32_t v, unsigned shift)
{
    uint32_t kept = v >> shift;
    uint32_t rest = v & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    return kept + (rest > half || (rest == half && (kept & 1u)));
}

uint16_t tsr_fp16_from_float(float f)
{
    uint32_t u = bits_of(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t magnitude = u & 0x7fffffffu;
    if (magnitude > 0x7f800000u) /* NaN: quiet, keeping the top of the payload */
        return (uint16_t)(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    if (magnitude == 0x7f800000u)
        return (uint16_t)(sign | 0x7c00u);
    int exponent = (int)(magnitude >> 23) - 127;
    if (exponent >= -14) {
        /* A normal half, unless rounding carries it past 65504 into infinity
         * (the carry into the exponent field does exactly that). */
        uint32_t rebased = magnitude - ((uint32_t)(127 - 15) << 23);
        if (exponent > 15)
            return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | shift_round_even(rebased, 13));
    }
    if (exponent < -25)
        return sign; /* below half the smallest subnormal: zero */
    /* A subnormal half: the significand with its implicit 1, in units of
     * 2^-24. */
    uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    return (uint16_t)(sign | shift_round_even(significand, (unsigned)(-exponent - 1)));
}

float tsr_fp16_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t fraction = h & 0x3ffu;
    if (exponent == 0x1f) /* infinity or NaN */
        return float_of(sign | 0x7f800000u | (fraction << 13));
    if (exponent != 0)
        return float_of(sign | ((exponent + 127 - 15) << 23) | (fraction << 13));
    /* zero or subnormal: fraction * 2^-24, exact in a float */
    float value = (float)fraction * float_of(0x33800000u); /* 2^-24 */
    return sign ? -value : value;
}

uint16_t tsr_bf16_from_float(float f)
{
    uint32_t u = bits_of(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet */
        return (uint16_t)((u >> 16) | 0x40u);
    /* Round to nearest even on the 16 bits dropped; a carry may reach the
     * exponent, and from the largest finite values, infinity, as it should. */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float tsr_bf16_to_float(uint16_t h)
{
    return float_of((uint32_t)h << 16);
}

void tsr_fp16_from_float_n(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = tsr_fp16_from_float(src[i]);
}

void tsr_fp16_to_float_n(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = tsr_fp16_to_float(src[i]);
}

void tsr_bf16_from_float_n(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = tsr_bf16_from_float(src[i]);
}

void tsr_bf16_to_float_n(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = tsr_bf16_to_float(src[i]);
}
