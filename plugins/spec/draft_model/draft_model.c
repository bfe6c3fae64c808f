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
 * row.
 *
 * With sample: true, where the core lends the sequence's generator (a
 * chain that draws, verified by the stochastic rule), each draft is drawn
 * from the draft's own softmax(logit / temperature) instead, and the
 * proposal carries that distribution: the core keeps a draft with
 * probability min(1, p/q), so a draft that is close in distribution but not
 * in its first choice still pays. Elsewhere (greedy chains, exact match)
 * the drafts stay greedy, which exact match keeps more often. */
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
    bool sample;
    double temperature;
    float *dists;   /* sample: max_tokens x n_vocab, the distribution of each draft */
} draft_state;

static const tsr_param_desc draft_params[] = {
    {.name = "p_min", .type = TSR_PARAM_FLOAT, .min = 0, .max = 1, .default_number = 0.5,
     .doc = "stop drafting when the draft's top probability is below this (0: never)"},
    {.name = "n_min", .type = TSR_PARAM_INT, .min = 0, .max = 256, .default_number = 1,
     .doc = "drafts proposed before p_min may stop drafting"},
    {.name = "sample", .type = TSR_PARAM_BOOL, .default_number = 0,
     .doc = "draw drafts from the draft's distribution, verified by the stochastic rule, "
            "where the sampler chain draws (false: greedy drafts)"},
    {.name = "temperature", .type = TSR_PARAM_FLOAT, .min = 0.01, .max = 100,
     .default_number = 1.0,
     .doc = "with sample: the draft's distribution is softmax(logit / temperature); match "
            "the chain's temperature"},
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
                       .n_min = params ? (size_t)params[1].integer : 0,
                       .sample = params && params[2].boolean,
                       .temperature = params ? params[3].number : 1.0};
    if (s->sample && s->max_tokens &&
        !(s->dists = host->alloc(s->max_tokens * (size_t)s->n_vocab * sizeof *s->dists))) {
        host->free(s);
        return host->error_set(err, TSR_ERR_NOMEM, "draft-model: out of memory for %zu "
                               "distributions of %d tokens", s->max_tokens, s->n_vocab);
    }
    /* The core says how long a sequence gets: the cache's tokens fit. */
    s->cap_held = init->max_seq_len ? init->max_seq_len : 4096;
    if (!(s->held = host->alloc(s->cap_held * sizeof *s->held))) {
        if (s->dists)
            host->free(s->dists);
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
    if (s->dists)
        s->host->free(s->dists);
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

/* softmax(logits / temperature) into q; returns its largest probability. */
static double draft_distribution(const draft_state *s, const float *logits, float *q)
{
    float top = logits[0];
    for (int32_t t = 1; t < s->n_vocab; t++)
        top = logits[t] > top ? logits[t] : top;
    double sum = 0;
    for (int32_t t = 0; t < s->n_vocab; t++) {
        q[t] = (float)exp(((double)logits[t] - top) / s->temperature);
        sum += q[t];
    }
    for (int32_t t = 0; t < s->n_vocab; t++)
        q[t] = (float)(q[t] / sum);
    return 1.0 / sum;
}

/* A draw from q with u uniform in [0, 1). */
static int32_t draw(const draft_state *s, const float *q, double u)
{
    double c = 0;
    int32_t last = 0;
    for (int32_t t = 0; t < s->n_vocab; t++)
        if (q[t] > 0) {
            last = t;
            if ((c += q[t]) > u)
                return t;
        }
    return last;
}

/* Up to max_out drafts after history into out: greedy, or drawn with rng
 * (each one's distribution at dists + i * n_vocab) when rng is non-NULL. */
static tsr_status draft_run(draft_state *s, const int32_t *history, size_t n_history,
                            int32_t *out, size_t max_out, size_t *n_out, tsr_rng *rng,
                            tsr_error *err)
{
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
        int32_t token;
        if (rng) {
            float *q = s->dists + i * (size_t)s->n_vocab;
            p = draft_distribution(s, logits, q);
            if (i >= s->n_min && p < s->p_min)
                break;
            token = draw(s, q, host->rng_uniform(rng));
        } else {
            token = best_token(s, logits, &p);
            if (i >= s->n_min && p < s->p_min)
                break;
        }
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

static tsr_status draft_propose(void *state, const int32_t *history, size_t n_history,
                                int32_t *out, size_t max_out, size_t *n_out, tsr_error *err)
{
    return draft_run(state, history, n_history, out, max_out, n_out, NULL, err);
}

static tsr_status draft_propose_tree(void *state, const int32_t *history, size_t n_history,
                                     tsr_spec_proposal *out, tsr_error *err)
{
    draft_state *s = state;
    tsr_rng *rng = TSR_COVERS(out->struct_size, tsr_spec_proposal, rng) ? out->rng : NULL;
    if (!s->sample || !s->dists || !s->host->rng_uniform)
        rng = NULL;
    size_t n = 0;
    out->n_tokens = 0;
    tsr_status status = draft_run(s, history, n_history, out->tokens, out->capacity, &n, rng,
                                  err);
    if (status != TSR_OK)
        return status;
    for (size_t i = 0; i < n; i++)
        out->parents[i] = (int32_t)i - 1;
    out->n_tokens = (uint32_t)n;
    if (rng && n) {
        out->dists = s->dists;
        out->use_dists = true;
    }
    return TSR_OK;
}

static const tsr_spec_vtable draft_vtable = {
    .abi = TSR_ABI_INIT(tsr_spec_vtable),
    .flags = TSR_SPEC_NEEDS_DRAFT,
    .create = draft_create,
    .destroy = draft_destroy,
    .propose = draft_propose,
    .propose_tree = draft_propose_tree,
};

static const tsr_plugin_desc draft_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_SPEC,
    .name = "draft-model",
    .version = "1.2.0",
    .summary = "a smaller model of the same vocabulary proposes tokens (greedy, or sampled "
               "with sample: true)",
    .params = draft_params,
    .n_params = sizeof draft_params / sizeof draft_params[0],
    .vtable = &draft_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &draft_desc : NULL;
}
