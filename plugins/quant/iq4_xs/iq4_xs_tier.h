/* One x86 tier of the iq4_xs kernels: the step of its products, around which
 * quant_tile.h builds the tiles. iq4_xs_x86.c includes this file, then
 * quant_tile.h, once per tier, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 *
 * The products work on pairs of sub-blocks, 64 values: the 32 bytes of qs
 * they share hold the low halves of both sub-blocks in their low nibbles
 * and the high halves in their high nibbles, so masking and shifting give
 * [q of sub-block 2k, values 0-15 | q of sub-block 2k+1, values 0-15] and
 * the same for values 16-31, and vpshufb looks the steps up in the table.
 * Each token's activations are put in that order once (two lane permutes),
 * for all the rows of a tile; then one pair is two byte dot products into
 * the same 8 int32 lanes, lanes 0-3 sub-block 2k's and 4-7 2k+1's, times
 * the two sub-blocks' scales lane by lane. The block's integer sum is
 * scaled by d * dx once, in float. Byte instructions take one unsigned
 * operand, so:
 *   - VNNI tiers look up step + 128 (unsigned) and subtract
 *     128 * sum(scale * sum(p)) per block, from q8_K's bsums;
 *   - the others feed |step| and p with the step's sign to vpmaddubsw
 *     (pairs stay below 2 * 127 * 128) and multiply by the scales with
 *     vpmaddwd, which sums the int16 pairs into int32 as well. */

/* The table of steps in both 128-bit lanes, shifted by 128 on VNNI tiers. */
QUANT_INLINE TIER_TARGET __m256i TIER(table)(void)
{
    __m128i steps = _mm_loadu_si128((const __m128i *)iq4_nl_values);
#if TIER_VNNI
    steps = _mm_xor_si128(steps, _mm_set1_epi8((char)0x80));
#endif
    return _mm256_broadcastsi128_si256(steps);
}

/* The 8 sub-block scales ls - 32 of a block, one per int32 lane. */
QUANT_INLINE TIER_TARGET __m256i TIER(scales)(const uint8_t *block)
{
    uint32_t low;
    memcpy(&low, block + 4, sizeof low);
    uint32_t high = quant_load_u16(block + 2);
    __m256i l = _mm256_srlv_epi32(_mm256_set1_epi32((int)low),
                                  _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    __m256i h = _mm256_srlv_epi32(_mm256_set1_epi32((int)high),
                                  _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
    __m256i ls = _mm256_or_si256(_mm256_and_si256(l, _mm256_set1_epi32(15)),
                                 _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(3)), 4));
    return _mm256_sub_epi32(ls, _mm256_set1_epi32(32));
}

/* One row's operands for a pair of sub-blocks: the steps of values 0-15
 * and of 16-31 (as step + 128 on VNNI, else as |step| with the signed
 * steps beside them), and the two scales, lanes 0-3 and 4-7 (as int16
 * pairs for vpmaddwd off VNNI). */
typedef struct TIER(row_pair) {
    __m256i low, high;
#if !TIER_VNNI
    __m256i low_sign, high_sign;
#endif
    __m256i scale;
} TIER(row_pair);

QUANT_INLINE TIER_TARGET TIER(row_pair) TIER(load_row)(const uint8_t *qs, __m256i scales, int k,
                                                      __m256i table)
{
    TIER(row_pair) rp;
    __m256i v = _mm256_loadu_si256((const __m256i *)qs);
    __m256i low = _mm256_shuffle_epi8(table, _mm256_and_si256(v, _mm256_set1_epi8(0x0f)));
    __m256i high = _mm256_shuffle_epi8(
        table, _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)));
    __m256i scale = _mm256_permutevar8x32_epi32(
        scales, _mm256_setr_epi32(2 * k, 2 * k, 2 * k, 2 * k, 2 * k + 1, 2 * k + 1, 2 * k + 1,
                                  2 * k + 1));
#if TIER_VNNI
    rp.low = low;
    rp.high = high;
    rp.scale = scale;
#else
    rp.low = _mm256_abs_epi8(low);
    rp.high = _mm256_abs_epi8(high);
    rp.low_sign = low;
    rp.high_sign = high;
    rp.scale = _mm256_packs_epi32(scale, scale); /* in-lane: 8 int16 copies per lane */
#endif
    return rp;
}

/* A token's activations for a pair of sub-blocks, in the weights' order. */
typedef struct TIER(token_pair) {
    __m256i low, high;
} TIER(token_pair);

QUANT_INLINE TIER_TARGET TIER(token_pair) TIER(load_token)(const uint8_t *p)
{
    __m256i first = _mm256_loadu_si256((const __m256i *)p);
    __m256i second = _mm256_loadu_si256((const __m256i *)(p + 32));
    TIER(token_pair) tp = {_mm256_permute2x128_si256(first, second, 0x20),
                           _mm256_permute2x128_si256(first, second, 0x31)};
    return tp;
}

