/* One x86 tier of the q5_0 kernels. q5_0_x86.c includes this file once per
 * tier, after defining:
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

/* Bytes 2..17 of a block and, when two, of the next one, side by side. */
QUANT_INLINE TIER_TARGET __m256i TIER(load_pair)(const uint8_t *at, size_t block_bytes,
                                                 const int two)
{
    __m128i first = _mm_loadu_si128((const __m128i *)at);
    if (!two)
        return _mm256_zextsi128_si256(first);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(first),
                                   _mm_loadu_si128((const __m128i *)(at + block_bytes)), 1);
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
    __m256i v = TIER(load_pair)(block + 6, Q5_0_BLOCK_BYTES, two);
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
    tp.lo = TIER(load_pair)(xb + 2, Q5_0_ACT_BLOCK_BYTES, two);
    tp.hi = TIER(load_pair)(xb + 18, Q5_0_ACT_BLOCK_BYTES, two);
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

/* The d (or dx) of a pair of blocks, as [b (x4) | b + 1 (x4)] floats. */
QUANT_INLINE TIER_TARGET __m256 TIER(pair_scale)(const uint8_t *block, size_t block_bytes,
                                                  const int two)
{
    __m128i first = _mm_set1_epi16((short)quant_load_u16(block));
    __m128i second = two ? _mm_set1_epi16((short)quant_load_u16(block + block_bytes))
                         : _mm_setzero_si128();
    return _mm256_cvtph_ps(_mm_unpacklo_epi64(first, second));
}

/* Blocks b (and b + 1 when two) of the tile: acc[r][t] += their products. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], const uint8_t *w, size_t w_row_bytes,
                                         const uint8_t *x, size_t x_row_bytes, int64_t b,
                                         const int R, const int T, const int two)
{
    const uint8_t *wb = w + b * Q5_0_BLOCK_BYTES;
    /* The tile's rows lie one after another, so it reads a region of
     * memory R rows long, R pairs of blocks per step, in an order the
     * hardware prefetchers do not follow when the weights come from DRAM.
     * Prefetch that region as the one stream it is, QUANT_PREFETCH_BYTES
     * ahead; a hint never faults, so reaching past the matrix is harmless. */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * Q5_0_BLOCK_BYTES);
#pragma GCC unroll 4
    for (int i = 0; i < (2 * R * Q5_0_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    TIER(row_pair) rows[4];
    /* the rows' d: r of block b in lane r, of block b + 1 in lane 4 + r */
    uint16_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const uint8_t *rb = wb + r * w_row_bytes;
        rows[r] = TIER(load_row)(rb, two);
        d[r] = quant_load_u16(rb);
        d[4 + r] = two ? quant_load_u16(rb + Q5_0_BLOCK_BYTES) : 0;
    }
    __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q5_0_ACT_BLOCK_BYTES;
        TIER(token_pair) tp = TIER(load_token)(xb, two);
        __m256 dx = TIER(pair_scale)(xb, Q5_0_ACT_BLOCK_BYTES, two);
        /* lanes 0-3 and 4-7 of dx are one value each: a lane shuffle gives
         * [dx of b (x4) | dx of b + 1 (x4)] against dw's order */
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

/* y[t * y_stride + r] for r < R, t < T: rows w, w + w_row_bytes, ... against
 * tokens x, x + x_row_bytes, ... over n_blocks blocks. R and T (at most 4)
 * are compile-time constants where this is inlined, so the arrays live in
 * registers. */
QUANT_INLINE TIER_TARGET void TIER(tile)(const uint8_t *w, size_t w_row_bytes, const uint8_t *x,
                                         size_t x_row_bytes, float *y, size_t y_stride,
                                         int64_t n_blocks, const int R, const int T)
{
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2)
        TIER(step)(acc, w, w_row_bytes, x, x_row_bytes, b, R, T, 1);
    if (b < n_blocks)
        TIER(step)(acc, w, w_row_bytes, x, x_row_bytes, b, R, T, 0);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            y[t * y_stride + r] = quant_hsum_ps(acc[r][t]);
}

/* Rows [0, R) against all n_tokens, T tokens at a time, then the rest. */
QUANT_INLINE TIER_TARGET void TIER(row_tile)(const uint8_t *w, size_t w_row_bytes,
                                             const uint8_t *x, size_t x_row_bytes, float *y,
                                             size_t y_stride, int64_t n_blocks, int64_t n_tokens,
                                             const int R, const int T)
{
    int64_t t = 0;
    for (; t + T <= n_tokens; t += T)
        TIER(tile)(w, w_row_bytes, x + t * x_row_bytes, x_row_bytes, y + t * y_stride, y_stride,
                   n_blocks, R, T);
    const uint8_t *xt = x + t * x_row_bytes;
    float *yt = y + t * y_stride;
    switch (n_tokens - t) {
    case 3:
        if (T > 3)
            TIER(tile)(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_blocks, R, 3);
        break;
    case 2:
        if (T > 2)
            TIER(tile)(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_blocks, R, 2);
        break;
    case 1:
        if (T > 1)
            TIER(tile)(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_blocks, R, 1);
        break;
    default:
        break;
    }
}

/* Tokens are taken this many at a time, so that their activations stay in
 * the L2 cache while every row of the range passes over them. */
enum { TIER(token_chunk) = 64 };

static TIER_TARGET void TIER(matmat)(const void *w, size_t w_row_bytes, const void *x,
                                     size_t x_row_bytes, float *y, size_t y_stride,
                                     int64_t n_cols, int64_t n_tokens, int64_t row_begin,
                                     int64_t row_end)
{
    const uint8_t *wr = (const uint8_t *)w;
    int64_t n_blocks = n_cols / Q5_0_BLOCK_ELEMS;
    if (n_tokens == 1) {
        int64_t r = row_begin;
        for (; r + MATVEC_ROWS <= row_end; r += MATVEC_ROWS)
            TIER(tile)(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_blocks, MATVEC_ROWS,
                       1);
        for (; r < row_end; r++)
            TIER(tile)(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_blocks, 1, 1);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += TIER(token_chunk)) {
        int64_t n_chunk = n_tokens - t0 < TIER(token_chunk) ? n_tokens - t0 : TIER(token_chunk);
        const uint8_t *xc = (const uint8_t *)x + t0 * x_row_bytes;
        float *yc = y + t0 * y_stride;
        int64_t r = row_begin;
        for (; r + MATMAT_ROWS <= row_end; r += MATMAT_ROWS)
            TIER(row_tile)(wr + r * w_row_bytes, w_row_bytes, xc, x_row_bytes, yc + r, y_stride,
                           n_blocks, n_chunk, MATMAT_ROWS, MATMAT_TOKENS);
        for (; r < row_end; r++)
            TIER(row_tile)(wr + r * w_row_bytes, w_row_bytes, xc, x_row_bytes, yc + r, y_stride,
                           n_blocks, n_chunk, 1, MATMAT_TOKENS);
    }
}

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
