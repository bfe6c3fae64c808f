/* sampler/logit_bias: adds a fixed bias to the logits of chosen tokens, as
 * OpenAI's logit_bias and llama.cpp's --logit-bias do: -inf bans a token
 * (its probability becomes 0; it stays a candidate), +5 favours one.
 *
 * Keys are token ids ("15": only digits) or text ("Hello"): text is
 * tokenized with the model's vocabulary and every token of it gets the bias,
 * as llama.cpp's server does. Without a vocabulary (no model loaded, or a
 * build whose host table has no tokenizer) a text key is refused at create
 * with a message saying so; ids always work. Biases of keys that name the
 * same token add up. */
#include <math.h>
#include <stdlib.h>

#include "../sampler_util.h"

typedef struct logit_bias_state {
    const tsr_host *host;
    int32_t n_vocab;
    float *bias;      /* n_vocab: what to add */
    bool *listed;     /* n_vocab: a key named this token */
    int32_t *tokens;  /* the distinct tokens a key named */
    size_t n_tokens;
} logit_bias_state;

static const tsr_param_desc logit_bias_params[] = {
    SAMPLER_MAP("bias",
                "add to the logit of each token: {\"15\": -inf, \"Hello\": 2.5}; a key of "
                "digits is a token id, any other key is text, tokenized"),
};

static void logit_bias_destroy(void *state)
{
    logit_bias_state *s = state;
    s->host->free(s->bias);
    s->host->free(s->listed);
    s->host->free(s->tokens);
    s->host->free(s);
}

static void add_bias(logit_bias_state *s, int32_t token, double bias)
{
    if (!s->listed[token])
        s->tokens[s->n_tokens++] = token;
    s->listed[token] = true;
    s->bias[token] += (float)bias;
}

static bool all_digits(const char *key)
{
    if (!key[0])
        return false;
    for (const char *c = key; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    return true;
}

static tsr_status add_key(logit_bias_state *s, const char *key, double bias,
                          const tsr_sampler_init *init, int32_t *scratch, tsr_error *err)
{
    const tsr_host *host = s->host;
    if (all_digits(key)) {
        long long id = strtoll(key, NULL, 10);
        if (strlen(key) > 10 || id >= s->n_vocab)
            return host->error_set(err, TSR_ERR_INVALID,
                                   "bias: token id %s is outside the vocabulary of %d tokens",
                                   key, s->n_vocab);
        add_bias(s, (int32_t)id, bias);
        return TSR_OK;
    }
    if (!init->vocab || !host->vocab_tokenize)
        return host->error_set(err, TSR_ERR_UNSUPPORTED,
                               "bias: key '%s' is text, but there is no vocabulary to "
                               "tokenize it with (no model, or no tokenizer in this build); "
                               "give token ids instead",
                               key);
    int32_t n = host->vocab_tokenize(init->vocab, key, strlen(key), scratch, s->n_vocab);
    if (n < 0 || n > s->n_vocab)
        return host->error_set(err, TSR_ERR_INVALID, "bias: key '%s' cannot be tokenized", key);
    for (int32_t i = 0; i < n; i++)
        if (scratch[i] >= 0 && scratch[i] < s->n_vocab)
            add_bias(s, scratch[i], bias);
    return TSR_OK;
}

static tsr_status logit_bias_create(const tsr_host *host, const tsr_param_value *params,
                                    const tsr_sampler_init *init, void **state, tsr_error *err)
{
    logit_bias_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->n_vocab = init->n_vocab;
    size_t vocab_bytes = (size_t)init->n_vocab * sizeof(int32_t);
    s->bias = sampler_alloc(host, (size_t)init->n_vocab * sizeof *s->bias, err);
    s->listed = sampler_alloc(host, (size_t)init->n_vocab * sizeof *s->listed, err);
    s->tokens = sampler_alloc(host, vocab_bytes, err);
    int32_t *scratch = sampler_alloc(host, vocab_bytes, err);
    tsr_status status = s->bias && s->listed && s->tokens && scratch ? TSR_OK : TSR_ERR_NOMEM;
    const tsr_param_value *map = &params[0];
    for (uint32_t i = 0; status == TSR_OK && i < map->n_items; i++)
        status = add_key(s, map->items[i], map->values[i], init, scratch, err);
    host->free(scratch);
    if (status != TSR_OK) {
        logit_bias_destroy(s);
        return status;
    }
    *state = s;
    return TSR_OK;
}

static bool logit_bias_listed(const void *ctx, int32_t token)
{
    return ((const logit_bias_state *)ctx)->listed[token];
}

static void logit_bias_touch(void *ctx, tsr_candidate *c)
{
    c->logit += ((const logit_bias_state *)ctx)->bias[c->token];
}

static tsr_status logit_bias_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    logit_bias_state *s = state;
    if (s->n_tokens == 0)
        return TSR_OK;
    sampler_for_each_listed(cands, s->tokens, s->n_tokens, logit_bias_listed, logit_bias_touch,
                            s);
    cands->sorted = false;
    return TSR_OK;
}

static const tsr_sampler_vtable logit_bias_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = logit_bias_create,
    .destroy = logit_bias_destroy,
    .apply = logit_bias_apply,
};

static const tsr_plugin_desc logit_bias_desc =
    SAMPLER_DESC("logit_bias", "add a fixed bias to chosen tokens' logits (-inf bans them)",
                 logit_bias_params, logit_bias_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &logit_bias_desc : NULL;
}
