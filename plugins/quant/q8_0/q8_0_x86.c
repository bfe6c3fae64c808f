/* The x86 tiers of q8_0's kernels: q8_0_tier.h compiled four times, each
 * with its own target attribute, register tile and byte dot product; on
 * AVX-512 VNNI with products of their own below (quant_r16.h's driver),
 * equal to the scalar reference bit for bit. */
#include <string.h>

#include "q8_0.h"

#if QUANT_X86

#include "quant_r16.h"

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

/* AVX-512 VNNI: quant_r16.h's 16 rows side by side, one row per int32
 * lane of a zmm, for matmat, and a matvec of 4 rows a pass whose lanes sum
 * per block; both compute each (row, token) as the
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

/* 4-byte groups 0-3 of the 16 bytes at `at` of the 16 rows, in lane order,
 * each byte + 128 */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q8_0_r16_groups(const uint8_t *const *row, size_t at,
                                                         __m512i g[4])
{
    quant_r16_groups(row, at, g);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        g[k] = _mm512_xor_si512(g[k], flip);
}

/* Block b of the 16 rows: its two 16-byte halves transposed, 8 vpdpbusd a
 * token. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q8_0_r16_block(__m512 acc[QUANT_R16_TOKENS],
                                                        const uint8_t *const *row,
                                                        __m512i scale_offsets, const uint8_t *x,
                                                        size_t x_row_bytes, int64_t b,
                                                        const int T)
{
    size_t at = (size_t)b * Q8_0_BLOCK_BYTES;
    __m512i lo[4], hi[4];
    q8_0_r16_groups(row, at + 2, lo);
    q8_0_r16_groups(row, at + 18, hi);
    __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(quant_r16_scales(scale_offsets, row[0] + at)));
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q8_0_BLOCK_BYTES;
        const int8_t *p = (const int8_t *)(xb + 2);
        __m512i dot = quant_r16_dot32(quant_r16_bias(p, (char)0x80), lo, hi, p);
        __m512 scale =
            _mm512_mul_ps(d, _mm512_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(xb))));
        acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(dot), scale));
    }
}

/* Blocks b and, when two, b + 1 of 4 rows: acc (lanes: rows) += their
 * terms, b's first. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m128 q8_0_r16_matvec_pair(__m128 acc,
                                                                const uint8_t *const *row,
                                                                size_t at, const uint8_t *xb,
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
    __m256i s0 = quant_r16_sum4(v[0]);
    __m256i s1 = two ? quant_r16_sum4(v[1]) : _mm256_setzero_si256();
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

#define R16(name) q8_0_r16_##name
#define R16_BLOCK_ELEMS Q8_0_BLOCK_ELEMS
#define R16_BLOCK_BYTES Q8_0_BLOCK_BYTES
#define R16_ACT_BLOCK_BYTES Q8_0_BLOCK_BYTES
#define R16_PREFETCH_BLOCKS 2
#include "quant_r16.h"

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
/* the AVX-512 tier's dequantize and quantize; the 16-row products above */
const quant_kernels q8_0_kernels_avx512vnni = {"avx512vnni", QUANT_ISA_AVX512VNNI,
                                               q8_0_dequantize_avx512vnni,
                                               q8_0_quantize_avx512vnni, q8_0_r16_matmat};

#endif
