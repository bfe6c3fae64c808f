/* Reading OpenAI requests: fields checked and mapped onto a sampler chain,
 * prompts tokenized.
 *
 * The chain is the profile's `sampler:` section with the request's values
 * set on it (a sampler the chain lacks is added before its final choice);
 * temperature 0 makes it `greedy` after any penalty asked for, as
 * `tessera run --greedy` does. Unknown fields are ignored, as OpenAI's
 * clients send many; fields whose meaning tessera cannot honour (tools,
 * echo, best_of, a JSON response_format) are refused rather than ignored.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "serve_openai.h"

enum { MAX_SETTINGS = 32, MAX_STOP_BYTES = 256, MAX_BIAS = 1024 };

void serve_error_set(serve_error *e, int status, const char *type, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    e->status = status;
    e->type = type;
    vsnprintf(e->message, sizeof e->message, fmt, args);
    va_end(args);
}

#define BAD(e, ...) (serve_error_set(e, 400, "invalid_request_error", __VA_ARGS__), false)

/* ---- typed fields ----------------------------------------------------- */

/* The field, or NULL when absent or null. */
static const json_t *field(const json_t *body, const char *name)
{
    const json_t *v = json_object_get(body, name);
    return json_is_null(v) ? NULL : v;
}

static bool get_number(const json_t *body, const char *name, double lo, double hi, bool *has,
                       double *out, serve_error *e)
{
    const json_t *v = field(body, name);
    *has = v != NULL;
    if (!v)
        return true;
    if (!json_is_number(v))
        return BAD(e, "'%s' must be a number", name);
    *out = json_number_value(v);
    if (!(*out >= lo && *out <= hi))
        return BAD(e, "'%s' must be between %g and %g, not %g", name, lo, hi, *out);
    return true;
}

static bool get_integer(const json_t *body, const char *name, long long lo, long long hi,
                        bool *has, long long *out, serve_error *e)
{
    const json_t *v = field(body, name);
    *has = v != NULL;
    if (!v)
        return true;
    /* 3.0 is an integer to JSON's writers in other languages */
    double real = json_real_value(v);
    if (json_is_real(v) && real == floor(real) && fabs(real) < 9e18)
        *out = (long long)real;
    else if (json_is_integer(v))
        *out = json_integer_value(v);
    else
        return BAD(e, "'%s' must be an integer", name);
    if (*out < lo || *out > hi)
        return BAD(e, "'%s' must be between %lld and %lld, not %lld", name, lo, hi, *out);
    return true;
}

static bool get_bool(const json_t *body, const char *name, bool *out, serve_error *e)
{
    const json_t *v = field(body, name);
    if (!v)
        return true;
    if (!json_is_boolean(v))
        return BAD(e, "'%s' must be true or false", name);
    *out = json_is_true(v);
    return true;
}

/* ---- the sampler chain ------------------------------------------------ */

typedef struct chain_builder {
    tsr_sampler_setting settings[MAX_SETTINGS];
    char values[MAX_SETTINGS][32];
    size_t n;
    char breakers[1024];
} chain_builder;

static void set_value(chain_builder *b, const char *sampler, const char *param, double v)
{
    if (b->n == MAX_SETTINGS)
        return;
    snprintf(b->values[b->n], sizeof b->values[b->n], "%.9g", v);
    b->settings[b->n] = (tsr_sampler_setting){sampler, param, b->values[b->n], false};
    b->n++;
}

/* One request field onto one sampler parameter. */
typedef struct field_map {
    const char *field, *sampler, *param;
    double lo, hi;
    bool integer, always; /* always: also under greedy (penalties) */
} field_map;

