/* The x86 tiers of q4_0's kernels: q4_0_tier.h compiled four times, each
 * with its own target attribute, register tile and byte dot product. */
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

/* AVX-512 VNNI: vpdpbusd (EVEX, on ymm) and 32 registers. */
#define TIER(name) q4_0_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "q4_0_tier.h"
#include "quant_tile.h"

/* Quantizing happens at load time only: the scalar reference serves every
 * tier (the sets leave it NULL). */
QUANT_X86_KERNEL_SETS(q4_0, QUANT_TIER_FN, QUANT_NO_FN);

#endif
