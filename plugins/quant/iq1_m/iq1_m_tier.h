/* One x86 tier of the iq1_m kernels: how a sub-block reads, from which
 * iq_grid_tier.h makes the products and dequantizing. iq_grid_x86.h
 * includes it once per tier, before iq_grid_tier.h (the macros a tier
 * defines are listed there).
 *
 * A sub-block's 32 values 8 g +- 1 are its 4 grid points of 8 bytes side
 * by side, times 8 (vpsignb of 8 by g, as g is -1, 0 or 1) plus each
 * point's shift (+1 or -1 in every byte of its 64-bit lane); their
 * magnitudes and their signs (vpmovmskb) go to the products; a scale
 * covers each 16 values; d comes from the scale words' top nibbles. */

#define GRID_BLOCK_BYTES IQ1_M_BLOCK_BYTES
#define GRID_FACTOR IQ1_M_FACTOR
#define GRID_SCALE_PER_16 1
#define GRID_D_HALF(block) iq1_m_d_half(block)

QUANT_INLINE TIER_TARGET iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)
{
    __m256i g = _mm256_setr_epi64x((long long)iq1_m_point(iq1_m_index(block, i, 0)),
                                   (long long)iq1_m_point(iq1_m_index(block, i, 1)),
                                   (long long)iq1_m_point(iq1_m_index(block, i, 2)),
                                   (long long)iq1_m_point(iq1_m_index(block, i, 3)));
    /* 8 bytes of +1 or of -1 (all ones) per point */
    const uint64_t plus = 0x0101010101010101ull, minus = ~0ull;
    __m256i shifts = _mm256_setr_epi64x((long long)(iq1_m_shift(block, i, 0) > 0 ? plus : minus),
                                        (long long)(iq1_m_shift(block, i, 1) > 0 ? plus : minus),
                                        (long long)(iq1_m_shift(block, i, 2) > 0 ? plus : minus),
                                        (long long)(iq1_m_shift(block, i, 3) > 0 ? plus : minus));
    __m256i values = _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), g), shifts);
    iq_grid_sub sub = {_mm256_abs_epi8(values), (uint32_t)_mm256_movemask_epi8(values),
                       iq1_m_scale(block, i, 0), iq1_m_scale(block, i, 1)};
    return sub;
}
