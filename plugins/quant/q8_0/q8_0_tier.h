/* One x86 tier of the q8_0 kernels: the step of its products, around which
 * quant_tile.h builds the tiles. q8_0_x86.c includes this file, then
 * quant_tile.h, once per tier, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   TIER_Q8_BLOCK   the quant_q8_block_* quantizer of the tier
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 *
 * One block of one row against one token is a signed-by-signed byte dot
 * product (8 int32 partial sums in a ymm), scaled by d*dx and accumulated
 * in float lanes, summed when the tile is done. The byte instructions take
 * one unsigned operand, so:
 *   - VNNI tiers feed w + 128 (w ^ 0x80) and start each sum at -128*sum(p),
 *     exact for every int8;
 *   - the others feed |w| and p with w's sign, as vpmaddubsw's int16 pairs
 *     allow; exact while q is never -128 (ggml's quantizer writes |q| <= 127). */

/* Per-row operands of block b: VNNI keeps w ^ 0x80, the others w and |w|. */
typedef struct TIER(row_block) {
    __m256i a;
#if !TIER_VNNI
    __m256i sign;
#endif
} TIER(row_block);

QUANT_INLINE TIER_TARGET TIER(row_block) TIER(load_row)(const uint8_t *qs)
{
    TIER(row_block) rb;
    __m256i w = _mm256_loadu_si256((const __m256i *)qs);
#if TIER_VNNI
    rb.a = _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80));
#else
    rb.a = _mm256_abs_epi8(w);
    rb.sign = w;
#endif
    return rb;
}

/* What a token's block brings: its bytes and, on VNNI, -128 * sum(p). */
typedef struct TIER(token_block) {
    __m256i p;
#if TIER_VNNI
    __m256i bias;
#endif
} TIER(token_block);

QUANT_INLINE TIER_TARGET TIER(token_block) TIER(load_token)(const uint8_t *qs)
{
    TIER(token_block) tb;
    tb.p = _mm256_loadu_si256((const __m256i *)qs);
#if TIER_VNNI
    __m256i sum128 = TIER_DPBUSD(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), tb.p);
    tb.bias = _mm256_sub_epi32(_mm256_setzero_si256(), sum128);
#endif
    return tb;
}

QUANT_INLINE TIER_TARGET __m256i TIER(dot)(TIER(row_block) rb, TIER(token_block) tb)
{
#if TIER_VNNI
    return TIER_DPBUSD(tb.bias, rb.a, tb.p);
#else
    __m256i p_signed = _mm256_sign_epi8(tb.p, rb.sign);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(rb.a, p_signed), _mm256_set1_epi16(1));
#endif
}

/* Block b of the tile: acc[r][t] += its products. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], const uint8_t *w, size_t w_row_bytes,
                                         const uint8_t *x, size_t x_row_bytes, int64_t b,
                                         const int R, const int T)
{
    const uint8_t *wb = w + b * Q8_0_BLOCK_BYTES;
    /* The tile's rows lie one after another, so it reads a region of
     * memory R rows long, R blocks per step, in an order the hardware
     * prefetchers do not follow when the weights come from DRAM (4x
     * slower on Zen 4). Prefetch that region as the one stream it is,
     * QUANT_PREFETCH_BYTES ahead; a hint never faults, so reaching past
     * the matrix is harmless. */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * Q8_0_BLOCK_BYTES);
#pragma GCC unroll 4
    for (int i = 0; i < (R * Q8_0_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    uint16_t d[4] = {0, 0, 0, 0};
    TIER(row_block) rows[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        d[r] = quant_load_u16(wb + r * w_row_bytes);
        rows[r] = TIER(load_row)(wb + r * w_row_bytes + 2);
    }
    __m256 dw = _mm256_cvtph_ps(_mm_setr_epi16((short)d[0], (short)d[1], (short)d[2],
                                               (short)d[3], 0, 0, 0, 0));
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q8_0_BLOCK_BYTES;
        __m256 dx = _mm256_cvtph_ps(_mm_set1_epi16((short)quant_load_u16(xb)));
        TIER(token_block) tb = TIER(load_token)(xb + 2);
        /* d*dx per row, spread by a lane permute (a store and
         * broadcast loads instead wait on the store's forwarding) */
        __m256 s = _mm256_mul_ps(dw, dx);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256 dot = _mm256_cvtepi32_ps(TIER(dot)(rows[r], tb));
            __m256 scale = _mm256_permutevar8x32_ps(s, _mm256_set1_epi32(r));
            acc[r][t] = _mm256_fmadd_ps(dot, scale, acc[r][t]);
        }
    }
}

/* The driver (quant_tile.h) takes one block at a time through TIER(step). */
#define TILE_BLOCK_ELEMS Q8_0_BLOCK_ELEMS
#define TILE_PAIRS 0
#define TILE_MINS 0

static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q8_0_BLOCK_ELEMS; b++, block += Q8_0_BLOCK_BYTES) {
        __m256 d = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(block)));
        float *out = dst + b * Q8_0_BLOCK_ELEMS;
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m128i q8 = _mm_loadl_epi64((const __m128i *)(block + 2 + 8 * k));
            __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
            _mm256_storeu_ps(out + 8 * k, _mm256_mul_ps(d, v));
        }
    }
}

static TIER_TARGET void TIER(quantize)(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q8_0_BLOCK_ELEMS; b++, block += Q8_0_BLOCK_BYTES) {
        float d = TIER_Q8_BLOCK(src + b * Q8_0_BLOCK_ELEMS, (int8_t *)(block + 2), NULL);
        quant_store_u16(block, quant_fp32_to_fp16_f16c(d));
    }
}
