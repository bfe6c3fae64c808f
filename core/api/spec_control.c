/* The speculation controller (core/api/spec_control.h). */
#include <math.h>

#include "spec_control.h"

#define DECAY 0.9 /* the weight of the past in every running estimate */

void tsr_spec_control_init(tsr_spec_control *c)
{
    /* A neutral start: half the drafts accepted, an extra row a tenth of a step. */
    *c = (tsr_spec_control){
        .accepted = 1, .trials = 2, .beta = 0.1, .probe_wait = TSR_SPEC_PROBE_FIRST_WAIT};
}

static double expected_tokens(double a, uint32_t k)
{
    return a >= 1.0 ? k + 1.0 : (1.0 - pow(a, k + 1.0)) / (1.0 - a);
}

double tsr_spec_control_rate(const tsr_spec_control *c, uint32_t k)
{
    if (k == 0)
        return 1.0;
    double a = c->trials > 0 ? c->accepted / c->trials : 0.0;
    double cost = 1.0 + c->beta * k + (c->t1 > 0 ? c->propose_per_draft * k / c->t1 : 0.0);
    return expected_tokens(a, k) / cost;
}

uint32_t tsr_spec_control_choose(tsr_spec_control *c, uint32_t cap)
{
    c->probing = false;
    if (cap == 0 || c->t1 <= 0)
        return 0; /* the first step is plain: it measures t1 */
    uint32_t best = 0;
    double best_rate = 1.0;
    for (uint32_t k = 1; k <= cap; k++) {
        double r = tsr_spec_control_rate(c, k);
        if (r > best_rate) {
            best_rate = r;
            best = k;
        }
    }
    if (best > 0 && c->off_left == 0)
        return best;
    if (c->off_left > 0) {
        c->off_left--;
        return 0;
    }
    /* Off, and the wait is over: one short step to look again. */
    c->probing = true;
    return cap < 2 ? cap : 2;
}

void tsr_spec_control_observe(tsr_spec_control *c, uint32_t n_drafted, uint32_t n_accepted,
                              double decode_seconds, double propose_seconds)
{
    if (n_drafted == 0) {
        c->t1 = c->t1 > 0 ? DECAY * c->t1 + (1 - DECAY) * decode_seconds : decode_seconds;
        return;
    }
    bool rejected = n_accepted < n_drafted;
    c->accepted = DECAY * c->accepted + n_accepted;
    c->trials = DECAY * c->trials + n_accepted + (rejected ? 1 : 0);
    if (c->t1 > 0) {
        double beta = (decode_seconds / c->t1 - 1.0) / n_drafted;
        beta = beta > 0 ? beta : 0;
        c->beta = c->beta_measured ? DECAY * c->beta + (1 - DECAY) * beta : beta;
        c->beta_measured = true;
    }
    c->propose_per_draft = DECAY * c->propose_per_draft +
                           (1 - DECAY) * propose_seconds / n_drafted;
    bool pays = false;
    for (uint32_t k = 1; k <= n_drafted + 1 && !pays; k++)
        pays = tsr_spec_control_rate(c, k) > 1.0;
    if (pays) {
        if (c->probing)
            c->probe_wait = TSR_SPEC_PROBE_FIRST_WAIT;
        return;
    }
    /* Stopped paying (or a probe found nothing): off until the next probe,
     * which comes later each time one fails. */
    c->off_left = c->probe_wait;
    if (c->probing)
        c->probe_wait = c->probe_wait * 2 > TSR_SPEC_PROBE_MAX_WAIT ? TSR_SPEC_PROBE_MAX_WAIT
                                                                     : c->probe_wait * 2;
}
