/* The x86 tiers of iq1_m's kernels: iq1_m_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq1_m.h"

#if QUANT_X86

#define GRID_FORMAT iq1_m
#define GRID_TIER_FILE "iq1_m/iq1_m_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq1_m.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq1_m, QUANT_TIER_FN, QUANT_NO_FN);

#endif
