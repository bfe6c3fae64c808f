/* The x86 tiers of q3_k's kernels: the format's decoding (q3_k_tier.h) and
 * the K-quant products (kquant_tier.h) compiled four times, each with its
 * own target attribute, multiply-add and register tile. matvec takes one
 * row at a time (kquant_tier.h says why). */
#include "q3_k.h"

#if QUANT_X86

/* AVX2: 16 vector registers, a 1 x 3 matmat tile (on q4_k, 50 GMAC/s
 * where 2 x 2 gives 46 and 1 x 4 gives 48 on a Zen 4 core). */
#define TIER(name) q3_k_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define MATVEC_ROWS 1
#define MATMAT_ROWS 1
#define MATMAT_TOKENS 3
#include "kquant_tier_head.h"
#include "q3_k_tier.h"
#include "kquant_tier.h"

/* AVX-VNNI: vpdpwssd (VEX), still 16 registers. */
#define TIER(name) q3_k_##name##_avxvnni
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPWSSD _mm256_dpwssd_avx_epi32
#define MATVEC_ROWS 1
#define MATMAT_ROWS 1
#define MATMAT_TOKENS 3
#include "kquant_tier_head.h"
#include "q3_k_tier.h"
#include "kquant_tier.h"

/* AVX-512: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) q3_k_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define MATVEC_ROWS 1
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "kquant_tier_head.h"
#include "q3_k_tier.h"
#include "kquant_tier.h"

/* AVX-512 VNNI: vpdpwssd (EVEX). The 4 x 4 matmat tile spills a few
 * registers and is still the fastest (q4_k on a Zen 4 core: 80 GMAC/s; 2 x 4
 * 75, 3 x 3 and 4 x 2 67). */
#define TIER(name) q3_k_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPWSSD _mm256_dpwssd_epi32
#define MATVEC_ROWS 1
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 4
#include "kquant_tier_head.h"
#include "q3_k_tier.h"
#include "kquant_tier.h"

/* Dequantizing and quantizing run outside the hot loop: the scalar
 * reference serves every tier. */
QUANT_X86_KERNEL_SETS(q3_k, QUANT_SCALAR_FN, QUANT_NO_FN);

#endif
