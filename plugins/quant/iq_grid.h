/* What ggml's grid i-quants share (iq3_xxs, iq2_xxs, ...), header-only like
 * kquant.h: 256 values a block under an f16 d at byte 0, 8 sub-blocks of
 * 32, each value a magnitude from a fixed grid of points (4 or 8 values a
 * point, one index per point) with a sign of its own and an integer
 * scale per sub-block (or per 16 values); products against q8_K.
 *
 * The signs of 8 values come in some formats as 7 bits, the eighth being
 * their parity (a pattern always has an even count of negatives): ggml's
 * ksigns_iq2xs, built here from that definition. */
#ifndef TSR_QUANT_IQ_GRID_H
#define TSR_QUANT_IQ_GRID_H

#include "kquant.h"

#define IQ_SIGN_PATTERN(i) ((uint8_t)((i) | __builtin_parity(i) << 7))
#define IQ_SIGN_PATTERNS4(i)                                                                       \
    IQ_SIGN_PATTERN(i), IQ_SIGN_PATTERN(i + 1), IQ_SIGN_PATTERN(i + 2), IQ_SIGN_PATTERN(i + 3)
#define IQ_SIGN_PATTERNS16(i)                                                                      \
    IQ_SIGN_PATTERNS4(i), IQ_SIGN_PATTERNS4(i + 4), IQ_SIGN_PATTERNS4(i + 8),                      \
        IQ_SIGN_PATTERNS4(i + 12)

/* Sign patterns of 8 values by their 7-bit index: bit j set = value j
 * negative. */
static const uint8_t iq_sign_patterns[128] = {
    IQ_SIGN_PATTERNS16(0),  IQ_SIGN_PATTERNS16(16), IQ_SIGN_PATTERNS16(32),
    IQ_SIGN_PATTERNS16(48), IQ_SIGN_PATTERNS16(64), IQ_SIGN_PATTERNS16(80),
    IQ_SIGN_PATTERNS16(96), IQ_SIGN_PATTERNS16(112),
};

/* The 32 signs of four 7-bit pattern indices packed in bits 0-27 of aux
 * (iq3_xxs, iq2_xxs), as bits: bit v set = value v negative. */
static inline uint32_t iq_sign_bits(uint32_t aux)
{
    return (uint32_t)iq_sign_patterns[aux & 127] |
           (uint32_t)iq_sign_patterns[aux >> 7 & 127] << 8 |
           (uint32_t)iq_sign_patterns[aux >> 14 & 127] << 16 |
           (uint32_t)iq_sign_patterns[aux >> 21 & 127] << 24;
}

/* The integer scales 2s + 1 of values 0-15 and 16-31 of a sub-block whose
 * two 4-bit s share a byte, the first in its low nibble (iq2_xs, iq2_s). */
static inline void iq_scales_per_16(uint8_t packed, int *lo, int *hi)
{
    *lo = 2 * (packed & 15) + 1;
    *hi = 2 * (packed >> 4) + 1;
}

#if QUANT_X86
/* One sub-block of 32 values as the SIMD products take it (iq_grid_tier.h):
 * the magnitudes in value order, unsigned bytes below 64; the signs, bit v
 * set = value v negative; the integer scale of values 0-15 and of 16-31
 * (the same where a scale covers all 32). */
typedef struct iq_grid_sub {
    __m256i magnitudes;
    uint32_t signs;
    int scale_lo, scale_hi;
} iq_grid_sub;
#endif

#endif
