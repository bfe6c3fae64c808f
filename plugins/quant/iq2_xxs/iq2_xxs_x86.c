/* The x86 tiers of iq2_xxs's kernels: iq2_xxs_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq2_xxs.h"

#if QUANT_X86

#define GRID_FORMAT iq2_xxs
#define GRID_TIER_FILE "iq2_xxs/iq2_xxs_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq2_xxs.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq2_xxs, QUANT_TIER_FN, QUANT_NO_FN);

#endif
