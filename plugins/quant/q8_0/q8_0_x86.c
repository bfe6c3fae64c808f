/* The x86 tiers of q8_0's kernels: q8_0_tier.h compiled four times, each
 * with its own target attribute, register tile and byte dot product; on
 * AVX-512 VNNI with products of their own below, equal to the scalar
 * reference bit for bit. */
#include <string.h>

#include "q8_0.h"

#if QUANT_X86

/* AVX2: 16 vector registers hold a 4-row matvec pass; matmat takes a 4 x 4
 * tile all the same. Its 16 accumulators do not fit beside the operands,
 * but the spilled ones cost loads and stores, which the vector pipes do not
 * carry, while each weight block now serves 4 tokens and each activation
 * block 4 rows (quant_bench, 1536 x 576, one Zen 3 core, against 2 x 2:
 * q8_0: 22.5 -> 29.5 GMAC/s at 8 tokens, 4 x 2 26, 4 x 3 27.5). */
#define TIER(name) q8_0_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define TIER_Q8_BLOCK quant_q8_block_avx2
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q8_0_tier.h"
#include "quant_tile.h"

/* AVX-VNNI: vpdpbusd on ymm (VEX), still 16 registers. */
#define TIER(name) q8_0_##name##_avxvnni
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_avx_epi32
#define TIER_Q8_BLOCK quant_q8_block_avx2
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q8_0_tier.h"
#include "quant_tile.h"

/* AVX-512 without VNNI: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) q8_0_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define TIER_Q8_BLOCK quant_q8_block_avx512
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q8_0_tier.h"
#include "quant_tile.h"

/* AVX-512 VNNI: as q4_0's (q4_0_x86.c says how), 16 rows side by side,
 * one row per int32 lane of a zmm, for matmat, and a matvec of 4 rows a
 * pass whose lanes sum per block; both compute each (row, token) as the
 * scalar reference does (the integer dot product, exact in float, times
 * d * dx, exact, added in block order, multiply and add rounded apart), so
 * they equal it and each other bit for bit. vpdpbusd multiplies unsigned by
 * signed bytes: the weights go in as w ^ 0x80 = w + 128, less 128 * sum(p). */
#define TIER(name) q8_0_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#define TIER_Q8_BLOCK quant_q8_block_avx512
#include "q8_0_tier.h"

enum { Q8_0_R16_ROWS = 16, Q8_0_R16_TOKENS = 4, Q8_0_R16_CHUNK = 64 };

/* lane L of a row group holds row (L % 4) * 4 + L / 4: its own inverse */
static const int32_t q8_0_r16_lane_row[Q8_0_R16_ROWS] = {0, 4, 8,  12, 1, 5, 9,  13,
                                                         2, 6, 10, 14, 3, 7, 11, 15};

QUANT_INLINE QUANT_TARGET_AVX512VNNI __m512i q8_0_r16_rows4(const uint8_t *const *row, int k,
                                                           size_t at)
{
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(row[4 * k] + at)));
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 1] + at)), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 2] + at)), 2);
    return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 3] + at)), 3);
}

/* 4-byte groups 0-3 of the 16 bytes at `at` of the 16 rows, in lane order,
 * each byte + 128 */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q8_0_r16_groups(const uint8_t *const *row, size_t at,
                                                         __m512i g[4])
{
    __m512i z0 = q8_0_r16_rows4(row, 0, at), z1 = q8_0_r16_rows4(row, 1, at);
    __m512i z2 = q8_0_r16_rows4(row, 2, at), z3 = q8_0_r16_rows4(row, 3, at);
    __m512i a = _mm512_unpacklo_epi32(z0, z1), c = _mm512_unpackhi_epi32(z0, z1);
    __m512i b = _mm512_unpacklo_epi32(z2, z3), d = _mm512_unpackhi_epi32(z2, z3);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    g[0] = _mm512_xor_si512(_mm512_unpacklo_epi64(a, b), flip);
    g[1] = _mm512_xor_si512(_mm512_unpackhi_epi64(a, b), flip);
    g[2] = _mm512_xor_si512(_mm512_unpacklo_epi64(c, d), flip);
    g[3] = _mm512_xor_si512(_mm512_unpackhi_epi64(c, d), flip);
}

