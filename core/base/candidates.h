/* Operations on a candidates array that every sampler may need; reached by
 * plugins through the host table. */
#ifndef TSR_CORE_CANDIDATES_H
#define TSR_CORE_CANDIDATES_H

#include "tessera/plugin.h"

/* Sorts by logit, highest first; ties by token id, so the order is total and
 * identical on every platform. */
void tsr_candidates_sort(tsr_candidates *cands);
/* Moves the k best (the sort's order) to data[0..k), sorted; the rest follow
 * in no particular order. size is unchanged; sorted is set when the whole
 * array ended up sorted (always for k >= size). */
void tsr_candidates_partial_sort(tsr_candidates *cands, size_t k);
/* p = softmax(logit); stable against large logits (subtracts the maximum). */
void tsr_candidates_softmax(tsr_candidates *cands);

#endif
