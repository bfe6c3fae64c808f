/* The host-services table plugins receive. */
#ifndef TSR_CORE_HOST_H
#define TSR_CORE_HOST_H

#include "tessera/tessera.h"

/* Bytes plugins currently hold through host->alloc. */
size_t tsr_host_bytes_in_use(void);

#endif