/* The pair's scaled dot product, 8 int32 lanes (without VNNI's bias). */
QUANT_INLINE TIER_TARGET __m256i TIER(dot)(TIER(row_pair) rp, TIER(token_pair) tp)
{
#if TIER_VNNI
    __m256i sums = TIER_DPBUSD(_mm256_setzero_si256(), rp.low, tp.low);
    sums = TIER_DPBUSD(sums, rp.high, tp.high);
    return _mm256_mullo_epi32(sums, rp.scale);
#else
    __m256i low = _mm256_maddubs_epi16(rp.low, _mm256_sign_epi8(tp.low, rp.low_sign));
    __m256i high = _mm256_maddubs_epi16(rp.high, _mm256_sign_epi8(tp.high, rp.high_sign));
    return _mm256_add_epi32(_mm256_madd_epi16(low, rp.scale), _mm256_madd_epi16(high, rp.scale));
#endif
}

/* Block b of the tile: acc[r][t] += its products. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], const uint8_t *w, size_t w_row_bytes,
                                         const uint8_t *x, size_t x_row_bytes, int64_t b,
                                         const int R, const int T)
{
    const __m256i table = TIER(table)();
    const uint8_t *wb = w + b * IQ4_XS_BLOCK_BYTES;
    /* The tile's rows lie one after another, so it reads a region of
     * memory R rows long, R blocks per step, in an order the hardware
     * prefetchers do not follow when the weights come from DRAM.
     * Prefetch that region as the one stream it is, QUANT_PREFETCH_BYTES
     * ahead; a hint never faults, so reaching past the matrix is
     * harmless. */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * IQ4_XS_BLOCK_BYTES);
#pragma GCC unroll 9
    for (int i = 0; i < (R * IQ4_XS_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    __m256i scales[4], sums[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        scales[r] = TIER(scales)(wb + r * w_row_bytes);
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            sums[r][t] = _mm256_setzero_si256();
    }
#pragma GCC unroll 4
    for (int k = 0; k < IQ4_XS_SUB_BLOCKS / 2; k++) {
        TIER(token_pair) tokens[4];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            tokens[t] = TIER(load_token)(x + t * x_row_bytes + b * Q8_K_BLOCK_BYTES + Q8_K_QS +
                                         64 * k);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            TIER(row_pair) rp =
                TIER(load_row)(wb + r * w_row_bytes + IQ4_XS_QS + 32 * k, scales[r], k, table);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++)
                sums[r][t] = _mm256_add_epi32(sums[r][t], TIER(dot)(rp, tokens[t]));
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q8_K_BLOCK_BYTES;
#if TIER_VNNI
        /* the steps came 128 too high: take 128 * scale * sum(p) back,
         * sum(p) of each sub-block from its two bsums */
        __m256i bsums = _mm256_loadu_si256((const __m256i *)(xb + Q8_K_BSUMS));
        __m256i psums = _mm256_madd_epi16(bsums, _mm256_set1_epi16(1));
#endif
        __m256 dx = _mm256_set1_ps(kq_q8k_scale(xb));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i s = sums[r][t];
#if TIER_VNNI
            s = _mm256_sub_epi32(s, _mm256_slli_epi32(_mm256_mullo_epi32(psums, scales[r]), 7));
#endif
            __m256 d = _mm256_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(wb + r * w_row_bytes)));
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d, dx), acc[r][t]);
        }
    }
}

/* The driver (quant_tile.h) takes one block at a time through TIER(step). */
#define TILE_BLOCK_ELEMS IQ4_XS_BLOCK_ELEMS
#define TILE_PAIRS 0
#define TILE_MINS 0

/* Dequantizing: (d * scale) * step, both products exact in float, as the
 * scalar reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)iq4_nl_values));
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / IQ4_XS_BLOCK_ELEMS; b++, block += IQ4_XS_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32_f16c(quant_load_u16(block));
        for (int i = 0; i < IQ4_XS_SUB_BLOCKS; i++) {
            __m256 dl = _mm256_set1_ps(d * (float)iq4_xs_scale(block, i));
            __m256i both = _mm256_broadcastsi128_si256(
                _mm_loadu_si128((const __m128i *)(block + IQ4_XS_QS + 16 * i)));
            __m256i idx = _mm256_and_si256(
                _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                _mm256_set1_epi8(0x0f));
            __m256i steps = _mm256_shuffle_epi8(table, idx);
            __m128i halves[2] = {_mm256_castsi256_si128(steps), _mm256_extracti128_si256(steps, 1)};
            float *out = dst + b * IQ4_XS_BLOCK_ELEMS + 32 * i;
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(halves[h]));
                __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(halves[h], 8)));
                _mm256_storeu_ps(out + 16 * h, _mm256_mul_ps(dl, v0));
                _mm256_storeu_ps(out + 16 * h + 8, _mm256_mul_ps(dl, v1));
            }
        }
    }
}
