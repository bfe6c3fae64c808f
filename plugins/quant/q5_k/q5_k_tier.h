/* q5_k's decoding for one x86 tier (kquant_tier_head.h lists the contract;
 * kquant_tier.h builds the products on it): q4_k's, with each value's
 * fifth bit from qh. */

enum {
    TIER(block_bytes) = Q5_K_BLOCK_BYTES,
    TIER(signed_scales) = 0,
    TIER(corr_folds) = 0,
};

typedef struct TIER(row) {
    uint64_t sc, m; /* the 8 scales and 8 minimums, one byte each */
} TIER(row);

QUANT_INLINE TIER_TARGET TIER(row) TIER(row_load)(const uint8_t *block)
{
    TIER(row) row;
    kq_unpack_6bit(block + Q5_K_SCALES, &row.sc, &row.m);
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

/* Chunk c is sub-block c: its low nibbles as q4_k's, and bit c of qh moved
 * to bit 4. */
QUANT_INLINE TIER_TARGET __m256i TIER(chunk)(const uint8_t *block, int c)
{
    __m256i low = TIER(shift)(TIER(load)(block + Q5_K_QS + 32 * (c / 2)), 4 * (c % 2));
    __m256i high = TIER(shift)(TIER(load)(block + Q5_K_QH), c - 4);
    return _mm256_or_si256(TIER(mask)(low, 0x0f), TIER(mask)(high, 0x10));
}
