/* Speculative decoding: a strategy plugin proposes, the core verifies.
 *
 * A context of a deployment that speculates keeps one session per sequence: the plugin's instance, the draft model's view of that
 * sequence (for strategies that need a draft), and the controller that
 * decides, from what verification costs and gains on this machine, how many
 * tokens to draft next, or whether to draft at all. */
#ifndef TSR_CORE_API_SPECULATE_H
#define TSR_CORE_API_SPECULATE_H

#include "api_internal.h"

typedef struct tsr_spec_session tsr_spec_session;

/* What the caller's loop tells the controller after each step. */
typedef struct tsr_spec_step {
    uint32_t n_drafted;      /* drafts verified (0: a plain one-row step) */
    uint32_t n_accepted;     /* drafts the target agreed with */
    double decode_seconds;   /* the forward pass over 1 + n_drafted rows */
    double propose_seconds;  /* the strategy's proposal (a draft model's evals) */
} tsr_spec_step;

/* Opens the session of ctx's sequence seq: the strategy's instance from
 * the profile's speculative section, and the draft's view of seq. */
tsr_status tsr_spec_session_open(tsr_context *ctx, int32_t seq, tsr_spec_session **out,
                                 tsr_error *err);
/* The session of sequence seq, or NULL when the deployment does not speculate. */
tsr_spec_session *tsr_spec_session_of(const tsr_context *ctx, int32_t seq);
void tsr_spec_session_close(tsr_spec_session *s);

/* A generation starts: history[0..n) is what the sequence holds. */
tsr_status tsr_spec_begin(tsr_spec_session *s, const tsr_token *history, size_t n,
                          tsr_error *err);
void tsr_spec_end(tsr_spec_session *s);

/* How many drafts to verify next, at most cap (room left in the cache, in
 * the batch, in max_tokens): 0 for a plain step. */
uint32_t tsr_spec_choose(tsr_spec_session *s, uint32_t cap, bool always);

/* The strategy's proposal after history[0..n): the chain of tokens from the
 * first one, at most max_tokens, into *drafts (valid until the next call).
 * rng: the sequence's generator where the caller verifies with the
 * stochastic rule (NULL: exact match; the strategy proposes greedily);
 * then *dists (dists may be NULL) is the distribution each draft was drawn
 * from, n_vocab floats per draft, or NULL where the strategy gave none. */
tsr_status tsr_spec_propose(tsr_spec_session *s, const tsr_token *history, size_t n,
                            uint32_t max_tokens, tsr_rng *rng, const tsr_token **drafts,
                            uint32_t *n_drafts, const float **dists, tsr_error *err);

/* After a step: the controller learns, the strategy hears what was kept
 * (committed: the accepted drafts and the token sampled after them). */
void tsr_spec_observe(tsr_spec_session *s, const tsr_spec_step *step,
                      const tsr_token *committed, size_t n_committed);

/* The stochastic-draft rule for one position: the draft proposed token d
 * from distribution q; p is the target's distribution (both n floats
 * summing to 1). Keeps d with probability min(1, p[d]/q[d]) (u1 uniform in
 * [0, 1)), else draws from max(0, p - q) renormalised with u2. Returns the
 * token emitted; *accepted says whether it is d. */
int32_t tsr_spec_stochastic_pick(const float *p, const float *q, int32_t n, int32_t d, double u1,
                                 double u2, bool *accepted);

#endif
