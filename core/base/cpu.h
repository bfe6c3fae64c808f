/* CPU feature detection and the user's limit on it (TESSERA_ISA). */
#ifndef TSR_CORE_CPU_H
#define TSR_CORE_CPU_H

#include "tessera/tessera.h"

/* The limit tsr_cpu_set_limit set, as a mask of TSR_CPU_* bits, and setting
 * it back (the plugin checker tries every level, then restores the user's). */
uint32_t tsr_cpu_limit_mask(void);
void tsr_cpu_set_limit_mask(uint32_t mask);

#endif