static const field_map field_maps[] = {
    {"temperature", "temperature", "temperature", 0, 100, false, false},
    {"dynatemp_range", "temperature", "dynamic_range", 0, 100, false, false},
    {"dynatemp_exponent", "temperature", "exponent", 0, 100, false, false},
    {"top_k", "top_k", "k", 0, 1e9, true, false},
    {"top_p", "top_p", "p", 0, 1, false, false},
    {"min_p", "min_p", "p", 0, 1, false, false},
    {"typical_p", "typical_p", "p", 0, 1, false, false},
    {"top_n_sigma", "top_n_sigma", "n", 0, 100, false, false},
    {"xtc_probability", "xtc", "probability", 0, 1, false, false},
    {"xtc_threshold", "xtc", "threshold", 0, 1, false, false},
    {"mirostat", "mirostat", "version", 0, 2, true, false},
    {"mirostat_tau", "mirostat", "tau", 0, 100, false, false},
    {"mirostat_eta", "mirostat", "eta", 0, 1, false, false},
    {"frequency_penalty", "frequency_penalty", "penalty", -2, 2, false, true},
    {"presence_penalty", "presence_penalty", "penalty", -2, 2, false, true},
    {"repeat_penalty", "repetition_penalty", "penalty", 0.01, 10, false, true},
    {"dry_multiplier", "dry", "multiplier", 0, 100, false, true},
    {"dry_base", "dry", "base", 1, 100, false, true},
    {"dry_allowed_length", "dry", "allowed_length", 1, 1e6, true, true},
    {"dry_penalty_last_n", "dry", "last_n", -1, 1e6, true, true},
};

static bool has_sampler(const chain_builder *b, const char *sampler)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->settings[i].sampler, sampler) == 0)
            return true;
    return false;
}

/* mirostat: 0 is plain sampling, so the sampler is left out. */
static bool skipped(const field_map *f, double v)
{
    return strcmp(f->field, "mirostat") == 0 && v == 0;
}

static bool read_sampling(const json_t *body, bool greedy, chain_builder *b, serve_error *e)
{
    bool mirostat_off = false;
    for (size_t i = 0; i < sizeof field_maps / sizeof field_maps[0]; i++) {
        const field_map *f = &field_maps[i];
        bool has;
        double v;
        long long iv;
        if (f->integer ? !get_integer(body, f->field, (long long)f->lo, (long long)f->hi, &has,
                                      &iv, e)
                       : !get_number(body, f->field, f->lo, f->hi, &has, &v, e))
            return false;
        if (f->integer)
            v = (double)iv;
        if (!has || (greedy && !f->always))
            continue;
        if (skipped(f, v)) {
            mirostat_off = true;
            continue;
        }
        if (mirostat_off && strcmp(f->sampler, "mirostat") == 0)
            continue;
        set_value(b, f->sampler, f->param, v);
    }
    /* repeat_last_n: the window of the penalties this request sets. */
    bool has;
    long long last_n;
    if (!get_integer(body, "repeat_last_n", -1, 1000000, &has, &last_n, e))
        return false;
    static const char *const penalties[] = {"repetition_penalty", "frequency_penalty",
                                            "presence_penalty"};
    for (size_t i = 0; has && i < 3; i++)
        if (has_sampler(b, penalties[i]))
            set_value(b, penalties[i], "last_n", (double)last_n);
    const json_t *breakers = field(body, "dry_sequence_breakers");
    if (breakers) {
        size_t used = 0, k;
        const json_t *item;
        if (!json_is_array(breakers))
            return BAD(e, "'dry_sequence_breakers' must be an array of strings");
        json_array_foreach(breakers, k, item) {
            const char *text = json_string_value(item);
            if (!text || !*text || strchr(text, ','))
                return BAD(e, "'dry_sequence_breakers' must be non-empty strings without ','");
            int n = snprintf(b->breakers + used, sizeof b->breakers - used, "%s%s",
                             used ? "," : "", text);
            if (n < 0 || (size_t)n >= sizeof b->breakers - used)
                return BAD(e, "'dry_sequence_breakers' is too long");
            used += (size_t)n;
        }
        if (used && b->n < MAX_SETTINGS)
            b->settings[b->n++] = (tsr_sampler_setting){"dry", "sequence_breakers", b->breakers,
                                                        false};
    }
    return true;
}

static uint64_t random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ (uint64_t)clock();
    return seed;
}

