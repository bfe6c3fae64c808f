/* tessera run: generate text from a prompt, or chat. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

enum { DEFAULT_N_PREDICT = 512, MAX_STOPS = 16 };

typedef struct run_args {
    const char *profile;
    const char *prompt, *prompt_file, *system, *chat_template;
    int64_t n_predict;
    const char *stop[MAX_STOPS];
    size_t n_stop;
    bool chat, no_chat, stats, echo, ignore_eos, no_spec;
    cli_overrides overrides;
} run_args;

static void run_help(FILE *out)
{
    fputs("Usage: tessera run [PROFILE] [-m MODEL] -p PROMPT [options]\n"
          "       tessera run [PROFILE] [-m MODEL] --chat [options]\n"
          "\n"
          "Generates text from a prompt, streaming it to standard output, or holds an\n"
          "interactive chat using the model's chat template. PROFILE is a deployment\n"
          "profile (YAML, see tessera-profile(5)); without one, -m MODEL with every\n"
          "default, or the default model in the model cache. The planner checks the\n"
          "deployment before anything is allocated.\n"
          "\n"
          "When the model has a chat template (an instruct model), the prompt is the\n"
          "user's message of a one-turn chat, put through that template, and the\n"
          "output is the model's reply. --no-chat completes the prompt as raw text\n"
          "instead, where special tokens written in it (<|im_start|>, ...) are parsed.\n"
          "\n"
          "Prompt and output:\n"
          "  -p, --prompt TEXT       the prompt (with --chat: the first user message)\n"
          "  -f, --file FILE         read the prompt from FILE ('-' = standard input)\n"
          "      --no-chat           raw completion: no chat template, even when the model\n"
          "                          has one\n"
          "  -n, --n-predict N       most tokens to generate (default 512; 0 = none, the\n"
          "                          prompt only checked; -1 = until the model stops or the\n"
          "                          context is full)\n"
          "      --stop TEXT         stop when TEXT appears (not printed; may be repeated)\n"
          "      --ignore-eos        keep generating past end-of-generation tokens\n"
          "      --echo              print the prompt before the generated text\n"
          "      --stats             after generating, print tokens and tokens/s, for each\n"
          "                          tensor type which plugin file and kernels served it,\n"
          "                          and what speculation drafted and kept (stderr)\n"
          "      --no-spec           decode one token at a time, even where the profile\n"
          "                          speculates (the text is the same; only speed differs)\n"
          "\n"
          "Chat:\n"
          "      --chat              interactive chat: one user message per line of input,\n"
          "                          the reply streamed; an empty line or EOF ends it\n"
          "      --system TEXT       the system message (default: the template's own; also\n"
          "                          with -p unless --no-chat)\n"
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
        else if (strcmp(arg, "--no-chat") == 0)
            a->no_chat = true;
        else if (strcmp(arg, "--stats") == 0)
            a->stats = true;
        else if (strcmp(arg, "--echo") == 0)
            a->echo = true;
        else if (strcmp(arg, "--ignore-eos") == 0)
            a->ignore_eos = true;
        else if (strcmp(arg, "--no-spec") == 0)
            a->no_spec = true;
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
    if (a->chat && a->n_predict == 0) {
        cli_error("run: --chat with -n 0 could never reply; give -n N or -1");
        return CLI_EXIT_USAGE;
    }
    if (a->prompt && a->prompt_file) {
        cli_error("run: -p and -f both give the prompt; choose one");
        return CLI_EXIT_USAGE;
    }
    if (a->no_chat && (a->chat || a->system || a->chat_template)) {
        cli_error("run: --no-chat completes raw text; it cannot go with %s",
                  a->chat ? "--chat" : a->system ? "--system" : "--chat-template");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* The most bytes of text the context can take: no token covers more than
 * the longest piece, so a text longer than this needs more tokens than the
 * context holds. Prompts and chat lines beyond it are refused unread. */
static size_t context_bytes(const cli_session *d)
{
    size_t piece = tsr_token_max_piece_bytes(d->d);
    return (size_t)tsr_deployment_max_seq_len(d->d) * (piece ? piece : 1);
}

static void context_reason(const cli_session *d, char *buf, size_t n)
{
    snprintf(buf, n, "the most the %u-token context can hold (-c)",
             (unsigned)tsr_deployment_max_seq_len(d->d));
}

