/* One x86 tier of the q5_0 kernels: the step of its products, around which
 * quant_tile.h builds the tiles. q5_0_x86.c includes this file, then
 * quant_tile.h, once per tier, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   TIER_AVX512     1 when AVX-512 BW/VL mask registers turn qh into bytes
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (rows x tokens, at most 4 x 4)
 *
 * The products take blocks two at a time, as q4_0's do (q4_0_tier.h): the
 * 16 bytes of qs of blocks b and b + 1 side by side give by masking the
 * low 4 bits of values 0-15 of both and by shifting those of 16-31, and
 * the two blocks' qh add the fifth bit of each. A token's activations are
 * loaded in the same order. One pair is two byte dot products into the same
 * 8 int32 lanes, lanes 0-3 block b's and 4-7 block b + 1's, plus
 * -16 * sum(p) of each block (which depends on the token alone, so a tile
 * computes it once for all its rows), scaled lane by lane by
 * [d*dx of b (x4) | d*dx of b + 1 (x4)]. */

/* 32 bits, one per byte of a ymm, as 0x10 where set and 0 elsewhere. */
QUANT_INLINE TIER_TARGET __m256i TIER(fifth_bits)(uint32_t bits)
{
#if TIER_AVX512
    return _mm256_maskz_mov_epi8(_cvtu32_mask32(bits), _mm256_set1_epi8(0x10));
#else
    /* byte i gets bits' byte i / 8, all its bits but bit i % 8 are set, and
     * it compares equal to 0xff where that bit was set already */
    __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
                                         _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                            0x0202020202020202, 0x0303030303030303));
    __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    __m256i set = _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi8(-1));
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
#endif
}

/* The 32 values q of one block as bytes, in activation order (for
 * dequantizing). */
QUANT_INLINE TIER_TARGET __m256i TIER(values)(const uint8_t *block)
{
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + 6)));
    __m256i shifted = _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    __m256i nibbles = _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
    return _mm256_or_si256(nibbles, TIER(fifth_bits)(q5_0_high_bits(block)));
}

/* One row's q for a pair of blocks: values 0-15 and 16-31. */
typedef struct TIER(row_pair) {
    __m256i lo, hi;
} TIER(row_pair);

QUANT_INLINE TIER_TARGET TIER(row_pair) TIER(load_row)(const uint8_t *block, const int two)
{
#if TIER_AVX512
    /* each block's 32 values whole (a mask register takes qh as it is),
     * then their halves regrouped */
    __m256i first = TIER(values)(block);
    __m256i second = two ? TIER(values)(block + Q5_0_BLOCK_BYTES) : _mm256_setzero_si256();
    TIER(row_pair) rp = {_mm256_permute2x128_si256(first, second, 0x20),
                         _mm256_permute2x128_si256(first, second, 0x31)};
#else
    __m256i v = quant_load_pair(block + 6, Q5_0_BLOCK_BYTES, two);
    uint32_t first = q5_0_high_bits(block);
    uint32_t second = two ? q5_0_high_bits(block + Q5_0_BLOCK_BYTES) : 0;
    /* fifth bits of values 0-15 of both blocks, then of 16-31 */
    uint32_t lo_bits = (first & 0xffffu) | second << 16;
    uint32_t hi_bits = first >> 16 | (second & 0xffff0000u);
    TIER(row_pair) rp = {
        _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi8(0x0f)), TIER(fifth_bits)(lo_bits)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)),
                        TIER(fifth_bits)(hi_bits))};
#endif
    return rp;
}

/* One token's activations for a pair of blocks, in the rows' order, with
 * -16 * sum(p) per block in the lanes that block's products land in. */
typedef struct TIER(token_pair) {
    __m256i lo, hi, bias;
} TIER(token_pair);

QUANT_INLINE TIER_TARGET TIER(token_pair) TIER(load_token)(const uint8_t *xb, const int two)
{
    TIER(token_pair) tp;
    tp.lo = quant_load_pair(xb + 2, Q5_0_ACT_BLOCK_BYTES, two);
    tp.hi = quant_load_pair(xb + 18, Q5_0_ACT_BLOCK_BYTES, two);
    const __m256i sixteens = _mm256_set1_epi8(16);
#if TIER_VNNI
    __m256i sums = TIER_DPBUSD(TIER_DPBUSD(_mm256_setzero_si256(), sixteens, tp.lo), sixteens,
                               tp.hi);
#else
    /* int16 pairs: at most 4 * 16 * 128, no saturation */
    __m256i sums = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(sixteens, tp.lo),
                                                      _mm256_maddubs_epi16(sixteens, tp.hi)),
                                     _mm256_set1_epi16(1));
#endif
    tp.bias = _mm256_sub_epi32(_mm256_setzero_si256(), sums);
    return tp;
}

/* bias + the pair's 8 int32 partial sums of q (unsigned) times activation
 * bytes (signed). Off VNNI the two int16 products of a pair of bytes and
 * the two halves' sums stay below 4 * 31 * 128: no saturation. */
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
#define TILE_BLOCK_BYTES Q5_0_BLOCK_BYTES
#define TILE_ACT_BLOCK_BYTES Q5_0_ACT_BLOCK_BYTES
#define TILE_BLOCK_ELEMS Q5_0_BLOCK_ELEMS
#define TILE_PAIRS 1
#define TILE_MINS 0

/* Dequantizing: (q - 16) * d, exact in float, as the scalar reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q5_0_BLOCK_ELEMS; b++, block += Q5_0_BLOCK_BYTES) {
        __m256 d = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(block)));
        __m256i q = _mm256_sub_epi8(TIER(values)(block), _mm256_set1_epi8(16));
        __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
        float *out = dst + b * Q5_0_BLOCK_ELEMS;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(halves[h]));
            __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(halves[h], 8)));
            _mm256_storeu_ps(out + 16 * h, _mm256_mul_ps(v0, d));
            _mm256_storeu_ps(out + 16 * h + 8, _mm256_mul_ps(v1, d));
        }
    }
}
