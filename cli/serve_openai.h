/* The OpenAI-compatible surface of `tessera serve`: requests read into jobs
 * (serve_request.c) and jobs written as responses and stream chunks
 * (serve_response.c), with jansson. */
#ifndef TSR_CLI_SERVE_OPENAI_H
#define TSR_CLI_SERVE_OPENAI_H

#include <jansson.h>

#include "serve_sched.h"

/* What requests are read against. */
typedef struct serve_model {
    tsr_deployment *d;
    const char *id;            /* what /v1/models reports and `model` must name */
    const char *file_name;     /* the model file's name, also accepted as `model` */
    uint32_t max_seq_len, n_vocab, n_slots;
    uint64_t created;          /* when the server started (Unix seconds) */
} serve_model;

/* An error in llama-server's shape: {"error": {"code", "message", "type"}}. */
typedef struct serve_error {
    int status;                /* the HTTP status */
    const char *type;          /* "invalid_request_error", ... */
    char message[TSR_ERROR_MESSAGE_BYTES + 256];
    size_t n_prompt_tokens;    /* exceed_context_size_error only */
    size_t n_ctx;
} serve_error;

void serve_error_set(serve_error *e, int status, const char *type, const char *fmt, ...)
    TSR_PRINTF(4, 5);
/* The error's JSON body (malloc'd), or NULL when memory ran out. */
char *serve_error_json(const serve_error *e);

typedef enum serve_kind { SERVE_COMPLETION, SERVE_CHAT } serve_kind;

/* A request read: the prompt's tokens and how to generate. */
typedef struct serve_request {
    serve_kind kind;
    bool stream, include_usage;
    tsr_token *prompt;
    size_t n_prompt;
    serve_params params;
} serve_request;

/* Reads a /v1/completions or /v1/chat/completions body: every field checked
 * for its type and range, the prompt tokenized (chat messages through the
 * model's template, their text never parsed for control tokens), a sampler
 * chain opened per choice with the prompt accepted. false: e says why (400,
 * or 500 when the server cannot render the template). */
bool serve_request_read(const serve_model *m, serve_kind kind, const json_t *body,
                        serve_request *out, serve_error *e);
void serve_request_free(serve_request *r);

/* POST /tokenize {"content", "add_special", "parse_special", "with_pieces"}
 * and POST /detokenize {"tokens"}: the response body, or NULL and e. */
char *serve_tokenize(const serve_model *m, const json_t *body, serve_error *e);
char *serve_detokenize(const serve_model *m, const json_t *body, serve_error *e);
/* GET /v1/models. */
char *serve_models_json(const serve_model *m);

/* A whole (non-streamed) response of a finished job; lock held. */
char *serve_response_json(const serve_model *m, serve_kind kind, const char *id,
                          const serve_job *job);

/* What a stream has sent of each choice. */
typedef struct serve_stream_state {
    size_t n_text[SERVE_MAX_CHOICES];
    size_t n_logprobs[SERVE_MAX_CHOICES];
    bool finished[SERVE_MAX_CHOICES];
    bool role_sent, usage_sent, done_sent;
} serve_stream_state;

/* Appends to *out (a growing buffer) the server-sent events for everything
 * the job produced since the last call: the assistant role first (chat),
 * text deltas, finish reasons, the usage chunk when asked, then
 * "data: [DONE]" once the job is done. Lock held. false: out of memory. */
bool serve_stream_events(const serve_model *m, serve_kind kind, const char *id,
                         bool include_usage, const serve_job *job, serve_stream_state *st,
                         char **out, size_t *n_out, size_t *cap_out);

/* n bytes of text as valid UTF-8 (invalid bytes become U+FFFD), as a JSON
 * string; NULL when memory ran out. */
json_t *serve_json_text(const char *text, size_t n);

#endif
