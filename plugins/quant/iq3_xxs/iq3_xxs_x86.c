/* The x86 tiers of iq3_xxs's kernels: iq3_xxs_tier.h in iq_grid_x86.h's four
 * tiers. */
#include "iq3_xxs.h"

#if QUANT_X86

#define GRID_FORMAT iq3_xxs
#define GRID_TIER_FILE "iq3_xxs/iq3_xxs_tier.h"
#include "iq_grid_x86.h"

/* The plugin does not quantize (iq3_xxs.c): the sets leave it NULL. */
QUANT_X86_KERNEL_SETS(iq3_xxs, QUANT_TIER_FN, QUANT_NO_FN);

#endif
