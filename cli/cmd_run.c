/* tessera run: generate text from a prompt, or chat. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "deploy.h"

enum { DEFAULT_N_PREDICT = 512, MAX_STOPS = 16 };

typedef struct run_args {
    const char *profile;
    const char *prompt, *prompt_file, *system, *chat_template;
    int64_t n_predict;
    const char *stop[MAX_STOPS];
    size_t n_stop;
    bool chat, stats, echo, ignore_eos;
    cli_overrides overrides;
} run_args;

static void run_help(FILE *out)
{
    fputs("Usage: tessera run [PROFILE] [-m MODEL] -p PROMPT [options]\n"
          "       tessera run [PROFILE] [-m MODEL] --chat [options]\n"
          "\n"
          "Generates text from a prompt, streaming it to standard output, or holds an\n"
          "interactive chat using the model's chat template. PROFILE is a deployment\n"
          "profile (YAML, see PROFILE.md); without one, -m MODEL with every default, or the\n"
          "default model in the model cache. The planner checks the deployment before\n"
          "anything is allocated.\n"
          "\n"
          "Prompt and output:\n"
          "  -p, --prompt TEXT       the prompt (with --chat: the first user message)\n"
          "  -f, --file FILE         read the prompt from FILE ('-' = standard input)\n"
          "  -n, --n-predict N       most tokens to generate (default 512; -1 = until the model\n"
          "                          stops or the context is full)\n"
          "      --stop TEXT         stop when TEXT appears (not printed; may be repeated)\n"
          "      --ignore-eos        keep generating past end-of-generation tokens\n"
          "      --echo              print the prompt before the generated text\n"
          "      --stats             after generating, print tokens and tokens/s (stderr)\n"
          "\n"
          "Chat:\n"
          "      --chat              interactive chat: one user message per line of input,\n"
          "                          the reply streamed; an empty line or EOF ends it\n"
          "      --system TEXT       the system message (default: the template's own)\n"
          "      --chat-template NAME  chatml or llama3, instead of the model's template\n"
          "\n",
          out);
    cli_print_deploy_options(out);
    fputs("\n  -h, --help              show this help\n\n"
          "Exit status: 0 success, 1 failure, 2 unusable input (arguments, profile, model\n"
          "file), 3 the planner refused the deployment.\n\n",
          out);
    cli_print_environment(out);
}

static int parse_args(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof *a);
    a->n_predict = DEFAULT_N_PREDICT;
    a->overrides.max_seq_len = -1;
    a->overrides.threads = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int handled = cli_parse_deploy_option(argc, argv, &i, &a->overrides);
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled > 0)
            continue;
        if (cli_is_help(arg)) {
            run_help(stdout);
            return -1;
        }
#define TAKE(field)                                                                  \
    do {                                                                             \
        if (!value) {                                                                \
            cli_error("run: %s needs a value", arg);                                 \
            return CLI_EXIT_USAGE;                                                   \
        }                                                                            \
        a->field = value;                                                            \
        i++;                                                                         \
    } while (0)
        if (strcmp(arg, "-p") == 0 || strcmp(arg, "--prompt") == 0)
            TAKE(prompt);
        else if (strcmp(arg, "-f") == 0 || strcmp(arg, "--file") == 0)
            TAKE(prompt_file);
        else if (strcmp(arg, "--system") == 0)
            TAKE(system);
        else if (strcmp(arg, "--chat-template") == 0)
            TAKE(chat_template);
        else if (strcmp(arg, "-n") == 0 || strcmp(arg, "--n-predict") == 0) {
            char *end;
            if (!value)
                return cli_error("run: %s needs a value", arg), CLI_EXIT_USAGE;
            errno = 0;
            a->n_predict = strtoll(value, &end, 10);
            if (errno || *end || end == value || a->n_predict < -1) {
                cli_error("run: -n %s: expected a number of tokens, or -1", value);
                return CLI_EXIT_USAGE;
            }
            i++;
        } else if (strcmp(arg, "--stop") == 0) {
            if (!value || a->n_stop == MAX_STOPS || !value[0]) {
                cli_error("run: --stop needs a non-empty text (at most %d of them)", MAX_STOPS);
                return CLI_EXIT_USAGE;
            }
            a->stop[a->n_stop++] = value;
            i++;
        } else if (strcmp(arg, "--chat") == 0)
            a->chat = true;
        else if (strcmp(arg, "--stats") == 0)
            a->stats = true;
        else if (strcmp(arg, "--echo") == 0)
            a->echo = true;
        else if (strcmp(arg, "--ignore-eos") == 0)
            a->ignore_eos = true;
        else if (arg[0] != '-' && !a->profile)
            a->profile = arg;
        else {
            cli_error("run: unknown argument '%s' (see tessera run --help)", arg);
            return CLI_EXIT_USAGE;
        }
#undef TAKE
    }
    if (!a->chat && !a->prompt && !a->prompt_file) {
        cli_error("run: no prompt: give -p TEXT, -f FILE or --chat (see tessera run --help)");
        return CLI_EXIT_USAGE;
    }
    if (a->prompt && a->prompt_file) {
        cli_error("run: -p and -f both give the prompt; choose one");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static char *read_all(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    if (buf)
        buf[len] = '\0';
    if (f != stdin)
        fclose(f);
    return buf;
}

/* Tokenizes text (special tokens written as text become tokens). */
static tsr_status tokenize(const tsr_tokenizer *tok, const char *text, bool add_special,
                           int32_t **tokens, size_t *n, tsr_error *err)
{
    size_t len = strlen(text), cap = len + 16, needed;
    *tokens = malloc(cap * sizeof **tokens);
    if (!*tokens)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_status s = tsr_tokenizer_encode(tok, text, len, add_special, true, *tokens, cap, &needed,
                                        err);
    if (s == TSR_OK && needed > cap) {
        int32_t *bigger = realloc(*tokens, needed * sizeof **tokens);
        if (!bigger)
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        *tokens = bigger;
        s = tsr_tokenizer_encode(tok, text, len, add_special, true, *tokens, needed, &needed,
                                 err);
    }
    *n = needed;
    return s;
}