/* y[t * y_stride + r] for the n_rows (1..16) rows at row[0..16) (entries
 * past n_rows repeat row 0) and T tokens. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q8_0_r16_tile(const uint8_t *const *row,
                                                       __m512i d_offsets, const uint8_t *x,
                                                       size_t x_row_bytes, float *y,
                                                       size_t y_stride, int64_t n_blocks,
                                                       int n_rows, const int T)
{
    __m512 acc[Q8_0_R16_TOKENS];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; b++) {
        size_t at = (size_t)b * Q8_0_BLOCK_BYTES;
        if (b % 2 == 0)
            for (int i = 0; i < Q8_0_R16_ROWS; i++)
                _mm_prefetch((const char *)(row[i] + at + QUANT_PREFETCH_BYTES), _MM_HINT_T0);
        __m512i lo[4], hi[4];
        q8_0_r16_groups(row, at + 2, lo);
        q8_0_r16_groups(row, at + 18, hi);
        __m512i dw = _mm512_i32gather_epi32(d_offsets, (const void *)(row[0] + at), 1);
        __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dw));
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const uint8_t *xb = x + t * x_row_bytes + b * Q8_0_BLOCK_BYTES;
            const int8_t *p = (const int8_t *)(xb + 2);
            /* -128 * sum(p), in every lane */
            __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                               _mm256_set1_epi8((char)0x80),
                                               _mm256_loadu_si256((const __m256i *)p));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sums),
                                       _mm256_extracti128_si256(sums, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
            __m512i dot_lo = _mm512_sub_epi32(_mm512_setzero_si512(),
                                              _mm512_broadcastd_epi32(s4));
            __m512i dot_hi = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                int32_t plo, phi;
                memcpy(&plo, p + 4 * k, 4);
                memcpy(&phi, p + 16 + 4 * k, 4);
                dot_lo = _mm512_dpbusd_epi32(dot_lo, lo[k], _mm512_set1_epi32(plo));
                dot_hi = _mm512_dpbusd_epi32(dot_hi, hi[k], _mm512_set1_epi32(phi));
            }
            __m512i dot = _mm512_add_epi32(dot_lo, dot_hi);
            __m512 scale = _mm512_mul_ps(
                d, _mm512_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(xb))));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(dot), scale));
        }
    }
    const __m512i perm = _mm512_loadu_si512((const void *)q8_0_r16_lane_row);
    __mmask16 keep = (__mmask16)((1u << n_rows) - 1);
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + t * y_stride, keep, _mm512_permutexvar_ps(perm, acc[t]));
}

/* The 8 lanes of each of v[0..4) (4 rows' dot products of one block)
 * summed: [row 0 .. row 3] in the low 128 bits and again, partly, in the
 * high ones, to be added by the caller (32- and 64-bit unpacks). */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m256i q8_0_sum4_avx512vnni(const __m256i *v)
{
    __m256i s01 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]),
                                   _mm256_unpackhi_epi32(v[0], v[1]));
    __m256i s23 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]),
                                   _mm256_unpackhi_epi32(v[2], v[3]));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
}

/* Blocks b and, when two, b + 1 of 4 rows: acc (lanes: rows) += their
 * terms, b's first. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m128 q8_0_matvec_pair_avx512vnni(__m128 acc,
                                                                       const uint8_t *const *row,
                                                                       size_t at,
                                                                       const uint8_t *xb,
                                                                       const int two)
{
    __m256i v[2][4];
#pragma GCC unroll 2
    for (int k = 0; k < 1 + two; k++) {
        TIER(token_block) tb = TIER(load_token)(xb + k * Q8_0_BLOCK_BYTES + 2);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            v[k][i] = TIER(dot)(TIER(load_row)(row[i] + at + k * Q8_0_BLOCK_BYTES + 2), tb);
    }
    __m256i s0 = q8_0_sum4_avx512vnni(v[0]);
    __m256i s1 = two ? q8_0_sum4_avx512vnni(v[1]) : _mm256_setzero_si256();
    /* [block b's 4 rows | block b + 1's] */
    __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(s0, s1, 0x20),
                                    _mm256_permute2x128_si256(s0, s1, 0x31));
    /* the rows' d in registers (through a store, the load would wait on
     * its forwarding) */
    const size_t nb = Q8_0_BLOCK_BYTES;
    __m128i d = _mm_setr_epi16(
        (short)quant_load_u16(row[0] + at), (short)quant_load_u16(row[1] + at),
        (short)quant_load_u16(row[2] + at), (short)quant_load_u16(row[3] + at),
        two ? (short)quant_load_u16(row[0] + at + nb) : 0,
        two ? (short)quant_load_u16(row[1] + at + nb) : 0,
        two ? (short)quant_load_u16(row[2] + at + nb) : 0,
        two ? (short)quant_load_u16(row[3] + at + nb) : 0);
    __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(d), quant_pair_scale(xb, nb, two));
    __m256 terms = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), scale);
    acc = _mm_add_ps(acc, _mm256_castps256_ps128(terms));
    if (two)
        acc = _mm_add_ps(acc, _mm256_extractf128_ps(terms, 1));
    return acc;
}

