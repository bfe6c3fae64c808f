/* The x86 tiers of iq3_s's kernels: iq3_s_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq3_s.h"

#if QUANT_X86

#define GRID_FORMAT iq3_s
#define GRID_TIER_FILE "iq3_s/iq3_s_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq3_s.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq3_s, QUANT_TIER_FN, QUANT_NO_FN);

#endif
