/* HTTP with libmicrohttpd, a thread per connection.
 *
 * A handler may block: a plain generation request waits for its job in the
 * connection's own thread, and a stream's content callback waits for the
 * next tokens. Both look at the socket every 100 ms while they wait, so a
 * client that goes away cancels its job (and frees its slot) within that
 * time, whether or not anything was being sent to it.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "serve_http.h"

enum { WAIT_MS = 100 };

struct serve_http {
    serve_http_options options;
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t mutex;     /* guards what follows */
    serve_state state;
    const serve_model *model;
    serve_sched *sched;
    unsigned active;
    uint64_t next_id;
    uint64_t id_salt;
};

/* What one request carries between the handler's calls. */
typedef struct request {
    char *body;
    size_t n_body, cap;
    bool too_large;
    double t_start;
} request;

static serve_state current(serve_http *h, const serve_model **model, serve_sched **sched)
{
    pthread_mutex_lock(&h->mutex);
    serve_state state = h->state;
    if (model)
        *model = h->model;
    if (sched)
        *sched = h->sched;
    pthread_mutex_unlock(&h->mutex);
    return state;
}

/* ---- responses ---------------------------------------------------------- */

/* Queues body (malloc'd, taken) as the response. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, char *body)
{
    return reply(c, MHD_HTTP_OK, "application/json; charset=utf-8", body);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, const serve_error *e)
{
    return reply(c, (unsigned)e->status, "application/json; charset=utf-8", serve_error_json(e));
}

static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *type,
                            const char *fmt, ...) TSR_PRINTF(4, 5);
static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *type,
                            const char *fmt, ...)
{
    serve_error e = {.status = status, .type = type};
    va_list args;
    va_start(args, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, args);
    va_end(args);
    return reply_error(c, &e);
}

/* ---- clients ------------------------------------------------------------ */

/* The peer closed its end (or the socket failed): nobody reads the answer. */
static bool client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return true;
    struct pollfd p = {.fd = info->connect_fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
        return true;
    char byte;
    ssize_t n = recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static bool authorized(serve_http *h, struct MHD_Connection *c)
{
    if (h->options.n_api_keys == 0)
        return true;
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Api-Key");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!key && auth && strncasecmp(auth, "Bearer ", 7) == 0)
        for (key = auth + 7; *key == ' ';)
            key++;
    if (!key)
        return false;
    bool match = false;
    size_t n = strlen(key);
    for (size_t i = 0; i < h->options.n_api_keys; i++) {
        const char *want = h->options.api_keys[i];
        size_t m = strlen(want);
        /* compare every byte, so the time taken does not tell how much matched */
        unsigned char diff = n != m;
        for (size_t k = 0; k < n && k < m; k++)
            diff |= (unsigned char)(key[k] ^ want[k]);
        match |= diff == 0;
    }
    return match;
}

/* ---- generation --------------------------------------------------------- */

static void make_id(serve_http *h, serve_kind kind, char *id, size_t n)
{
    pthread_mutex_lock(&h->mutex);
    uint64_t k = ++h->next_id;
    pthread_mutex_unlock(&h->mutex);
    snprintf(id, n, "%s-%016llx%08llx", kind == SERVE_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)h->id_salt, (unsigned long long)k);
}

