/* The x86 tiers of q4_0's kernels: q4_0_tier.h compiled three times, each
 * with its own target attribute, register tile and byte dot product
 * (quant_tile.h's driver), and on AVX-512 VNNI a fourth time for a matvec
 * beside 16-row matmat tiles of its own, both equal to the scalar
 * reference bit for bit (see there). */
#include <string.h>

#include "q4_0.h"

#if QUANT_X86

/* AVX2: 16 vector registers hold a 4-row matvec pass; matmat takes a 4 x 4
 * tile all the same. Its 16 accumulators do not fit beside the operands,
 * but the spilled ones cost loads and stores, which the vector pipes do not
 * carry, while each weight block now serves 4 tokens and each activation
 * block 4 rows (quant_bench, 1536 x 576, one Zen 3 core, against 2 x 2:
 * q4_0: 13.7 -> 38 GMAC/s at 8 tokens, 4 x 2 33.5, 4 x 3 35.4). */
#define TIER(name) q4_0_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q4_0_tier.h"
#include "quant_tile.h"

/* AVX-VNNI: vpdpbusd on ymm (VEX), still 16 registers. */
#define TIER(name) q4_0_##name##_avxvnni
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_avx_epi32
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q4_0_tier.h"
#include "quant_tile.h"

/* AVX-512 without VNNI: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) q4_0_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q4_0_tier.h"
#include "quant_tile.h"

/* AVX-512 VNNI: 16 rows side by side, one row per int32 lane of a zmm,
 * so that a block's products need no horizontal sums. Per 16 rows and
 * block, the rows' 16 bytes of nibbles are transposed in registers (four
 * 4-row zmm, then 32- and 64-bit unpacks: 4-byte group g of the 16 rows in
 * one zmm, lane 4j + k holding row 4k + j, a permutation undone at the
 * store); then each token adds 8 vpdpbusd of those groups against its
 * broadcast activation bytes. Each (row, token) computes exactly what the
 * scalar reference does: per block the integer dot product less 8 * sum(p),
 * converted to float (exact: below 2^24), times d * dx (exact: two halves'
 * 11-bit significands), then added to the row's sum in block order (the
 * multiply and the add rounded apart, as the reference's C). So matvec,
 * every tile of matmat and the reference agree bit for bit. The transposed
 * block serves up to 4 tokens before the next is made (a register tile of
 * 16 rows x 4 tokens); tokens go 64 at a time (TILE_TOKEN_CHUNK's reason). */
enum { Q4_0_R16_ROWS = 16, Q4_0_R16_TOKENS = 4, Q4_0_R16_CHUNK = 64 };

/* lane L of a row group holds row (L % 4) * 4 + L / 4: its own inverse */
#define Q4_0_R16_PERM 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15

QUANT_INLINE QUANT_TARGET_AVX512VNNI __m512i q4_0_r16_rows4(const uint8_t *const *row, int k,
                                                           size_t at)
{
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(row[4 * k] + at)));
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 1] + at)), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 2] + at)), 2);
    return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 3] + at)), 3);
}