/* Opens one chain per choice and tells each the prompt (penalties see it). */
static bool open_chains(const serve_model *m, const json_t *body, serve_request *r,
                        serve_error *e)
{
    bool has;
    double temperature = 1;
    if (!get_number(body, "temperature", 0, 100, &has, &temperature, e))
        return false;
    bool greedy = has && temperature == 0;
    chain_builder b = {.n = 0};
    if (!read_sampling(body, greedy, &b, e))
        return false;
    long long seed;
    if (!get_integer(body, "seed", INT64_MIN, INT64_MAX, &has, &seed, e))
        return false;
    uint64_t base = has && seed >= 0 ? (uint64_t)seed : random_seed();
    static const char *const greedy_chain[] = {"greedy"};
    for (uint32_t c = 0; c < r->params.n_choices; c++) {
        tsr_error err;
        tsr_sampler **chain = &r->params.samplers[c];
        if (tsr_sampler_open(m->d, greedy ? greedy_chain : NULL, greedy ? 1 : 0, b.settings, b.n,
                             base + c, chain, &err) != TSR_OK)
            return BAD(e, "%s", err.message);
        for (size_t i = 0; i < r->n_prompt; i++)
            if (tsr_sampler_accept(*chain, r->prompt[i], &err) != TSR_OK)
                return BAD(e, "%s", err.message);
    }
    return true;
}

/* ---- generation limits ------------------------------------------------ */

static bool add_stop(serve_params *p, const json_t *item, serve_error *e)
{
    size_t n = json_string_length(item);
    if (!json_is_string(item))
        return BAD(e, "'stop' must be a string or an array of strings");
    if (n == 0 || n > MAX_STOP_BYTES)
        return BAD(e, "each 'stop' string must hold 1 to %d bytes", MAX_STOP_BYTES);
    if (!(p->stop[p->n_stop] = strdup(json_string_value(item))))
        return BAD(e, "out of memory");
    p->n_stop++;
    return true;
}

static bool read_stop(const json_t *body, serve_params *p, serve_error *e)
{
    const json_t *stop = field(body, "stop"), *item;
    size_t i;
    if (!stop)
        return true;
    if (json_is_string(stop))
        return add_stop(p, stop, e);
    if (!json_is_array(stop))
        return BAD(e, "'stop' must be a string or an array of strings");
    if (json_array_size(stop) > SERVE_MAX_STOP)
        return BAD(e, "'stop' holds at most %d strings", SERVE_MAX_STOP);
    json_array_foreach(stop, i, item) {
        if (!add_stop(p, item, e))
            return false;
    }
    return true;
}

/* logit_bias: {"TOKEN_ID": bias} (OpenAI) or [[TOKEN_ID, bias], ...]
 * (llama-server); a bias of false bans the token. Applied to the logits
 * before the chain, and seen by logprobs. */
static bool add_bias(const serve_model *m, serve_params *p, long long token, const json_t *v,
                     serve_error *e)
{
    if (token < 0 || token >= m->n_vocab)
        return BAD(e, "'logit_bias': token %lld is not in the vocabulary (0 to %u)", token,
                   m->n_vocab - 1);
    double bias;
    if (json_is_false(v))
        bias = -INFINITY;
    else if (json_is_number(v) && json_number_value(v) >= -100 && json_number_value(v) <= 100)
        bias = json_number_value(v);
    else
        return BAD(e, "'logit_bias': token %lld's bias must be a number from -100 to 100",
                   token);
    if (p->n_bias == MAX_BIAS)
        return BAD(e, "'logit_bias' holds at most %d tokens", MAX_BIAS);
    p->bias_tokens[p->n_bias] = (tsr_token)token;
    p->bias_values[p->n_bias++] = (float)bias;
    return true;
}