static QUANT_TARGET_AVX512VNNI void q8_0_matvec_rows_avx512vnni(const uint8_t *w,
                                                               size_t w_row_bytes,
                                                               const uint8_t *x, float *y,
                                                               int64_t n_blocks,
                                                               int64_t row_begin,
                                                               int64_t row_end)
{
    enum { ROWS = 4 };
    for (int64_t r = row_begin; r < row_end; r += ROWS) {
        int n_rows = row_end - r < ROWS ? (int)(row_end - r) : ROWS;
        const uint8_t *row[ROWS];
        for (int i = 0; i < ROWS; i++)
            row[i] = w + (r + (i < n_rows ? i : 0)) * (int64_t)w_row_bytes;
        __m128 acc = _mm_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= n_blocks; b += 2) {
            /* the rows as one region, prefetched as one stream (q8_0_tier.h) */
            uintptr_t ahead = (uintptr_t)row[0] + QUANT_PREFETCH_BYTES +
                              (uintptr_t)(b * ROWS * Q8_0_BLOCK_BYTES);
            for (int i = 0; i < (2 * ROWS * Q8_0_BLOCK_BYTES + 63) / 64; i++)
                _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
            acc = q8_0_matvec_pair_avx512vnni(acc, row, (size_t)b * Q8_0_BLOCK_BYTES,
                                              x + b * Q8_0_BLOCK_BYTES, 1);
        }
        if (b < n_blocks)
            acc = q8_0_matvec_pair_avx512vnni(acc, row, (size_t)b * Q8_0_BLOCK_BYTES,
                                              x + b * Q8_0_BLOCK_BYTES, 0);
        float out[ROWS];
        _mm_storeu_ps(out, acc);
        for (int i = 0; i < n_rows; i++)
            y[r + i] = out[i];
    }
}

static QUANT_TARGET_AVX512VNNI void q8_0_matmat_avx512vnni(const void *w, size_t w_row_bytes,
                                                          const void *x, size_t x_row_bytes,
                                                          float *y, size_t y_stride,
                                                          int64_t n_cols, int64_t n_tokens,
                                                          int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / Q8_0_BLOCK_ELEMS;
    if (n_tokens == 1) {
        q8_0_matvec_rows_avx512vnni(w, w_row_bytes, x, y, n_blocks, row_begin, row_end);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += Q8_0_R16_CHUNK) {
        int64_t n_chunk = n_tokens - t0 < Q8_0_R16_CHUNK ? n_tokens - t0 : Q8_0_R16_CHUNK;
        const uint8_t *xc = (const uint8_t *)x + t0 * x_row_bytes;
        float *yc = y + t0 * y_stride;
        for (int64_t r = row_begin; r < row_end; r += Q8_0_R16_ROWS) {
            int n_rows = row_end - r < Q8_0_R16_ROWS ? (int)(row_end - r) : Q8_0_R16_ROWS;
            const uint8_t *row[Q8_0_R16_ROWS];
            int32_t offsets[Q8_0_R16_ROWS];
            for (int i = 0; i < Q8_0_R16_ROWS; i++)
                row[i] = (const uint8_t *)w + (r + (i < n_rows ? i : 0)) * (int64_t)w_row_bytes;
            for (int l = 0; l < Q8_0_R16_ROWS; l++)
                offsets[l] = (int32_t)(row[q8_0_r16_lane_row[l]] - row[0]);
            __m512i d_offsets = _mm512_loadu_si512((const void *)offsets);
            int64_t t = 0;
            for (; t + Q8_0_R16_TOKENS <= n_chunk; t += Q8_0_R16_TOKENS)
                q8_0_r16_tile(row, d_offsets, xc + t * x_row_bytes, x_row_bytes,
                              yc + t * y_stride + r, y_stride, n_blocks, n_rows,
                              Q8_0_R16_TOKENS);
            const uint8_t *xt = xc + t * x_row_bytes;
            float *yt = yc + t * y_stride + r;
            int64_t left = n_chunk - t;
            if (left == 3)
                q8_0_r16_tile(row, d_offsets, xt, x_row_bytes, yt, y_stride, n_blocks, n_rows, 3);
            else if (left == 2)
                q8_0_r16_tile(row, d_offsets, xt, x_row_bytes, yt, y_stride, n_blocks, n_rows, 2);
            else if (left == 1)
                q8_0_r16_tile(row, d_offsets, xt, x_row_bytes, yt, y_stride, n_blocks, n_rows, 1);
        }
    }
}

#undef TILE_BLOCK_ELEMS
#undef TILE_PAIRS
#undef TILE_MINS
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD
#undef TIER_Q8_BLOCK

QUANT_X86_KERNEL_SET(q8_0, avx2, QUANT_ISA_AVX2, QUANT_TIER_FN, QUANT_TIER_FN);
QUANT_X86_KERNEL_SET(q8_0, avxvnni, QUANT_ISA_AVXVNNI, QUANT_TIER_FN, QUANT_TIER_FN);
QUANT_X86_KERNEL_SET(q8_0, avx512, QUANT_ISA_AVX512, QUANT_TIER_FN, QUANT_TIER_FN);
QUANT_X86_KERNEL_SET(q8_0, avx512vnni, QUANT_ISA_AVX512VNNI, QUANT_TIER_FN, QUANT_TIER_FN);

#endif
