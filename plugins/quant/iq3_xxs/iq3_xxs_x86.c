/* The x86 tiers of iq3_xxs's kernels: iq3_xxs_tier.h compiled four times, each
 * with its own target attribute, register tile and byte dot product. */
#include "iq3_xxs.h"

#if QUANT_X86

/* AVX2: 16 vector registers hold a 2-row matvec pass or a 2 x 2 matmat tile. */
#define TIER(name) iq3_xxs_##name##_avx2
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define MATVEC_ROWS 2
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 2
#include "iq3_xxs_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* AVX-VNNI: vpdpbusd on ymm (VEX), still 16 registers. */
#define TIER(name) iq3_xxs_##name##_avxvnni
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_avx_epi32
#define MATVEC_ROWS 2
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 2
#include "iq3_xxs_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* AVX-512 without VNNI: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) iq3_xxs_##name##_avx512
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 2
#include "iq3_xxs_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* AVX-512 VNNI: vpdpbusd (EVEX, on ymm) and 32 registers. */
#define TIER(name) iq3_xxs_##name##_avx512vnni
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 2
#include "iq3_xxs_tier.h"
#undef TIER
#undef TIER_TARGET
#undef TIER_VNNI
#undef TIER_DPBUSD
#undef MATVEC_ROWS
#undef MATMAT_ROWS
#undef MATMAT_TOKENS

/* The plugin does not quantize (iq3_xxs.c): the sets leave it NULL. */
const quant_kernels iq3_xxs_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, iq3_xxs_dequantize_avx2,
                                         NULL, iq3_xxs_matmat_avx2};
const quant_kernels iq3_xxs_kernels_avxvnni = {"avxvnni", QUANT_ISA_AVXVNNI,
                                            iq3_xxs_dequantize_avxvnni, NULL,
                                            iq3_xxs_matmat_avxvnni};
const quant_kernels iq3_xxs_kernels_avx512 = {"avx512", QUANT_ISA_AVX512, iq3_xxs_dequantize_avx512,
                                           NULL, iq3_xxs_matmat_avx512};
const quant_kernels iq3_xxs_kernels_avx512vnni = {"avx512vnni", QUANT_ISA_AVX512VNNI,
                                               iq3_xxs_dequantize_avx512vnni, NULL,
                                               iq3_xxs_matmat_avx512vnni};

#endif
