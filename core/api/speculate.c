/* Speculation sessions: the strategy's instance per sequence, the draft
 * model lent to it, and the controller that keeps speculation paying. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draft.h"
#include "host.h"
#include "loader.h"
#include "spec_control.h"
#include "speculate.h"

/* ---- the draft model as a strategy sees it -------------------------------- */

/* One sequence of the draft model: evaluations append to it. */
struct tsr_draft {
    tsr_draft_head head; /* the functions below, for the host table (host.h) */
    tsr_model *model;
    int32_t seq;
    tsr_batch *batch;
    size_t last_n;       /* tokens in the last eval */
    int32_t last_row;    /* the batch row of its last token */
    double row_seconds;  /* an eval of one token, running mean; 0 until one ran */
};

tsr_status tsr_draft_eval(tsr_draft *d, const int32_t *tokens, size_t n, tsr_error *err)
{
    d->last_n = 0;
    double t0 = tsr_api_now();
    for (size_t done = 0; done < n;) {
        tsr_batch_clear(d->batch);
        int32_t pos = (int32_t)tsr_model_seq_len(d->model, d->seq);
        for (; done < n && d->batch->n_tokens < d->batch->capacity; done++)
            tsr_batch_add(d->batch, tokens[done], pos++, d->seq, done + 1 == n, NULL);
        tsr_status s = tsr_model_decode(d->model, d->batch, NULL, NULL, err);
        if (s != TSR_OK)
            return tsr_error_prefix(err, "the draft model");
    }
    d->last_n = n;
    d->last_row = (int32_t)d->batch->n_tokens - 1;
    if (n == 1) {
        double dt = tsr_api_now() - t0;
        d->row_seconds = d->row_seconds > 0 ? 0.9 * d->row_seconds + 0.1 * dt : dt;
    }
    return TSR_OK;
}

const float *tsr_draft_logits(tsr_draft *d, size_t i)
{
    if (d->last_n == 0 || i + 1 != d->last_n)
        return NULL; /* only the last row of an eval is kept */
    return tsr_model_decode_logits(d->model, d->last_row);
}

void tsr_draft_rollback(tsr_draft *d, size_t n_keep)
{
    if (n_keep < tsr_model_seq_len(d->model, d->seq))
        tsr_model_seq_remove(d->model, d->seq, (int32_t)n_keep, -1, NULL);
    d->last_n = 0;
}

size_t tsr_draft_n_past(const tsr_draft *d)
{
    return tsr_model_seq_len(d->model, d->seq);
}

static const tsr_draft_ops draft_ops = {
    tsr_draft_eval, tsr_draft_logits, tsr_draft_rollback, tsr_draft_n_past,
};

/* ---- sessions ------------------------------------------------------------------ */

struct tsr_spec_session {
    const tsr_spec_vtable *vt;
    void *state;
    tsr_draft draft;
    bool has_draft;
    tsr_spec_control control;
    tsr_spec_proposal proposal;
    int32_t *tokens, *parents;   /* the proposal's arrays */
    tsr_token *chain;            /* the chain from token 0 */
    uint32_t capacity;
    double propose_seconds;      /* the last proposal's, for tsr_spec_report */
};

void tsr_spec_session_close(tsr_spec_session *s)
{
    if (!s)
        return;
    if (s->state)
        s->vt->destroy(s->state);
    tsr_batch_close(s->draft.batch);
    free(s->tokens);
    free(s->parents);
    free(s->chain);
    free(s);
}

