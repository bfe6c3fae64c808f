/* The x86 tiers of q8_0's kernels: q8_0_tier.h compiled four times, each
 * with its own target attribute, register tile and byte dot product. */
#include "q8_0.h"

#if defined(__x86_64__)

/* AVX2: 16 vector registers hold a 4-row matvec pass or a 2 x 2 matmat tile. */
#define TIER(name) q8_0_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define TIER_Q8_BLOCK quant_q8_block_avx2
#define MATVEC_ROWS 4
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 2
#include "q8_0_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_Q8_BLOCK
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* AVX-VNNI: vpdpbusd on ymm (VEX), still 16 registers. */
#define TIER(name) q8_0_##name##_avxvnni
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_avx_epi32
#define TIER_Q8_BLOCK quant_q8_block_avx2
#define MATVEC_ROWS 4
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 2
#include "q8_0_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD
#undef TIER_Q8_BLOCK
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* AVX-512 without VNNI: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) q8_0_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define TIER_Q8_BLOCK quant_q8_block_avx512
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 3
#include "q8_0_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_Q8_BLOCK
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* AVX-512 VNNI: vpdpbusd (EVEX, on ymm) and 32 registers. */
#define TIER(name) q8_0_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#define TIER_Q8_BLOCK quant_q8_block_avx512
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 3
#include "q8_0_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD
#undef TIER_Q8_BLOCK
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

const quant_kernels q8_0_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, q8_0_dequantize_avx2,
                                         q8_0_quantize_avx2, q8_0_matmat_avx2};
const quant_kernels q8_0_kernels_avxvnni = {"avxvnni", QUANT_ISA_AVXVNNI, q8_0_dequantize_avxvnni,
                                            q8_0_quantize_avxvnni, q8_0_matmat_avxvnni};
const quant_kernels q8_0_kernels_avx512 = {"avx512", QUANT_ISA_AVX512, q8_0_dequantize_avx512,
                                           q8_0_quantize_avx512, q8_0_matmat_avx512};
const quant_kernels q8_0_kernels_avx512vnni = {"avx512vnni", QUANT_ISA_AVX512VNNI,
                                               q8_0_dequantize_avx512vnni,
                                               q8_0_quantize_avx512vnni, q8_0_matmat_avx512vnni};

#endif
