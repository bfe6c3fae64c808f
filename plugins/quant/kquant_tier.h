/* The products of one x86 tier of a K-quant, against q8_K activations,
 * built on the format's decoding (see kquant_tier_head.h for what a
 * FORMAT_x86.c defines and what FORMAT_tier.h provides). Includes the
 * tiling driver (quant_tile.h) at the end, which undefines the tier macros
 * so the next tier starts clean.
 *
 * One block of one row against one token: per chunk, vpmaddubsw multiplies
 * the unsigned values u by the signed activation bytes p and adds pairs
 * (int16: at most 2 * 63 * 128, no saturation), and vpmaddwd (or vpdpwssd)
 * multiplies those by the group scales s and adds pairs into int32 lanes,
 * which sum the block exactly (at most 32 values of 128 * 63 * 128 per
 * lane). At the block's end the 8 lanes are turned into floats and scaled
 * by a * dx; the correction b * dx * sum k[g] bsums[g] is one vpmaddwd on
 * the token's bsums. Floats accumulate in lanes across blocks and are
 * summed when the tile is done.
 *
 * A tile of R rows x T tokens decodes each weight chunk once for all its
 * tokens and loads each activation chunk once for all its rows. */

/* vpshufb control for chunk c's scales: int16 lanes 0-7 (values 32c ..
 * 32c + 15) take scale byte 2c, lanes 8-15 byte 2c + 1; as the low byte,
 * zero-extended, or as the high byte, for an arithmetic shift to
 * sign-extend. */
QUANT_INLINE TIER_TARGET __m256i TIER(scale_control)(int c)
{
    const int high = TIER(signed_scales);
#define KQ_LANE(i) \
    (long long)((unsigned long long)(high ? ((i) << 8 | 0x80) : (0x8000 | (i))) * 0x0001000100010001ull)
    return _mm256_setr_epi64x(KQ_LANE(2 * c), KQ_LANE(2 * c), KQ_LANE(2 * c + 1),
                              KQ_LANE(2 * c + 1));
#undef KQ_LANE
}

/* int16 scales of chunk c from the 16 scale bytes in both 128-bit lanes. */
QUANT_INLINE TIER_TARGET __m256i TIER(scale_vector)(__m256i source, int c)
{
    __m256i s = _mm256_shuffle_epi8(source, TIER(scale_control)(c));
    return TIER(signed_scales) ? _mm256_srai_epi16(s, 8) : s;
}

/* sum + the scaled products of u (unsigned) and p (signed), in int32 lanes. */
/* Lane i of v in every lane. */
QUANT_INLINE TIER_TARGET __m256 TIER(lane)(__m256 v, int i)
{
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(i));
}

QUANT_INLINE TIER_TARGET __m256i TIER(dot)(__m256i sum, __m256i u, __m256i p, __m256i s)
{
    __m256i pairs = _mm256_maddubs_epi16(u, p);
#if TIER_VNNI
    return TIER_DPWSSD(sum, pairs, s);
#else
    return _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, s));
#endif
}

/* Block b of the tile: acc[r][t] += its products. R and T (at most 4) are
 * compile-time constants where this is inlined, so the arrays live in
 * registers. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], const uint8_t *w, size_t w_row_bytes,
                                         const uint8_t *x, size_t x_row_bytes, int64_t b,
                                         const int R, const int T)
{
    const uint8_t *wb = w + b * TIER(block_bytes);
    const uint8_t *xb = x + b * Q8_K_BLOCK_BYTES;
    /* A tile of R > 1 rows reads a region R rows long, R blocks per
     * step, in an order the hardware prefetchers do not follow: prefetch
     * that region as the one stream it is (q4_1_tier.h says more); a
     * hint never faults. One row alone is a plain stream, which the
     * hardware prefetchers follow better than any hint (q6_k from DRAM
     * on a Zen 4 core: 20-25 GB/s one row at a time, 10-12 four rows at
     * a time with these hints, 9 without). */
    if (R > 1) {
        uintptr_t ahead =
            (uintptr_t)w + KQ_PREFETCH_BYTES + (uintptr_t)(b * R * TIER(block_bytes));
#pragma GCC unroll 8
        for (int i = 0; i < (R * TIER(block_bytes) + 63) / 64; i++)
            _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    }

    TIER(row) rows[4];
    __m256i scale_source[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        rows[r] = TIER(row_load)(wb + r * w_row_bytes);
        scale_source[r] = _mm256_broadcastsi128_si256(TIER(row_scales)(&rows[r]));
    }
    __m256i sum[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            sum[r][t] = _mm256_setzero_si256();

#pragma GCC unroll 8
    for (int c = 0; c < TIER(chunks); c++) {
        __m256i u[4], s[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            u[r] = TIER(chunk)(wb + r * w_row_bytes, c);
            s[r] = TIER(scale_vector)(scale_source[r], c);
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            __m256i p = TIER(load)(xb + t * x_row_bytes + Q8_K_QS + 32 * c);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                sum[r][t] = TIER(dot)(sum[r][t], u[r], p, s[r]);
        }
    }

    /* [a0 b0 a1 b1 ...] of the rows, times each token's dx */
    uint32_t ab[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        ab[r] = TIER(halves)(wb + r * w_row_bytes);
    __m256 factors =
        _mm256_cvtph_ps(_mm_setr_epi32((int)ab[0], (int)ab[1], (int)ab[2], (int)ab[3]));
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xt = xb + t * x_row_bytes;
        /* row r's factors spread by lane permutes, not through the
         * stack (broadcast loads would wait on the store's forwarding) */
        __m256 scale = _mm256_mul_ps(factors, _mm256_set1_ps(kq_q8k_scale(xt)));
        __m256i bsums = _mm256_loadu_si256((const __m256i *)(xt + Q8_K_BSUMS));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i corr = _mm256_madd_epi16(TIER(row_corr)(&rows[r]), bsums);
            __m256i total = sum[r][t];
            if (TIER(corr_folds)) {
                total = _mm256_sub_epi32(total, corr);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total),
                                            TIER(lane)(scale, 2 * r), acc[r][t]);
            } else {
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total),
                                            TIER(lane)(scale, 2 * r), acc[r][t]);
                acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr),
                                             TIER(lane)(scale, 2 * r + 1), acc[r][t]);
            }
        }
    }
}

/* The driver (quant_tile.h) takes one block at a time through TIER(step),
 * and tokens 32 at a time. */
#define TILE_BLOCK_ELEMS KQ_BLOCK_ELEMS
#define TILE_PAIRS 0
#define TILE_MINS 0
#define TILE_TOKEN_CHUNK 32

#include "quant_tile.h"
