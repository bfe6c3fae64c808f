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

/* Sub-block j's low nibbles as q4_k's, and bit j of qh moved to bit 4. */
QUANT_INLINE TIER_TARGET TIER_VEC TIER(chunk)(const uint8_t *block, int c)
{
    const uint8_t *qs = block + Q5_K_QS;
    TIER_VEC qh = TIER(load_halves)(block + Q5_K_QH);
#if TIER_WIDE
    TIER_VEC low = TIER(shift_halves)(TIER(load_halves)(qs + 32 * c), 0, 4);
    TIER_VEC high = TIER(shift_halves)(qh, 2 * c - 4, 2 * c - 3);
#else
    TIER_VEC low = TIER(shift_halves)(TIER(load_halves)(qs + 32 * (c / 2)), 4 * (c % 2), 0);
    TIER_VEC high = TIER(shift_halves)(qh, c - 4, 0);
#endif
    return TIER(or)(TIER(and)(low, TIER(bytes)(0x0f)), TIER(and)(high, TIER(bytes)(0x10)));
}
