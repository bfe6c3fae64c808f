/* The draft model as the host table lends it to spec plugins: one
 * sequence of the deployment's draft model (core/api/speculate.c), whose
 * tsr_draft_head names these functions for the host table (host.h). */
#ifndef TSR_CORE_DRAFT_H
#define TSR_CORE_DRAFT_H

#include "tessera/plugin.h"

tsr_status tsr_draft_eval(tsr_draft *draft, const int32_t *tokens, size_t n_tokens,
                          tsr_error *err);
const float *tsr_draft_logits(tsr_draft *draft, size_t i);
void tsr_draft_rollback(tsr_draft *draft, size_t n_keep);
size_t tsr_draft_n_past(const tsr_draft *draft);

#endif
