/* One x86 tier of the iq2_xs kernels: how a sub-block reads, from which
 * iq_grid_tier.h makes the products and dequantizing. iq_grid_x86.h
 * includes it once per tier, before iq_grid_tier.h (the macros a tier
 * defines are listed there).
 *
 * A sub-block's 32 magnitudes are its 4 grid points of 8 bytes side by
 * side; its signs come from the pattern index in each point's top 7 bits;
 * each 16 values have their own scale 2s + 1. */

#define GRID_BLOCK_BYTES IQ2_XS_BLOCK_BYTES
#define GRID_FACTOR IQ2_XS_FACTOR
#define GRID_SCALE_PER_16 1

QUANT_INLINE TIER_TARGET iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)
{
    iq_grid_sub sub = {_mm256_setr_epi64x((long long)iq2_xs_point(iq2_xs_q(block, i, 0)),
                                          (long long)iq2_xs_point(iq2_xs_q(block, i, 1)),
                                          (long long)iq2_xs_point(iq2_xs_q(block, i, 2)),
                                          (long long)iq2_xs_point(iq2_xs_q(block, i, 3))),
                       iq2_xs_sign_bits(block, i), 0, 0};
    iq_scales_per_16(block[IQ2_XS_SCALES + i], &sub.scale_lo, &sub.scale_hi);
    return sub;
}
