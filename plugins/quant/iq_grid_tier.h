/* One x86 tier of the products and dequantizing of ggml's grid i-quants
 * (iq_grid.h), around which quant_tile.h builds the tiles. FORMAT_x86.c
 * includes, once per tier, the format's tier file, then this file, then
 * quant_tile.h, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 *
 * The format's tier file defines
 *
 *   GRID_BLOCK_BYTES   bytes per block (256 values, f16 d at byte 0 unless
 *                      GRID_D_HALF says otherwise)
 *   GRID_FACTOR        the float that d * dx * an integer sum still takes
 *                      (a format's scale (2s + 1) / 4 gives 0.25f)
 *   GRID_SCALE_PER_16  1 when values 0-15 and 16-31 of a sub-block have
 *                      scales of their own
 *   iq_grid_sub TIER(load_sub)(const uint8_t *block, int i)   sub-block i
 *
 * and, where the block's f16 d is not at byte 0 (iq1_m spreads its bits
 * over the scales), GRID_D_HALF(block): the bits of that f16.
 *
 * The products work a sub-block (32 values) at a time. The signs go onto
 * the activations (vpsignb), the only signed operand the byte instructions
 * take, and one byte dot product gives 8 int32 lanes of the sub-block's
 * sum, lanes 0-3 of values 0-15 and 4-7 of 16-31:
 *   - VNNI tiers: vpdpbusd, then times the scales (vpmulld);
 *   - the others: vpmaddubsw (pairs stay below 2 * 63 * 127) and vpmaddwd
 *     by the scales, which sums the int16 pairs into int32 as well.
 * The block's integer sums are scaled by d * dx * GRID_FACTOR once, in
 * float. (Scales reach 31 in iq3_s, magnitudes 62 in iq3_xxs: a block's
 * sum stays below 8 * 32 * 62 * 127 * 31, inside int32.) */

#ifndef GRID_D_HALF
#define GRID_D_HALF(block) quant_load_u16(block)
#endif

/* The 32 signs as bytes for vpsignb: -1 where the value is negative, +1
 * elsewhere. Byte v takes bit v % 8 of sign byte v / 8. */
QUANT_INLINE TIER_TARGET __m256i TIER(signs)(uint32_t signs)
{
    __m256i bytes = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)signs),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                         3, 3, 3, 3, 3, 3, 3));
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i negative = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bits), bits);
    return _mm256_or_si256(negative, _mm256_set1_epi8(1));
}

/* One row's operands for a sub-block. */
typedef struct TIER(row_sub) {
    __m256i magnitudes, signs, scale;
} TIER(row_sub);

QUANT_INLINE TIER_TARGET TIER(row_sub) TIER(load_row)(const uint8_t *block, int i)
{
    iq_grid_sub sub = TIER(load_sub)(block, i);
    TIER(row_sub) rs = {sub.magnitudes, TIER(signs)(sub.signs), _mm256_setzero_si256()};
#if TIER_VNNI && GRID_SCALE_PER_16
    rs.scale = _mm256_set_m128i(_mm_set1_epi32(sub.scale_hi), _mm_set1_epi32(sub.scale_lo));
#elif TIER_VNNI
    rs.scale = _mm256_set1_epi32(sub.scale_lo);
#elif GRID_SCALE_PER_16
    rs.scale = _mm256_set_m128i(_mm_set1_epi16((short)sub.scale_hi),
                                _mm_set1_epi16((short)sub.scale_lo));
#else
    rs.scale = _mm256_set1_epi16((short)sub.scale_lo);
#endif
    return rs;
}

/* The sub-block's scaled dot product, 8 int32 lanes. */
QUANT_INLINE TIER_TARGET __m256i TIER(dot)(TIER(row_sub) rs, __m256i p)
{
    __m256i signed_p = _mm256_sign_epi8(p, rs.signs);
#if TIER_VNNI
    __m256i sums = TIER_DPBUSD(_mm256_setzero_si256(), rs.magnitudes, signed_p);
    return _mm256_mullo_epi32(sums, rs.scale);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(rs.magnitudes, signed_p), rs.scale);
#endif
}

/* Block b of the tile: acc[r][t] += its products. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], const uint8_t *w, size_t w_row_bytes,
                                         const uint8_t *x, size_t x_row_bytes, int64_t b,
                                         const int R, const int T)
{
    const uint8_t *wb = w + b * GRID_BLOCK_BYTES;
    /* The tile's R rows are one region of memory, read R blocks per
     * step in an order the hardware prefetchers do not follow from
     * DRAM: prefetch it as one stream, QUANT_PREFETCH_BYTES ahead (a
     * hint never faults, so reaching past the matrix is harmless). */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * GRID_BLOCK_BYTES);
#pragma GCC unroll 8
    for (int i = 0; i < (R * GRID_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    __m256i sums[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            sums[r][t] = _mm256_setzero_si256();
    for (int i = 0; i < 8; i++) {
        __m256i p[4];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            p[t] = _mm256_loadu_si256((const __m256i *)(x + t * x_row_bytes +
                                                        b * Q8_K_BLOCK_BYTES + Q8_K_QS +
                                                        32 * i));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            TIER(row_sub) rs = TIER(load_row)(wb + r * w_row_bytes, i);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++)
                sums[r][t] = _mm256_add_epi32(sums[r][t], TIER(dot)(rs, p[t]));
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        float dx = kq_q8k_scale(x + t * x_row_bytes + b * Q8_K_BLOCK_BYTES);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            float d = quant_fp16_to_fp32_f16c(GRID_D_HALF(wb + r * w_row_bytes));
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[r][t]),
                                        _mm256_set1_ps(d * dx * GRID_FACTOR), acc[r][t]);
        }
    }
}

/* The driver (quant_tile.h) takes one block at a time through TIER(step). */
#define TILE_BLOCK_ELEMS 256
#define TILE_PAIRS 0
#define TILE_MINS 0

/* Dequantizing: d * scale * GRID_FACTOR, then times each signed
 * magnitude; both products exact in float (at most 11 + 5 + 6 significant
 * bits), so the gguf package's floats whatever its order. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / 256; b++, block += GRID_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32_f16c(GRID_D_HALF(block));
        for (int i = 0; i < 8; i++) {
            iq_grid_sub sub = TIER(load_sub)(block, i);
            __m256i values = _mm256_sign_epi8(sub.magnitudes, TIER(signs)(sub.signs));
            __m128i halves[2] = {_mm256_castsi256_si128(values),
                                 _mm256_extracti128_si256(values, 1)};
            __m256 db[2] = {_mm256_set1_ps(d * (float)sub.scale_lo * GRID_FACTOR),
                            _mm256_set1_ps(d * (float)sub.scale_hi * GRID_FACTOR)};
            float *out = dst + b * 256 + 32 * i;
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(halves[h]));
                __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(halves[h], 8)));
                _mm256_storeu_ps(out + 16 * h, _mm256_mul_ps(db[h], v0));
                _mm256_storeu_ps(out + 16 * h + 8, _mm256_mul_ps(db[h], v1));
            }
        }
    }
}

#undef GRID_BLOCK_BYTES
#undef GRID_FACTOR
#undef GRID_SCALE_PER_16
#undef GRID_D_HALF
