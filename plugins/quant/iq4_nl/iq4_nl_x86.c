/* The x86 tiers of iq4_nl's kernels: iq4_nl_tier.h compiled four times, each
 * with its own target attribute, register tile and byte dot product. */
#include "iq4_nl.h"

#if QUANT_X86

/* iq4_nl_tier.h's format: the table, qs after the f16 d. */
#define NL_STEPS iq4_nl_values
#define NL_QS 2
#define NL_BLOCK_BYTES IQ4_NL_BLOCK_BYTES

/* AVX2: 16 vector registers hold a 4-row matvec pass or a 2 x 2 matmat tile. */
#define TIER(name) iq4_nl_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "iq4_nl_tier.h"
#include "quant_tile.h"

/* AVX-VNNI: vpdpbusd on ymm (VEX), still 16 registers. */
#define TIER(name) iq4_nl_##name##_avxvnni
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_avx_epi32
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "iq4_nl_tier.h"
#include "quant_tile.h"

/* AVX-512 without VNNI: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) iq4_nl_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "iq4_nl_tier.h"
#include "quant_tile.h"

/* AVX-512 VNNI: vpdpbusd (EVEX, on ymm) and 32 registers. */
#define TIER(name) iq4_nl_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "iq4_nl_tier.h"
#include "quant_tile.h"

/* Quantizing happens at load time only: the scalar reference serves every
 * tier (the sets leave it NULL). */
QUANT_X86_KERNEL_SETS(iq4_nl, QUANT_TIER_FN, QUANT_NO_FN);

#endif
