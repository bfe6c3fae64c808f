/* Sorting and softmax over candidate tokens. */
#include <math.h>
#include <stdlib.h>

#include "candidates.h"

static int by_logit_descending(const void *a, const void *b)
{
    const tsr_candidate *x = a, *y = b;
    if (x->logit > y->logit)
        return -1;
    if (x->logit < y->logit)
        return 1;
    return (x->token > y->token) - (x->token < y->token);
}

void tsr_candidates_sort(tsr_candidates *cands)
{
    if (!cands->sorted && cands->size > 1) {
        int64_t chosen = cands->selected >= 0 ? cands->data[cands->selected].token : -1;
        qsort(cands->data, cands->size, sizeof cands->data[0], by_logit_descending);
        if (chosen >= 0)
            for (size_t i = 0; i < cands->size; i++)
                if (cands->data[i].token == chosen)
                    cands->selected = (int64_t)i;
    }
    cands->sorted = true;
}

void tsr_candidates_softmax(tsr_candidates *cands)
{
    if (cands->size == 0)
        return;
    float max_logit = -INFINITY;
    for (size_t i = 0; i < cands->size; i++)
        if (cands->data[i].logit > max_logit)
            max_logit = cands->data[i].logit;
    double sum = 0.0;
    for (size_t i = 0; i < cands->size; i++) {
        float e = isinf(max_logit) && max_logit < 0 ? 1.0f : expf(cands->data[i].logit - max_logit);
        cands->data[i].p = e;
        sum += e;
    }
    for (size_t i = 0; i < cands->size; i++)
        cands->data[i].p = (float)(cands->data[i].p / sum);
}
