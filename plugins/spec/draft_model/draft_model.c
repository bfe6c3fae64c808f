/* spec/draft-model: a smaller model of the same vocabulary proposes the next
 * tokens, each its own most likely one (greedy drafting); the main model
 * verifies them in one batch. The core plans, loads and lends the draft.
 *
 * The draft keeps its own KV cache, and this instance remembers the tokens
 * it holds. Before each proposal the cache is cut back to its longest common
 * prefix with the history, so it never conditions on a rejected token, and
 * a new turn of a chat re-evaluates only what changed. Drafting stops early
 * when the draft's own top probability falls below p_min (after n_min
 * drafts): an unsure draft is a likely rejection, and costs a verification
 * row. */
#include <math.h>

#include "tessera/plugin.h"

typedef struct draft_state {
    const tsr_host *host;
    tsr_draft *draft;
    int32_t n_vocab;
    size_t max_tokens;
    double p_min;
    size_t n_min;
    int32_t *held;  /* the tokens the draft's cache holds, as far as cap_held */
    size_t cap_held;
} draft_state;

static const tsr_param_desc draft_params[] = {
    {.name = "p_min", .type = TSR_PARAM_FLOAT, .min = 0, .max = 1, .default_number = 0.5,
     .doc = "stop drafting when the draft's top probability is below this (0: never)"},
    {.name = "n_min", .type = TSR_PARAM_INT, .min = 0, .max = 256, .default_number = 1,
     .doc = "drafts proposed before p_min may stop drafting"},
};

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
    *s = (draft_state){.host = host,
                       .draft = init->draft,
                       .n_vocab = init->n_vocab,
                       .max_tokens = init->max_tokens,
                       .p_min = params ? params[0].number : 0.0,
                       .n_min = params ? (size_t)params[1].integer : 0};
    /* The core says how long a sequence gets: the cache's tokens fit. */
    s->cap_held = init->max_seq_len ? init->max_seq_len : 4096;
    if (!(s->held = host->alloc(s->cap_held * sizeof *s->held))) {
        host->free(s);
        return host->error_set(err, TSR_ERR_NOMEM, "draft-model: out of memory");
    }
    *state = s;
    return TSR_OK;
}

static void draft_destroy(void *state)
{
    draft_state *s = state;
    if (!s)
        return;
    s->host->free(s->held);
    s->host->free(s);
}

/* The draft's most likely token of its last row, ties to the lower id, and
 * that token's probability under the draft. */
static int32_t best_token(const draft_state *s, const float *logits, double *p_best)
{
    int32_t best = 0;
    for (int32_t t = 1; t < s->n_vocab; t++)
        if (logits[t] > logits[best])
            best = t;
    double sum = 0;
    for (int32_t t = 0; t < s->n_vocab; t++)
        sum += exp((double)logits[t] - logits[best]);
    *p_best = 1.0 / sum;
    return best;
}

/* Appends tokens to what the draft holds, remembered where there is room. */
static tsr_status eval(draft_state *s, const int32_t *tokens, size_t n, tsr_error *err)
{
    size_t at = s->host->draft_n_past(s->draft);
    tsr_status status = s->host->draft_eval(s->draft, tokens, n, err);
    if (status != TSR_OK)
        return status;
    for (size_t i = 0; i < n && at + i < s->cap_held; i++)
        s->held[at + i] = tokens[i];
    return TSR_OK;
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
    /* What the cache holds of the history: its longest common prefix with
     * the tokens remembered; re-evaluate at least the last history token
     * (its logits start the draft). */
    size_t limit = host->draft_n_past(s->draft), keep = 0;
    if (limit > s->cap_held)
        limit = s->cap_held;
    if (limit > n_history - 1)
        limit = n_history - 1;
    while (keep < limit && s->held[keep] == history[keep])
        keep++;
    host->draft_rollback(s->draft, keep);
    tsr_status status = eval(s, history + keep, n_history - keep, err);
    if (status != TSR_OK)
        return status;
    size_t row = n_history - keep - 1;
    for (size_t i = 0; i < max_out; i++) {
        const float *logits = host->draft_logits(s->draft, row);
        if (!logits)
            return host->error_set(err, TSR_ERR_INTERNAL, "draft-model: no logits after eval");
        double p;
        int32_t token = best_token(s, logits, &p);
        if (i >= s->n_min && p < s->p_min)
            break;
        out[i] = token;
        *n_out = i + 1;
        if (i + 1 == max_out)
            break;
        if ((status = eval(s, &out[i], 1, err)) != TSR_OK)
            return status;
        row = 0;
    }
    return TSR_OK;
}


static const tsr_spec_vtable draft_vtable = {
    .abi = TSR_ABI_INIT(tsr_spec_vtable),
    .flags = TSR_SPEC_NEEDS_DRAFT,
    .create = draft_create,
    .destroy = draft_destroy,
    .propose = draft_propose,
};

static const tsr_plugin_desc draft_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_SPEC,
    .name = "draft-model",
    .version = "1.1.0",
    .summary = "a smaller model of the same vocabulary proposes tokens (greedy drafting)",
    .params = draft_params,
    .n_params = sizeof draft_params / sizeof draft_params[0],
    .vtable = &draft_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &draft_desc : NULL;
}
