/* The x86 tiers of iq2_s's kernels: iq2_s_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq2_s.h"

#if QUANT_X86

#define GRID_FORMAT iq2_s
#define GRID_TIER_FILE "iq2_s/iq2_s_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq2_s.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq2_s, QUANT_TIER_FN, QUANT_NO_FN);

#endif