static bool read_bias(const serve_model *m, const json_t *body, serve_params *p, serve_error *e)
{
    const json_t *bias = field(body, "logit_bias");
    if (!bias)
        return true;
    if (!json_is_object(bias) && !json_is_array(bias))
        return BAD(e, "'logit_bias' must map token ids to biases");
    p->bias_tokens = malloc(MAX_BIAS * sizeof *p->bias_tokens);
    p->bias_values = malloc(MAX_BIAS * sizeof *p->bias_values);
    if (!p->bias_tokens || !p->bias_values)
        return BAD(e, "out of memory");
    const char *key;
    const json_t *v;
    if (json_is_object(bias)) {
        json_object_foreach((json_t *)bias, key, v) {
            char *end;
            errno = 0;
            long long token = strtoll(key, &end, 10);
            if (errno || end == key || *end)
                return BAD(e, "'logit_bias' keys must be token ids, not '%.40s'", key);
            if (!add_bias(m, p, token, v, e))
                return false;
        }
        return true;
    }
    size_t i;
    json_array_foreach(bias, i, v) {
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)))
            return BAD(e, "'logit_bias' as an array holds [token id, bias] pairs");
        if (!add_bias(m, p, json_integer_value(json_array_get(v, 0)), json_array_get(v, 1), e))
            return false;
    }
    return true;
}

/* Fields whose meaning tessera cannot honour are refused, not ignored. */
static bool refuse_unsupported(const json_t *body, serve_kind kind, serve_error *e)
{
    const json_t *v;
    if ((v = field(body, "response_format"))) {
        const char *type = json_string_value(json_object_get(v, "type"));
        if (!json_is_object(v) || !type)
            return BAD(e, "'response_format' must be an object with a 'type'");
        if (strcmp(type, "text") != 0)
            return BAD(e, "'response_format' type '%.40s' is not supported: tessera has no "
                          "grammar-constrained sampling; only \"text\"", type);
    }
    if ((v = field(body, "tools")) && (!json_is_array(v) || json_array_size(v) > 0))
        return BAD(e, "'tools' (function calling) is not supported");
    if ((v = field(body, "functions")) && (!json_is_array(v) || json_array_size(v) > 0))
        return BAD(e, "'functions' (function calling) is not supported");
    bool echo = false;
    if (kind == SERVE_COMPLETION && !get_bool(body, "echo", &echo, e))
        return false;
    if (echo)
        return BAD(e, "'echo' is not supported");
    bool has;
    long long best_of;
    if (!get_integer(body, "best_of", 0, 1000, &has, &best_of, e))
        return false;
    if (has && best_of > 1)
        return BAD(e, "'best_of' above 1 is not supported; ask for 'n' choices instead");
    if ((v = field(body, "suffix")) && (!json_is_string(v) || json_string_length(v) > 0))
        return BAD(e, "'suffix' (insertion) is not supported");
    return true;
}

static bool read_limits(const serve_model *m, const json_t *body, serve_request *r,
                        serve_error *e)
{
    serve_params *p = &r->params;
    static const char *const names[] = {"max_tokens", "max_completion_tokens", "n_predict"};
    for (size_t i = 0; i < 3; i++) {
        bool has;
        long long n;
        if (!get_integer(body, names[i], -1, UINT32_MAX, &has, &n, e))
            return false;
        if (has && n == 0)
            return BAD(e, "'%s' must be at least 1 (or -1: until the context is full)", names[i]);
        if (has)
            p->max_tokens = n < 0 ? 0 : (uint32_t)n;
    }
    bool has;
    long long n = 1;
    uint32_t most = m->n_slots < SERVE_MAX_CHOICES ? m->n_slots : SERVE_MAX_CHOICES;
    if (!get_integer(body, "n", 1, most, &has, &n, e))
        return false;
    p->n_choices = (uint32_t)n;
    if (!get_bool(body, "ignore_eos", &p->ignore_eos, e) || !read_stop(body, p, e) ||
        !read_bias(m, body, p, e))
        return false;
    /* logprobs: a number of alternatives (completions) or a flag (chat) */
    const json_t *lp = field(body, "logprobs");
    long long top = 0;
    if (r->kind == SERVE_COMPLETION) {
        if (!get_integer(body, "logprobs", 0, 5, &has, &top, e))
            return false;
        p->logprobs = has;
    } else {
        if (lp && !json_is_boolean(lp))
            return BAD(e, "'logprobs' must be true or false");
        p->logprobs = json_is_true(lp);
        if (!get_integer(body, "top_logprobs", 0, SERVE_MAX_TOP_LOGPROBS, &has, &top, e))
            return false;
        if (has && !p->logprobs)
            return BAD(e, "'top_logprobs' needs 'logprobs': true");
    }
    p->top_logprobs = (uint32_t)top;
    bool stream = false;
    if (!get_bool(body, "stream", &stream, e))
        return false;
    r->stream = stream;
    const json_t *options = field(body, "stream_options");
    if (options) {
        if (!json_is_object(options))
            return BAD(e, "'stream_options' must be an object");
        if (!get_bool(options, "include_usage", &r->include_usage, e))
            return false;
    }
    return true;
}

