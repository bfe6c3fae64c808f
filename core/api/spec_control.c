/* The speculation controller (core/api/spec_control.h). */
#include <math.h>
#include <string.h>

#include "spec_control.h"

#define DECAY 0.9 /* the weight of the past in the acceptance and proposal estimates */
/* Before any verification is measured: each extra row a quarter of a step.
 * Here (SmolLM2-135M, Q4_1, 2 threads) the second row costs 0.56 to 0.66 of
 * a step and each further one about 0.1: the first measurement replaces it. */
#define PRIOR_ROW_COST 0.25
/* A step must beat plain decoding by this much to draft: the estimates are
 * noisy, and a gain below it is lost in the noise anyway. */
#define MARGIN 1.02
/* A probe's draft kept: drafting resumes as if four of five were kept, with
 * the weight of two drafts, so that what follows soon decides. */
#define PROBE_KEPT_ACCEPTED 1.6
#define PROBE_KEPT_TRIALS 2.0
/* Each probe rejected makes the next wait this many times longer: probes
 * at steps 1, 10, 43 and 172 of a generation that never keeps a draft, 3 in
 * 128 tokens. A rejected probe costs cost[1] - 1 of a step (0.6 here at 2
 * threads, 0.9 at 1): doubling (5 probes) lost 3 to 4% on open-ended chat. */
#define PROBE_WAIT_GROWTH 4

/* A running estimate of a time that other work on the machine can only
 * lengthen (preemption, a neighbour's burst): it follows a faster sample at
 * once by half and a slower one by a twentieth, so one stalled pass does
 * not switch speculation off, and a lasting slowdown still shows. */
static double track_low(double estimate, double sample)
{
    if (!(estimate > 0))
        return sample;
    return estimate + (sample < estimate ? 0.5 : 0.05) * (sample - estimate);
}

void tsr_spec_control_init(tsr_spec_control *c)
{
    memset(c, 0, sizeof *c);
    tsr_spec_control_begin(c);
}

void tsr_spec_control_begin(tsr_spec_control *c)
{
    /* A neutral start: half the drafts accepted. */
    c->accepted = 1;
    c->trials = 2;
    c->off_left = 0;
    c->probe_wait = TSR_SPEC_PROBE_FIRST_WAIT;
    c->probing = false;
}

static double expected_tokens(double a, uint32_t k)
{
    return a >= 1.0 ? k + 1.0 : (1.0 - pow(a, k + 1.0)) / (1.0 - a);
}

double tsr_spec_control_cost(const tsr_spec_control *c, uint32_t k)
{
    if (k == 0)
        return 1.0;
    uint32_t top = k < TSR_SPEC_COST_DRAFTS ? k : TSR_SPEC_COST_DRAFTS;
    if (k <= TSR_SPEC_COST_DRAFTS && c->cost[k] > 0)
        return c->cost[k];
    /* The nearest measured below (k = 0 costs 1) and above. */
    uint32_t lo = top;
    while (lo > 0 && !(c->cost[lo] > 0))
        lo--;
    double cost_lo = lo ? c->cost[lo] : 1.0;
    uint32_t hi = k + 1;
    while (hi <= TSR_SPEC_COST_DRAFTS && !(c->cost[hi] > 0))
        hi++;
    if (hi <= TSR_SPEC_COST_DRAFTS)
        return cost_lo + (c->cost[hi] - cost_lo) * (k - lo) / (hi - lo);
    /* Past the last measured k: at its mean cost per draft, which the first
     * rows make the largest, so the guess errs on the dear side. */
    return lo ? 1.0 + (cost_lo - 1.0) * k / lo : 1.0 + PRIOR_ROW_COST * k;
}

double tsr_spec_control_rate(const tsr_spec_control *c, uint32_t k)
{
    if (k == 0)
        return 1.0;
    double a = c->trials > 0 ? c->accepted / c->trials : 0.0;
    double cost = tsr_spec_control_cost(c, k) +
                  (c->t1 > 0 ? c->propose_per_draft * k / c->t1 : 0.0);
    return expected_tokens(a, k) / cost;
}

/* The k that pays most (0: none beats plain decoding by MARGIN). */
static uint32_t best_drafts(const tsr_spec_control *c, uint32_t cap)
{
    uint32_t best = 0;
    double best_rate = MARGIN;
    for (uint32_t k = 1; k <= cap; k++) {
        double r = tsr_spec_control_rate(c, k);
        if (r > best_rate) {
            best_rate = r;
            best = k;
        }
    }
    return best;
}

uint32_t tsr_spec_control_choose(tsr_spec_control *c, uint32_t cap)
{
    c->probing = false;
    c->cap = cap;
    if (cap == 0 || c->t1 <= 0)
        return 0; /* the first step is plain: it measures t1 */
    if (c->off_left > 0) {
        c->off_left--;
        return 0;
    }
    uint32_t best = best_drafts(c, cap);
    if (best > 0)
        return best;
    /* Nothing pays by the estimates: one draft, to look again. */
    c->probing = true;
    return 1;
}

void tsr_spec_control_observe(tsr_spec_control *c, uint32_t n_drafted, uint32_t n_accepted,
                              double decode_seconds, double propose_seconds)
{
    if (n_drafted == 0) {
        c->t1 = track_low(c->t1, decode_seconds);
        return; /* a probe the strategy had nothing for stays due */
    }
    bool rejected = n_accepted < n_drafted;
    if (c->t1 > 0 && n_drafted <= TSR_SPEC_COST_DRAFTS) {
        double cost = decode_seconds / c->t1;
        cost = cost > 1.0 ? cost : 1.0;
        c->cost[n_drafted] = track_low(c->cost[n_drafted], cost);
    }
    c->propose_per_draft = DECAY * c->propose_per_draft +
                           (1 - DECAY) * propose_seconds / n_drafted;
    if (c->probing) {
        c->probing = false;
        if (!rejected) {
            /* The text turned: draft again where that pays at these costs,
             * and a later failure waits least. */
            c->accepted = PROBE_KEPT_ACCEPTED;
            c->trials = PROBE_KEPT_TRIALS;
            if (best_drafts(c, c->cap) > 0) {
                c->probe_wait = TSR_SPEC_PROBE_FIRST_WAIT;
                return;
            }
        } else {
            c->accepted = DECAY * c->accepted;
            c->trials = DECAY * c->trials + 1;
        }
        c->off_left = c->probe_wait;
        c->probe_wait = c->probe_wait * PROBE_WAIT_GROWTH > TSR_SPEC_PROBE_MAX_WAIT
                            ? TSR_SPEC_PROBE_MAX_WAIT
                            : c->probe_wait * PROBE_WAIT_GROWTH;
        return;
    }
    c->accepted = DECAY * c->accepted + n_accepted;
    c->trials = DECAY * c->trials + n_accepted + (rejected ? 1 : 0);
    /* Stopped paying: off until the next probe. */
    if (best_drafts(c, c->cap) == 0)
        c->off_left = c->probe_wait;
}
