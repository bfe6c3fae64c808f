/* tessera serve: an OpenAI-compatible HTTP server over one deployment.
 *
 * The order matters to a client: the port is bound first (a busy port fails
 * at once), /health answers 503 while the weights load, then the scheduler
 * starts and every endpoint answers. SIGTERM or SIGINT drains: requests
 * running or queued finish, new ones get 503, then the process exits 0; a
 * second signal stops the running ones too. Only the public API
 * (tessera/tessera.h) is used, as any other application would.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"
#include "serve_http.h"

enum { MAX_API_KEYS = 16, DEFAULT_PREFILL_CHUNK = 128, DEFAULT_TIMEOUT_S = 600 };

typedef struct serve_args {
    const char *profile, *model, *host, *model_name, *cache_type;
    long port, parallel, queue, ctx_size, threads, prefill_chunk, timeout_s;
    uint64_t max_body_bytes;
    const char *api_keys[MAX_API_KEYS];
    size_t n_api_keys;
    bool verbose;
} serve_args;

static void help(FILE *out)
{
    fputs("Usage: tessera serve [PROFILE] [OPTIONS]\n"
          "\n"
          "Serves the deployment PROFILE describes (or the model -m names, with every\n"
          "default) over HTTP, OpenAI-compatible:\n"
          "  GET  /health                 200 when ready; 503 while the model loads or the\n"
          "                               server drains\n"
          "  GET  /v1/models              the model's id\n"
          "  POST /v1/completions         text from a prompt (string or token ids)\n"
          "  POST /v1/chat/completions    a reply to messages, through the model's chat template\n"
          "  POST /tokenize, /detokenize  {\"content\"} <-> {\"tokens\"}\n"
          "  GET  /metrics                Prometheus counters: tokens, requests, slots, KV cache,\n"
          "                               speculative drafts and those kept\n"
          "Generation streams as server-sent events with \"stream\": true. Every running\n"
          "request's next token is decoded in one batch per step (continuous batching),\n"
          "so replies do not wait for each other, and a greedy reply is the same under any load.\n"
          "With a speculative: section each request's drafts are verified in that batch too\n"
          "(the text is unchanged; only the speed).\n"
          "Request fields: max_tokens, temperature, top_p, top_k, min_p, typical_p, seed,\n"
          "stop, n, logprobs, top_logprobs, logit_bias, frequency_penalty, presence_penalty,\n"
          "repeat_penalty, repeat_last_n, mirostat(_tau, _eta), dry_*, xtc_*, top_n_sigma,\n"
          "dynatemp_*, ignore_eos, stream_options.include_usage; the profile's sampler chain is\n"
          "the default and temperature 0 is greedy. Chat message text is never read as\n"
          "control tokens.\n"
          "\n"
          "The profile's server: section gives the defaults; options override it:\n"
          "  -m, --model PATH        the model file (replaces model.path)\n"
          "      --host HOST         address to listen on (server.host, 127.0.0.1)\n"
          "      --port N            port (server.port, 8080); 0: any free port, printed\n"
          "      --parallel N        sequences decoded together (server.parallel, 4); the\n"
          "                          planner provisions a KV cache for each\n"
          "      --queue N           requests waiting for a slot beyond which new ones get 503\n"
          "                          (server.queue, 64)\n"
          "      --api-key KEY       require Authorization: Bearer KEY or X-Api-Key: KEY on every\n"
          "                          endpoint but /health and /v1/models (server.api_key;\n"
          "                          repeat for several keys)\n"
          "      --model-name NAME   the id /v1/models reports and requests may name\n"
          "                          (server.model_name; default the model's general.name)\n"
          "      --max-body SIZE     larger request bodies get 413 (default 8MiB)\n"
          "  -c, --ctx-size N        positions per sequence (model.max_seq_len)\n"
          "  -t, --threads N         CPU threads (threads; 0 = one per physical core)\n"
          "      --cache-type TYPE   KV cache element type (model.cache_type)\n"
          "      --prefill-chunk N   most prompt tokens read per step while other requests\n"
          "                          generate (default 128): smaller keeps streams smoother\n"
          "      --timeout S         close a connection idle for S seconds (default 600; 0 never)\n"
          "  -v, --verbose           a line per request, and libmicrohttpd's messages, on stderr\n"
          "  -h, --help              this help\n"
          "\n"
          "Errors are JSON in llama-server's shape {\"error\": {\"code\", \"message\", \"type\"}}:\n"
          "400 bad JSON, types, values, an unknown model, a prompt longer than the context\n"
          "(type exceed_context_size_error); 401 a missing or wrong key; 404 no such endpoint;\n"
          "413 a body over --max-body; 503 loading, queue full or shutting down.\n"
          "\n"
          "Exit status: 0 after SIGTERM/SIGINT (running requests finish first), 1 failure\n"
          "(the port cannot be bound), 2 unusable arguments, profile or model, 3 deployment\n"
          "refused by the planner (e.g. --parallel too large: the hint names what fits).\n"
          "\n"
          "Example:\n"
          "  tessera serve " TSR_DOC_DIR "/examples/smollm2-cpu.yaml --port 8080\n"
          "  curl -N localhost:8080/v1/chat/completions -H 'Content-Type: application/json' \\\n"
          "       -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true}'\n\n",
          out);
    cli_print_environment(out);
}

/* A size with an optional unit: B, KiB, MiB, GiB (1024s) or KB, MB, GB (1000s). */
static bool parse_size(const char *text, uint64_t *out)
{
    static const struct { const char *unit; uint64_t bytes; } units[] = {
        {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
        {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
    };
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0)
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0 && v * (double)units[i].bytes < 1e18) {
            *out = (uint64_t)(v * (double)units[i].bytes);
            return true;
        }
    return false;
}