/* ---- prompts ---------------------------------------------------------- */

static bool tokenize_text(const serve_model *m, const char *text, size_t n_bytes, uint32_t flags,
                          serve_request *r, serve_error *e)
{
    size_t cap = n_bytes + 16, n;
    tsr_error err;
    if (!(r->prompt = malloc(cap * sizeof *r->prompt)))
        return BAD(e, "out of memory");
    if (tsr_tokenize(m->d, text, n_bytes, flags, r->prompt, cap, &n, &err) != TSR_OK)
        return BAD(e, "the prompt cannot be tokenized: %s", err.message);
    if (n > cap) {
        tsr_token *bigger = realloc(r->prompt, n * sizeof *bigger);
        if (!bigger)
            return BAD(e, "out of memory");
        r->prompt = bigger;
        if (tsr_tokenize(m->d, text, n_bytes, flags, r->prompt, n, &n, &err) != TSR_OK)
            return BAD(e, "the prompt cannot be tokenized: %s", err.message);
    }
    r->n_prompt = n;
    return true;
}

/* A JSON array of token ids into tokens (malloc'd). */
static bool read_token_array(const serve_model *m, const json_t *array, const char *name,
                             tsr_token **tokens, size_t *n, serve_error *e)
{
    size_t count = json_array_size(array), i;
    const json_t *item;
    if (!(*tokens = malloc((count ? count : 1) * sizeof **tokens)))
        return BAD(e, "out of memory");
    json_array_foreach(array, i, item) {
        json_int_t id = json_integer_value(item);
        if (!json_is_integer(item) || id < 0 || id >= m->n_vocab)
            return BAD(e, "'%s' item %zu is not a token id (0 to %u)", name, i, m->n_vocab - 1);
        (*tokens)[i] = (tsr_token)id;
    }
    *n = count;
    return true;
}

/* The prompt of /v1/completions: text (the client's whole text: control
 * tokens written in it count, as with llama-server and `tessera run -p`) or
 * token ids; an array of one of either. */
static bool read_completion_prompt(const serve_model *m, const json_t *body, serve_request *r,
                                   serve_error *e)
{
    const json_t *prompt = field(body, "prompt");
    if (json_is_array(prompt) && json_array_size(prompt) == 1 &&
        (json_is_string(json_array_get(prompt, 0)) || json_is_array(json_array_get(prompt, 0))))
        prompt = json_array_get(prompt, 0);
    else if (json_is_array(prompt) && json_array_size(prompt) > 1 &&
             !json_is_integer(json_array_get(prompt, 0)))
        return BAD(e, "'prompt' holds several prompts; send one per request");
    if (json_is_string(prompt))
        return tokenize_text(m, json_string_value(prompt), json_string_length(prompt),
                             TSR_TOKENIZE_ADD_SPECIAL | TSR_TOKENIZE_PARSE_SPECIAL, r, e);
    if (json_is_array(prompt))
        return read_token_array(m, prompt, "prompt", &r->prompt, &r->n_prompt, e);
    return BAD(e, "'prompt' must be a string or an array of token ids");
}

