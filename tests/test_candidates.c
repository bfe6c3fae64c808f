/* Sorting and softmax over candidates (core/base/candidates.c): the partial sort
 * puts exactly what a full sort puts in front, ties included. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "candidates.h"
#include "rng.h"

enum { N = 20000 };
static tsr_candidate full[N], part[N];

/* Logits from a few hundred values, so that many tie. */
static void fill(tsr_candidate *data, uint64_t seed)
{
    tsr_rng rng;
    tsr_rng_seed(&rng, seed);
    for (int32_t i = 0; i < N; i++)
        data[i] = (tsr_candidate){.token = i, .logit = (float)(int)(tsr_rng_uniform(&rng) * 300)};
}

Test(candidates, partial_sort_puts_the_k_best_first_as_a_full_sort_does)
{
    const size_t ks[] = {1, 2, 40, 256, N / 8, N / 8 + 1, N - 1, N};
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        fill(full, 3);
        fill(part, 3);
        tsr_candidates a = {.data = full, .size = N, .selected = -1};
        tsr_candidates b = {.data = part, .size = N, .selected = -1};
        tsr_candidates_sort(&a);
        tsr_candidates_partial_sort(&b, ks[j]);
        cr_assert_eq(b.size, N);
        if (ks[j] >= N)
            cr_assert(b.sorted);
        for (size_t i = 0; i < ks[j]; i++)
            cr_assert_eq(part[i].token, full[i].token, "k = %zu, rank %zu", ks[j], i);
        /* Still a permutation: every token once. */
        static bool seen[N];
        memset(seen, 0, sizeof seen);
        for (size_t i = 0; i < N; i++) {
            cr_assert_not(seen[part[i].token]);
            seen[part[i].token] = true;
        }
    }
}

Test(candidates, sort_breaks_ties_by_token_id)
{
    tsr_candidate data[] = {{3, 1.0f, 0}, {1, 2.0f, 0}, {0, 1.0f, 0}, {2, 2.0f, 0}};
    tsr_candidates c = {.data = data, .size = 4, .selected = -1};
    tsr_candidates_sort(&c);
    const int32_t expect[] = {1, 2, 0, 3};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(data[i].token, expect[i]);
}

Test(candidates, softmax_of_banned_tokens_is_zero)
{
    tsr_candidate data[] = {{0, 0.0f, 0}, {1, -INFINITY, 0}, {2, logf(3.0f), 0}};
    tsr_candidates c = {.data = data, .size = 3, .selected = -1};
    tsr_candidates_softmax(&c);
    cr_assert_float_eq(data[0].p, 0.25f, 1e-7);
    cr_assert_eq(data[1].p, 0.0f);
    cr_assert_float_eq(data[2].p, 0.75f, 1e-7);
}
