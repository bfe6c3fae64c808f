/* Writing OpenAI responses: whole responses, stream chunks as server-sent
 * events, errors in llama-server's shape, with jansson. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_openai.h"

/* The length of the valid UTF-8 character at s (n bytes left), 0 if none. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

json_t *serve_json_text(const char *text, size_t n)
{
    /* at worst every byte becomes the 3-byte replacement character */
    char *clean = malloc(3 * n + 1);
    if (!clean)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_char((const unsigned char *)text + i, n - i);
        if (len) {
            memcpy(clean + out, text + i, len);
            out += len;
            i += len;
        } else {
            memcpy(clean + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        }
    }
    json_t *s = json_stringn_nocheck(clean, out);
    free(clean);
    return s;
}

char *serve_error_json(const serve_error *e)
{
    json_t *error = json_pack("{s:i, s:s, s:s}", "code", e->status, "message", e->message,
                              "type", e->type ? e->type : "server_error");
    if (error && e->n_ctx) {
        json_object_set_new(error, "n_prompt_tokens", json_integer((json_int_t)e->n_prompt_tokens));
        json_object_set_new(error, "n_ctx", json_integer((json_int_t)e->n_ctx));
    }
    json_t *body = error ? json_pack("{s:o}", "error", error) : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

char *serve_models_json(const serve_model *m)
{
    json_t *meta = json_pack("{s:I, s:I, s:I}", "n_ctx", (json_int_t)m->max_seq_len, "n_vocab",
                             (json_int_t)m->n_vocab, "n_slots", (json_int_t)m->n_slots);
    json_t *body = json_pack("{s:s, s:[{s:s, s:s, s:I, s:s, s:o}]}", "object", "list", "data",
                             "id", m->id, "object", "model", "created", (json_int_t)m->created,
                             "owned_by", "tessera", "meta", meta);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

/* ---- logprobs ----------------------------------------------------------- */

static json_t *token_bytes(const char *piece, size_t n)
{
    json_t *bytes = json_array();
    for (size_t i = 0; bytes && i < n; i++)
        json_array_append_new(bytes, json_integer((unsigned char)piece[i]));
    return bytes;
}

static json_t *token_text(const serve_model *m, tsr_token token, json_t **bytes)
{
    size_t n = 0;
    const char *piece = tsr_token_piece(m->d, token, &n);
    if (!piece)
        piece = "", n = 0;
    if (bytes)
        *bytes = token_bytes(piece, n);
    return serve_json_text(piece, n);
}

/* Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}. */
static json_t *chat_logprobs(const serve_model *m, const serve_logprob *lp, size_t n)
{
    json_t *content = json_array();
    for (size_t i = 0; content && i < n; i++) {
        json_t *top = json_array(), *bytes;
        for (uint32_t k = 0; top && k < lp[i].n_top; k++) {
            json_t *text = token_text(m, lp[i].top_tokens[k], &bytes);
            json_array_append_new(top, json_pack("{s:o, s:f, s:o}", "token", text, "logprob",
                                                 (double)lp[i].top_logprobs[k], "bytes", bytes));
        }
        json_t *text = token_text(m, lp[i].token, &bytes);
        json_array_append_new(content, json_pack("{s:o, s:f, s:o, s:o}", "token", text, "logprob",
                                                 (double)lp[i].logprob, "bytes", bytes,
                                                 "top_logprobs", top));
    }
    return json_pack("{s:o}", "content", content);
}

/* Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}. */
static json_t *completion_logprobs(const serve_model *m, const serve_logprob *lp, size_t n,
                                   size_t text_offset)
{
    json_t *tokens = json_array(), *values = json_array(), *tops = json_array(),
           *offsets = json_array();
    for (size_t i = 0; tokens && values && tops && offsets && i < n; i++) {
        size_t bytes = 0;
        json_array_append_new(tokens, token_text(m, lp[i].token, NULL));
        json_array_append_new(values, json_real(lp[i].logprob));
        json_t *top = json_object();
        for (uint32_t k = 0; top && k < lp[i].n_top; k++) {
            json_t *text = token_text(m, lp[i].top_tokens[k], NULL);
            if (text)
                json_object_set_new(top, json_string_value(text),
                                    json_real(lp[i].top_logprobs[k]));
            json_decref(text);
        }
        json_array_append_new(tops, top);
        json_array_append_new(offsets, json_integer((json_int_t)text_offset));
        if (tsr_token_piece(m->d, lp[i].token, &bytes))
            text_offset += bytes;
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", values,
                     "top_logprobs", tops, "text_offset", offsets);
}

static json_t *logprobs_json(const serve_model *m, serve_kind kind, const serve_job *job,
                             const serve_choice *c, size_t from, size_t text_offset)
{
    if (!job->params.logprobs)
        return json_null();
    return kind == SERVE_CHAT ? chat_logprobs(m, c->logprobs + from, c->n_logprobs - from)
                              : completion_logprobs(m, c->logprobs + from, c->n_logprobs - from,
                                                    text_offset);
}

static json_t *usage_json(const serve_job *job)
{
    json_int_t completion = 0;
    for (uint32_t i = 0; i < job->params.n_choices; i++)
        completion += job->choices[i].n_tokens;
    json_int_t prompt = (json_int_t)job->n_prompt;
    return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", prompt, "completion_tokens",
                     completion, "total_tokens", prompt + completion, "prompt_tokens_details",
                     "cached_tokens", (json_int_t)job->n_cached);
}

static json_t *envelope(const serve_model *m, serve_kind kind, bool chunk, const char *id,
                        json_t *choices)
{
    const char *object = kind == SERVE_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                            : "text_completion";
    return json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", id, "object", object, "created",
                     (json_int_t)time(NULL), "model", m->id, "choices", choices);
}

