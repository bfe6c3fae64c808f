/* The stochastic-draft rule (core/api/speculate.c) on toy distributions:
 * a draft token d drawn from q is kept with probability min(1, p/q), and a
 * rejection draws from max(0, p - q) renormalised, so what comes out is
 * distributed as the target p whatever q is. Checked by a chi-square test
 * at alpha 0.001 with fixed seeds, and with an adversarial draft whose mass
 * lies where the target has none: such tokens never come out. */
#include <criterion/criterion.h>
#include <math.h>

#include "speculate.h"
#include "rng.h"

enum { N = 8, DRAWS = 200000 };

/* The critical chi-square value for 7 degrees of freedom at alpha 0.001. */
#define CHI2_7_001 24.322

static int32_t draw(const float *q, double u)
{
    double c = 0;
    for (int32_t t = 0; t < N; t++)
        if ((c += q[t]) > u)
            return t;
    return N - 1;
}

/* Emits DRAWS tokens through the rule; counts[t] how often t came out. */
static void run_rule(const float *p, const float *q, uint64_t seed, uint64_t *counts,
                     double *acceptance)
{
    tsr_rng rng;
    tsr_rng_seed(&rng, seed);
    size_t kept = 0;
    for (int t = 0; t < N; t++)
        counts[t] = 0;
    for (int i = 0; i < DRAWS; i++) {
        int32_t d = draw(q, tsr_rng_uniform(&rng));
        bool accepted;
        double u1 = tsr_rng_uniform(&rng), u2 = tsr_rng_uniform(&rng);
        int32_t out = tsr_spec_stochastic_pick(p, q, N, d, u1, u2, &accepted);
        cr_assert(out >= 0 && out < N);
        counts[out]++;
        kept += accepted;
    }
    *acceptance = (double)kept / DRAWS;
}

static double chi_square(const float *p, const uint64_t *counts)
{
    double chi = 0;
    for (int t = 0; t < N; t++) {
        double expected = p[t] * (double)DRAWS;
        if (expected > 0)
            chi += (counts[t] - expected) * (counts[t] - expected) / expected;
    }
    return chi;
}

Test(spec_rule, the_output_follows_the_target_whatever_the_draft)
{
    static const float p[N] = {0.30f, 0.20f, 0.15f, 0.10f, 0.10f, 0.08f, 0.05f, 0.02f};
    static const float drafts[][N] = {
        {0.30f, 0.20f, 0.15f, 0.10f, 0.10f, 0.08f, 0.05f, 0.02f}, /* the target itself */
        {0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f}, /* uniform */
        {0.02f, 0.05f, 0.08f, 0.10f, 0.10f, 0.15f, 0.20f, 0.30f}, /* reversed */
        {0.90f, 0.02f, 0.02f, 0.02f, 0.01f, 0.01f, 0.01f, 0.01f}, /* overconfident */
    };
    for (size_t k = 0; k < sizeof drafts / sizeof drafts[0]; k++) {
        uint64_t counts[N];
        double acceptance;
        run_rule(p, drafts[k], 1000 + k, counts, &acceptance);
        double chi = chi_square(p, counts);
        cr_expect_lt(chi, CHI2_7_001, "draft %zu: chi-square %.2f", k, chi);
        /* The acceptance rate is sum min(p, q). */
        double expected = 0;
        for (int t = 0; t < N; t++)
            expected += fmin(p[t], drafts[k][t]);
        cr_expect_lt(fabs(acceptance - expected), 0.01, "draft %zu: kept %.3f, expected %.3f",
                     k, acceptance, expected);
    }
}

Test(spec_rule, a_draft_with_mass_where_the_target_has_none_never_shows_through)
{
    /* The target never says 0, 1 or 2; the draft says little else. */
    static const float p[N] = {0, 0, 0, 0.4f, 0.3f, 0.2f, 0.1f, 0};
    static const float q[N] = {0.5f, 0.3f, 0.15f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f};
    uint64_t counts[N];
    double acceptance;
    run_rule(p, q, 77, counts, &acceptance);
    cr_expect_eq(counts[0] + counts[1] + counts[2] + counts[7], 0u,
                 "tokens the target rules out came out");
    cr_expect_lt(chi_square(p, counts), CHI2_7_001);
}

Test(spec_rule, a_sure_target_takes_its_token)
{
    static const float p[N] = {0, 0, 1, 0, 0, 0, 0, 0};
    static const float q[N] = {0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f};
    bool accepted;
    cr_expect_eq(tsr_spec_stochastic_pick(p, q, N, 2, 0.99, 0.5, &accepted), 2);
    cr_expect(accepted);
    cr_expect_eq(tsr_spec_stochastic_pick(p, q, N, 5, 0.0, 0.99, &accepted), 2);
    cr_expect_not(accepted);
}