/* A message's content: a string, or text parts joined by newlines. */
static bool message_text(const json_t *content, size_t index, char **out, serve_error *e)
{
    if (!content) {
        *out = strdup("");
    } else if (json_is_string(content)) {
        *out = strdup(json_string_value(content));
    } else if (json_is_array(content)) {
        size_t n = 0, k;
        const json_t *part;
        json_array_foreach(content, k, part) {
            const char *type = json_string_value(json_object_get(part, "type"));
            const json_t *text = json_object_get(part, "text");
            if (!type || strcmp(type, "text") != 0 || !json_is_string(text))
                return BAD(e, "messages[%zu]: only text content parts are supported", index);
            n += json_string_length(text) + 1;
        }
        if ((*out = malloc(n + 1))) {
            size_t at = 0;
            json_array_foreach(content, k, part) {
                const json_t *text = json_object_get(part, "text");
                if (at)
                    (*out)[at++] = '\n';
                memcpy(*out + at, json_string_value(text), json_string_length(text));
                at += json_string_length(text);
            }
            (*out)[at] = '\0';
        }
    } else {
        return BAD(e, "messages[%zu].content must be a string or an array of text parts", index);
    }
    return *out ? true : BAD(e, "out of memory");
}

static const char *message_role(const json_t *message)
{
    const char *role = json_string_value(json_object_get(message, "role"));
    if (!role)
        return NULL;
    if (strcmp(role, "developer") == 0) /* OpenAI's newer name for system */
        return "system";
    if (strcmp(role, "system") == 0 || strcmp(role, "user") == 0 ||
        strcmp(role, "assistant") == 0)
        return role;
    return NULL;
}

static bool chat_tokenize(const serve_model *m, const tsr_message *list, size_t n,
                          size_t text_bytes, serve_request *r, serve_error *e)
{
    size_t cap = text_bytes + 64 * n + 256, need;
    tsr_error err;
    if (!(r->prompt = malloc(cap * sizeof *r->prompt)))
        return BAD(e, "out of memory");
    tsr_status s = tsr_chat_tokenize(m->d, list, n, true, r->prompt, cap, &need, &err);
    if (s == TSR_OK && need > cap) {
        tsr_token *bigger = realloc(r->prompt, need * sizeof *bigger);
        if (!bigger)
            return BAD(e, "out of memory");
        r->prompt = bigger;
        s = tsr_chat_tokenize(m->d, list, n, true, r->prompt, need, &need, &err);
    }
    if (s == TSR_ERR_UNSUPPORTED || s == TSR_ERR_NOT_FOUND) {
        serve_error_set(e, 500, "server_error", "the model's chat template cannot be used: %s",
                        err.message);
        return false;
    }
    if (s != TSR_OK)
        return BAD(e, "the messages cannot be rendered: %s", err.message);
    r->n_prompt = need;
    return true;
}

static bool read_messages(const serve_model *m, const json_t *body, serve_request *r,
                          serve_error *e)
{
    const json_t *messages = field(body, "messages");
    size_t n = json_array_size(messages);
    if (!json_is_array(messages) || n == 0)
        return BAD(e, "'messages' must be a non-empty array of {role, content}");
    tsr_message *list = calloc(n, sizeof *list);
    char **texts = calloc(n, sizeof *texts);
    bool ok = list && texts ? true : BAD(e, "out of memory");
    size_t bytes = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *message = json_array_get(messages, i);
        if (!json_is_object(message)) {
            ok = BAD(e, "messages[%zu] must be an object", i);
        } else if (!(list[i].role = message_role(message))) {
            const char *role = json_string_value(json_object_get(message, "role"));
            ok = role ? BAD(e, "messages[%zu]: role '%.40s' is not supported (system, user, "
                               "assistant)", i, role)
                      : BAD(e, "messages[%zu] needs a 'role' string", i);
        } else if ((ok = message_text(field(message, "content"), i, &texts[i], e))) {
            list[i].content = texts[i];
            bytes += strlen(texts[i]);
        }
    }
    if (ok)
        ok = chat_tokenize(m, list, n, bytes, r, e);
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(list);
    return ok;
}

static bool check_model(const serve_model *m, const json_t *body, serve_error *e)
{
    const json_t *model = field(body, "model");
    if (!model)
        return true;
    const char *name = json_string_value(model);
    if (!name)
        return BAD(e, "'model' must be a string");
    if (strcmp(name, m->id) == 0 || (m->file_name && strcmp(name, m->file_name) == 0))
        return true;
    serve_error_set(e, 400, "invalid_request_error",
                    "the model '%.80s' does not exist; this server serves '%s'", name, m->id);
    return false;
}

