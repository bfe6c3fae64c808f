/* One x86 tier of the iq1_s kernels: how a sub-block reads, from which
 * iq_grid_tier.h makes the products and dequantizing. iq_grid_x86.h
 * includes it once per tier, before iq_grid_tier.h (the macros a tier
 * defines are listed there).
 *
 * A sub-block's 32 values 8 g +- 1 are its 4 grid points of 8 bytes side
 * by side, times 8 (vpsignb of 8 by g, as g is -1, 0 or 1) plus the
 * shift; their magnitudes and their signs (vpmovmskb) go to the products;
 * its scale 2s + 1 covers all 32 values. */

#define GRID_BLOCK_BYTES IQ1_S_BLOCK_BYTES
#define GRID_FACTOR IQ1_S_FACTOR
#define GRID_SCALE_PER_16 0

QUANT_INLINE TIER_TARGET iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)
{
    __m256i g = _mm256_setr_epi64x((long long)iq1_s_point(iq1_s_index(block, i, 0)),
                                   (long long)iq1_s_point(iq1_s_index(block, i, 1)),
                                   (long long)iq1_s_point(iq1_s_index(block, i, 2)),
                                   (long long)iq1_s_point(iq1_s_index(block, i, 3)));
    __m256i values = _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), g),
                                     _mm256_set1_epi8((char)iq1_s_shift(block, i)));
    int scale = iq1_s_scale(block, i);
    iq_grid_sub sub = {_mm256_abs_epi8(values), (uint32_t)_mm256_movemask_epi8(values), scale,
                       scale};
    return sub;
}
