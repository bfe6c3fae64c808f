/* One x86 tier of the products of a float format (f32, f16, bf16): weights
 * and activations widened to float 8 at a time and multiplied-added in a
 * register tile of rows x tokens. A format's FORMAT_x86.c includes this
 * once per tier, after defining:
 *
 *   TIER(name)       name with the format's and the tier's suffix
 *   TIER_TARGET      the tier's target attribute (QUANT_TARGET_*)
 *   W_BYTES, X_BYTES bytes per weight, per activation value
 *   LOAD_W8(p), LOAD_X8(p)   8 values at p as a __m256
 *   W_TO_F32(p), X_TO_F32(p) the value at p as a float (for the last n_cols % 8)
 *   MATVEC_ROWS      rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 */

/* y[t * y_stride + r] for r < R, t < T; R and T are compile-time constants
 * where this is inlined, so the arrays live in registers. */
QUANT_INLINE TIER_TARGET void TIER(tile)(const uint8_t *w, size_t w_row_bytes, const uint8_t *x,
                                         size_t x_row_bytes, float *y, size_t y_stride,
                                         int64_t n_cols, const int R, const int T)
{
    enum { MAX_R = 4, MAX_T = 4 };
    __m256 acc[MAX_R][MAX_T];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= n_cols; c += 8) {
        /* the tile reads R consecutive rows as one region; prefetch it as
         * one stream (see the quantized tiles) */
        uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(c * R * W_BYTES);
#pragma GCC unroll 4
        for (int i = 0; i < (R * 8 * W_BYTES + 63) / 64; i++)
            _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
        __m256 wv[MAX_R];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = LOAD_W8(w + r * w_row_bytes + c * W_BYTES);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            __m256 xv = LOAD_X8(x + t * x_row_bytes + c * X_BYTES);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            float sum = quant_hsum_ps(acc[r][t]);
            for (int64_t k = c; k < n_cols; k++) {
                float product = W_TO_F32(w + r * w_row_bytes + k * W_BYTES) *
                                X_TO_F32(x + t * x_row_bytes + k * X_BYTES);
                sum += product;
            }
            y[t * y_stride + r] = sum;
        }
}

/* Rows [0, R) against all n_tokens, T tokens at a time, then the rest. */
QUANT_INLINE TIER_TARGET void TIER(row_tile)(const uint8_t *w, size_t w_row_bytes,
                                             const uint8_t *x, size_t x_row_bytes, float *y,
                                             size_t y_stride, int64_t n_cols, int64_t n_tokens,
                                             const int R, const int T)
{
    int64_t t = 0;
    for (; t + T <= n_tokens; t += T)
        TIER(tile)(w, w_row_bytes, x + t * x_row_bytes, x_row_bytes, y + t * y_stride, y_stride,
                   n_cols, R, T);
    const uint8_t *xt = x + t * x_row_bytes;
    float *yt = y + t * y_stride;
    switch (n_tokens - t) {
    case 3:
        if (T > 3)
            TIER(tile)(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_cols, R, 3);
        break;
    case 2:
        if (T > 2)
            TIER(tile)(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_cols, R, 2);
        break;
    case 1:
        if (T > 1)
            TIER(tile)(w, w_row_bytes, xt, x_row_bytes, yt, y_stride, n_cols, R, 1);
        break;
    default:
        break;
    }
}

/* Tokens are taken this many at a time, so that their activations stay in
 * the L2 cache while every row of the range passes over them. */
enum { TIER(token_chunk) = 32 };

static TIER_TARGET void TIER(matmat)(const void *w, size_t w_row_bytes, const void *x,
                                     size_t x_row_bytes, float *y, size_t y_stride,
                                     int64_t n_cols, int64_t n_tokens, int64_t row_begin,
                                     int64_t row_end)
{
    const uint8_t *wr = (const uint8_t *)w;
    if (n_tokens == 1) {
        int64_t r = row_begin;
        for (; r + MATVEC_ROWS <= row_end; r += MATVEC_ROWS)
            TIER(tile)(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_cols, MATVEC_ROWS, 1);
        for (; r < row_end; r++)
            TIER(tile)(wr + r * w_row_bytes, w_row_bytes, x, 0, y + r, 0, n_cols, 1, 1);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += TIER(token_chunk)) {
        int64_t n_chunk = n_tokens - t0 < TIER(token_chunk) ? n_tokens - t0 : TIER(token_chunk);
        const uint8_t *xc = (const uint8_t *)x + t0 * x_row_bytes;
        float *yc = y + t0 * y_stride;
        int64_t r = row_begin;
        for (; r + MATMAT_ROWS <= row_end; r += MATMAT_ROWS)
            TIER(row_tile)(wr + r * w_row_bytes, w_row_bytes, xc, x_row_bytes, yc + r, y_stride,
                           n_cols, n_chunk, MATMAT_ROWS, MATMAT_TOKENS);
        for (; r < row_end; r++)
            TIER(row_tile)(wr + r * w_row_bytes, w_row_bytes, xc, x_row_bytes, yc + r, y_stride,
                           n_cols, n_chunk, 1, MATMAT_TOKENS);
    }
}
