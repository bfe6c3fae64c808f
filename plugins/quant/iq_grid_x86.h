/* The four x86 tiers of a grid i-quant's kernels (iq_grid_tier.h), each
 * with its own target attribute, register tile and byte dot product.
 * FORMAT_x86.c defines GRID_FORMAT (its prefix, e.g. iq2_xxs) and
 * GRID_TIER_FILE (its tier file, "FORMAT/FORMAT_tier.h"), includes this
 * file, then names the sets with QUANT_X86_KERNEL_SETS. */

#define GRID_PASTE(format, name, tier) format##_##name##_##tier
#define GRID_NAME(format, name, tier) GRID_PASTE(format, name, tier)

/* AVX2: 16 vector registers hold a 2-row matvec pass or a 2 x 2 matmat tile. */
#define TIER(name) GRID_NAME(GRID_FORMAT, name, avx2)
#define TIER_TARGET QUANT_TARGET_AVX2
#define TIER_VNNI 0
#define MATVEC_ROWS 2
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 2
#include GRID_TIER_FILE
#include "iq_grid_tier.h"
#include "quant_tile.h"

/* AVX-VNNI: vpdpbusd on ymm (VEX), still 16 registers. */
#define TIER(name) GRID_NAME(GRID_FORMAT, name, avxvnni)
#define TIER_TARGET QUANT_TARGET_AVXVNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_avx_epi32
#define MATVEC_ROWS 2
#define MATMAT_ROWS 2
#define MATMAT_TOKENS 2
#include GRID_TIER_FILE
#include "iq_grid_tier.h"
#include "quant_tile.h"

/* AVX-512 without VNNI: the AVX2 arithmetic with 32 registers, so a bigger matmat tile. */
#define TIER(name) GRID_NAME(GRID_FORMAT, name, avx512)
#define TIER_TARGET QUANT_TARGET_AVX512
#define TIER_VNNI 0
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 2
#include GRID_TIER_FILE
#include "iq_grid_tier.h"
#include "quant_tile.h"

/* AVX-512 VNNI: vpdpbusd (EVEX, on ymm) and 32 registers. */
#define TIER(name) GRID_NAME(GRID_FORMAT, name, avx512vnni)
#define TIER_TARGET QUANT_TARGET_AVX512VNNI
#define TIER_VNNI 1
#define TIER_DPBUSD _mm256_dpbusd_epi32
#define MATVEC_ROWS 4
#define MATMAT_ROWS 4
#define MATMAT_TOKENS 2
#include GRID_TIER_FILE
#include "iq_grid_tier.h"
#include "quant_tile.h"

#undef GRID_PASTE
#undef GRID_NAME
