/* CPU feature detection and the user's limit on it (TESSERA_ISA). */
#ifndef TSR_CORE_CPU_H
#define TSR_CORE_CPU_H

#include "tessera/tessera.h"

#endif