/* The prompt of -f FILE (or '-': standard input), bounded by what the
 * context can hold, refused at a NUL byte. */
static tsr_status read_prompt(const char *path, const cli_session *d, char **text,
                              tsr_error *err)
{
    char reason[96];
    context_reason(d, reason, sizeof reason);
    size_t n;
    if (strcmp(path, "-") == 0)
        return tsr_text_read_stream(stdin, "standard input", "a prompt", context_bytes(d),
                                    reason, text, &n, err);
    return tsr_text_read_file(path, "a prompt", context_bytes(d), reason, text, &n, err);
}

/* The exit status of a failed step: unusable input (2) for what the user
 * gave (a prompt longer than the context, in run and chat alike), else
 * failure (1: non-finite logits, ...); cli_fail makes running out of memory
 * 1 whatever is passed. */
static int exit_for(tsr_status s)
{
    return s == TSR_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

/* A generation that failed: says why and, for non-finite logits, which
 * tensor of the model file holds the NaN or Inf (its name gives the layer). */
static int generation_failed(const cli_session *d, const tsr_error *err, tsr_status s)
{
    int rc = cli_fail(err, exit_for(s));
    char where[512];
    if (s == TSR_ERR_FORMAT && tsr_deployment_find_nonfinite(d->d, where, sizeof where))
        cli_error("%s", where);
    return rc;
}

/* Tokenizes a raw prompt, the user's own template: special tokens written
 * as text become tokens. */
static tsr_status tokenize(const tsr_deployment *d, const char *text, int32_t **tokens,
                           size_t *n, tsr_error *err)
{
    uint32_t flags = TSR_TOKENIZE_ADD_SPECIAL | TSR_TOKENIZE_PARSE_SPECIAL;
    size_t len = strlen(text), cap = len + 16, needed;
    *tokens = malloc(cap * sizeof **tokens);
    if (!*tokens)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the tokens of a %zu-byte "
                             "prompt", len);
    tsr_status s = tsr_tokenize(d, text, len, flags, *tokens, cap, &needed, err);
    if (s == TSR_OK && needed > cap) {
        int32_t *bigger = realloc(*tokens, needed * sizeof **tokens);
        if (!bigger)
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the %zu tokens of the "
                                 "prompt", needed);
        *tokens = bigger;
        s = tsr_tokenize(d, text, len, flags, *tokens, needed, &needed, err);
    }
    *n = needed;
    return s;
}

/* What has to fit in the context: the prompt, and a token to generate. */
static tsr_status check_fits(const cli_session *d, const char *what, size_t n_tokens,
                             tsr_error *err)
{
    size_t max = tsr_deployment_max_seq_len(d->d);
    if (n_tokens < max)
        return TSR_OK;
    return tsr_error_set(err, TSR_ERR_INVALID, "%s is %zu tokens; the context holds %zu, and "
                         "one more is needed to reply: give a larger -c (model.max_seq_len)%s",
                         what, n_tokens, max,
                         strcmp(what, "the conversation") == 0 ? " or start a new chat" : "");
}

/* Streams generated text to stdout; on a write failure stops generation and
 * remembers why (*ctx is an int for errno). */
static bool print_text(void *ctx, const char *text, size_t n)
{
    if (cli_write_out(text, n))
        return true;
    if (ctx)
        *(int *)ctx = errno;
    return false;
}

/* The speeds, what speculation drafted and kept, then which plugin file and
 * kernels served each format. */
static void print_stats(const cli_session *d, const tsr_generate_stats *st)
{
    fprintf(stderr,
            "\n[prompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s | "
            "stop: %s]\n",
            st->n_prompt, st->prompt_seconds > 0 ? st->n_prompt / st->prompt_seconds : 0.0,
            st->n_generated,
            st->generate_seconds > 0 ? st->n_generated / st->generate_seconds : 0.0,
            tsr_stop_reason_name(st->stop_reason));
    const char *strategy = tsr_deployment_speculation(d->d);
    if (strategy && st->n_verifications + st->n_plain_steps > 0)
        fprintf(stderr,
                "[speculation %s: %zu drafted, %zu accepted (%.1f%%) | %zu verifications, "
                "%.2f accepted per verification | %zu one-token steps]\n",
                strategy, st->n_drafted, st->n_accepted,
                st->n_drafted ? 100.0 * (double)st->n_accepted / (double)st->n_drafted : 0.0,
                st->n_verifications,
                st->n_verifications ? (double)st->n_accepted / (double)st->n_verifications : 0.0,
                st->n_plain_steps);
    cli_print_formats(stderr, d->d, "[", "]");
    cli_print_stages(stderr, d->d);
}

