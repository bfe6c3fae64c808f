/* spec/ngram: prompt lookup. The last n tokens of the history (n from max_n
 * down to min_n) are looked for earlier in the history — the prompt and what
 * was generated so far; where they last occurred, the tokens that followed
 * are proposed. No second model: it pays where the answer repeats its input
 * (editing a list, rewriting a paragraph, answering from a document), and
 * the core stops asking where it does not. */
#include "tessera/plugin.h"

typedef struct ngram_state {
    const tsr_host *host;
    size_t min_n, max_n, max_tokens;
} ngram_state;

static const tsr_param_desc ngram_params[] = {
    {.name = "min_n", .type = TSR_PARAM_INT, .min = 1, .max = 64, .default_number = 2,
     .doc = "the shortest suffix of the history looked up (tokens)"},
    {.name = "max_n", .type = TSR_PARAM_INT, .min = 1, .max = 64, .default_number = 4,
     .doc = "the longest suffix looked up first (tokens); longer matches are surer"},
};

static tsr_status ngram_create(const tsr_host *host, const tsr_param_value *params,
                               const tsr_spec_init *init, void **state, tsr_error *err)
{
    if (params[0].integer > params[1].integer)
        return host->error_set(err, TSR_ERR_INVALID,
                               "ngram: min_n %lld is larger than max_n %lld",
                               (long long)params[0].integer, (long long)params[1].integer);
    ngram_state *s = host->alloc(sizeof *s);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "ngram: out of memory");
    *s = (ngram_state){host, (size_t)params[0].integer, (size_t)params[1].integer,
                       init->max_tokens};
    *state = s;
    return TSR_OK;
}

static void ngram_destroy(void *state)
{
    ngram_state *s = state;
    if (s)
        s->host->free(s);
}

/* The start of the latest earlier occurrence of history's last n tokens
 * that has a token after it, or n_history when there is none. */
static size_t latest_match(const int32_t *history, size_t n_history, size_t n)
{
    const int32_t *suffix = history + n_history - n;
    for (size_t j = n_history - n; j-- > 0;) {
        size_t k = 0;
        while (k < n && history[j + k] == suffix[k])
            k++;
        if (k == n)
            return j;
    }
    return n_history;
}

static tsr_status ngram_propose(void *state, const int32_t *history, size_t n_history,
                                int32_t *out, size_t max_out, size_t *n_out, tsr_error *err)
{
    (void)err;
    const ngram_state *s = state;
    *n_out = 0;
    if (s->max_tokens && max_out > s->max_tokens)
        max_out = s->max_tokens;
    for (size_t n = s->max_n; n >= s->min_n && n > 0; n--) {
        if (n >= n_history)
            continue;
        size_t j = latest_match(history, n_history, n);
        if (j == n_history)
            continue;
        /* What followed the match: it may run into the suffix itself. */
        size_t from = j + n, k = 0;
        for (; k < max_out && from + k < n_history; k++)
            out[k] = history[from + k];
        *n_out = k;
        return TSR_OK;
    }
    return TSR_OK;
}

static const tsr_spec_vtable ngram_vtable = {
    .abi = TSR_ABI_INIT(tsr_spec_vtable),
    .create = ngram_create,
    .destroy = ngram_destroy,
    .propose = ngram_propose,
};

static const tsr_plugin_desc ngram_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_SPEC,
    .name = "ngram",
    .version = "1.0.0",
    .summary = "prompt lookup: proposes what followed the history's last n tokens earlier on",
    .params = ngram_params,
    .n_params = sizeof ngram_params / sizeof ngram_params[0],
    .vtable = &ngram_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &ngram_desc : NULL;
}