/* y[t * y_stride + r] for the n_rows (1..16) rows at row[0..16) (entries
 * past n_rows repeat row 0) and T tokens. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q4_0_r16_tile(const uint8_t *const *row,
                                                       __m512i d_offsets, const uint8_t *x,
                                                       size_t x_row_bytes, float *y,
                                                       size_t y_stride, int64_t n_blocks,
                                                       int n_rows, const int T)
{
    __m512 acc[Q4_0_R16_TOKENS];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    for (int64_t b = 0; b < n_blocks; b++) {
        size_t at = (size_t)b * Q4_0_BLOCK_BYTES;
        if (b % 4 == 0)
            for (int i = 0; i < Q4_0_R16_ROWS; i++)
                _mm_prefetch((const char *)(row[i] + at + QUANT_PREFETCH_BYTES), _MM_HINT_T0);
        __m512i z0 = q4_0_r16_rows4(row, 0, at + 2), z1 = q4_0_r16_rows4(row, 1, at + 2);
        __m512i z2 = q4_0_r16_rows4(row, 2, at + 2), z3 = q4_0_r16_rows4(row, 3, at + 2);
        __m512i a = _mm512_unpacklo_epi32(z0, z1), c = _mm512_unpackhi_epi32(z0, z1);
        __m512i bb = _mm512_unpacklo_epi32(z2, z3), dd = _mm512_unpackhi_epi32(z2, z3);
        __m512i g[4] = {_mm512_unpacklo_epi64(a, bb), _mm512_unpackhi_epi64(a, bb),
                        _mm512_unpacklo_epi64(c, dd), _mm512_unpackhi_epi64(c, dd)};
        __m512i lo[4], hi[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            lo[k] = _mm512_and_si512(g[k], low4);
            hi[k] = _mm512_and_si512(_mm512_srli_epi16(g[k], 4), low4);
        }
        /* the rows' d, in lane order */
        __m512i dw = _mm512_i32gather_epi32(d_offsets, (const void *)(row[0] + at), 1);
        __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dw));
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const uint8_t *xb = x + t * x_row_bytes + b * Q4_0_ACT_BLOCK_BYTES;
            const int8_t *p = (const int8_t *)(xb + 2);
            /* -8 * sum(p), in every lane */
            __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8),
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
            __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(quant_fp16_to_fp32_f16c(
                                                quant_load_u16(xb))));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(dot), scale));
        }
    }
    static const int32_t lane_row[Q4_0_R16_ROWS] = {Q4_0_R16_PERM};
    const __m512i perm = _mm512_loadu_si512((const void *)lane_row);
    __mmask16 keep = (__mmask16)((1u << n_rows) - 1);
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + t * y_stride, keep, _mm512_permutexvar_ps(perm, acc[t]));
}

/* The AVX-512 VNNI matvec: rows one after another, 4 rows and a pair of
 * blocks a step through q4_0_tier.h's byte products (on ymm), whose lanes
 * then sum to each (row, block)'s integer dot product (two rounds of
 * vphaddd), added to the row's sum block by block as above: the same bits
 * as the 16-row products and the reference, reading the rows as streams
 * the way the other tiers' matvec does. */
#define TIER(name) q4_0_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#include "q4_0_tier.h"

/* blocks b and (when two) b + 1 of 4 rows: acc[0] (lanes: rows) += their
 * terms, b's first. (8 rows a pass, sharing the token's work, was 3% faster
 * from the caches but read a DRAM-sized matrix at 20 GB/s where 4 read 24.) */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q4_0_matvec_pair_avx512vnni(__m128 acc[1],
                                                                     const uint8_t *const *row,
                                                                     size_t at,
                                                                     const uint8_t *xb,
                                                                     const int two)
{
    TIER(token_pair) tp = TIER(load_token)(xb, two);
    __m256i v[4];
    uint16_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        v[i] = TIER(dot)(TIER(load_row)(row[i] + at, two), tp);
        d[i] = quant_load_u16(row[i] + at);
        d[4 + i] = two ? quant_load_u16(row[i] + at + Q4_0_BLOCK_BYTES) : 0;
    }
    /* lanes 0-3: the 4 rows' dot products of block b; 4-7: of block b + 1 */
    __m256i s01 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]),
                                   _mm256_unpackhi_epi32(v[0], v[1]));
    __m256i s23 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]),
                                   _mm256_unpackhi_epi32(v[2], v[3]));
    __m256i sums = _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23),
                                    _mm256_unpackhi_epi64(s01, s23));
    __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d)),
                                 quant_pair_scale(xb, Q4_0_ACT_BLOCK_BYTES, two));
    __m256 terms = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), scale);
    acc[0] = _mm_add_ps(acc[0], _mm256_castps256_ps128(terms));
    if (two)
        acc[0] = _mm_add_ps(acc[0], _mm256_extractf128_ps(terms, 1));
}

static QUANT_TARGET_AVX512VNNI void q4_0_matvec_rows_avx512vnni(const uint8_t *w,
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
        __m128 acc[1] = {_mm_setzero_ps()};
        int64_t b = 0;
        for (; b + 2 <= n_blocks; b += 2) {
            /* the rows as one region, prefetched as one stream
             * (quant_tile.h) */
            uintptr_t ahead = (uintptr_t)row[0] + QUANT_PREFETCH_BYTES +
                              (uintptr_t)(b * ROWS * Q4_0_BLOCK_BYTES);
            for (int i = 0; i < (2 * ROWS * Q4_0_BLOCK_BYTES + 63) / 64; i++)
                _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
            q4_0_matvec_pair_avx512vnni(acc, row, (size_t)b * Q4_0_BLOCK_BYTES,
                                        x + b * Q4_0_ACT_BLOCK_BYTES, 1);
        }
        if (b < n_blocks)
            q4_0_matvec_pair_avx512vnni(acc, row, (size_t)b * Q4_0_BLOCK_BYTES,
                                        x + b * Q4_0_ACT_BLOCK_BYTES, 0);
        float out[ROWS];
        _mm_storeu_ps(out, acc[0]);
        for (int i = 0; i < n_rows; i++)
            y[r + i] = out[i];
    }
}

