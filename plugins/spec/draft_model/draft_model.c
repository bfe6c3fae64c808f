/* spec/draft-model: a smaller model of the same vocabulary proposes the next
 * tokens, each its own most likely one (greedy drafting); the main model
 * verifies them in one batch. The core plans, loads and lends the draft.
 *
 * The draft keeps its own KV cache. After a step the core tells how many
 * proposals were accepted; the draft's positions past the accepted ones are
 * rolled back before the next step, so it never conditions on a rejected
 * token. */
#include "tessera/plugin.h"

typedef struct draft_state {
    const tsr_host *host;
    tsr_draft *draft;
    int32_t n_vocab;
    size_t max_tokens;
    size_t valid;   /* positions of the draft's cache known to match the history */
    size_t start;   /* the history's length at the last proposal */
} draft_state;

static tsr_status draft_create(const tsr_host *host, const tsr_param_value *params,
                               const tsr_spec_init *init, void **state, tsr_error *err)
{
    if (!init->draft || !host->draft_eval || !host->draft_logits || !host->draft_rollback ||
        !host->draft_n_past)
        return host->error_set(err, TSR_ERR_UNSUPPORTED,
                               "draft-model: this core lends no draft model to spec plugins");
    if (init->n_vocab <= 0)
        return host->error_set(err, TSR_ERR_INVALID, "draft-model: an empty vocabulary");
    draft_state *s = host->alloc(sizeof *s);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "draft-model: out of memory");
    *s = (draft_state){host, init->draft, init->n_vocab, init->max_tokens, 0, 0};
    *state = s;
    return TSR_OK;
}

static void draft_destroy(void *state)
{
    draft_state *s = state;
    if (s)
        s->host->free(s);
}

/* The most likely token of the draft's last computed row; ties to the lower id. */
static int32_t best_token(const draft_state *s, size_t row)
{
    const float *logits = s->host->draft_logits(s->draft, row);
    int32_t best = 0;
    for (int32_t t = 1; t < s->n_vocab; t++)
        if (logits[t] > logits[best])
            best = t;
    return best;
}

static tsr_status draft_propose(void *state, const int32_t *history, size_t n_history,
                                int32_t *out, size_t max_out, size_t *n_out, tsr_error *err)
{
    draft_state *s = state;
    const tsr_host *host = s->host;
    *n_out = 0;
    if (n_history == 0 || max_out == 0)
        return TSR_OK;
    if (s->max_tokens && max_out > s->max_tokens)
        max_out = s->max_tokens;
    /* Re-evaluate at least the last history token: its logits start the draft. */
    size_t keep = s->valid < n_history ? s->valid : n_history - 1;
    if (host->draft_n_past(s->draft) < keep)
        keep = host->draft_n_past(s->draft);
    host->draft_rollback(s->draft, keep);
    tsr_status status = host->draft_eval(s->draft, history + keep, n_history - keep, err);
    if (status != TSR_OK)
        return status;
    s->start = n_history;
    s->valid = n_history;
    size_t row = n_history - keep - 1;
    for (size_t i = 0; i < max_out; i++) {
        out[i] = best_token(s, row);
        *n_out = i + 1;
        if (i + 1 == max_out)
            break;
        if ((status = host->draft_eval(s->draft, &out[i], 1, err)) != TSR_OK)
            return status;
        row = 0;
    }
    return TSR_OK;
}

static void draft_accepted(void *state, size_t n_proposed, size_t n_accepted)
{
    draft_state *s = state;
    size_t valid = s->start + (n_accepted < n_proposed ? n_accepted : n_proposed);
    size_t n_past = s->host->draft_n_past(s->draft);
    s->valid = valid < n_past ? valid : n_past;
}

static void draft_reset(void *state)
{
    draft_state *s = state;
    s->valid = s->start = 0;
}

static const tsr_spec_vtable draft_vtable = {
    .abi = TSR_ABI_INIT(tsr_spec_vtable),
    .flags = TSR_SPEC_NEEDS_DRAFT,
    .create = draft_create,
    .destroy = draft_destroy,
    .propose = draft_propose,
    .accepted = draft_accepted,
    .reset = draft_reset,
};

static const tsr_plugin_desc draft_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_SPEC,
    .name = "draft-model",
    .version = "1.0.0",
    .summary = "a smaller model of the same vocabulary proposes tokens (greedy drafting)",
    .vtable = &draft_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &draft_desc : NULL;
}
