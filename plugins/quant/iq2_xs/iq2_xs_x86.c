/* The x86 tiers of iq2_xs's kernels: iq2_xs_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq2_xs.h"

#if QUANT_X86

#define GRID_FORMAT iq2_xs
#define GRID_TIER_FILE "iq2_xs/iq2_xs_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq2_xs.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq2_xs, QUANT_TIER_FN, QUANT_NO_FN);

#endif