tsr_status tsr_spec_session_open(tsr_context *ctx, int32_t seq, tsr_spec_session **out,
                                 tsr_error *err)
{
    const tsr_deployment *d = ctx->deployment;
    const tsr_profile_speculative *sp = &d->profile->speculative;
    tsr_spec_session *s = calloc(1, sizeof *s);
    if (!s)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    s->vt = tsr_plugin_spec(sp->plugin);
    s->capacity = sp->tokens;
    tsr_spec_control_init(&s->control);
    s->tokens = calloc(s->capacity, sizeof *s->tokens);
    s->parents = calloc(s->capacity, sizeof *s->parents);
    s->chain = calloc(s->capacity, sizeof *s->chain);
    tsr_status st = s->tokens && s->parents && s->chain
                        ? TSR_OK
                        : tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_spec_init init = {
        .struct_size = sizeof init,
        .max_tokens = sp->tokens,
        .n_vocab = (int32_t)tsr_deployment_n_vocab(d),
        .vocab = (const tsr_vocab *)d->tokenizer,
        .max_seq_len = tsr_deployment_max_seq_len(d),
    };
    if (st == TSR_OK && (s->vt->flags & TSR_SPEC_NEEDS_DRAFT)) {
        s->has_draft = true;
        s->draft.head.ops = &draft_ops;
        s->draft.model = d->draft_model;
        s->draft.seq = seq;
        st = tsr_batch_open(tsr_model_n_batch(d->draft_model), &s->draft.batch, err);
        init.draft = &s->draft;
    }
    if (st == TSR_OK)
        st = s->vt->create(tsr_host_services(), sp->params.values, &init, &s->state, err);
    if (st != TSR_OK) {
        s->state = NULL;
        tsr_spec_session_close(s);
        return tsr_error_prefix(err, "speculative.strategy %s", sp->strategy);
    }
    *out = s;
    return TSR_OK;
}

tsr_spec_session *tsr_spec_session_of(const tsr_context *ctx, int32_t seq)
{
    if (!ctx->spec || seq < 0 || (uint32_t)seq >= ctx->n_seq_max)
        return NULL;
    return ctx->spec[seq];
}

tsr_status tsr_spec_begin(tsr_spec_session *s, const tsr_token *history, size_t n,
                          tsr_error *err)
{
    tsr_spec_control_begin(&s->control);
    if (s->vt->begin)
        return s->vt->begin(s->state, history, n, err);
    if (s->vt->reset)
        s->vt->reset(s->state);
    return TSR_OK;
}

void tsr_spec_end(tsr_spec_session *s)
{
    if (s->vt->end)
        s->vt->end(s->state);
}

uint32_t tsr_spec_choose(tsr_spec_session *s, uint32_t cap, bool always)
{
    cap = cap < s->capacity ? cap : s->capacity;
    return always ? cap : tsr_spec_control_choose(&s->control, cap);
}

tsr_status tsr_spec_propose(tsr_spec_session *s, const tsr_token *history, size_t n,
                            uint32_t max_tokens, tsr_rng *rng, const tsr_token **drafts,
                            uint32_t *n_drafts, const float **dists, tsr_error *err)
{
    *drafts = s->chain;
    *n_drafts = 0;
    if (dists)
        *dists = NULL;
    if (max_tokens > s->capacity)
        max_tokens = s->capacity;
    tsr_status st;
    size_t n_out = 0;
    if (s->vt->propose_tree) {
        s->proposal = (tsr_spec_proposal){
            .struct_size = sizeof s->proposal,
            .capacity = max_tokens,
            .tokens = s->tokens,
            .parents = s->parents,
            .rng = rng,
        };
        for (uint32_t i = 0; i < max_tokens; i++)
            s->parents[i] = (int32_t)i - 1;
        st = s->vt->propose_tree(s->state, history, n, &s->proposal, err);
        /* The chain from token 0: each token follows the one before it. */
        uint32_t given = s->proposal.n_tokens < max_tokens ? s->proposal.n_tokens : max_tokens;
        while (n_out < given && s->parents[n_out] == (int32_t)n_out - 1)
            n_out++;
    } else {
        st = s->vt->propose(s->state, history, n, s->tokens, max_tokens, &n_out, err);
        if (n_out > max_tokens)
            n_out = max_tokens;
    }
    if (st != TSR_OK)
        return st;
    memcpy(s->chain, s->tokens, n_out * sizeof *s->chain);
    *n_drafts = (uint32_t)n_out;
    /* The chain is tokens 0 .. n_out - 1, so its dists are the first n_out. */
    if (dists && rng && n_out && s->vt->propose_tree && s->proposal.use_dists)
        *dists = s->proposal.dists;
    return TSR_OK;
}

