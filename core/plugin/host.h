/* The host-services table plugins receive. */
#ifndef TSR_CORE_HOST_H
#define TSR_CORE_HOST_H

#include "tessera/tessera.h"

/* Bytes plugins currently hold through host->alloc. */
size_t tsr_host_bytes_in_use(void);

/* A draft model as the host table lends it to spec plugins: whoever makes a
 * tsr_draft (core/api/speculate.c) starts it with a tsr_draft_head naming
 * its functions, and the table's draft members call those, so that lending
 * a draft needs nothing of the layers above the plugin host. */
typedef struct tsr_draft_ops {
    tsr_status (*eval)(tsr_draft *draft, const int32_t *tokens, size_t n_tokens, tsr_error *err);
    const float *(*logits)(tsr_draft *draft, size_t i);
    void (*rollback)(tsr_draft *draft, size_t n_keep);
    size_t (*n_past)(const tsr_draft *draft);
} tsr_draft_ops;

typedef struct tsr_draft_head {
    const tsr_draft_ops *ops;
} tsr_draft_head;

#endif
