/* One x86 tier of the kernels of the formats whose 32 values are 4-bit
 * indices into a table of 16 signed steps under one scale, products against
 * q8_0: iq4_nl and mxfp4. The step of its products, around which
 * quant_tile.h builds the tiles. FORMAT_x86.c defines once
 *
 *   NL_STEPS        the 16 steps (int8_t[16])
 *   NL_QS           byte offset of qs[16] in a block (qs[j] = q[j] | q[j + 16] << 4)
 *   NL_BLOCK_BYTES  bytes per block
 *   NL_SCALE(block) (optional) the block's scale as a float; without it,
 *                   the f16 at byte 0
 *
 * and includes this file, then quant_tile.h, once per tier, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 *
 * The products take blocks two at a time, as q4_0's do (q4_0_tier.h): the
 * 16 bytes of qs of blocks b and b + 1 side by side give by masking the
 * indices of values 0-15 of both and by shifting those of 16-31, vpshufb
 * looks the steps up in the table (16 entries, one per lane of the
 * instruction), and a token's activations are loaded in the same order.
 * One pair is two byte dot products into the same 8 int32 lanes, lanes 0-3
 * block b's and 4-7 block b + 1's, scaled lane by lane by
 * [d*dx of b (x4) | d*dx of b + 1 (x4)]. The byte instructions take one
 * unsigned operand, so:
 *   - VNNI tiers look up step + 128 (1..241, unsigned) and start each sum
 *     at -128*sum(p), which a token's blocks give once for all rows;
 *   - the others look up the step, and feed |step| and p with the step's
 *     sign, as vpmaddubsw's int16 pairs allow (|step| <= 127). */

/* The table in both 128-bit lanes, shifted by 128 on the VNNI tiers. */
QUANT_INLINE TIER_TARGET __m256i TIER(table)(void)
{
    __m128i steps = _mm_loadu_si128((const __m128i *)NL_STEPS);
#if TIER_VNNI
    steps = _mm_xor_si128(steps, _mm_set1_epi8((char)0x80));
#endif
    return _mm256_broadcastsi128_si256(steps);
}

/* One row's steps for a pair of blocks, values 0-15 and 16-31: step + 128
 * on VNNI, else |step| with the signed steps beside them. */
typedef struct TIER(row_pair) {
    __m256i lo, hi;
#if !TIER_VNNI
    __m256i lo_sign, hi_sign;
#endif
} TIER(row_pair);

QUANT_INLINE TIER_TARGET TIER(row_pair) TIER(load_row)(const uint8_t *block, const int two)
{
    const __m256i table = TIER(table)();
    __m256i v = quant_load_pair(block + NL_QS, NL_BLOCK_BYTES, two);
    __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, _mm256_set1_epi8(0x0f)));
    __m256i hi = _mm256_shuffle_epi8(
        table, _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)));
    TIER(row_pair) rp;
#if TIER_VNNI
    rp.lo = lo;
    rp.hi = hi;
#else
    rp.lo = _mm256_abs_epi8(lo);
    rp.hi = _mm256_abs_epi8(hi);
    rp.lo_sign = lo;
    rp.hi_sign = hi;
#endif
    return rp;
}

/* One token's activations for a pair of blocks, in the rows' order, and on
 * VNNI -128 * sum(p) per block in the lanes that block's products land in. */
typedef struct TIER(token_pair) {
    __m256i lo, hi;
#if TIER_VNNI
    __m256i bias;
#endif
} TIER(token_pair);

QUANT_INLINE TIER_TARGET TIER(token_pair) TIER(load_token)(const uint8_t *xb, const int two)
{
    TIER(token_pair) tp;
    tp.lo = quant_load_pair(xb + 2, IQ4_NL_ACT_BLOCK_BYTES, two);
    tp.hi = quant_load_pair(xb + 18, IQ4_NL_ACT_BLOCK_BYTES, two);
#if TIER_VNNI
    const __m256i offset = _mm256_set1_epi8((char)0x80);
    __m256i sums = TIER_DPBUSD(TIER_DPBUSD(_mm256_setzero_si256(), offset, tp.lo), offset, tp.hi);
    tp.bias = _mm256_sub_epi32(_mm256_setzero_si256(), sums);
#endif
    return tp;
}

/* The pair's 8 int32 partial sums of steps times activation bytes. */
QUANT_INLINE TIER_TARGET __m256i TIER(dot)(TIER(row_pair) rp, TIER(token_pair) tp)
{
#if TIER_VNNI
    return TIER_DPBUSD(TIER_DPBUSD(tp.bias, rp.lo, tp.lo), rp.hi, tp.hi);
#else
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i lo = _mm256_maddubs_epi16(rp.lo, _mm256_sign_epi8(tp.lo, rp.lo_sign));
    __m256i hi = _mm256_maddubs_epi16(rp.hi, _mm256_sign_epi8(tp.hi, rp.hi_sign));
    return _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones));
#endif
}

/* The driver (quant_tile.h) takes the blocks in pairs through its shared
 * step. */
#define TILE_PAIR_STEP 1
#ifdef NL_SCALE
#define TILE_WEIGHT_SCALE(block) NL_SCALE(block)
#endif
#define TILE_BLOCK_BYTES NL_BLOCK_BYTES
#define TILE_ACT_BLOCK_BYTES IQ4_NL_ACT_BLOCK_BYTES
#define TILE_BLOCK_ELEMS IQ4_NL_BLOCK_ELEMS
#define TILE_PAIRS 1
#define TILE_MINS 0

/* Dequantizing: d * step, exact in float (a power of two for mxfp4, 11 + 7
 * significant bits for iq4_nl), as the scalar reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)NL_STEPS));
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / IQ4_NL_BLOCK_ELEMS; b++, block += NL_BLOCK_BYTES) {
#ifdef NL_SCALE
        __m256 d = _mm256_set1_ps(NL_SCALE(block));
#else
        __m256 d = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(block)));
#endif
        __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + NL_QS)));
        __m256i indices = _mm256_and_si256(
            _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
        __m256i steps = _mm256_shuffle_epi8(table, indices);
        __m128i halves[2] = {_mm256_castsi256_si128(steps), _mm256_extracti128_si256(steps, 1)};
        float *out = dst + b * IQ4_NL_BLOCK_ELEMS;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(halves[h]));
            __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(halves[h], 8)));
            _mm256_storeu_ps(out + 16 * h, _mm256_mul_ps(d, v0));
            _mm256_storeu_ps(out + 16 * h + 8, _mm256_mul_ps(d, v1));
        }
    }
}
