/* The x86 tiers of iq1_s's kernels: iq1_s_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq1_s.h"

#if QUANT_X86

#define GRID_FORMAT iq1_s
#define GRID_TIER_FILE "iq1_s/iq1_s_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq1_s.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq1_s, QUANT_TIER_FN, QUANT_NO_FN);

#endif
