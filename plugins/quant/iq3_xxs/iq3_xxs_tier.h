/* One x86 tier of the iq3_xxs kernels: how a sub-block reads, from which
 * iq_grid_tier.h makes the products and dequantizing. iq_grid_x86.h
 * includes it once per tier, before iq_grid_tier.h (the macros a tier
 * defines are listed there).
 *
 * A sub-block's 32 magnitudes are its 8 grid points of 4 bytes side by
 * side; its signs come from the 4 pattern indices in its aux word; its
 * scale 2s + 1 covers all 32 values, and w = d * (2s + 1) / 4 * value. */

#define GRID_BLOCK_BYTES IQ3_XXS_BLOCK_BYTES
#define GRID_FACTOR IQ3_XXS_FACTOR
#define GRID_SCALE_PER_16 0

QUANT_INLINE TIER_TARGET iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)
{
    const uint8_t *qs = block + IQ3_XXS_QS + 8 * i;
    uint32_t aux = iq3_xxs_aux(block, i);
    int scale = (int)(2 * (aux >> 28) + 1);
    iq_grid_sub sub = {
        _mm256_setr_epi32((int)iq3_xxs_point(qs[0]), (int)iq3_xxs_point(qs[1]),
                          (int)iq3_xxs_point(qs[2]), (int)iq3_xxs_point(qs[3]),
                          (int)iq3_xxs_point(qs[4]), (int)iq3_xxs_point(qs[5]),
                          (int)iq3_xxs_point(qs[6]), (int)iq3_xxs_point(qs[7])),
        iq_sign_bits(aux), scale, scale};
    return sub;
}
