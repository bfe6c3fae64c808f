/* Sorting and softmax over candidate tokens. */
#include <math.h>
#include <stdbool.h>
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

/* After data moved: points selected at the token it named before. */
static void follow_selected(tsr_candidates *cands, int64_t chosen)
{
    if (chosen >= 0)
        for (size_t i = 0; i < cands->size; i++)
            if (cands->data[i].token == chosen)
                cands->selected = (int64_t)i;
}

void tsr_candidates_sort(tsr_candidates *cands)
{
    if (!cands->sorted && cands->size > 1) {
        int64_t chosen = cands->selected >= 0 ? cands->data[cands->selected].token : -1;
        qsort(cands->data, cands->size, sizeof cands->data[0], by_logit_descending);
        follow_selected(cands, chosen);
    }
    cands->sorted = true;
}

/* The sort's order as a predicate: a comes before b. */
static bool better(const tsr_candidate *a, const tsr_candidate *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->token < b->token);
}

static void swap(tsr_candidate *a, tsr_candidate *b)
{
    tsr_candidate t = *a;
    *a = *b;
    *b = t;
}

/* Restores the heap property below node i of a heap whose root is the worst
 * of heap[0..n) (so a newcomer only has to beat the root to get in). */
static void sift_down(tsr_candidate *heap, size_t n, size_t i)
{
    for (;;) {
        size_t worst = i, left = 2 * i + 1, right = left + 1;
        if (left < n && better(&heap[worst], &heap[left]))
            worst = left;
        if (right < n && better(&heap[worst], &heap[right]))
            worst = right;
        if (worst == i)
            return;
        swap(&heap[i], &heap[worst]);
        i = worst;
    }
}

void tsr_candidates_partial_sort(tsr_candidates *cands, size_t k)
{
    if (cands->sorted || k == 0)
        return;
    /* Past an eighth of the array a heap no longer beats sorting it all. */
    if (k >= cands->size || k > cands->size / 8) {
        tsr_candidates_sort(cands);
        return;
    }
    int64_t chosen = cands->selected >= 0 ? cands->data[cands->selected].token : -1;
    tsr_candidate *data = cands->data;
    /* A heap of the k best seen so far, its worst at the root: almost every
     * other candidate is rejected by one comparison with the root. */
    for (size_t i = k / 2; i-- > 0;)
        sift_down(data, k, i);
    for (size_t i = k; i < cands->size; i++)
        if (better(&data[i], &data[0])) {
            swap(&data[i], &data[0]);
            sift_down(data, k, 0);
        }
    qsort(data, k, sizeof data[0], by_logit_descending);
    follow_selected(cands, chosen);
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
