/* When speculation pays: the controller behind each sequence's drafting.
 *
 * Drafting k tokens costs one forward pass over k + 1 rows plus the
 * proposal, and yields 1 + (accepted drafts) tokens. With a per-draft
 * acceptance rate a (drafts are kept until the first rejection), a step of
 * k drafts yields E(k) = (1 - a^(k+1)) / (1 - a) tokens on average. The
 * controller measures a one-row step (t1), what a pass of k + 1 rows costs
 * in units of t1 (cost[k], per k: the cost of rows is not linear, the first
 * extra row costing most) and what a proposal costs per draft, and drafts
 * the k that makes the most tokens per second, or nothing when no k beats
 * plain decoding.
 *
 * What it measures of the machine (t1, cost[k], proposals) outlives a
 * generation; what it knows of the text (acceptance) starts over with each
 * (tsr_spec_control_begin). Off, it probes with one draft, which costs
 * cost[1] - 1 of a step when rejected; each probe rejected makes the wait
 * before the next four times longer (from TSR_SPEC_PROBE_FIRST_WAIT steps to
 * TSR_SPEC_PROBE_MAX_WAIT), so text where drafts never pay loses three
 * probes in 128 tokens, and one kept draft brings drafting back where
 * drafting then pays at the costs measured. */
#ifndef TSR_CORE_API_SPEC_CONTROL_H
#define TSR_CORE_API_SPEC_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

enum {
    TSR_SPEC_PROBE_FIRST_WAIT = 8,
    TSR_SPEC_PROBE_MAX_WAIT = 256,
    TSR_SPEC_COST_DRAFTS = 16, /* cost[k] is measured up to this k, extrapolated past it */
};

typedef struct tsr_spec_control {
    /* The machine, kept across generations. */
    double t1;                /* seconds of a one-row step; 0 until measured */
    double cost[TSR_SPEC_COST_DRAFTS + 1]; /* cost[k]: a pass of k + 1 rows, in t1; 0: unmeasured */
    double propose_per_draft; /* seconds */
    /* The text, from tsr_spec_control_begin on. */
    double accepted, trials;  /* decayed: drafts accepted; accepted + rejections */
    uint32_t off_left;        /* plain steps left before the next probe */
    uint32_t probe_wait;      /* the wait after the next probe that fails */
    bool probing;             /* the step chosen last is a probe */
    uint32_t cap;             /* the most drafts the last choice could have made */
} tsr_spec_control;

/* Knows nothing yet: the first step is plain, to measure t1. */
void tsr_spec_control_init(tsr_spec_control *c);
/* A new generation: forgets the text, keeps what it measured of the machine. */
void tsr_spec_control_begin(tsr_spec_control *c);
/* Drafts for the next step, at most cap: 0 for a plain step. */
uint32_t tsr_spec_control_choose(tsr_spec_control *c, uint32_t cap);
/* What the step did: n_drafted drafts verified (0: plain), n_accepted kept,
 * the forward pass and the proposal in seconds. */
void tsr_spec_control_observe(tsr_spec_control *c, uint32_t n_drafted, uint32_t n_accepted,
                              double decode_seconds, double propose_seconds);
/* A pass of k + 1 rows in units of a one-row pass, as measured here (cost[k]),
 * interpolated between measured k, or a prior before any measurement. */
double tsr_spec_control_cost(const tsr_spec_control *c, uint32_t k);
/* Tokens per second of a step of k drafts relative to plain decoding, by
 * the estimates so far (1 for k = 0). */
double tsr_spec_control_rate(const tsr_spec_control *c, uint32_t k);

#endif
