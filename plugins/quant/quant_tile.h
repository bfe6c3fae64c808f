/* The tiling driver of one x86 tier of a quant format's products, shared by
 * every format: register tiles of rows x tokens, the pass over a tile's
 * blocks, tokens T at a time with the remainder, and the matvec / matmat
 * entry. Only the products of one step of blocks are the format's own.
 *
 * A FORMAT_x86.c defines the tier's macros, then includes the format's
 * tier file (its step) and this file, which undefines all of them again so
 * the next tier starts clean:
 *
 *   TIER(name)      name with the format's prefix and the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 *   plus what the format's step uses (TIER_VNNI, TIER_DPBUSD, ...)
 *
 * The format's tier file defines:
 *
 *   TILE_BLOCK_ELEMS   the values of one weight block
 *   TILE_PAIRS         1 when a step takes blocks b and b + 1 (its last
 *                      argument `two` is 0 for an odd last block alone),
 *                      0 when it takes block b
 *   TILE_PAIR_STEP     (optional) 1 for the step below, shared by the
 *                      formats whose blocks go in pairs with one f16 factor
 *   TILE_MINS          1 when a step also adds each row's offset terms
 *                      into acc_min[t] (float lanes), which
 *                      TIER(min_sum)(lanes, r) reads back for row r
 *   TILE_TOKEN_CHUNK   (optional, 64) tokens taken at a time, so that their
 *                      activations stay in the L2 cache while every row of
 *                      the range passes over them
 *   TILE_LANES(v)      (optional) what a lane of the accumulators is worth,
 *                      applied before the lanes are summed
 *
 * and, inline on TIER_TARGET,
 *
 *   void TIER(step)(__m256 acc[4][4], [__m256 acc_min[4],] const uint8_t *w,
 *                   size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
 *                   int64_t b, const int R, const int T [, const int two])
 *
 * which adds the products of rows [0, R) and tokens [0, T) over its blocks
 * into acc[r][t], float lanes summed only when the tile is done. */

#ifndef TILE_TOKEN_CHUNK
#define TILE_TOKEN_CHUNK 64
#endif
#ifndef TILE_LANES
#define TILE_LANES(v) (v)
#endif
#if TILE_MINS
#define TILE_ACCS acc, acc_min
#else
#define TILE_ACCS acc
#endif

#if TILE_PAIR_STEP
/* The step of the formats whose blocks go in pairs, each weight block and
 * each activation block starting with its f16 factor (d, dx): blocks b (and
 * b + 1 when two) of the tile, acc[r][t] += their products. A tier file that
 * sets TILE_PAIR_STEP defines TILE_BLOCK_BYTES, TILE_ACT_BLOCK_BYTES (the
 * sizes of a weight and an activation block), optionally
 * TILE_WEIGHT_SCALE(block), a weight block's factor as a float where it is
 * not an f16 at byte 0 (mxfp4's power of two), and, on a pair of blocks,
 *
 *   TIER(row_pair) TIER(load_row)(const uint8_t *block, const int two)
 *   TIER(token_pair) TIER(load_token)(const uint8_t *xb, const int two)
 *   __m256i TIER(dot)(TIER(row_pair), TIER(token_pair))
 *       8 int32 lanes, 0-3 block b's and 4-7 block b + 1's */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], const uint8_t *w, size_t w_row_bytes,
                                         const uint8_t *x, size_t x_row_bytes, int64_t b,
                                         const int R, const int T, const int two)
{
    const uint8_t *wb = w + b * TILE_BLOCK_BYTES;
    /* The tile's rows lie one after another, so it reads a region of
     * memory R rows long, R pairs of blocks per step, in an order the
     * hardware prefetchers do not follow when the weights come from DRAM.
     * Prefetch that region as the one stream it is, QUANT_PREFETCH_BYTES
     * ahead; a hint never faults, so reaching past the matrix is harmless. */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * TILE_BLOCK_BYTES);
