/* One x86 tier of the iq3_s kernels: how a sub-block reads, from which
 * iq_grid_tier.h makes the products and dequantizing. iq_grid_x86.h
 * includes it once per tier, before iq_grid_tier.h (the macros a tier
 * defines are listed there).
 *
 * A sub-block's 32 magnitudes are its 8 grid points of 4 bytes side by
 * side; its signs are its 4 sign bytes as they stand; its scale 2s + 1
 * covers all 32 values. */

#define GRID_BLOCK_BYTES IQ3_S_BLOCK_BYTES
#define GRID_FACTOR IQ3_S_FACTOR
#define GRID_SCALE_PER_16 0

QUANT_INLINE TIER_TARGET iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)
{
    int scale = iq3_s_scale(block, i);
    iq_grid_sub sub = {_mm256_setr_epi32((int)iq3_s_point(iq3_s_index(block, i, 0)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 1)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 2)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 3)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 4)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 5)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 6)),
                                         (int)iq3_s_point(iq3_s_index(block, i, 7))),
                       iq3_s_sign_bits(block, i), scale, scale};
    return sub;
}