static tsr_generate_params generate_params(const run_args *a, int *write_errno)
{
    tsr_generate_params o;
    tsr_generate_params_init(&o);
    o.max_tokens = a->n_predict < 0 ? SIZE_MAX : (size_t)a->n_predict;
    o.stop = a->stop;
    o.n_stop = a->n_stop;
    o.ignore_eos = a->ignore_eos;
    o.no_speculation = a->no_spec;
    o.on_text = print_text;
    o.on_text_ctx = write_errno;
    return o;
}

/* Messages as tokens, through the model's template or the one
 * --chat-template names, ending with the header of the assistant's reply;
 * *tokens malloc'd. */
static tsr_status render_chat(const run_args *a, const cli_session *d, const tsr_message *messages,
                              size_t n_messages, int32_t **tokens, size_t *n, tsr_error *err)
{
    size_t cap = 256;
    for (size_t i = 0; i < n_messages; i++)
        cap += strlen(messages[i].content) + 16;
    *tokens = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        free(*tokens);
        if (!(*tokens = malloc(cap * sizeof **tokens)))
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the chat's %zu tokens",
                                 cap);
        tsr_status s = tsr_chat_tokenize_template(d->d, a->chat_template, messages, n_messages,
                                                  true, *tokens, cap, n, err);
        if (s != TSR_OK || *n <= cap) {
            if (s != TSR_OK) {
                free(*tokens);
                *tokens = NULL;
            }
            return s;
        }
        cap = *n;
    }
    return tsr_error_set(err, TSR_ERR_INTERNAL, "the chat's length changed between two renders");
}

/* Whether the prompt of -p or -f is a chat message: unless --no-chat, when
 * --chat-template names a template or the model has one tessera renders.
 * Returns 1 (chat), 0 (raw text) or -1 (a named template is unusable:
 * said). */
static int prompt_is_chat(const run_args *a, const cli_session *d)
{
    if (a->no_chat || (!a->chat_template && !tsr_deployment_chat_template(d->d)))
        return 0;
    int32_t probe;
    size_t n_probe;
    tsr_error err = {0};
    if (tsr_chat_tokenize_template(d->d, a->chat_template, NULL, 0, false, &probe, 1, &n_probe,
                                   &err) == TSR_OK)
        return 1;
    if (a->chat_template)
        return cli_fail(&err, CLI_EXIT_USAGE), -1;
    /* A template of a family tessera does not render: raw text, said once. */
    cli_error("note: %s; the prompt is completed as raw text (--chat-template NAME chooses a "
              "template, --no-chat silences this)", err.message);
    return 0;
}

static int run_once(const run_args *a, cli_session *d)
{
    tsr_error err = {0};
    char *prompt = NULL;
    tsr_status s = TSR_OK;
    if (a->prompt_file)
        s = read_prompt(a->prompt_file, d, &prompt, &err);
    else if (!(prompt = strdup(a->prompt)))
        s = tsr_error_set(&err, TSR_ERR_NOMEM, "out of memory copying the prompt");
    if (s != TSR_OK) /* unreadable, endless, binary: unusable input */
        return cli_fail(&err, CLI_EXIT_USAGE);
    int32_t *tokens = NULL;
    size_t n = 0;
    int write_errno = 0;
    int chat = prompt_is_chat(a, d);
    if (chat < 0) {
        free(prompt);
        return CLI_EXIT_USAGE;
    }
    if (chat) {
        /* A one-turn chat: the reply to the prompt, as an instruct model expects. */
        tsr_message messages[2];
        size_t n_messages = 0;
        if (a->system)
            messages[n_messages++] = (tsr_message){"system", a->system};
        messages[n_messages++] = (tsr_message){"user", prompt};
        s = render_chat(a, d, messages, n_messages, &tokens, &n, &err);
    } else {
        s = tokenize(d->d, prompt, &tokens, &n, &err);
    }
    if (s == TSR_OK)
        s = check_fits(d, "the prompt", n, &err);
    if (s == TSR_OK && a->echo && !print_text(&write_errno, prompt, strlen(prompt))) {
        free(prompt);
        free(tokens);
        return cli_output_failed(write_errno);
    }
    free(prompt);
    tsr_generate_params o = generate_params(a, &write_errno);
    tsr_generate_stats stats = {.n_prompt = n, .stop_reason = TSR_STOP_LENGTH};
    /* -n 0: nothing to generate, and nothing to evaluate for it. */
    if (s == TSR_OK && a->n_predict != 0)
        s = tsr_generate(d->ctx, d->sampler, 0, tokens, n, &o, &stats, &err);
    free(tokens);
    if (s != TSR_OK)
        return generation_failed(d, &err, s);
    if (write_errno || !print_text(&write_errno, "\n", 1))
        return cli_output_failed(write_errno);
    if (a->stats)
        print_stats(d, &stats);
    return CLI_EXIT_OK;
}