bool serve_request_read(const serve_model *m, serve_kind kind, const json_t *body,
                        serve_request *out, serve_error *e)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (!json_is_object(body))
        return BAD(e, "the request body must be a JSON object");
    bool ok = check_model(m, body, e) && refuse_unsupported(body, kind, e) &&
              read_limits(m, body, out, e) &&
              (kind == SERVE_CHAT ? read_messages(m, body, out, e)
                                  : read_completion_prompt(m, body, out, e));
    if (ok && out->n_prompt == 0)
        ok = BAD(e, "the prompt is empty");
    if (ok && out->n_prompt >= m->max_seq_len) {
        serve_error_set(e, 400, "exceed_context_size_error",
                        "the request exceeds the available context size: the prompt is %zu "
                        "tokens, the context holds %u and one more is needed to reply",
                        out->n_prompt, m->max_seq_len);
        e->n_prompt_tokens = out->n_prompt;
        e->n_ctx = m->max_seq_len;
        ok = false;
    }
    if (ok)
        ok = open_chains(m, body, out, e);
    if (!ok)
        serve_request_free(out);
    return ok;
}

void serve_request_free(serve_request *r)
{
    free(r->prompt);
    serve_params_free(&r->params);
    memset(r, 0, sizeof *r);
}

/* ---- /tokenize, /detokenize ------------------------------------------- */

char *serve_tokenize(const serve_model *m, const json_t *body, serve_error *e)
{
    const json_t *content = json_object_get(body, "content");
    bool add_special = false, parse_special = true, with_pieces = false;
    if (!json_is_object(body) || !json_is_string(content)) {
        serve_error_set(e, 400, "invalid_request_error", "the body must be {\"content\": string}");
        return NULL;
    }
    if (!get_bool(body, "add_special", &add_special, e) ||
        !get_bool(body, "parse_special", &parse_special, e) ||
        !get_bool(body, "with_pieces", &with_pieces, e))
        return NULL;
    serve_request r = {0};
    uint32_t flags = (add_special ? TSR_TOKENIZE_ADD_SPECIAL : 0) |
                     (parse_special ? TSR_TOKENIZE_PARSE_SPECIAL : 0);
    if (!tokenize_text(m, json_string_value(content), json_string_length(content), flags, &r, e)) {
        free(r.prompt);
        return NULL;
    }
    json_t *tokens = json_array();
    for (size_t i = 0; tokens && i < r.n_prompt; i++) {
        if (!with_pieces) {
            json_array_append_new(tokens, json_integer(r.prompt[i]));
            continue;
        }
        size_t n;
        const char *piece = tsr_token_piece(m->d, r.prompt[i], &n);
        json_array_append_new(tokens, json_pack("{s:i, s:o}", "id", (int)r.prompt[i], "piece",
                                                serve_json_text(piece ? piece : "", piece ? n : 0)));
    }
    free(r.prompt);
    json_t *o = json_pack("{s:o}", "tokens", tokens);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

char *serve_detokenize(const serve_model *m, const json_t *body, serve_error *e)
{
    const json_t *tokens = json_object_get(body, "tokens");
    if (!json_is_object(body) || !json_is_array(tokens)) {
        serve_error_set(e, 400, "invalid_request_error",
                        "the body must be {\"tokens\": [token ids]}");
        return NULL;
    }
    tsr_token *ids = NULL;
    size_t n = 0;
    if (!read_token_array(m, tokens, "tokens", &ids, &n, e)) {
        free(ids);
        return NULL;
    }
    size_t bytes = tsr_detokenize(m->d, ids, n, 0, NULL, 0);
    char *text = malloc(bytes + 1);
    char *out = NULL;
    if (text) {
        tsr_detokenize(m->d, ids, n, 0, text, bytes + 1);
        json_t *o = json_pack("{s:o}", "content", serve_json_text(text, bytes));
        out = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
    }
    free(text);
    free(ids);
    return out;
}
