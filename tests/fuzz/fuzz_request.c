/* libFuzzer target: any bytes as the body of a request to `tessera serve`,
 * read against the default model as the server reads it (cli/serve_request.c).
 * The first byte picks the route: /v1/completions, /v1/chat/completions,
 * /tokenize or /detokenize; the rest is the body. Never a crash, leak or
 * hang. A request read has a prompt of 1 to max_seq_len - 1 tokens of the
 * vocabulary, 1 to n_slots choices each with its sampler chain, and stop
 * strings of 1 to 256 bytes; a chat request's prompt holds exactly the turn
 * markers the template places for its roles, whatever its messages spell. A
 * refusal has a 4xx or 5xx status and a message, and its error body is JSON
 * that carries that status.
 *
 * The plugins come from $TESSERA_PLUGIN_PATH, else from the build tree this
 * program sits in (tests/fuzz/../../plugins/.libs); the model from
 * $TESSERA_MODEL_CACHE or ~/.cache/tessera/models (contrib/fetch-model.sh). */
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_openai.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_SEQ_LEN = 256, N_SLOTS = 4, MAX_MESSAGES = 64 };

static tsr_deployment *deployment;
static serve_model model;
static tsr_token im_start = -1, im_end = -1;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_request: %s: %s\n", what, why);
    exit(1);
}

/* The one token a control marker's text parses to, or -1. */
static tsr_token marker(const char *text)
{
    tsr_token t[4];
    size_t n = 0;
    tsr_error err;
    if (tsr_tokenize(deployment, text, strlen(text), TSR_TOKENIZE_PARSE_SPECIAL, t, 4, &n, &err) !=
            TSR_OK ||
        n != 1)
        return -1;
    return t[0];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char self[PATH_MAX], plugins[PATH_MAX + 32], path[PATH_MAX];
    const char *dir = getenv("TESSERA_PLUGIN_PATH");
    if ((!dir || !*dir) && realpath((*argv)[0], self)) {
        snprintf(plugins, sizeof plugins, "%s/../../plugins/.libs", dirname(self));
        setenv("TESSERA_PLUGIN_PATH", plugins, 1);
    }
    setenv("TESSERA_CONFIG", "/dev/null", 1);
    const char *cache = getenv("TESSERA_MODEL_CACHE");
    if (cache && *cache)
        snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", cache);
    else
        snprintf(path, sizeof path, "%s/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                 getenv("HOME") ? getenv("HOME") : "");
    tsr_deployment_params params;
    tsr_deployment_params_init(&params);
    params.n_threads = 1;
    params.n_seq_max = N_SLOTS;
    params.max_seq_len = MAX_SEQ_LEN;
    tsr_error err = {0};
    if (tsr_deployment_open_model(path, &params, &deployment, &err) != TSR_OK)
        die(path, err.message);
    model = (serve_model){.d = deployment, .id = "smollm2", .file_name = "model.gguf",
                          .max_seq_len = tsr_deployment_max_seq_len(deployment),
                          .n_vocab = tsr_deployment_n_vocab(deployment),
                          .n_slots = tsr_deployment_n_seq_max(deployment), .created = 1};
    im_start = marker("<|im_start|>");
    im_end = marker("<|im_end|>");
    if (im_start < 0 || im_end < 0)
        die(path, "the default model has no ChatML markers");
    return 0;
}

static size_t count_markers(const tsr_token *tokens, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += tokens[i] == im_start || tokens[i] == im_end;
    return count;
}

/* The markers the template places for the body's roles, each message's
 * content replaced by one plain word. */
static size_t template_markers(const json_t *body)
{
    const json_t *messages = json_object_get(body, "messages");
    size_t n = json_array_size(messages);
    if (n == 0 || n > MAX_MESSAGES)
        return SIZE_MAX;
    tsr_message list[MAX_MESSAGES];
    for (size_t i = 0; i < n; i++) {
        const char *role = json_string_value(json_object_get(json_array_get(messages, i), "role"));
        list[i] = (tsr_message){role && strcmp(role, "developer") == 0 ? "system" : role, "word"};
    }
    tsr_token tokens[1024];
    size_t need = 0;
    tsr_error err;
    if (tsr_chat_tokenize(deployment, list, n, true, tokens, 1024, &need, &err) != TSR_OK ||
        need > 1024)
        return SIZE_MAX;
    return count_markers(tokens, need);
}

static void check_read(const serve_request *r, const json_t *body)
{
    if (r->n_prompt == 0 || r->n_prompt >= model.max_seq_len)
        abort();
    for (size_t i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || (uint32_t)r->prompt[i] >= model.n_vocab)
            abort();
    const serve_params *p = &r->params;
    if (p->n_choices < 1 || p->n_choices > model.n_slots || p->n_stop > SERVE_MAX_STOP)
        abort();
    for (uint32_t c = 0; c < p->n_choices; c++)
        if (!p->samplers[c])
            abort();
    for (size_t i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || strlen(p->stop[i]) == 0 || strlen(p->stop[i]) > 256)
            abort();
    if (r->kind == SERVE_CHAT) {
        size_t want = template_markers(body);
        if (want != SIZE_MAX && count_markers(r->prompt, r->n_prompt) != want)
            abort(); /* a message's text opened or closed a turn */
    }
}

static void check_refusal(const serve_error *e)
{
    if (e->status < 400 || e->status > 599 || !e->type || !e->message[0])
        abort();
    char *text = serve_error_json(e);
    if (!text)
        return; /* out of memory */
    json_error_t jerr;
    json_t *back = json_loads(text, 0, &jerr);
    json_t *code = json_object_get(json_object_get(back, "error"), "code");
    if (!back || json_integer_value(code) != e->status)
        abort();
    json_decref(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data + 1, size - 1, 0, &jerr);
    if (!body)
        return 0;
    serve_error e = {0};
    switch (data[0] % 4) {
    case 0:
    case 1: {
        serve_request r;
        serve_kind kind = data[0] % 4 == 0 ? SERVE_COMPLETION : SERVE_CHAT;
        if (serve_request_read(&model, kind, body, &r, &e)) {
            check_read(&r, body);
            serve_request_free(&r);
        } else {
            check_refusal(&e);
        }
        break;
    }
    case 2:
    case 3: {
        char *text = data[0] % 4 == 2 ? serve_tokenize(&model, body, &e)
                                      : serve_detokenize(&model, body, &e);
        if (text) {
            json_t *back = json_loads(text, 0, &jerr);
            if (!back)
                abort(); /* the response is JSON */
            json_decref(back);
            free(text);
        } else if (e.status) {
            check_refusal(&e);
        }
        break;
    }
    }
    json_decref(body);
    return 0;
}