static bool parse_long(const char *name, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        cli_error("%s must be a whole number from %ld to %ld, not '%s'", name, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

/* The options, one table: name, short name, and what it sets. */
typedef enum { OPT_STRING, OPT_LONG, OPT_SIZE, OPT_KEY, OPT_FLAG } opt_type;
typedef struct option {
    const char *name, *short_name;
    opt_type type;
    size_t offset;
    long lo, hi;
} option;

#define AT(member) offsetof(serve_args, member)
static const option options[] = {
    {"--model", "-m", OPT_STRING, AT(model), 0, 0},
    {"--host", NULL, OPT_STRING, AT(host), 0, 0},
    {"--port", NULL, OPT_LONG, AT(port), 0, 65535},
    {"--parallel", NULL, OPT_LONG, AT(parallel), 1, 4096},
    {"--queue", NULL, OPT_LONG, AT(queue), 0, 1000000},
    {"--api-key", NULL, OPT_KEY, 0, 0, 0},
    {"--model-name", NULL, OPT_STRING, AT(model_name), 0, 0},
    {"--max-body", NULL, OPT_SIZE, AT(max_body_bytes), 0, 0},
    {"--ctx-size", "-c", OPT_LONG, AT(ctx_size), 1, INT32_MAX},
    {"--threads", "-t", OPT_LONG, AT(threads), 0, 4096},
    {"--cache-type", NULL, OPT_STRING, AT(cache_type), 0, 0},
    {"--prefill-chunk", NULL, OPT_LONG, AT(prefill_chunk), 1, 1000000},
    {"--timeout", NULL, OPT_LONG, AT(timeout_s), 0, 86400},
    {"--verbose", "-v", OPT_FLAG, AT(verbose), 0, 0},
};
#undef AT

static bool set_option(serve_args *a, const option *o, const char *value)
{
    void *at = (char *)a + o->offset;
    switch (o->type) {
    case OPT_STRING: *(const char **)at = value; return true;
    case OPT_LONG: return parse_long(o->name, value, o->lo, o->hi, at);
    case OPT_FLAG: *(bool *)at = true; return true;
    case OPT_SIZE:
        if (parse_size(value, at) && *(uint64_t *)at > 0)
            return true;
        cli_error("%s must be a size such as 8MiB, not '%s'", o->name, value);
        return false;
    case OPT_KEY:
        if (a->n_api_keys == MAX_API_KEYS || !*value) {
            cli_error("--api-key: %s", *value ? "at most 16 keys" : "an empty key");
            return false;
        }
        a->api_keys[a->n_api_keys++] = value;
        return true;
    }
    return false;
}

/* 0: parsed, else the exit status (help printed: CLI_EXIT_OK). */
static int parse_args(int argc, char **argv, serve_args *a)
{
    *a = (serve_args){.port = -1, .parallel = -1, .queue = -1, .threads = -1,
                      .prefill_chunk = DEFAULT_PREFILL_CHUNK, .timeout_s = DEFAULT_TIMEOUT_S,
                      .max_body_bytes = 0};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (cli_is_help(arg)) {
            help(stdout);
            return -1;
        }
        const option *o = NULL;
        for (size_t k = 0; k < sizeof options / sizeof options[0] && !o; k++)
            if (strcmp(arg, options[k].name) == 0 ||
                (options[k].short_name && strcmp(arg, options[k].short_name) == 0))
                o = &options[k];
        if (!o && arg[0] == '-') {
            cli_error("unknown argument '%s' (see tessera serve --help)", arg);
            return CLI_EXIT_USAGE;
        }
        if (!o) {
            if (a->profile) {
                cli_error("one profile only: '%s' and '%s'", a->profile, arg);
                return CLI_EXIT_USAGE;
            }
            a->profile = arg;
            continue;
        }
        const char *value = NULL;
        if (o->type != OPT_FLAG) {
            if (i + 1 >= argc) {
                cli_error("%s needs a value", arg);
                return CLI_EXIT_USAGE;
            }
            value = argv[++i];
        }
        if (!set_option(a, o, value))
            return CLI_EXIT_USAGE;
    }
    if (!a->profile && !a->model) {
        cli_error("no model: give a PROFILE or -m MODEL (see tessera serve --help)");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* ctx: NULL, or an int counting the errors printed. */
static void print_diagnostic(const tsr_diagnostic_info *d, void *ctx)
{
    if (ctx && d->severity == TSR_SEVERITY_ERROR)
        ++*(int *)ctx;
    static const char *const severity[] = {"", "warning: ", "note: "};
    const char *s = d->severity <= TSR_SEVERITY_NOTE ? severity[d->severity] : "";
    if (d->file && d->line)
        fprintf(stderr, "%s:%u:%u: %s%s\n", d->file, d->line, d->column, s, d->message);
    else if (d->file)
        fprintf(stderr, "%s: %s%s\n", d->file, s, d->message);
    else
        fprintf(stderr, "tessera: %s%s\n", s, d->message);
    if (d->hint)
        fprintf(stderr, "  hint: %s\n", d->hint);
}

/* ---- signals ------------------------------------------------------------ */

/* SIGINT and SIGTERM are blocked in every thread and taken by this one. */
typedef struct signals {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    int count;      /* signals received */
    bool quit;      /* the thread ends */
} signals;

static void *wait_signals(void *arg)
{
    signals *s = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec tick = {0, 100 * 1000000L};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        pthread_mutex_lock(&s->mutex);
        if (sig > 0) {
            s->count++;
            pthread_cond_broadcast(&s->changed);
        }
        bool quit = s->quit;
        pthread_mutex_unlock(&s->mutex);
        if (quit)
            return NULL;
    }
}

/* Threads that did not block the signals (those MPI_Init started, under
 * mpirun) may still be handed one sent to the process: they pass it on to
 * the signal thread, where it is blocked and so waits for sigtimedwait. */
static pthread_t signal_thread;
static volatile sig_atomic_t signal_thread_lives;

static void pass_signal_on(int signo)
{
    if (signal_thread_lives)
        pthread_kill(signal_thread, signo);
}

static int signal_count(signals *s)
{
    pthread_mutex_lock(&s->mutex);
    int n = s->count;
    pthread_mutex_unlock(&s->mutex);
    return n;
}

static bool keep_loading(double fraction, void *ctx)
{
    return signal_count(ctx) == 0;
}

/* ---- the server --------------------------------------------------------- */

/* What the command merged: the profile's server section, then the options. */
typedef struct server_setup {
    tsr_server_settings settings;
    const char *host;
    uint16_t port;
    uint32_t parallel, queue;
    const char *api_keys[2 * MAX_API_KEYS];
    size_t n_api_keys;
    uint64_t max_body_bytes;
} server_setup;

static int merge_settings(const serve_args *a, server_setup *s)
{
    tsr_error err = {0};
    s->settings = (tsr_server_settings){.struct_size = sizeof s->settings};
    if (a->profile && tsr_profile_server_settings(a->profile, print_diagnostic, NULL,
                                                  &s->settings, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    const tsr_server_settings *p = &s->settings;
    s->host = a->host ? a->host : p->host ? p->host : "127.0.0.1";
    s->port = (uint16_t)(a->port >= 0 ? a->port : p->port ? (long)p->port : 8080);
    s->parallel = (uint32_t)(a->parallel > 0 ? a->parallel : p->parallel ? (long)p->parallel : 4);
    s->queue = (uint32_t)(a->queue >= 0 ? a->queue : p->has_server ? (long)p->queue : 64);
    if (p->n_api_keys > MAX_API_KEYS) {
        cli_error("%s: server.api_key: at most %d keys", a->profile, MAX_API_KEYS);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < p->n_api_keys; i++)
        s->api_keys[s->n_api_keys++] = p->api_keys[i];
    s->max_body_bytes = a->max_body_bytes ? a->max_body_bytes
                        : p->max_body_bytes ? p->max_body_bytes : 8ull << 20;
    for (size_t i = 0; i < a->n_api_keys; i++)
        s->api_keys[s->n_api_keys++] = a->api_keys[i];
    return 0;
}

static int open_deployment(const serve_args *a, const server_setup *s, signals *sig,
                           tsr_deployment **d)
{
    tsr_deployment_params params;
    tsr_deployment_params_init(&params);
    params.model_path = a->model;
    params.n_seq_max = s->parallel;
    params.max_seq_len = a->ctx_size > 0 ? (uint32_t)a->ctx_size : 0;
    params.n_threads = a->threads >= 0 ? (int32_t)a->threads : -1;
    params.cache_type = a->cache_type;
    params.progress = keep_loading;
    params.progress_ctx = sig;
    int n_errors = 0;
    params.diagnostic = print_diagnostic;
    params.diagnostic_ctx = &n_errors;
    tsr_error err = {0};
    tsr_status st = a->profile ? tsr_deployment_open_profile(a->profile, &params, d, &err)
                               : tsr_deployment_open_model(a->model, &params, d, &err);
    if (st == TSR_OK)
        return 0;
    if (st == TSR_ERR_ABORTED) {
        fprintf(stderr, "tessera: serve: stopped while loading\n");
        return CLI_EXIT_OK;
    }
    if (n_errors == 0) /* else the diagnostics said why */
        cli_error("%s", err.message);
    return st == TSR_ERR_REFUSED ? CLI_EXIT_REFUSED
           : st == TSR_ERR_NOMEM ? CLI_EXIT_FAILURE
                                 : CLI_EXIT_USAGE;
}

/* The id clients name: server.model_name, the model's general.name, or
 * the file's name. */
static char *model_id(const tsr_deployment *d, const char *configured, const char *file_name)
{
    if (configured)
        return strdup(configured);
    char name[256];
    int64_t n = tsr_deployment_meta(d, "general.name", name, sizeof name);
    if (n > 0 && (size_t)n < sizeof name)
        return strdup(name);
    return strdup(file_name);
}

/* Waits for a signal, then drains: running and queued requests finish,
 * answers already being sent are sent. A second signal cuts it short. */
static void serve_until_signalled(signals *sig, serve_http *http, serve_sched *sched)
{
    pthread_mutex_lock(&sig->mutex);
    while (sig->count == 0)
        pthread_cond_wait(&sig->changed, &sig->mutex);
    pthread_mutex_unlock(&sig->mutex);
    fprintf(stderr, "tessera: serve: draining: running requests finish, new ones get 503\n");
    serve_http_drain(http);
    serve_sched_drain(sched);
    while (signal_count(sig) < 2 && serve_sched_busy(sched))
        usleep(20 * 1000);
    /* Let the handlers send what they hold (a stream's last events). */
    for (int i = 0; i < 250 && signal_count(sig) < 2 && serve_http_active(http) > 0; i++)
        usleep(20 * 1000);
}

/* Under mpirun, a rank other than 0 serves no HTTP: it opens the same
 * deployment (the handshake compares the settings) and runs its pipeline
 * stage until rank 0 closes its own. mpirun hands it signals too: it
 * counts them and goes on, for rank 0 decides when the job ends. */
static int serve_stage(const serve_args *a, const server_setup *s, signals *sig)
{
    tsr_deployment *d = NULL;
    int rc = open_deployment(a, s, sig, &d);
    if (d) {
        tsr_error err = {0};
        if (tsr_dist_serve(d, &err) != TSR_OK)
            rc = cli_fail(&err, cli_exit_for(err.code));
        tsr_deployment_close(d);
    }
    return rc;
}

static int serve(const serve_args *a, server_setup *s, signals *sig)
{
    if (tsr_dist_rank() != 0)
        return serve_stage(a, s, sig);
    serve_http_options ho = {
        .host = s->host,
        .port = s->port,
        .api_keys = s->api_keys,
        .n_api_keys = s->n_api_keys,
        .max_body_bytes = s->max_body_bytes,
        .max_connections = s->parallel + s->queue + 64,
        .timeout_s = (unsigned)a->timeout_s,
        .verbose = a->verbose,
    };
    tsr_error err = {0};
    serve_http *http = NULL;
    if (serve_http_start(&ho, &http, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    uint16_t port = serve_http_port(http);
    fprintf(stderr, "tessera: serve: listening on http://%s:%u/ (loading the model)\n", s->host,
            port);
    tsr_deployment *d = NULL;
    int rc = open_deployment(a, s, sig, &d);
    serve_sched *sched = NULL;
    char *id = NULL;
    const char *path = d ? tsr_deployment_model_path(d) : NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    serve_model model = {0};
    if (d) {
        serve_sched_options so = {.queue = s->queue, .prefill_chunk = (uint32_t)a->prefill_chunk};
        id = model_id(d, s->settings.model_name, slash ? slash + 1 : path);
        model = (serve_model){.d = d, .id = id, .file_name = slash ? slash + 1 : path,
                              .max_seq_len = tsr_deployment_max_seq_len(d),
                              .n_vocab = tsr_deployment_n_vocab(d),
                              .n_slots = tsr_deployment_n_seq_max(d),
                              .created = (uint64_t)time(NULL)};
        if (!id)
            rc = cli_fail(&(tsr_error){.code = TSR_ERR_NOMEM, .message = "out of memory"},
                          CLI_EXIT_FAILURE);
        else if (serve_sched_start(d, &so, &sched, &err) != TSR_OK)
            rc = cli_fail(&err, CLI_EXIT_FAILURE);
    }
    if (sched) {
        serve_http_ready(http, &model, sched);
        fprintf(stderr, "tessera: serve: ready: '%s' on http://%s:%u/, %u slots of %u tokens, "
                "%u threads\n", id, s->host, port, model.n_slots, model.max_seq_len,
                tsr_deployment_n_threads(d));
        serve_until_signalled(sig, http, sched);
    }
    /* Jobs end first, so that no answer waits on them while HTTP stops. */
    serve_sched_halt(sched);
    /* The handlers of the jobs just ended send their answers (a 500, a
     * stream's error event) before the connections close: 2 s at most. */
    for (int i = 0; i < 100 && sched && serve_http_active(http) > 0; i++)
        usleep(20 * 1000);
    serve_http_stop(http);
    serve_sched_stop(sched);
    free(id);
    tsr_deployment_close(d);
    return rc;
}

static int run(int argc, char **argv)
{
    serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    tsr_config *config;
    tsr_error err = {0};
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    server_setup setup = {0};
    if ((rc = merge_settings(&a, &setup)) != 0) {
        tsr_server_settings_free(&setup.settings);
        return rc;
    }
    /* Every thread made from here on inherits the blocked signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signals sig = {.count = 0};
    pthread_mutex_init(&sig.mutex, NULL);
    pthread_cond_init(&sig.changed, NULL);
    if (pthread_create(&sig.thread, NULL, wait_signals, &sig) != 0) {
        cli_error("cannot start a thread");
        rc = CLI_EXIT_FAILURE;
    } else {
        signal_thread = sig.thread;
        signal_thread_lives = 1;
        struct sigaction pass = {.sa_handler = pass_signal_on}, old_int, old_term;
        sigemptyset(&pass.sa_mask);
        sigaction(SIGINT, &pass, &old_int);
        sigaction(SIGTERM, &pass, &old_term);
        rc = serve(&a, &setup, &sig);
        signal_thread_lives = 0;
        pthread_mutex_lock(&sig.mutex);
        sig.quit = true;
        pthread_mutex_unlock(&sig.mutex);
        pthread_join(sig.thread, NULL);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    pthread_cond_destroy(&sig.changed);
    pthread_mutex_destroy(&sig.mutex);
    tsr_server_settings_free(&setup.settings);
    if (rc == CLI_EXIT_OK && tsr_dist_rank() == 0)
        fprintf(stderr, "tessera: serve: stopped\n");
    return rc;
}

const cli_command cli_command_serve = {
    .name = "serve",
    .summary = "serve a deployment over HTTP, OpenAI-compatible, with continuous batching",
    .run = run,
    .help = help,
};
