/* The speculation controller (core/api/spec_control.c) on synthetic
 * timings: it drafts long where drafts are kept and verification is cheap,
 * stops drafting where they are not kept or verification costs too much,
 * probes again with one draft after waits that double while probes fail and
 * reset when one pays, keeps what it measured of the machine from one
 * generation to the next, and on text where drafts are never kept loses
 * under 3% of plain decoding's speed at this machine's costs. */
#include <criterion/criterion.h>

#include "spec_control.h"

enum { CAP = 8 };
#define T1 0.010 /* seconds of a one-row step */

/* One step as the machine would answer it: a forward pass of k + 1 rows
 * costs T1 (1 + beta k), and the first `keep` drafts are kept. */
static uint32_t step(tsr_spec_control *c, double beta, uint32_t keep)
{
    uint32_t k = tsr_spec_control_choose(c, CAP);
    uint32_t kept = k < keep ? k : keep;
    tsr_spec_control_observe(c, k, kept, T1 * (1.0 + beta * k), 0.0);
    return k;
}

/* What `tessera bench --spec-compare` measured here (SmolLM2-135M Q4_1, 2
 * threads): the second row costs 0.6 of a step, each further one 0.1. */
static double measured_cost(uint32_t k)
{
    return k == 0 ? 1.0 : 1.6 + 0.1 * (k - 1);
}

Test(spec_control, the_first_step_is_plain_and_measures_a_step)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    cr_expect_eq(tsr_spec_control_choose(&c, CAP), 0u);
    tsr_spec_control_observe(&c, 0, 0, T1, 0.0);
    cr_expect_float_eq(c.t1, T1, 1e-12);
    cr_expect_gt(tsr_spec_control_choose(&c, CAP), 0u, "then it tries drafting");
    cr_expect_eq(tsr_spec_control_choose(&c, 0), 0u, "no room, no drafts");
}

Test(spec_control, drafts_that_are_kept_on_cheap_verification_grow_long)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    uint32_t k = 0;
    for (int i = 0; i < 40; i++)
        k = step(&c, 0.05, CAP);
    cr_expect_eq(k, CAP, "every draft kept, each extra row 5%% of a step: draft all %d", CAP);
    cr_expect_gt(tsr_spec_control_rate(&c, CAP), 4.0);
}

Test(spec_control, drafts_never_kept_stop_and_probes_come_ever_later)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    uint32_t drafted_steps = 0, plain_run = 0, longest_run = 0;
    uint32_t runs[16], n_runs = 0;
    for (int i = 0; i < 600; i++) {
        uint32_t k = step(&c, 0.2, 0);
        if (k > 0) {
            drafted_steps++;
            if (plain_run && n_runs < 16)
                runs[n_runs++] = plain_run;
            plain_run = 0;
        } else {
            plain_run++;
            longest_run = plain_run > longest_run ? plain_run : longest_run;
        }
    }
    cr_expect_lt(drafted_steps, 16u, "%u of 600 steps drafted", drafted_steps);
    cr_assert_geq(n_runs, 4u);
    for (uint32_t i = 2; i < n_runs; i++)
        cr_expect_geq(runs[i], runs[i - 1], "waits between probes never shrink while probes fail");
    cr_expect_geq(longest_run, (uint32_t)TSR_SPEC_PROBE_MAX_WAIT / 2);
}

Test(spec_control, costly_verification_is_not_worth_half_kept_drafts)
{
    /* Each extra row costs one and a half steps: one kept draft (two tokens
     * for two and a half steps) loses, and longer drafts lose more. */
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    uint32_t drafted = 0;
    for (int i = 0; i < 200; i++)
        drafted += step(&c, 1.5, 1) > 0;
    cr_expect_lt(drafted, 12u, "%u of 200 steps drafted", drafted);
}

