/* One x86 tier of the iq3_xxs kernels: the step of its products, around which
 * quant_tile.h builds the tiles. iq3_xxs_x86.c includes this file, then
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
 * The products work a sub-block (32 values) at a time. A row's operands
 * are the 32 magnitudes of its 8 grid points (unsigned bytes below 64, in
 * value order), a byte mask of its 32 signs, and its scale 2s + 1; a
 * token's are its 32 activations p. The signs go onto the activations
 * (vpsignb), the only signed operand the byte instructions take, and one
 * byte dot product gives 8 int32 lanes of the sub-block's sum:
 *   - VNNI tiers: vpdpbusd, then times the scale (vpmulld);
 *   - the others: vpmaddubsw (pairs stay below 2 * 62 * 127) and vpmaddwd
 *     by the scale, which sums the int16 pairs into int32 as well.
 * The block's integer sums are scaled by d * dx / 4 once, in float. */

/* Sub-block i's 32 magnitudes, in value order. */
QUANT_INLINE TIER_TARGET __m256i TIER(magnitudes)(const uint8_t *qs)
{
    return _mm256_setr_epi32((int)iq3_xxs_point(qs[0]), (int)iq3_xxs_point(qs[1]),
                             (int)iq3_xxs_point(qs[2]), (int)iq3_xxs_point(qs[3]),
                             (int)iq3_xxs_point(qs[4]), (int)iq3_xxs_point(qs[5]),
                             (int)iq3_xxs_point(qs[6]), (int)iq3_xxs_point(qs[7]));
}

/* The 32 signs as bytes for vpsignb: -1 where the value is negative, +1
 * elsewhere. Byte v takes bit v % 8 of sign byte v / 8. */
QUANT_INLINE TIER_TARGET __m256i TIER(signs)(uint32_t aux)
{
    __m256i bytes = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)iq3_xxs_sign_bits(aux)),
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
    uint32_t aux = iq3_xxs_aux(block, i);
    int scale = (int)(2 * (aux >> 28) + 1);
    TIER(row_sub) rs = {TIER(magnitudes)(block + IQ3_XXS_QS + 8 * i), TIER(signs)(aux),
#if TIER_VNNI
                        _mm256_set1_epi32(scale)
#else
                        _mm256_set1_epi16((short)scale)
#endif
    };
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
    const uint8_t *wb = w + b * IQ3_XXS_BLOCK_BYTES;
    /* The tile's R rows are one region of memory, read R blocks per
     * step in an order the hardware prefetchers do not follow from
     * DRAM: prefetch it as one stream, QUANT_PREFETCH_BYTES ahead (a
     * hint never faults, so reaching past the matrix is harmless). */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES +
                      (uintptr_t)(b * R * IQ3_XXS_BLOCK_BYTES);
#pragma GCC unroll 7
    for (int i = 0; i < (R * IQ3_XXS_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    __m256i sums[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            sums[r][t] = _mm256_setzero_si256();
    for (int i = 0; i < IQ3_XXS_SUB_BLOCKS; i++) {
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
            float d = quant_fp16_to_fp32_f16c(quant_load_u16(wb + r * w_row_bytes));
            acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[r][t]),
                                        _mm256_set1_ps(d * dx * 0.25f), acc[r][t]);
        }
    }
}

/* The driver (quant_tile.h) takes one block at a time through TIER(step). */
#define TILE_BLOCK_ELEMS IQ3_XXS_BLOCK_ELEMS
#define TILE_PAIRS 0
#define TILE_MINS 0

/* Dequantizing: db * (signed magnitude), exact in float, as the scalar
 * reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / IQ3_XXS_BLOCK_ELEMS; b++, block += IQ3_XXS_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32_f16c(quant_load_u16(block));
        for (int i = 0; i < IQ3_XXS_SUB_BLOCKS; i++) {
            uint32_t aux = iq3_xxs_aux(block, i);
            __m256 db = _mm256_set1_ps(d * (0.5f + (float)(aux >> 28)) * 0.5f);
            __m256i values = _mm256_sign_epi8(TIER(magnitudes)(block + IQ3_XXS_QS + 8 * i),
                                              TIER(signs)(aux));
            __m128i halves[2] = {_mm256_castsi256_si128(values),
                                 _mm256_extracti128_si256(values, 1)};
            float *out = dst + b * IQ3_XXS_BLOCK_ELEMS + 32 * i;
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(halves[h]));
                __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(halves[h], 8)));
                _mm256_storeu_ps(out + 16 * h, _mm256_mul_ps(db, v0));
                _mm256_storeu_ps(out + 16 * h + 8, _mm256_mul_ps(db, v1));
            }
        }
    }
}