void tsr_spec_observe(tsr_spec_session *s, const tsr_spec_step *step,
                      const tsr_token *committed, size_t n_committed)
{
    /* A draft model's proposal also feeds it what the sequence gained since
     * the last one: 1 or 2 tokens while drafting goes on, the whole prompt
     * or all a pause generated (batched, once) otherwise. Charged per draft,
     * that catch-up made the first proposal of a generation look dearer
     * than decoding, and drafting never started: while drafting, each draft
     * costs one draft row, which is what the controller is given. */
    double propose_seconds = step->propose_seconds;
    if (s->has_draft)
        propose_seconds = s->draft.row_seconds * step->n_drafted;
    tsr_spec_control_observe(&s->control, step->n_drafted, step->n_accepted,
                             step->decode_seconds, propose_seconds);
    if (step->n_drafted && s->vt->accepted)
        s->vt->accepted(s->state, step->n_drafted, step->n_accepted);
    if (s->vt->commit)
        s->vt->commit(s->state, committed, n_committed);
}

/* ---- a caller's own decode loop (tessera.h) ------------------------------------- */

tsr_status tsr_spec_start(tsr_context *ctx, int32_t seq, const tsr_token *history, size_t n,
                          tsr_error *err)
{
    tsr_spec_session *s = tsr_spec_session_of(ctx, seq);
    return s ? tsr_spec_begin(s, history, n, err) : TSR_OK;
}

tsr_status tsr_spec_draft(tsr_context *ctx, int32_t seq, const tsr_token *history, size_t n,
                          uint32_t max_drafts, tsr_token *drafts, uint32_t *n_drafts,
                          tsr_error *err)
{
    *n_drafts = 0;
    tsr_spec_session *s = tsr_spec_session_of(ctx, seq);
    if (!s)
        return TSR_OK;
    s->propose_seconds = 0;
    uint32_t k = tsr_spec_choose(s, max_drafts, false);
    if (k == 0)
        return TSR_OK;
    const tsr_token *chain;
    double t0 = tsr_api_now();
    tsr_status st = tsr_spec_propose(s, history, n, k, NULL, &chain, n_drafts, NULL, err);
    s->propose_seconds = tsr_api_now() - t0;
    if (st == TSR_OK)
        memcpy(drafts, chain, *n_drafts * sizeof *drafts);
    return st;
}

void tsr_spec_report(tsr_context *ctx, int32_t seq, uint32_t n_drafted, uint32_t n_accepted,
                     const tsr_token *committed, size_t n_committed, double seconds)
{
    tsr_spec_session *s = tsr_spec_session_of(ctx, seq);
    if (!s)
        return;
    tsr_spec_step step = {n_drafted, n_accepted, seconds, n_drafted ? s->propose_seconds : 0};
    tsr_spec_observe(s, &step, committed, n_committed);
}

void tsr_spec_stop(tsr_context *ctx, int32_t seq)
{
    tsr_spec_session *s = tsr_spec_session_of(ctx, seq);
    if (s)
        tsr_spec_end(s);
}

/* ---- the stochastic rule ---------------------------------------------------------- */

int32_t tsr_spec_stochastic_pick(const float *p, const float *q, int32_t n, int32_t d, double u1,
                                 double u2, bool *accepted)
{
    *accepted = false;
    if (d >= 0 && d < n && q[d] > 0) {
        double ratio = (double)p[d] / (double)q[d];
        if (u1 < ratio) {
            *accepted = true;
            return d;
        }
    }
    /* The residual max(0, p - q): where the target wants more than the draft gave. */
    double total = 0;
    for (int32_t t = 0; t < n; t++)
        total += p[t] > q[t] ? (double)p[t] - q[t] : 0.0;
    if (total <= 0) {
        /* p == q everywhere the draft could go: p itself. */
        double c = 0, target = u2;
        for (int32_t t = 0; t < n; t++)
            if ((c += p[t]) > target)
                return t;
        for (int32_t t = n - 1; t >= 0; t--)
            if (p[t] > 0)
                return t;
        return 0;
    }
    double c = 0, target = u2 * total;
    int32_t last = 0;
    for (int32_t t = 0; t < n; t++) {
        double r = p[t] > q[t] ? (double)p[t] - q[t] : 0.0;
        if (r > 0) {
            last = t;
            if ((c += r) > target)
                return t;
        }
    }
    return last;
}