typedef struct stream {
    serve_http *h;
    const serve_model *model;
    serve_sched *sched;
    serve_job *job;
    struct MHD_Connection *c;
    serve_kind kind;
    bool include_usage;
    char id[64];
    serve_stream_state state;
    char *buf;
    size_t n, cap, sent;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream *s = cls;
    while (s->sent == s->n) {
        if (s->state.done_sent)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->n = s->sent = 0;
        serve_sched_lock(s->sched);
        bool ok = serve_stream_events(s->model, s->kind, s->id, s->include_usage, s->job,
                                      &s->state, &s->buf, &s->n, &s->cap);
        if (ok && s->n == 0)
            serve_sched_wait(s->sched, s->job, WAIT_MS);
        serve_sched_unlock(s->sched);
        if (!ok)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->n == 0 && client_gone(s->c)) {
            serve_sched_cancel(s->sched, s->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = s->n - s->sent < max ? s->n - s->sent : max;
    memcpy(out, s->buf + s->sent, n);
    s->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    if (!s->state.done_sent)
        serve_sched_cancel(s->sched, s->job); /* the client went away mid-stream */
    serve_job_release(s->sched, s->job);
    free(s->buf);
    free(s);
}

static enum MHD_Result start_stream(serve_http *h, struct MHD_Connection *c,
                                    const serve_model *m, serve_sched *sched, serve_job *job,
                                    const serve_request *r)
{
    stream *s = calloc(1, sizeof *s);
    if (!s) {
        serve_sched_cancel(sched, job);
        serve_job_release(sched, job);
        return MHD_NO;
    }
    *s = (stream){.h = h, .model = m, .sched = sched, .job = job, .c = c, .kind = r->kind,
                  .include_usage = r->include_usage};
    make_id(h, r->kind, s->id, sizeof s->id);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
    if (!resp) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Waits in the connection's thread for the whole reply. */
static enum MHD_Result finish_plain(serve_http *h, struct MHD_Connection *c,
                                    const serve_model *m, serve_sched *sched, serve_job *job,
                                    serve_kind kind)
{
    serve_sched_lock(sched);
    while (job->state != SERVE_JOB_DONE) {
        serve_sched_wait(sched, job, WAIT_MS);
        if (job->state == SERVE_JOB_DONE)
            break;
        serve_sched_unlock(sched);
        bool gone = client_gone(c);
        if (gone)
            serve_sched_cancel(sched, job);
        serve_sched_lock(sched);
        if (gone) {
            serve_sched_unlock(sched);
            serve_job_release(sched, job);
            return MHD_NO; /* nobody to answer */
        }
    }
    char id[64];
    make_id(h, kind, id, sizeof id);
    serve_error e = {0};
    char *body = NULL;
    if (job->error[0])
        serve_error_set(&e, 500, "server_error", "%s", job->error);
    else
        body = serve_response_json(m, kind, id, job);
    serve_sched_unlock(sched);
    serve_job_release(sched, job);
    if (e.status)
        return reply_error(c, &e);
    return body ? reply_json(c, body) : MHD_NO;
}

static enum MHD_Result generate(serve_http *h, struct MHD_Connection *c, serve_kind kind,
                                const json_t *body)
{
    const serve_model *m;
    serve_sched *sched;
    serve_state state = current(h, &m, &sched);
    if (state != SERVE_READY)
        return fail(c, 503, "unavailable_error", state == SERVE_LOADING
                                                     ? "the model is loading"
                                                     : "the server is shutting down");
    serve_request r;
    serve_error e = {0};
    if (!serve_request_read(m, kind, body, &r, &e))
        return reply_error(c, &e);
    serve_job *job = serve_job_new(r.prompt, r.n_prompt, &r.params);
    if (!job) {
        serve_request_free(&r);
        return fail(c, 500, "server_error", "out of memory");
    }
    switch (serve_sched_submit(sched, job)) {
    case SERVE_SUBMITTED:
        break;
    case SERVE_QUEUE_FULL:
        serve_job_release(sched, job);
        serve_request_free(&r);
        return fail(c, 503, "unavailable_error",
                    "the server is busy: every slot is taken and the queue is full; retry later");
    case SERVE_DRAINING:
        serve_job_release(sched, job);
        serve_request_free(&r);
        return fail(c, 503, "unavailable_error", "the server is shutting down");
    }
    enum MHD_Result result = r.stream ? start_stream(h, c, m, sched, job, &r)
                                      : finish_plain(h, c, m, sched, job, kind);
    serve_request_free(&r);
    return result;
}

/* ---- the other endpoints ------------------------------------------------ */

/* Appends line, k bytes (k < 0: nothing), to the growing text *out. */
static void append(char **out, size_t *n, size_t *cap, const char *line, int k)
{
    if (k < 0)
        return;
    if (*n + (size_t)k + 1 > *cap) {
        size_t cap2 = *cap ? 2 * *cap : 4096;
        char *p = realloc(*out, cap2);
        if (!p)
            return;
        *out = p;
        *cap = cap2;
    }
    memcpy(*out + *n, line, (size_t)k + 1);
    *n += (size_t)k;
}

static void metric(char **out, size_t *n, size_t *cap, const char *name, const char *type,
                   const char *help, double value)
{
    char line[512];
    int k = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name,
                     type, name, value);
    append(out, n, cap, line, k < (int)sizeof line ? k : -1);
}

/* Under mpirun: one figure of every pipeline stage, labelled with its rank,
 * host and layers (what field picks from serve_stage_metrics). */
static void stage_metric(char **out, size_t *n, size_t *cap, const serve_metrics *m,
                         const char *name, const char *type, const char *help,
                         double (*field)(const serve_stage_metrics *))
{
    char line[640];
    int k = snprintf(line, sizeof line, "# HELP tessera_%s %s\n# TYPE tessera_%s %s\n", name,
                     help, name, type);
    append(out, n, cap, line, k < (int)sizeof line ? k : -1);
    for (uint32_t r = 0; r < m->n_stages; r++) {
        const serve_stage_metrics *st = &m->stages[r];
        k = snprintf(line, sizeof line, "tessera_%s{rank=\"%u\",host=\"%s\",layers=\"%u-%u\"} "
                     "%.17g\n", name, st->rank, st->host, st->first_layer, st->last_layer,
                     field(st));
        append(out, n, cap, line, k < (int)sizeof line ? k : -1);
    }
}

static double stage_compute(const serve_stage_metrics *s) { return s->compute_s; }
static double stage_wait(const serve_stage_metrics *s) { return s->wait_s; }
static double stage_idle(const serve_stage_metrics *s) { return s->idle_share; }
static double stage_rows(const serve_stage_metrics *s) { return (double)s->rows; }
static double stage_bytes(const serve_stage_metrics *s) { return (double)s->bytes_sent; }
static double stage_hop_latency(const serve_stage_metrics *s) { return s->hop_latency_s; }
static double stage_hop_bandwidth(const serve_stage_metrics *s) { return s->hop_bytes_per_s; }

static void stage_metrics(char **out, size_t *n, size_t *cap, const serve_metrics *m)
{
    if (m->n_stages == 0)
        return;
    static const struct {
        const char *name, *type, *help;
        double (*field)(const serve_stage_metrics *);
    } figures[] = {
        {"stage_compute_seconds_total", "counter", "Time each pipeline stage spent running its "
         "layers (across hosts, under mpirun).", stage_compute},
        {"stage_wait_seconds_total", "counter", "Time each stage was blocked on the stage "
         "before, a send, or (rank 0) the logits.", stage_wait},
        {"stage_idle_ratio", "gauge", "Each stage's idle share: 1 - compute / its span from "
         "first chunk to last.", stage_idle},
        {"stage_rows_total", "counter", "Token rows each stage ran.", stage_rows},
        {"stage_sent_bytes_total", "counter", "Bytes each stage sent on (activations; the "
         "last stage: logits to rank 0).", stage_bytes},
        {"stage_hop_latency_seconds", "gauge", "One row of activations' one-way time to the "
         "next stage, timed at the handshake (0: the last stage).", stage_hop_latency},
        {"stage_hop_bytes_per_second", "gauge", "The bandwidth of the hop to the next stage, "
         "timed at the handshake (0: the last stage).", stage_hop_bandwidth},
    };
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        stage_metric(out, n, cap, m, figures[i].name, figures[i].type, figures[i].help,
                     figures[i].field);
}

static enum MHD_Result metrics(struct MHD_Connection *c, serve_sched *sched)
{
    serve_metrics m;
    serve_sched_metrics(sched, &m);
    char *out = NULL;
    size_t n = 0, cap = 0;
#define COUNTER(name, help, v) metric(&out, &n, &cap, "tessera_" name, "counter", help, (double)(v))
#define GAUGE(name, help, v) metric(&out, &n, &cap, "tessera_" name, "gauge", help, (double)(v))
    COUNTER("prompt_tokens_total", "Prompt tokens of admitted requests.", m.prompt_tokens);
    COUNTER("prompt_tokens_cached_total", "Prompt tokens found in a slot's KV cache, not read "
            "again.", m.prompt_tokens_cached);
    COUNTER("generated_tokens_total", "Tokens generated.", m.generated_tokens);
    GAUGE("requests_running", "Requests decoding now.", m.running);
    GAUGE("requests_waiting", "Requests queued for a slot.", m.waiting);
    COUNTER("requests_finished_total", "Requests that ran to the end.", m.requests_finished);
    COUNTER("requests_cancelled_total", "Requests whose client went away.", m.requests_cancelled);
    COUNTER("requests_failed_total", "Requests that failed in decoding.", m.requests_failed);
    COUNTER("requests_rejected_total", "Requests answered 503 (queue full or shutting down).",
            m.requests_rejected);
    GAUGE("slots", "Sequences decoded together (server.parallel).", m.slots);
    GAUGE("slots_busy", "Slots held by a request.", m.slots_busy);
    GAUGE("kv_cache_tokens", "Tokens held in the KV caches (including kept prefixes).",
          m.kv_tokens);
    GAUGE("kv_cache_usage_ratio", "KV cache positions in use, of all provisioned.",
          m.kv_capacity ? (double)m.kv_tokens / (double)m.kv_capacity : 0.0);
    COUNTER("decode_steps_total", "Batched forward passes.", m.decode_steps);
    COUNTER("decode_rows_total", "Batch rows decoded (prompt and generated tokens).",
            m.decode_rows);
    COUNTER("decode_seconds_total", "Time spent in forward passes.", m.decode_seconds);
    COUNTER("spec_verifications_total", "Forward passes that verified a slot's drafts "
            "(speculative decoding).", m.spec_verifications);
    COUNTER("spec_drafted_tokens_total", "Draft tokens verified.", m.spec_drafted);
    COUNTER("spec_accepted_tokens_total", "Draft tokens the model agreed with: each one a "
            "token gained.", m.spec_accepted);
#undef COUNTER
#undef GAUGE
    stage_metrics(&out, &n, &cap, &m);
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out);
}

/* ---- routing ------------------------------------------------------------ */

typedef enum route_kind {
    ROUTE_HEALTH,
    ROUTE_MODELS,
    ROUTE_METRICS,
    ROUTE_COMPLETIONS,
    ROUTE_CHAT,
    ROUTE_TOKENIZE,
    ROUTE_DETOKENIZE,
} route_kind;

static const struct route {
    const char *method, *path;
    route_kind kind;
    bool public; /* answered without an API key */
} routes[] = {
    {"GET", "/health", ROUTE_HEALTH, true},
    {"GET", "/v1/health", ROUTE_HEALTH, true},
    {"GET", "/v1/models", ROUTE_MODELS, true},
    {"GET", "/models", ROUTE_MODELS, true},
    {"GET", "/metrics", ROUTE_METRICS, false},
    {"POST", "/v1/completions", ROUTE_COMPLETIONS, false},
    {"POST", "/completions", ROUTE_COMPLETIONS, false},
    {"POST", "/v1/chat/completions", ROUTE_CHAT, false},
    {"POST", "/chat/completions", ROUTE_CHAT, false},
    {"POST", "/tokenize", ROUTE_TOKENIZE, false},
    {"POST", "/detokenize", ROUTE_DETOKENIZE, false},
};
enum { N_ROUTES = sizeof routes / sizeof routes[0] };

/* A browser's preflight before a cross-origin request: any origin may call,
 * with the key in a header (the key still decides). */
static enum MHD_Result preflight(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_HEADERS,
                            "Authorization, Content-Type, X-Api-Key");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_MAX_AGE, "86400");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ok;
}

