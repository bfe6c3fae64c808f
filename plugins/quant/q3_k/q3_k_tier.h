/* q3_k's decoding for one x86 tier (kquant_tier_head.h lists the contract;
 * kquant_tier.h builds the products on it). The values are the unsigned
 * 3-bit u; the offset of 4 goes into the correction, k[g] = 4 * sc[g],
 * which shares the factor d with the scales and so folds into the integer
 * sum. */

enum {
    TIER(block_bytes) = Q3_K_BLOCK_BYTES,
    TIER(signed_scales) = 1,
    TIER(corr_folds) = 1,
};

typedef struct TIER(row) {
    __m128i sc; /* the 16 scales, -32..31 */
} TIER(row);

QUANT_INLINE TIER_TARGET TIER(row) TIER(row_load)(const uint8_t *block)
{
    uint32_t words[4];
    q3_k_scale_words(block + Q3_K_SCALES, words);
    __m128i biased = _mm_setr_epi32((int)words[0], (int)words[1], (int)words[2], (int)words[3]);
    TIER(row) row = {_mm_sub_epi8(biased, _mm_set1_epi8(32))};
    return row;
}

QUANT_INLINE TIER_TARGET __m128i TIER(row_scales)(const TIER(row) *row)
{
    return row->sc;
}

QUANT_INLINE TIER_TARGET __m256i TIER(row_corr)(const TIER(row) *row)
{
    return _mm256_slli_epi16(_mm256_cvtepi8_epi16(row->sc), 2);
}

QUANT_INLINE TIER_TARGET uint32_t TIER(halves)(const uint8_t *block)
{
    uint32_t d = quant_load_u16(block + Q3_K_D);
    return d | d << 16;
}

/* Chunk c is values 128h + 32k + l (h = c / 4, k = c % 4): bits 2k, 2k + 1
 * of qs[32h + l], and bit c of hmask[l] moved to bit 2. */
QUANT_INLINE TIER_TARGET __m256i TIER(chunk)(const uint8_t *block, int c)
{
    int h = c / 4, k = c % 4;
    __m256i low = TIER(shift)(TIER(load)(block + Q3_K_QS + 32 * h), 2 * k);
    __m256i high = TIER(shift)(TIER(load)(block), c - 2);
    return _mm256_or_si256(TIER(mask)(low, 0x03), TIER(mask)(high, 0x04));
}
