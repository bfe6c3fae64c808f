/* The core's logger: plugins reach it through the host table, core code
 * through tsr_log. Lines go to the sink the application installed. */
#ifndef TSR_CORE_LOG_H
#define TSR_CORE_LOG_H

#include "tessera/tessera.h"

void tsr_log(int level, const char *source, const char *fmt, ...) TSR_PRINTF(3, 4);

#endif
