/* q6_k's decoding for one x86 tier (kquant_tier_head.h lists the contract;
 * kquant_tier.h builds the products on it). The values are the unsigned
 * 6-bit v; the offset of 32 goes into the correction, k[g] = 32 * sc[g],
 * which shares the factor d with the scales and so folds into the integer
 * sum. */

enum {
    TIER(block_bytes) = Q6_K_BLOCK_BYTES,
    TIER(signed_scales) = 1,
    TIER(corr_folds) = 1,
};

typedef struct TIER(row) {
    __m128i sc; /* the 16 int8 scales */
} TIER(row);

QUANT_INLINE TIER_TARGET TIER(row) TIER(row_load)(const uint8_t *block)
{
    TIER(row) row = {_mm_loadu_si128((const __m128i *)(block + Q6_K_SCALES))};
    return row;
}

QUANT_INLINE TIER_TARGET __m128i TIER(row_scales)(const TIER(row) *row)
{
    return row->sc;
}

QUANT_INLINE TIER_TARGET __m256i TIER(row_corr)(const TIER(row) *row)
{
    return _mm256_slli_epi16(_mm256_cvtepi8_epi16(row->sc), 5);
}

QUANT_INLINE TIER_TARGET uint32_t TIER(halves)(const uint8_t *block)
{
    uint32_t d = quant_load_u16(block + Q6_K_D);
    return d | d << 16;
}

/* Chunk c is values 128h + 32k + l (h = c / 4, k = c % 4): ql's nibble (low
 * for k < 2) and bits 2k, 2k + 1 of qh moved to bits 4, 5. */
QUANT_INLINE TIER_TARGET __m256i TIER(chunk)(const uint8_t *block, int c)
{
    int h = c / 4, k = c % 4;
    __m256i low = TIER(shift)(TIER(load)(block + 64 * h + 32 * (k % 2)), 4 * (k / 2));
    __m256i high = TIER(shift)(TIER(load)(block + Q6_K_QH + 32 * h), 2 * k - 4);
    return _mm256_or_si256(TIER(mask)(low, 0x0f), TIER(mask)(high, 0x30));
}
