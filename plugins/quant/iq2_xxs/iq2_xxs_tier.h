/* One x86 tier of the iq2_xxs kernels: how a sub-block reads, from which
 * iq_grid_tier.h makes the products and dequantizing. iq_grid_x86.h
 * includes it once per tier, before iq_grid_tier.h (the macros a tier
 * defines are listed there).
 *
 * A sub-block's 32 magnitudes are its 4 grid points of 8 bytes side by
 * side; its signs come from the 4 pattern indices in its aux word; its
 * scale 2s + 1 covers all 32 values, and w = d * (2s + 1) / 8 * value. */

#define GRID_BLOCK_BYTES IQ2_XXS_BLOCK_BYTES
#define GRID_FACTOR IQ2_XXS_FACTOR
#define GRID_SCALE_PER_16 0

QUANT_INLINE TIER_TARGET iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)
{
    const uint8_t *q = iq2_xxs_indices(block, i);
    uint32_t aux = iq2_xxs_aux(block, i);
    int scale = (int)(2 * (aux >> 28) + 1);
    iq_grid_sub sub = {_mm256_setr_epi64x((long long)iq2_xxs_point(q[0]),
                                          (long long)iq2_xxs_point(q[1]),
                                          (long long)iq2_xxs_point(q[2]),
                                          (long long)iq2_xxs_point(q[3])),
                       iq_sign_bits(aux), scale, scale};
    return sub;
}
