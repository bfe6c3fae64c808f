/* One x86 tier of the q4_0 kernels: the step of its products, around which
 * quant_tile.h builds the tiles. q4_0_x86.c includes this file, then
 * quant_tile.h, once per tier, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (rows x tokens, at most 4 x 4)
 *
 * The products take blocks two at a time. The 16 bytes of qs of blocks b
 * and b + 1, side by side in a ymm, give by masking
 * [q[0..15] of b | q[0..15] of b + 1] and by shifting [q[16..31] of b |
 * q[16..31] of b + 1]; a token's activations are loaded in the same order
 * (two 16-byte halves per ymm). Then one pair is two byte dot products into
 * the same 8 int32 lanes, lanes 0-3 block b's and 4-7 block b + 1's, plus
 * -8 * sum(p) of each block (which depends on the token alone, so a tile
 * computes it once for all its rows), converted to float and scaled lane by
 * lane by [d*dx of b (x4) | d*dx of b + 1 (x4)]: half the instructions of
 * one block at a time. An odd last block goes through the same code with
 * zeros for its partner. Lanes are summed only when the tile is done; a
 * tile loads each weight block once for all its tokens and each activation
 * block once for all its rows. */

/* One row's nibbles for a pair of blocks: values 0-15 and 16-31. */
typedef struct TIER(row_pair) {
    __m256i lo, hi;
} TIER(row_pair);

QUANT_INLINE TIER_TARGET TIER(row_pair) TIER(load_row)(const uint8_t *block, const int two)
{
    __m256i v = quant_load_pair(block + 2, Q4_0_BLOCK_BYTES, two);
    TIER(row_pair) rp = {_mm256_and_si256(v, _mm256_set1_epi8(0x0f)),
                         _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f))};
    return rp;
}

/* One token's activations for a pair of blocks, in the rows' order, with
 * -8 * sum(p) per block in the lanes that block's products land in. */
typedef struct TIER(token_pair) {
    __m256i lo, hi, bias;
} TIER(token_pair);

QUANT_INLINE TIER_TARGET TIER(token_pair) TIER(load_token)(const uint8_t *xb, const int two)
{
    TIER(token_pair) tp;
    tp.lo = quant_load_pair(xb + 2, Q4_0_ACT_BLOCK_BYTES, two);
    tp.hi = quant_load_pair(xb + 18, Q4_0_ACT_BLOCK_BYTES, two);
    const __m256i eights = _mm256_set1_epi8(8);
#if TIER_VNNI
    __m256i sums = TIER_DPBUSD(TIER_DPBUSD(_mm256_setzero_si256(), eights, tp.lo), eights, tp.hi);
#else
    /* int16 pairs: at most 4 * 8 * 128, no saturation */
    __m256i sums = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(eights, tp.lo),
                                                      _mm256_maddubs_epi16(eights, tp.hi)),
                                     _mm256_set1_epi16(1));
#endif
    tp.bias = _mm256_sub_epi32(_mm256_setzero_si256(), sums);
    return tp;
}

/* bias + the pair's 8 int32 partial sums of nibbles (unsigned) times
 * activation bytes (signed). Off VNNI the two int16 products of a pair of
 * bytes and the two halves' sums stay below 4 * 15 * 128: no saturation. */
QUANT_INLINE TIER_TARGET __m256i TIER(dot)(TIER(row_pair) rp, TIER(token_pair) tp)
{
#if TIER_VNNI
    return TIER_DPBUSD(TIER_DPBUSD(tp.bias, rp.lo, tp.lo), rp.hi, tp.hi);
#else
    __m256i sums = _mm256_add_epi16(_mm256_maddubs_epi16(rp.lo, tp.lo),
                                    _mm256_maddubs_epi16(rp.hi, tp.hi));
    return _mm256_add_epi32(_mm256_madd_epi16(sums, _mm256_set1_epi16(1)), tp.bias);
#endif
}

/* The driver (quant_tile.h) takes the blocks in pairs through its shared
 * step. */
#define TILE_PAIR_STEP 1
#define TILE_BLOCK_BYTES Q4_0_BLOCK_BYTES
#define TILE_ACT_BLOCK_BYTES Q4_0_ACT_BLOCK_BYTES
#define TILE_BLOCK_ELEMS Q4_0_BLOCK_ELEMS
#define TILE_PAIRS 1
#define TILE_MINS 0

/* Dequantizing: (q - 8) * d, exact in float, as the scalar reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q4_0_BLOCK_ELEMS; b++, block += Q4_0_BLOCK_BYTES) {
        __m256 d = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(block)));
        __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + 2)));
        __m256i q = _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                                     _mm256_set1_epi8(0x0f));
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(8));
        __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
        float *out = dst + b * Q4_0_BLOCK_ELEMS;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(halves[h]));
            __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(halves[h], 8)));
            _mm256_storeu_ps(out + 16 * h, _mm256_mul_ps(v0, d));
            _mm256_storeu_ps(out + 16 * h + 8, _mm256_mul_ps(v1, d));
        }
    }
}
