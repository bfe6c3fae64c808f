/* q4_k's decoding for one x86 tier (kquant_tier_head.h lists the contract;
 * kquant_tier.h builds the products on it). The values are the nibbles as
 * they are, the scales the 6-bit sc[j], and the correction's coefficients
 * the 6-bit m[j], each repeated for the two 16-value groups of a sub-block;
 * a = d, b = dmin. */

enum {
    TIER(block_bytes) = Q4_K_BLOCK_BYTES,
    TIER(signed_scales) = 0,
    TIER(corr_folds) = 0,
};

typedef struct TIER(row) {
    uint64_t sc, m; /* the 8 scales and 8 minimums, one byte each */
} TIER(row);

QUANT_INLINE TIER_TARGET TIER(row) TIER(row_load)(const uint8_t *block)
{
    TIER(row) row;
    kq_unpack_6bit(block + Q4_K_SCALES, &row.sc, &row.m);
    return row;
}

QUANT_INLINE TIER_TARGET __m128i TIER(row_scales)(const TIER(row) *row)
{
    __m128i sc = _mm_cvtsi64_si128((long long)row->sc);
    return _mm_unpacklo_epi8(sc, sc);
}

QUANT_INLINE TIER_TARGET __m256i TIER(row_corr)(const TIER(row) *row)
{
    __m128i m = _mm_cvtsi64_si128((long long)row->m);
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
}

QUANT_INLINE TIER_TARGET uint32_t TIER(halves)(const uint8_t *block)
{
    uint32_t d_dmin;
    memcpy(&d_dmin, block, sizeof d_dmin);
    return d_dmin;
}

/* Chunk c is sub-block c: the low (c even) or the high (c odd) nibbles of
 * qs[32(c / 2) .. 32(c / 2) + 31]. */
QUANT_INLINE TIER_TARGET __m256i TIER(chunk)(const uint8_t *block, int c)
{
    __m256i bytes = TIER(load)(block + Q4_K_QS + 32 * (c / 2));
    return TIER(mask)(TIER(shift)(bytes, 4 * (c % 2)), 0x0f);
}
