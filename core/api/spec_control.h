/* When speculation pays: the controller behind each sequence's drafting.
 *
 * Drafting k tokens costs one forward pass over k + 1 rows plus the
 * proposal, and yields 1 + (accepted drafts) tokens. With a per-draft
 * acceptance rate a (drafts are kept until the first rejection), a step of
 * k drafts yields E(k) = (1 - a^(k+1)) / (1 - a) tokens on average. The
 * controller measures a one-row step (t1), what each extra row adds (beta,
 * in units of t1) and what a proposal costs per draft, and drafts the k
 * that makes the most tokens per second, or nothing when no k beats plain
 * decoding. While off, it probes again after a wait that doubles with each
 * probe that fails. */
#ifndef TSR_CORE_API_SPEC_CONTROL_H
#define TSR_CORE_API_SPEC_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

enum { TSR_SPEC_PROBE_FIRST_WAIT = 8, TSR_SPEC_PROBE_MAX_WAIT = 256 };

typedef struct tsr_spec_control {
    double accepted, trials;  /* decayed: drafts accepted; accepted + rejections */
    double t1;                /* seconds of a one-row step; 0 until measured */
    double beta;              /* each extra row of a step, in units of t1 */
    bool beta_measured;       /* beta is still the prior until a verification tells */
    double propose_per_draft; /* seconds */
    uint32_t off_left;        /* plain steps left before the next probe */
    uint32_t probe_wait;      /* the wait after the next probe that fails */
    bool probing;             /* the step chosen last is a probe */
} tsr_spec_control;

void tsr_spec_control_init(tsr_spec_control *c);
/* Drafts for the next step, at most cap: 0 for a plain step. */
uint32_t tsr_spec_control_choose(tsr_spec_control *c, uint32_t cap);
/* What the step did: n_drafted drafts verified (0: plain), n_accepted kept,
 * the forward pass and the proposal in seconds. */
void tsr_spec_control_observe(tsr_spec_control *c, uint32_t n_drafted, uint32_t n_accepted,
                              double decode_seconds, double propose_seconds);
/* Tokens per second of a step of k drafts relative to plain decoding, by
 * the estimates so far (1 for k = 0). */
double tsr_spec_control_rate(const tsr_spec_control *c, uint32_t k);

#endif
