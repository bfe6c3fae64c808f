/* The merge queue of both encoders: a binary heap of candidate pairs,
 * lowest key first, the leftmost pair on a tie (tokenizer_internal.h). */
#include "tokenizer_internal.h"

static bool pair_before(const tsr_merge_pair *a, const tsr_merge_pair *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

void tsr_merge_queue_push(tsr_merge_pair *heap, size_t *n, tsr_merge_pair item)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&item, &heap[parent]))
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

tsr_merge_pair tsr_merge_queue_pop(tsr_merge_pair *heap, size_t *n)
{
    tsr_merge_pair top = heap[0], last = heap[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && pair_before(&heap[child + 1], &heap[child]))
            child++;
        if (!pair_before(&heap[child], &last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n > 0)
        heap[i] = last;
    return top;
}

void tsr_merge_symbols(tsr_merge_symbol *symbols, int32_t left, int32_t right)
{
    tsr_merge_symbol *l = &symbols[left], *r = &symbols[right];
    l->n_bytes += r->n_bytes;
    r->n_bytes = 0;
    l->next = r->next;
    if (r->next >= 0)
        symbols[r->next].prev = left;
}