Test(spec_control, a_probe_that_pays_brings_speculation_back)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    for (int i = 0; i < 100; i++)
        step(&c, 0.1, 0); /* nothing kept: off */
    uint32_t k = 0;
    int i = 0;
    for (; i < 400 && k < 3; i++)
        k = step(&c, 0.1, CAP); /* the text turns repetitive: everything kept */
    cr_expect_geq(k, 3u, "drafting again after %d steps", i);
    cr_expect_eq(c.probe_wait, (uint32_t)TSR_SPEC_PROBE_FIRST_WAIT, "the wait starts over");
}

Test(spec_control, costs_are_measured_per_draft_count_and_interpolated)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    tsr_spec_control_observe(&c, 0, 0, T1, 0.0);
    tsr_spec_control_observe(&c, 1, 0, T1 * 1.6, 0.0);
    tsr_spec_control_observe(&c, 5, 0, T1 * 2.0, 0.0);
    cr_expect_float_eq(tsr_spec_control_cost(&c, 1), 1.6, 1e-9);
    cr_expect_float_eq(tsr_spec_control_cost(&c, 3), 1.8, 1e-9, "between measured counts");
    cr_expect_float_eq(tsr_spec_control_cost(&c, 5), 2.0, 1e-9);
    cr_expect_float_eq(tsr_spec_control_cost(&c, 10), 3.0, 1e-9,
                       "past the last: its mean cost per draft");
}

Test(spec_control, a_new_generation_keeps_the_machine_and_forgets_the_text)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    for (int i = 0; i < 100; i++)
        step(&c, 0.1, 0); /* off, probing ever later */
    double cost = tsr_spec_control_cost(&c, 1);
    tsr_spec_control_begin(&c);
    cr_expect_float_eq(c.t1, T1, 1e-12, "t1 is the machine's");
    cr_expect_float_eq(tsr_spec_control_cost(&c, 1), cost, 1e-12);
    cr_expect_eq(c.probe_wait, (uint32_t)TSR_SPEC_PROBE_FIRST_WAIT);
    cr_expect_eq(c.off_left, 0u);
    cr_expect_gt(tsr_spec_control_choose(&c, CAP), 0u, "the first step may draft: t1 is known");
}

/* Open-ended text: a strategy that always has a proposal (the worst case
 * for probes), never kept, at the costs measured here; 20 generations of 128
 * tokens, each starting over. The passes' cost in one-row steps against the
 * tokens made: within 3% of plain decoding. */
Test(spec_control, drafts_never_kept_cost_under_3_percent_at_measured_costs)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    double cost = 0;
    size_t tokens = 0;
    for (int g = 0; g < 20; g++) {
        tsr_spec_control_begin(&c);
        for (int t = 0; t < 128; t++) {
            uint32_t k = tsr_spec_control_choose(&c, CAP);
            tsr_spec_control_observe(&c, k, 0, T1 * measured_cost(k), 0.0);
            cost += measured_cost(k);
            tokens++;
        }
    }
    cr_expect_lt(cost / tokens, 1.03, "%.3f steps per token", cost / tokens);
}

/* Grounded text: drafts mostly kept (nine in ten, a rejection ends a run),
 * at the costs measured here: long drafts, well over 1.3 tokens per step. */
Test(spec_control, drafts_mostly_kept_pay_at_measured_costs)
{
    tsr_spec_control c;
    tsr_spec_control_init(&c);
    double cost = 0;
    size_t tokens = 0;
    uint64_t x = 88172645463325252ull;
    for (int g = 0; g < 20; g++) {
        tsr_spec_control_begin(&c);
        for (int t = 0; t < 128;) {
            uint32_t k = tsr_spec_control_choose(&c, CAP), kept = 0;
            for (; kept < k; kept++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                if (x % 10 == 0)
                    break;
            }
            tsr_spec_control_observe(&c, k, kept, T1 * measured_cost(k), 0.0);
            cost += measured_cost(k);
            tokens += kept + 1;
            t += (int)kept + 1;
        }
    }
    cr_expect_gt(tokens / cost, 1.8, "%.3f tokens per step", tokens / cost);
}