/* A chat's state: the messages so far and the tokens the KV cache holds. */
typedef struct chat_state {
    tsr_message *messages;
    size_t n_messages;
    int32_t *cached;      /* the tokens at positions 0 .. n_cached-1 */
    size_t n_cached, cap_cached;
    char *reply;          /* the assistant's reply being streamed */
    size_t reply_len, reply_cap;
    bool out_of_memory;   /* a callback could not grow cached or reply */
    int write_errno;      /* why stdout failed, or 0 */
} chat_state;

static bool chat_text(void *ctx, const char *text, size_t n)
{
    chat_state *c = ctx;
    if (c->reply_len + n + 1 > c->reply_cap) {
        size_t cap = (c->reply_len + n + 1) * 2;
        char *bigger = realloc(c->reply, cap);
        if (!bigger) {
            c->out_of_memory = true;
            return false;
        }
        c->reply = bigger;
        c->reply_cap = cap;
    }
    memcpy(c->reply + c->reply_len, text, n);
    c->reply_len += n;
    c->reply[c->reply_len] = '\0';
    return print_text(&c->write_errno, text, n);
}

static void chat_token(void *ctx, int32_t token)
{
    chat_state *c = ctx;
    if (c->n_cached == c->cap_cached) {
        size_t cap = c->cap_cached ? c->cap_cached * 2 : 1024;
        int32_t *bigger = realloc(c->cached, cap * sizeof *bigger);
        if (!bigger) {
            c->out_of_memory = true;
            return;
        }
        c->cached = bigger;
        c->cap_cached = cap;
    }
    c->cached[c->n_cached++] = token;
}

static bool chat_add(chat_state *c, const char *role, const char *content)
{
    tsr_message *bigger = realloc(c->messages, (c->n_messages + 1) * sizeof *bigger);
    char *copy = strdup(content);
    if (!bigger || !copy) {
        free(copy);
        if (bigger)
            c->messages = bigger;
        return false;
    }
    c->messages = bigger;
    c->messages[c->n_messages++] = (tsr_message){role, copy};
    return true;
}

static int chat_out_of_memory(const char *what)
{
    tsr_error err;
    tsr_error_set(&err, TSR_ERR_NOMEM, "out of memory %s", what);
    return cli_fail(&err, CLI_EXIT_FAILURE);
}

/* The whole conversation as tokens, through the model's template or the
 * one --chat-template names; *tokens malloc'd. */
static tsr_status chat_tokens(const run_args *a, const cli_session *d, const chat_state *c,
                              int32_t **tokens, size_t *n, tsr_error *err)
{
    return render_chat(a, d, c->messages, c->n_messages, tokens, n, err);
}

/* One turn: render the whole conversation, keep what the cache already
 * holds of it, evaluate the rest, and stream the reply. The messages'
 * text is never parsed for control tokens: only the template places them. */