#undef TILE_PAIR_STEP
#undef TILE_BLOCK_BYTES
#undef TILE_ACT_BLOCK_BYTES
#undef TILE_BLOCK_ELEMS
#undef TILE_PAIRS
#undef TILE_MINS
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD

static QUANT_TARGET_AVX512VNNI void q4_0_matmat_avx512vnni(const void *w, size_t w_row_bytes,
                                                          const void *x, size_t x_row_bytes,
                                                          float *y, size_t y_stride,
                                                          int64_t n_cols, int64_t n_tokens,
                                                          int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / Q4_0_BLOCK_ELEMS;
    if (n_tokens == 1) {
        q4_0_matvec_rows_avx512vnni(w, w_row_bytes, x, y, n_blocks, row_begin, row_end);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += Q4_0_R16_CHUNK) {
        int64_t n_chunk = n_tokens - t0 < Q4_0_R16_CHUNK ? n_tokens - t0 : Q4_0_R16_CHUNK;
        const uint8_t *xc = (const uint8_t *)x + t0 * x_row_bytes;
        float *yc = y + t0 * y_stride;
        for (int64_t r = row_begin; r < row_end; r += Q4_0_R16_ROWS) {
            int n_rows = row_end - r < Q4_0_R16_ROWS ? (int)(row_end - r) : Q4_0_R16_ROWS;
            const uint8_t *row[Q4_0_R16_ROWS];
            int32_t offsets[Q4_0_R16_ROWS];
            static const int lane_row[Q4_0_R16_ROWS] = {Q4_0_R16_PERM};
            for (int i = 0; i < Q4_0_R16_ROWS; i++)
                row[i] = (const uint8_t *)w + (r + (i < n_rows ? i : 0)) * (int64_t)w_row_bytes;
            for (int l = 0; l < Q4_0_R16_ROWS; l++)
                offsets[l] = (int32_t)(row[lane_row[l]] - row[0]);
            __m512i d_offsets = _mm512_loadu_si512((const void *)offsets);
            int64_t t = 0;
            for (; t + Q4_0_R16_TOKENS <= n_chunk; t += Q4_0_R16_TOKENS)
                q4_0_r16_tile(row, d_offsets, xc + t * x_row_bytes, x_row_bytes,
                              yc + t * y_stride + r, y_stride, n_blocks, n_rows,
                              Q4_0_R16_TOKENS);
            const uint8_t *xt = xc + t * x_row_bytes;
            float *yt = yc + t * y_stride + r;
            int64_t left = n_chunk - t;
            if (left == 3)
                q4_0_r16_tile(row, d_offsets, xt, x_row_bytes, yt, y_stride, n_blocks, n_rows, 3);
            else if (left == 2)
                q4_0_r16_tile(row, d_offsets, xt, x_row_bytes, yt, y_stride, n_blocks, n_rows, 2);
            else if (left == 1)
                q4_0_r16_tile(row, d_offsets, xt, x_row_bytes, yt, y_stride, n_blocks, n_rows, 1);
        }
    }
}

/* Quantizing happens at load time only: the scalar reference serves every
 * tier (the sets leave it NULL). */
QUANT_X86_KERNEL_SET(q4_0, avx2, QUANT_ISA_AVX2, QUANT_TIER_FN, QUANT_NO_FN);
QUANT_X86_KERNEL_SET(q4_0, avxvnni, QUANT_ISA_AVXVNNI, QUANT_TIER_FN, QUANT_NO_FN);
QUANT_X86_KERNEL_SET(q4_0, avx512, QUANT_ISA_AVX512, QUANT_TIER_FN, QUANT_NO_FN);
/* the AVX-512 tier's dequantize; the 16-row products above */
const quant_kernels q4_0_kernels_avx512vnni = {"avx512vnni", QUANT_ISA_AVX512VNNI,
                                               q4_0_dequantize_avx512vnni, NULL,
                                               q4_0_matmat_avx512vnni};

#endif
