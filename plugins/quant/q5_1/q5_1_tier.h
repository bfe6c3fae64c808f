/* One x86 tier of the q5_1 kernels: the step of its products, around which
 * quant_tile.h builds the tiles. q5_1_x86.c includes this file, then
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
 * The products take blocks two at a time, as q5_0's do (q5_0_tier.h): the
 * 16 bytes of qs of blocks b and b + 1 side by side give by masking the
 * low 4 bits of values 0-15 of both and by shifting those of 16-31, and
 * the two blocks' qh add the fifth bit of each; a token's activations are
 * loaded in the same order. One pair is two byte dot products of unsigned
 * q with signed p into the same 8 int32 lanes, lanes 0-3 block b's and 4-7
 * block b + 1's, scaled lane by lane by [d*dx of b (x4) | d*dx of b + 1
 * (x4)]. The minimums' terms m * sx of four rows and two blocks ride in
 * one vector per token, whose lanes r and 4 + r row r takes at the end. */

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
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + 8)));
    __m256i shifted = _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    __m256i nibbles = _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
    return _mm256_or_si256(nibbles, TIER(fifth_bits)(q5_1_high_bits(block)));
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
    __m256i second = two ? TIER(values)(block + Q5_1_BLOCK_BYTES) : _mm256_setzero_si256();
    TIER(row_pair) rp = {_mm256_permute2x128_si256(first, second, 0x20),
                         _mm256_permute2x128_si256(first, second, 0x31)};
#else
    __m256i v = quant_load_pair(block + 8, Q5_1_BLOCK_BYTES, two);
    uint32_t first = q5_1_high_bits(block);
    uint32_t second = two ? q5_1_high_bits(block + Q5_1_BLOCK_BYTES) : 0;
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

/* One token's activations for a pair of blocks, in the rows' order. */
typedef struct TIER(token_pair) {
    __m256i lo, hi;
} TIER(token_pair);

QUANT_INLINE TIER_TARGET TIER(token_pair) TIER(load_token)(const uint8_t *xb, const int two)
{
    TIER(token_pair) tp = {quant_load_pair(xb + 4, Q5_1_ACT_BLOCK_BYTES, two),
                           quant_load_pair(xb + 20, Q5_1_ACT_BLOCK_BYTES, two)};
    return tp;
}

/* The pair's 8 int32 partial sums of q (unsigned) times activation bytes
 * (signed). Off VNNI the two int16 products of a pair of bytes and the two
 * halves' sums stay below 4 * 31 * 128: no saturation. */
QUANT_INLINE TIER_TARGET __m256i TIER(dot)(TIER(row_pair) rp, TIER(token_pair) tp)
{
#if TIER_VNNI
    return TIER_DPBUSD(TIER_DPBUSD(_mm256_setzero_si256(), rp.lo, tp.lo), rp.hi, tp.hi);
#else
    __m256i sums = _mm256_add_epi16(_mm256_maddubs_epi16(rp.lo, tp.lo),
                                    _mm256_maddubs_epi16(rp.hi, tp.hi));
    return _mm256_madd_epi16(sums, _mm256_set1_epi16(1));
#endif
}

/* Blocks b (and b + 1 when two) of the tile: acc[r][t] += their products,
 * acc_min[t] lanes r and 4 + r += row r's m * sx. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], __m256 acc_min[4], const uint8_t *w,
                                         size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
                                         int64_t b, const int R, const int T, const int two)
{
    const uint8_t *wb = w + b * Q5_1_BLOCK_BYTES;
    /* The tile's rows lie one after another, so it reads a region of
     * memory R rows long, R pairs of blocks per step, in an order the
     * hardware prefetchers do not follow when the weights come from DRAM.
     * Prefetch that region as the one stream it is, QUANT_PREFETCH_BYTES
     * ahead; a hint never faults, so reaching past the matrix is harmless. */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * Q5_1_BLOCK_BYTES);
#pragma GCC unroll 4
    for (int i = 0; i < (2 * R * Q5_1_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    TIER(row_pair) rows[4];
    /* the rows' d and m: r of block b in lane r, of block b + 1 in lane 4 + r */
    uint16_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0}, m[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const uint8_t *rb = wb + r * w_row_bytes;
        rows[r] = TIER(load_row)(rb, two);
        d[r] = quant_load_u16(rb);
        m[r] = quant_load_u16(rb + 2);
        d[4 + r] = two ? quant_load_u16(rb + Q5_1_BLOCK_BYTES) : 0;
        m[4 + r] = two ? quant_load_u16(rb + Q5_1_BLOCK_BYTES + 2) : 0;
    }
    __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
    __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)m));
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q5_1_ACT_BLOCK_BYTES;
        TIER(token_pair) tp = TIER(load_token)(xb, two);
        __m256 dx = quant_pair_scale(xb, Q5_1_ACT_BLOCK_BYTES, two);
        __m256 sx = quant_pair_scale(xb + 2, Q5_1_ACT_BLOCK_BYTES, two);
        acc_min[t] = _mm256_fmadd_ps(mw, sx, acc_min[t]);
        __m256 s = _mm256_mul_ps(dw, dx);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256 scale = _mm256_permutevar8x32_ps(
                s, _mm256_setr_epi32(r, r, r, r, 4 + r, 4 + r, 4 + r, 4 + r));
            __m256 dot = _mm256_cvtepi32_ps(TIER(dot)(rows[r], tp));
            acc[r][t] = _mm256_fmadd_ps(dot, scale, acc[r][t]);
        }
    }
}

/* The driver (quant_tile.h) takes the blocks in pairs through TIER(step);
 * row r's m * sx terms are lanes r and 4 + r of acc_min. */
#define TILE_BLOCK_ELEMS Q5_1_BLOCK_ELEMS
#define TILE_PAIRS 1
#define TILE_MINS 1

QUANT_INLINE TIER_TARGET float TIER(min_sum)(const float mins[8], int r)
{
    return mins[r] + mins[4 + r];
}

/* Dequantizing: d * q (exact in float) + m, as the scalar reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q5_1_BLOCK_ELEMS; b++, block += Q5_1_BLOCK_BYTES) {
        __m256 d = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(block)));
        __m256 m = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(block + 2)));
        __m256i q = TIER(values)(block);
        __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
        float *out = dst + b * Q5_1_BLOCK_ELEMS;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(halves[h]));
            __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(halves[h], 8)));
            _mm256_storeu_ps(out + 16 * h, _mm256_add_ps(_mm256_mul_ps(v0, d), m));
            _mm256_storeu_ps(out + 16 * h + 8, _mm256_add_ps(_mm256_mul_ps(v1, d), m));
        }
    }
}