static int chat_turn(const run_args *a, cli_session *d, chat_state *c)
{
    tsr_error err = {0};
    int32_t *tokens;
    size_t n;
    tsr_status s = chat_tokens(a, d, c, &tokens, &n, &err);
    if (s == TSR_OK && (s = check_fits(d, "the conversation", n, &err)) != TSR_OK)
        free(tokens);
    if (s != TSR_OK)
        return cli_fail(&err, exit_for(s));
    size_t keep = 0, cached = (size_t)(tsr_kv_seq_pos_max(d->ctx, 0) + 1);
    while (keep < n && keep < cached && keep < c->n_cached && tokens[keep] == c->cached[keep])
        keep++;
    if (keep == n) /* something new must be evaluated to get logits */
        keep--;
    tsr_kv_seq_remove(d->ctx, 0, (int32_t)keep, -1, &err);
    c->n_cached = keep;
    for (size_t i = keep; i < n; i++)
        chat_token(c, tokens[i]);
    c->reply_len = 0;
    tsr_generate_params o = generate_params(a, &c->write_errno);
    o.on_text = chat_text;
    o.on_text_ctx = c;
    o.on_token = chat_token;
    o.on_token_ctx = c;
    o.history = tokens;
    o.n_history = keep;
    tsr_generate_stats stats;
    tsr_sampler_reset(d->sampler);
    s = tsr_generate(d->ctx, d->sampler, 0, tokens + keep, n - keep, &o, &stats, &err);
    free(tokens);
    if (s != TSR_OK)
        return generation_failed(d, &err, s);
    if (c->write_errno)
        return cli_output_failed(c->write_errno);
    if (c->out_of_memory)
        return chat_out_of_memory("keeping the chat's tokens and reply");
    /* What the cache really holds: the last generated token is not evaluated. */
    size_t held = (size_t)(tsr_kv_seq_pos_max(d->ctx, 0) + 1);
    if (c->n_cached > held)
        c->n_cached = held;
    if (!print_text(&c->write_errno, "\n", 1))
        return cli_output_failed(c->write_errno);
    if (a->stats)
        print_stats(d, &stats);
    if (!chat_add(c, "assistant", c->reply_len ? c->reply : ""))
        return chat_out_of_memory("adding the reply to the chat");
    return CLI_EXIT_OK;
}

static int run_chat(const run_args *a, cli_session *d)
{
    tsr_error err = {0};
    /* The template first: a model without one, or an unknown family, is
     * unusable input before any line is read. */
    int32_t probe;
    size_t n_probe;
    tsr_status s = tsr_chat_tokenize_template(d->d, a->chat_template, NULL, 0, false, &probe, 1,
                                              &n_probe, &err);
    if (s != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    chat_state c = {0};
    int rc = CLI_EXIT_OK;
    if (a->system && !chat_add(&c, "system", a->system))
        rc = chat_out_of_memory("for the system message");
    bool interactive = isatty(STDIN_FILENO);
    if (rc == CLI_EXIT_OK && a->prompt) {
        rc = chat_add(&c, "user", a->prompt) ? chat_turn(a, d, &c)
                                             : chat_out_of_memory("for the first message");
    }
    tsr_line_reader lines = {0};
    char reason[96];
    context_reason(d, reason, sizeof reason);
    while (rc == CLI_EXIT_OK) {
        if (interactive) {
            fputs("> ", stderr);
            fflush(stderr);
        }
        bool at_end;
        s = tsr_line_read(&lines, stdin, "standard input", context_bytes(d), reason, &at_end,
                          &err);
        if (s != TSR_OK) {
            rc = cli_fail(&err, CLI_EXIT_USAGE);
            break;
        }
        if (at_end || lines.n_bytes == 0)
            break;
        rc = chat_add(&c, "user", lines.line) ? chat_turn(a, d, &c)
                                              : chat_out_of_memory("for a message");
    }
    tsr_line_reader_free(&lines);
    for (size_t i = 0; i < c.n_messages; i++)
        free((char *)c.messages[i].content);
    free(c.messages);
    free(c.cached);
    free(c.reply);
    return rc;
}

static int run_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    cli_session d;
    cli_session_options so = {.with_sampler = true};
    rc = cli_session_open(a.profile, &a.overrides, &so, &d);
    if (rc == CLI_EXIT_OK)
        rc = a.chat ? run_chat(&a, &d) : run_once(&a, &d);
    cli_session_close(&d);
    return rc;
}

const cli_command cli_command_run = {"run", "generate text from a prompt, or chat", run_run,
                                     run_help};