/* The route, or NULL with *status 404 (no such path) or 405 (not that method). */
static const struct route *find_route(const char *method, const char *url, unsigned *status)
{
    *status = MHD_HTTP_NOT_FOUND;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (strcmp(routes[i].path, url) != 0)
            continue;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
        *status = MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    return NULL;
}

static enum MHD_Result answer(serve_http *h, struct MHD_Connection *c, const struct route *rt,
                              request *rq)
{
    const serve_model *m;
    serve_sched *sched;
    serve_state state = current(h, &m, &sched);
    /* A load balancer sends nothing here while it loads or drains. */
    if (rt->kind == ROUTE_HEALTH)
        return state == SERVE_READY ? reply_json(c, strdup("{\"status\":\"ok\"}"))
                                    : fail(c, 503, "unavailable_error", "%s",
                                           state == SERVE_LOADING ? "the model is loading"
                                                                  : "the server is shutting down");
    if (state == SERVE_LOADING)
        return fail(c, 503, "unavailable_error", "the model is loading");
    if (rt->kind == ROUTE_MODELS)
        return reply_json(c, serve_models_json(m));
    if (rt->kind == ROUTE_METRICS)
        return metrics(c, sched);

    json_error_t jerr;
    json_t *body = json_loadb(rq->body ? rq->body : "", rq->n_body, 0, &jerr);
    if (!body)
        return fail(c, 400, "invalid_request_error", "the body is not valid JSON: %s (line %d, "
                    "column %d)", jerr.text, jerr.line, jerr.column);
    enum MHD_Result result;
    serve_error e = {0};
    char *out = NULL;
    switch (rt->kind) {
    case ROUTE_COMPLETIONS: result = generate(h, c, SERVE_COMPLETION, body); break;
    case ROUTE_CHAT: result = generate(h, c, SERVE_CHAT, body); break;
    case ROUTE_TOKENIZE:
    case ROUTE_DETOKENIZE:
        out = rt->kind == ROUTE_TOKENIZE ? serve_tokenize(m, body, &e)
                                         : serve_detokenize(m, body, &e);
        result = out ? reply_json(c, out)
                     : e.status ? reply_error(c, &e)
                                : fail(c, 500, "server_error", "out of memory");
        break;
    default: result = fail(c, 500, "server_error", "no handler"); break;
    }
    json_decref(body);
    return result;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_bytes, void **con_cls)
{
    serve_http *h = cls;
    request *rq = *con_cls;
    if (!rq) {
        /* First call: the headers are in, no body yet. */
        if (!(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        rq->t_start = serve_now();
        *con_cls = rq;
        pthread_mutex_lock(&h->mutex);
        h->active++;
        pthread_mutex_unlock(&h->mutex);
        const char *length =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > h->options.max_body_bytes) {
            rq->too_large = true;
            return fail(c, 413, "invalid_request_error", "the body is larger than the %llu "
                        "bytes the server accepts (server.max_body)",
                        (unsigned long long)h->options.max_body_bytes);
        }
        return MHD_YES;
    }
    if (*upload_bytes) {
        size_t n = *upload_bytes;
        *upload_bytes = 0;
        if (rq->too_large)
            return MHD_YES;
        if (rq->n_body + n > h->options.max_body_bytes) {
            rq->too_large = true;
            free(rq->body);
            rq->body = NULL;
            return MHD_YES;
        }
        if (rq->n_body + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->n_body + n + 1)
                cap *= 2;
            char *p = realloc(rq->body, cap);
            if (!p)
                return MHD_NO;
            rq->body = p;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->n_body, upload, n);
        rq->n_body += n;
        return MHD_YES;
    }
    if (rq->too_large)
        return fail(c, 413, "invalid_request_error", "the body is larger than the %llu bytes "
                    "the server accepts (server.max_body)",
                    (unsigned long long)h->options.max_body_bytes);
    unsigned status;
    if (strcmp(method, "OPTIONS") == 0 && (find_route("GET", url, &status) ||
                                           find_route("POST", url, &status)))
        return preflight(c);
    const struct route *rt = find_route(method, url, &status);
    if (!rt)
        return status == MHD_HTTP_NOT_FOUND
                   ? fail(c, 404, "not_found_error", "no endpoint %.200s", url)
                   : fail(c, 405, "invalid_request_error", "%s is not allowed on %.200s", method,
                          url);
    if (!rt->public && !authorized(h, c))
        return fail(c, 401, "authentication_error",
                    "a valid API key is needed: Authorization: Bearer KEY, or X-Api-Key: KEY");
    return answer(h, c, rt, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode code)
{
    serve_http *h = cls;
    request *rq = *con_cls;
    if (!rq)
        return;
    if (h->options.verbose) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
        fprintf(stderr, "tessera: serve: HTTP %u, %zu-byte body, %.3f s%s\n",
                info ? info->http_status : 0, rq->n_body, serve_now() - rq->t_start,
                code == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ", cut short");
    }
    free(rq->body);
    free(rq);
    *con_cls = NULL;
    pthread_mutex_lock(&h->mutex);
    h->active--;
    pthread_mutex_unlock(&h->mutex);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    serve_http *h = cls;
    if (!h->options.verbose)
        return;
    fputs("tessera: serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- lifetime ----------------------------------------------------------- */

tsr_status serve_http_start(const serve_http_options *options, serve_http **out,
                            tsr_error *err)
{
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *addr = NULL;
    int gai = getaddrinfo(options->host, NULL, &hints, &addr);
    if (gai != 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "cannot listen on '%s': %s", options->host,
                             gai_strerror(gai));
    struct sockaddr_storage sa = {0};
    memcpy(&sa, addr->ai_addr, addr->ai_addrlen);
    bool ipv6 = addr->ai_family == AF_INET6;
    freeaddrinfo(addr);
    if (ipv6)
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(options->port);
    else
        ((struct sockaddr_in *)&sa)->sin_port = htons(options->port);

    serve_http *h = calloc(1, sizeof *h);
    if (!h)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    h->options = *options;
    pthread_mutex_init(&h->mutex, NULL);
    h->state = SERVE_LOADING;
    h->id_salt = (uint64_t)time(NULL) * 2654435761u;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_CONNECTION_LIMIT, options->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        options->timeout_s, MHD_OPTION_END);
    if (!h->daemon) {
        int saved = errno;
        free(h);
        return tsr_error_set(err, TSR_ERR_IO, "cannot listen on %s port %u: %s", options->host,
                             options->port, saved ? strerror(saved) : "libmicrohttpd failed");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : options->port;
    *out = h;
    return TSR_OK;
}

uint16_t serve_http_port(const serve_http *h)
{
    return h->port;
}

void serve_http_ready(serve_http *h, const serve_model *model, serve_sched *sched)
{
    pthread_mutex_lock(&h->mutex);
    h->model = model;
    h->sched = sched;
    h->state = SERVE_READY;
    pthread_mutex_unlock(&h->mutex);
}

void serve_http_drain(serve_http *h)
{
    pthread_mutex_lock(&h->mutex);
    if (h->state == SERVE_READY)
        h->state = SERVE_STOPPING;
    pthread_mutex_unlock(&h->mutex);
}

unsigned serve_http_active(serve_http *h)
{
    pthread_mutex_lock(&h->mutex);
    unsigned n = h->active;
    pthread_mutex_unlock(&h->mutex);
    return n;
}

void serve_http_stop(serve_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->mutex);
    free(h);
}
