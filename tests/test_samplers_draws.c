/* The samplers that draw with the seeded generator (plugins/sampler/): dist,
 * mirostat (v1, v2, off) and xtc's coin. Each is checked by its exact
 * truncation on hand-made logits, then by Pearson's chi-square of many draws
 * with a fixed seed at significance 0.001; each chi-square test also checks
 * that a wrong distribution would have been caught. */
#include "samplertest.h"

static tsr_registry *reg;

static void open_registry(void)
{
    reg = samplers_open_registry();
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

TestSuite(draws, .init = open_registry, .fini = close_registry);

enum { DRAWS = 20000 };

/* Draws DRAWS tokens from logits[0..n) with s, counting each token. */
static void count_draws(sampler_under_test *s, const float *logits, size_t n, long *counts)
{
    tsr_candidate buf[16];
    cr_assert_leq(n, 16);
    memset(counts, 0, n * sizeof *counts);
    for (long i = 0; i < DRAWS; i++) {
        tsr_candidates c = cands_of(buf, logits, n);
        sut_apply(s, &c);
        cr_assert(c.selected >= 0 && (size_t)c.selected < c.size);
        counts[c.data[c.selected].token]++;
    }
}

/* Passes at 0.001 against the right probabilities, fails against wrong ones. */
static void assert_fits(const long *counts, const double *right, const double *wrong, size_t n)
{
    double chi2 = chi_square(counts, right, n, DRAWS);
    cr_assert_lt(chi2, CHI2_CRITICAL_0_001[n - 1], "chi-square %g with %zu degrees of freedom",
                 chi2, n - 1);
    double off = chi_square(counts, wrong, n, DRAWS);
    cr_assert_gt(off, CHI2_CRITICAL_0_001[n - 1], "a wrong distribution passed: %g", off);
}

/* ---- dist -------------------------------------------------------------- */

/* logits ln{0.1, 0.2, 0.3, 0.4}: p is exactly those. */
Test(draws, dist_draws_in_proportion_to_softmax)
{
    const float logits[] = {-2.3025851f, -1.6094379f, -1.2039728f, -0.9162907f};
    const double p[] = {0.1, 0.2, 0.3, 0.4};
    const double uniform[] = {0.25, 0.25, 0.25, 0.25};
    sampler_under_test s;
    sut_open(&s, reg, "dist", 4, NULL);
    long counts[4];
    count_draws(&s, logits, 4, counts);
    assert_fits(counts, p, uniform, 4);

    tsr_candidate buf[4];
    tsr_candidates c = cands_of(buf, logits, 4);
    sut_apply(&s, &c);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(c.data[i].p, (float)p[i], 1e-6);
    sut_close(&s);
}

Test(draws, dist_never_draws_a_banned_token)
{
    const float logits[] = {0.0f, -INFINITY, 0.0f, -INFINITY};
    sampler_under_test s;
    sut_open(&s, reg, "dist", 4, NULL);
    long counts[4];
    count_draws(&s, logits, 4, counts);
    cr_assert_eq(counts[1] + counts[3], 0);
    const double half[] = {0.5, 0.5};
    const double skewed[] = {0.45, 0.55};
    const long kept[] = {counts[0], counts[2]};
    assert_fits(kept, half, skewed, 2);
    sut_close(&s);
}

Test(draws, dist_with_one_seed_repeats_itself)
{
    const float logits[] = {0.1f, 0.7f, 0.3f, 0.2f, 0.9f};
    int32_t first[64], second[64];
    for (int round = 0; round < 2; round++) {
        sampler_under_test s;
        sut_open(&s, reg, "dist", 5, NULL);
        for (int i = 0; i < 64; i++) {
            tsr_candidate buf[5];
            tsr_candidates c = cands_of(buf, logits, 5);
            sut_apply(&s, &c);
            (round ? second : first)[i] = c.data[c.selected].token;
        }
        sut_close(&s);
    }
    cr_assert_arr_eq(first, second, sizeof first);
}

/* ---- mirostat ---------------------------------------------------------- */

/* p = {1/2, 1/4, 1/8, 1/16, 1/16}: surprises 1, 2, 3, 4, 4 bits. */
static const float halving_logits[] = {-0.6931472f, -1.3862944f, -2.0794415f, -2.7725887f,
                                       -2.7725887f};

/* tau 1.25: mu starts at 2.5 bits and keeps the tokens of surprise <= 2.5:
 * 0 and 1, renormalized to {2/3, 1/3}. eta 0 holds mu still. */
Test(draws, mirostat_v2_keeps_surprise_up_to_mu_and_draws_from_it)
{
    sampler_under_test s;
    sut_open(&s, reg, "mirostat", 5, "version=2;tau=1.25;eta=0");
    tsr_candidate buf[5];
    tsr_candidates c = cands_of(buf, halving_logits, 5);
    sut_apply(&s, &c);
    const int32_t kept[] = {0, 1};
    assert_tokens(&c, kept, 2);
    cr_assert_float_eq(c.data[0].p, 2.0f / 3.0f, 1e-6);
    cr_assert_float_eq(c.data[1].p, 1.0f / 3.0f, 1e-6);

    long counts[5];
    count_draws(&s, halving_logits, 5, counts);
    cr_assert_eq(counts[2] + counts[3] + counts[4], 0);
    const double right[] = {2.0 / 3.0, 1.0 / 3.0};
    const double wrong[] = {0.5 / 0.75 - 0.03, 0.25 / 0.75 + 0.03};
    const long two[] = {counts[0], counts[1]};
    assert_fits(two, right, wrong, 2);
    sut_close(&s);
}

/* mu moves by eta * (surprise - tau). With eta 1 and tau 1.25, from mu 2.5:
 * drawing token 0 (surprise log2 1.5 = 0.585 bits) raises mu to 3.165, which
 * lets token 2 (3 bits) in next time; drawing token 1 (log2 3 = 1.585 bits)
 * lowers it to 2.165, still tokens 0 and 1. reset brings back 2.5. */
Test(draws, mirostat_v2_moves_mu_towards_tau_and_reset_restores_it)
{
    sampler_under_test s;
    sut_open(&s, reg, "mirostat", 5, "version=2;tau=1.25;eta=1");
    tsr_candidate buf[5];
    bool saw[2] = {false, false};
    for (int i = 0; i < 200 && !(saw[0] && saw[1]); i++) {
        s.vtable->reset(s.state);
        tsr_candidates c = cands_of(buf, halving_logits, 5);
        sut_apply(&s, &c);
        int32_t first = c.data[c.selected].token;
        c = cands_of(buf, halving_logits, 5);
        sut_apply(&s, &c);
        cr_assert_eq(c.size, first == 0 ? 3 : 2, "after token %d: %zu kept", first, c.size);
        saw[first] = true;
    }
    cr_assert(saw[0] && saw[1]);
    sut_close(&s);
}

/* Zipf probabilities p_i ~ 1/i^2 over N = 8 tokens (logits -2 ln i): the
 * exponent estimate is s = 2, e = 1, and with tau 1.5 (mu 3)
 * k = (1 * 2^3 / (1 - 8^-1))^(1/2) = 3.02: the 3 most likely stay,
 * renormalized to {36, 9, 4} / 49. */
Test(draws, mirostat_v1_keeps_the_k_its_zipf_estimate_gives)
{
    float logits[8];
    for (int i = 0; i < 8; i++)
        logits[i] = -2.0f * logf((float)(i + 1));
    sampler_under_test s;
    sut_open(&s, reg, "mirostat", 8, "version=1;tau=1.5;eta=0");
    tsr_candidate buf[8];
    tsr_candidates c = cands_of(buf, logits, 8);
    sut_apply(&s, &c);
    const int32_t kept[] = {0, 1, 2};
    assert_tokens(&c, kept, 3);
    cr_assert_float_eq(c.data[0].p, 36.0f / 49.0f, 1e-5);
    cr_assert_float_eq(c.data[2].p, 4.0f / 49.0f, 1e-5);

    long counts[8];
    count_draws(&s, logits, 8, counts);
    const double right[] = {36.0 / 49, 9.0 / 49, 4.0 / 49};
    const double wrong[] = {0.70, 0.20, 0.10}; /* what keeping 4 or 2 would look like */
    const long three[] = {counts[0], counts[1], counts[2]};
    cr_assert_eq(counts[3] + counts[4] + counts[5] + counts[6] + counts[7], 0);
    assert_fits(three, right, wrong, 3);
    sut_close(&s);
}

Test(draws, mirostat_version_0_draws_from_everything)
{
    sampler_under_test s;
    sut_open(&s, reg, "mirostat", 5, "version=0");
    long counts[5];
    count_draws(&s, halving_logits, 5, counts);
    const double right[] = {0.5, 0.25, 0.125, 0.0625, 0.0625};
    const double wrong[] = {0.55, 0.25, 0.1, 0.05, 0.05};
    assert_fits(counts, right, wrong, 5);
    sut_close(&s);
}

/* ---- xtc --------------------------------------------------------------- */

/* With probability 0.3 the top choices go: over many steps the share of
 * steps that cut fits 0.3. */
Test(draws, xtc_cuts_with_the_given_probability)
{
    const float logits[] = {-2.9957323f, -0.9162907f, -2.3025851f, -1.2039728f, -1.8971200f};
    sampler_under_test s;
    sut_open(&s, reg, "xtc", 5, "probability=0.3;threshold=0.12");
    long outcome[2] = {0, 0}; /* kept all, cut */
    tsr_candidate buf[5];
    for (long i = 0; i < DRAWS; i++) {
        tsr_candidates c = cands_of(buf, logits, 5);
        sut_apply(&s, &c);
        cr_assert(c.size == 5 || c.size == 3);
        outcome[c.size == 3]++;
    }
    const double right[] = {0.7, 0.3};
    const double wrong[] = {0.68, 0.32};
    assert_fits(outcome, right, wrong, 2);
    sut_close(&s);
}
