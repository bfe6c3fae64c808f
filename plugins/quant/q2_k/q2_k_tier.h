/* q2_k's decoding for one x86 tier (kquant_tier_head.h lists the contract;
 * kquant_tier.h builds the products on it). The values are the 2-bit q,
 * the scales the low nibbles of scales[], the correction's coefficients
 * their high nibbles (the minimums); a = d, b = dmin. */

enum {
    TIER(block_bytes) = Q2_K_BLOCK_BYTES,
    TIER(signed_scales) = 0,
    TIER(corr_folds) = 0,
};

typedef struct TIER(row) {
    __m128i packed; /* scales[16] as stored */
} TIER(row);

QUANT_INLINE TIER_TARGET TIER(row) TIER(row_load)(const uint8_t *block)
{
    TIER(row) row = {_mm_loadu_si128((const __m128i *)block)};
    return row;
}

QUANT_INLINE TIER_TARGET __m128i TIER(row_scales)(const TIER(row) *row)
{
    return _mm_and_si128(row->packed, _mm_set1_epi8(0x0f));
}

QUANT_INLINE TIER_TARGET __m256i TIER(row_corr)(const TIER(row) *row)
{
    return _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(row->packed, 4), _mm_set1_epi8(0x0f)));
}

QUANT_INLINE TIER_TARGET uint32_t TIER(halves)(const uint8_t *block)
{
    uint32_t d_dmin;
    memcpy(&d_dmin, block + Q2_K_D, sizeof d_dmin);
    return d_dmin;
}

/* Chunk c is values 128h + 32k + l (h = c / 4, k = c % 4): bits 2k, 2k + 1
 * of qs[32h + l]. */
QUANT_INLINE TIER_TARGET __m256i TIER(chunk)(const uint8_t *block, int c)
{
    int h = c / 4, k = c % 4;
    return TIER(mask)(TIER(shift)(TIER(load)(block + Q2_K_QS + 32 * h), 2 * k), 0x03);
}