static bool print_text(void *ctx, const char *text, size_t n)
{
    fwrite(text, 1, n, stdout);
    fflush(stdout);
    return true;
}

static void print_stats(const tsr_generate_stats *st)
{
    fprintf(stderr,
            "\n[prompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s | "
            "stop: %s]\n",
            st->n_prompt, st->prompt_seconds > 0 ? st->n_prompt / st->prompt_seconds : 0.0,
            st->n_generated,
            st->generate_seconds > 0 ? st->n_generated / st->generate_seconds : 0.0,
            tsr_stop_reason_name(st->stop_reason));
}

static tsr_generate_options generate_options(const run_args *a)
{
    tsr_generate_options o = {
        .max_tokens = a->n_predict < 0 ? 0 : (size_t)a->n_predict,
        .stop = a->stop,
        .n_stop = a->n_stop,
        .ignore_eos = a->ignore_eos,
        .on_text = print_text,
    };
    return o;
}

static int run_once(const run_args *a, cli_deployment *d)
{
    tsr_error err = {0};
    char *prompt = a->prompt_file ? read_all(a->prompt_file) : strdup(a->prompt);
    if (!prompt) {
        cli_error("run: cannot read the prompt from %s: %s", a->prompt_file, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    int32_t *tokens = NULL;
    size_t n = 0;
    tsr_status s = tokenize(d->tokenizer, prompt, true, &tokens, &n, &err);
    if (s == TSR_OK && a->echo)
        print_text(NULL, prompt, strlen(prompt));
    free(prompt);
    tsr_generate_options o = generate_options(a);
    tsr_generate_stats stats;
    if (s == TSR_OK)
        s = tsr_generate(d->model, d->tokenizer, d->chain, tokens, n, &o, &stats, &err);
    free(tokens);
    if (s != TSR_OK)
        return cli_fail(&err, s == TSR_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE);
    putchar('\n');
    if (a->stats)
        print_stats(&stats);
    return CLI_EXIT_OK;
}

/* A chat's state: the messages so far and the tokens the KV cache holds. */
typedef struct chat_state {
    tsr_chat_message *messages;
    size_t n_messages;
    int32_t *cached;      /* the tokens at positions 0 .. n_cached-1 */
    size_t n_cached, cap_cached;
    char *reply;          /* the assistant's reply being streamed */
    size_t reply_len, reply_cap;
} chat_state;

static bool chat_text(void *ctx, const char *text, size_t n)
{
    chat_state *c = ctx;
    if (c->reply_len + n + 1 > c->reply_cap) {
        size_t cap = (c->reply_len + n + 1) * 2;
        char *bigger = realloc(c->reply, cap);
        if (!bigger)
            return false;
        c->reply = bigger;
        c->reply_cap = cap;
    }
    memcpy(c->reply + c->reply_len, text, n);
    c->reply_len += n;
    c->reply[c->reply_len] = '\0';
    return print_text(NULL, text, n);
}

static void chat_token(void *ctx, int32_t token)
{
    chat_state *c = ctx;
    if (c->n_cached == c->cap_cached) {
        size_t cap = c->cap_cached ? c->cap_cached * 2 : 1024;
        int32_t *bigger = realloc(c->cached, cap * sizeof *bigger);
        if (!bigger)
            return;
        c->cached = bigger;
        c->cap_cached = cap;
    }
    c->cached[c->n_cached++] = token;
}

static bool chat_add(chat_state *c, const char *role, const char *content)
{
    tsr_chat_message *bigger = realloc(c->messages, (c->n_messages + 1) * sizeof *bigger);
    char *copy = strdup(content);
    if (!bigger || !copy) {
        free(copy);
        if (bigger)
            c->messages = bigger;
        return false;
    }
    c->messages = bigger;
    c->messages[c->n_messages++] = (tsr_chat_message){role, copy};
    return true;
}

/* One turn: render the whole conversation, keep what the cache already
 * holds of it, evaluate the rest, and stream the reply. */
static int chat_turn(const run_args *a, cli_deployment *d, const tsr_chat_template *tmpl,
                     chat_state *c)
{
    tsr_error err = {0};
    size_t len = tsr_chat_apply(tmpl, c->messages, c->n_messages, true, NULL, 0);
    char *text = malloc(len + 1);
    if (!text)
        return CLI_EXIT_FAILURE;
    tsr_chat_apply(tmpl, c->messages, c->n_messages, true, text, len + 1);
    int32_t *tokens;
    size_t n;
    tsr_status s = tokenize(d->tokenizer, text, false, &tokens, &n, &err);
    free(text);
    if (s != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    size_t keep = 0, cached = tsr_model_n_past(d->model);
    while (keep < n && keep < cached && keep < c->n_cached && tokens[keep] == c->cached[keep])
        keep++;
    if (keep == n) /* something new must be evaluated to get logits */
        keep--;
    tsr_model_rollback(d->model, keep);
    c->n_cached = keep;
    for (size_t i = keep; i < n; i++)
        chat_token(c, tokens[i]);
    c->reply_len = 0;
    tsr_generate_options o = generate_options(a);
    o.on_text = chat_text;
    o.on_text_ctx = c;
    o.on_token = chat_token;
    o.on_token_ctx = c;
    tsr_generate_stats stats;
    tsr_sampler_chain_reset(d->chain);
    s = tsr_generate(d->model, d->tokenizer, d->chain, tokens + keep, n - keep, &o, &stats,
                     &err);
    free(tokens);
    if (s != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    /* What the cache really holds: the last generated token is not evaluated. */
    if (c->n_cached > tsr_model_n_past(d->model))
        c->n_cached = tsr_model_n_past(d->model);
    putchar('\n');
    if (a->stats)
        print_stats(&stats);
    if (!chat_add(c, "assistant", c->reply_len ? c->reply : ""))
        return CLI_EXIT_FAILURE;
    return CLI_EXIT_OK;
}

static int run_chat(const run_args *a, cli_deployment *d)
{
    tsr_error err = {0};
    tsr_chat_template *tmpl = NULL;
    tsr_status s;
    if (a->chat_template) {
        s = tsr_chat_template_open_name(a->chat_template, &tmpl, &err);
    } else {
        size_t n;
        const char *source = tsr_tokenizer_chat_template(d->tokenizer, &n);
        s = tsr_chat_template_open(source, source ? n : 0, &tmpl, &err);
    }
    if (s != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    chat_state c = {0};
    int rc = CLI_EXIT_OK;
    if (a->system && !chat_add(&c, "system", a->system))
        rc = CLI_EXIT_FAILURE;
    bool interactive = isatty(STDIN_FILENO);
    if (rc == CLI_EXIT_OK && a->prompt) {
        rc = chat_add(&c, "user", a->prompt) ? chat_turn(a, d, tmpl, &c) : CLI_EXIT_FAILURE;
    }
    char *line = NULL;
    size_t cap = 0;
    while (rc == CLI_EXIT_OK) {
        if (interactive) {
            fputs("> ", stderr);
            fflush(stderr);
        }
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0)
            break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0)
            break;
        rc = chat_add(&c, "user", line) ? chat_turn(a, d, tmpl, &c) : CLI_EXIT_FAILURE;
    }
    free(line);
    for (size_t i = 0; i < c.n_messages; i++)
        free((char *)c.messages[i].content);
    free(c.messages);
    free(c.cached);
    free(c.reply);
    tsr_chat_template_close(tmpl);
    return rc;
}

static int run_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    cli_deployment d;
    rc = cli_deployment_open(a.profile, &a.overrides, true, &d);
    if (rc == CLI_EXIT_OK)
        rc = a.chat ? run_chat(&a, &d) : run_once(&a, &d);
    cli_deployment_close(&d);
    return rc;
}

const cli_command cli_command_run = {"run", "generate text from a prompt, or chat", run_run,
                                     run_help};