static char *dump(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

char *serve_response_json(const serve_model *m, serve_kind kind, const char *id,
                          const serve_job *job)
{
    json_t *choices = json_array();
    for (uint32_t i = 0; choices && i < job->params.n_choices; i++) {
        const serve_choice *c = &job->choices[i];
        json_t *text = serve_json_text(c->text ? c->text : "", c->n_text);
        json_t *lp = logprobs_json(m, kind, job, c, 0, 0);
        const char *finish = c->finish_reason ? c->finish_reason : "stop";
        json_t *choice =
            kind == SERVE_CHAT
                ? json_pack("{s:I, s:{s:s, s:o}, s:o, s:s}", "index", (json_int_t)i, "message",
                            "role", "assistant", "content", text, "logprobs", lp,
                            "finish_reason", finish)
                : json_pack("{s:I, s:o, s:o, s:s}", "index", (json_int_t)i, "text", text,
                            "logprobs", lp, "finish_reason", finish);
        json_array_append_new(choices, choice);
    }
    json_t *body = envelope(m, kind, false, id, choices);
    if (body)
        json_object_set_new(body, "usage", usage_json(job));
    return dump(body);
}

/* ---- streams ------------------------------------------------------------ */

static bool append(char **out, size_t *n, size_t *cap, const char *a, const char *b,
                   const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (*n + la + lb + lc + 1 > *cap) {
        size_t cap2 = (*cap ? *cap : 1024);
        while (cap2 < *n + la + lb + lc + 1)
            cap2 *= 2;
        char *p = realloc(*out, cap2);
        if (!p)
            return false;
        *out = p;
        *cap = cap2;
    }
    memcpy(*out + *n, a, la);
    memcpy(*out + *n + la, b, lb);
    memcpy(*out + *n + la + lb, c, lc);
    *n += la + lb + lc;
    (*out)[*n] = '\0';
    return true;
}

/* One event: "data: JSON\n\n". */
static bool event(char **out, size_t *n, size_t *cap, json_t *o)
{
    char *text = dump(o);
    bool ok = text && append(out, n, cap, "data: ", text, "\n\n");
    free(text);
    return ok;
}

static json_t *chunk_choice(serve_kind kind, uint32_t index, json_t *delta_or_text, json_t *lp,
                            const char *finish)
{
    json_t *reason = finish ? json_string(finish) : json_null();
    return kind == SERVE_CHAT
               ? json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "delta",
                           delta_or_text, "logprobs", lp, "finish_reason", reason)
               : json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "text",
                           delta_or_text, "logprobs", lp, "finish_reason", reason);
}

static json_t *chunk(const serve_model *m, serve_kind kind, const char *id, bool include_usage,
                     json_t *choice)
{
    json_t *o = envelope(m, kind, true, id, json_pack("[o]", choice));
    if (o && include_usage)
        json_object_set_new(o, "usage", json_null());
    return o;
}

bool serve_stream_events(const serve_model *m, serve_kind kind, const char *id,
                         bool include_usage, const serve_job *job, serve_stream_state *st,
                         char **out, size_t *n_out, size_t *cap_out)
{
    bool ok = true;
    uint32_t n_choices = job->params.n_choices;
    if (kind == SERVE_CHAT && !st->role_sent) {
        for (uint32_t i = 0; ok && i < n_choices; i++) {
            json_t *delta = json_pack("{s:s, s:s}", "role", "assistant", "content", "");
            ok = event(out, n_out, cap_out,
                       chunk(m, kind, id, include_usage,
                             chunk_choice(kind, i, delta, json_null(), NULL)));
        }
        st->role_sent = true;
    }
    for (uint32_t i = 0; ok && i < n_choices; i++) {
        const serve_choice *c = &job->choices[i];
        bool new_text = c->n_text > st->n_text[i], new_lp = c->n_logprobs > st->n_logprobs[i];
        if (new_text || new_lp) {
            json_t *text = serve_json_text(c->text + st->n_text[i], c->n_text - st->n_text[i]);
            json_t *piece = kind == SERVE_CHAT ? json_pack("{s:o}", "content", text) : text;
            json_t *lp = logprobs_json(m, kind, job, c, st->n_logprobs[i], st->n_text[i]);
            ok = event(out, n_out, cap_out,
                       chunk(m, kind, id, include_usage, chunk_choice(kind, i, piece, lp, NULL)));
            st->n_text[i] = c->n_text;
            st->n_logprobs[i] = c->n_logprobs;
        }
        if (ok && c->finish_reason && !st->finished[i]) {
            json_t *empty = kind == SERVE_CHAT ? json_object() : json_string("");
            ok = event(out, n_out, cap_out,
                       chunk(m, kind, id, include_usage,
                             chunk_choice(kind, i, empty, json_null(), c->finish_reason)));
            st->finished[i] = true;
        }
    }
    if (!ok || job->state != SERVE_JOB_DONE || st->done_sent)
        return ok;
    if (job->error[0] && !job->cancelled) {
        serve_error e = {.status = 500, .type = "server_error"};
        snprintf(e.message, sizeof e.message, "%s", job->error);
        char *text = serve_error_json(&e);
        ok = text && append(out, n_out, cap_out, "data: ", text, "\n\n");
        free(text);
    } else if (include_usage && !st->usage_sent) {
        json_t *o = envelope(m, kind, true, id, json_array());
        if (o)
            json_object_set_new(o, "usage", usage_json(job));
        ok = event(out, n_out, cap_out, o);
        st->usage_sent = true;
    }
    if (ok)
        ok = append(out, n_out, cap_out, "data: [DONE]", "\n\n", "");
    st->done_sent = ok;
    return ok;
}
