/* The x86 tiers of q4_0's kernels: q4_0_tier.h compiled three times, each
 * with its own target attribute, register tile and byte dot product
 * (quant_tile.h's driver), and on AVX-512 VNNI a fourth time for a matvec
 * beside 16-row matmat tiles (quant_r16.h's driver), both equal to the
 * scalar reference bit for bit (see there). */
#include <string.h>

#include "q4_0.h"

#if QUANT_X86

#include "quant_r16.h"

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

/* AVX-512 VNNI: 16 rows side by side for matmat and 4 rows a pass for
 * matvec, quant_r16.h's driver around the block products below. Each
 * (row, token) computes exactly what the scalar reference does: per block
 * the integer dot product less 8 * sum(p), converted to float (exact: below
 * 2^24), times d * dx (exact: two halves' 11-bit significands), then added
 * to the row's sum in block order (the multiply and the add rounded apart,
 * as the reference's C). So matvec, every tile of matmat and the reference
 * agree bit for bit. The matvec's byte products are q4_0_tier.h's (on
 * ymm), with each row's lanes summed per block. */
#define TIER(name) q4_0_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#include "q4_0_tier.h"

/* Block b of the 16 rows: the nibble bytes transposed, split into values
 * 0-15 (against p[0..16)) and 16-31 (against p[16..32)), 8 vpdpbusd a token. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void q4_0_r16_block(__m512 acc[QUANT_R16_TOKENS],
                                                        const uint8_t *const *row,
                                                        __m512i scale_offsets, const uint8_t *x,
                                                        size_t x_row_bytes, int64_t b,
                                                        const int T)
{
    size_t at = (size_t)b * Q4_0_BLOCK_BYTES;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512i g[4], lo[4], hi[4];
    quant_r16_groups(row, at + 2, g);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        lo[k] = _mm512_and_si512(g[k], low4);
        hi[k] = _mm512_and_si512(_mm512_srli_epi16(g[k], 4), low4);
    }
    /* the rows' d, in lane order */
    __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(quant_r16_scales(scale_offsets, row[0] + at)));
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q4_0_ACT_BLOCK_BYTES;
        const int8_t *p = (const int8_t *)(xb + 2);
        __m512i dot = quant_r16_dot32(quant_r16_bias(p, 8), lo, hi, p);
        __m512 scale =
            _mm512_mul_ps(d, _mm512_set1_ps(quant_fp16_to_fp32_f16c(quant_load_u16(xb))));
        acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(dot), scale));
    }
}

/* Blocks b and (when two) b + 1 of 4 rows: acc (lanes: rows) += their
 * terms, b's first. (8 rows a pass, sharing the token's work, was 3% faster
 * from the caches but read a DRAM-sized matrix at 20 GB/s where 4 read 24.) */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m128 q4_0_r16_matvec_pair(__m128 acc,
                                                                const uint8_t *const *row,
                                                                size_t at, const uint8_t *xb,
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
    __m256i sums = quant_r16_sum4(v);
    __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d)),
                                 quant_pair_scale(xb, Q4_0_ACT_BLOCK_BYTES, two));
    __m256 terms = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), scale);
    acc = _mm_add_ps(acc, _mm256_castps256_ps128(terms));
    if (two)
        acc = _mm_add_ps(acc, _mm256_extractf128_ps(terms, 1));
    return acc;
}

#define R16(name) q4_0_r16_##name
#define R16_BLOCK_ELEMS Q4_0_BLOCK_ELEMS
#define R16_BLOCK_BYTES Q4_0_BLOCK_BYTES
#define R16_ACT_BLOCK_BYTES Q4_0_ACT_BLOCK_BYTES
#define R16_PREFETCH_BLOCKS 4
#include "quant_r16.h"

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

/* Quantizing happens at load time only: the scalar reference serves every
 * tier (the sets leave it NULL). */
QUANT_X86_KERNEL_SET(q4_0, avx2, QUANT_ISA_AVX2, QUANT_TIER_FN, QUANT_NO_FN);
QUANT_X86_KERNEL_SET(q4_0, avxvnni, QUANT_ISA_AVXVNNI, QUANT_TIER_FN, QUANT_NO_FN);
QUANT_X86_KERNEL_SET(q4_0, avx512, QUANT_ISA_AVX512, QUANT_TIER_FN, QUANT_NO_FN);
/* the AVX-512 tier's dequantize; the 16-row products above */
const quant_kernels q4_0_kernels_avx512vnni = {"avx512vnni", QUANT_ISA_AVX512VNNI,
                                               q4_0_dequantize_avx512vnni, NULL,
                                               q4_0_r16_matmat};

#endif