#pragma GCC unroll 4
    for (int i = 0; i < (2 * R * TILE_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    TIER(row_pair) rows[4];
    /* the rows' d: r of block b in lane r, of block b + 1 in lane 4 + r */
#ifdef TILE_WEIGHT_SCALE
    float d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#else
    uint16_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#endif
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const uint8_t *rb = wb + r * w_row_bytes;
        rows[r] = TIER(load_row)(rb, two);
#ifdef TILE_WEIGHT_SCALE
        d[r] = TILE_WEIGHT_SCALE(rb);
        d[4 + r] = two ? TILE_WEIGHT_SCALE(rb + TILE_BLOCK_BYTES) : 0.0f;
#else
        d[r] = quant_load_u16(rb);
        d[4 + r] = two ? quant_load_u16(rb + TILE_BLOCK_BYTES) : 0;
#endif
    }
#ifdef TILE_WEIGHT_SCALE
    __m256 dw = _mm256_loadu_ps(d);
#else
    __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
#endif
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * TILE_ACT_BLOCK_BYTES;
        TIER(token_pair) tp = TIER(load_token)(xb, two);
        __m256 dx = quant_pair_scale(xb, TILE_ACT_BLOCK_BYTES, two);
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
#endif

/* y[t * y_stride + r] for r < R, t < T: rows w, w + w_row_bytes, ... against
 * tokens x, x + x_row_bytes, ... over n_blocks blocks. R and T (at most 4)
 * are compile-time constants where this is inlined, so the arrays live in
 * registers. */
QUANT_INLINE TIER_TARGET void TIER(tile)(const uint8_t *w, size_t w_row_bytes, const uint8_t *x,
                                         size_t x_row_bytes, float *y, size_t y_stride,
                                         int64_t n_blocks, const int R, const int T)
{
    __m256 acc[4][4];
#if TILE_MINS
    __m256 acc_min[4];
#endif
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
#if TILE_MINS
        acc_min[t] = _mm256_setzero_ps();
#endif
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            acc[r][t] = _mm256_setzero_ps();
    }

#if TILE_PAIRS
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2)
        TIER(step)(TILE_ACCS, w, w_row_bytes, x, x_row_bytes, b, R, T, 1);
    if (b < n_blocks)
        TIER(step)(TILE_ACCS, w, w_row_bytes, x, x_row_bytes, b, R, T, 0);
#else
    for (int64_t b = 0; b < n_blocks; b++)
        TIER(step)(TILE_ACCS, w, w_row_bytes, x, x_row_bytes, b, R, T);
#endif

#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
#if TILE_MINS
        float mins[8];
        _mm256_storeu_ps(mins, acc_min[t]);
#endif
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            float sum = quant_hsum_ps(TILE_LANES(acc[r][t]));
#if TILE_MINS
            sum += TIER(min_sum)(mins, r);
#endif
            y[t * y_stride + r] = sum;
        }
    }
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

static TIER_TARGET void TIER(matmat)(const void *w, size_t w_row_bytes, const void *x,
                                     size_t x_row_bytes, float *y, size_t y_stride,
                                     int64_t n_cols, int64_t n_tokens, int64_t row_begin,
                                     int64_t row_end)
{
    const uint8_t *wr = (const uint8_t *)w;
    int64_t n_blocks = n_cols / TILE_BLOCK_ELEMS;
    if (n_tokens == 1) {
        int64_t r = row_begin;
        for (; r + MATVEC_ROWS <= row_end; r += MATVEC_ROWS)
            TIER(tile)(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_blocks, MATVEC_ROWS,
                       1);
        for (; r < row_end; r++)
            TIER(tile)(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_blocks, 1, 1);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += TILE_TOKEN_CHUNK) {
        int64_t n_chunk = n_tokens - t0 < TILE_TOKEN_CHUNK ? n_tokens - t0 : TILE_TOKEN_CHUNK;
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

#undef TILE_BLOCK_ELEMS
#undef TILE_PAIRS
#undef TILE_PAIR_STEP
#undef TILE_BLOCK_BYTES
#undef TILE_WEIGHT_SCALE
#undef TILE_ACT_BLOCK_BYTES
#undef TILE_MINS
#undef TILE_TOKEN_CHUNK
#undef TILE_LANES
#undef TILE_ACCS
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD
#undef TIER_DPWSSD
#undef TIER_AVX512
#undef TIER_Q8_BLOCK
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS
