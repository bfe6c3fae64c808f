/* tessera bench --spec-compare: the same chat prompts generated with and
 * without the profile's speculative strategy, alternately, in one run; the
 * table gives both speeds, the speedup and what the drafts earned. The two
 * texts must be equal (speculation changes speed only): a difference is a
 * failure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_spec.h"

/* Where prompt lookup pays (the answer repeats its input) and where it
 * cannot (open-ended answers). */
static const struct {
    const char *label;
    bool grounded;
    const char *text;
} builtin[] = {
    {"repeat a list", true,
     "Repeat this list exactly, one item per line, numbered: apple, banana, cherry, date, "
     "elderberry, fig, grape, honeydew, kiwi, lemon, mango, nectarine, orange, papaya, quince, "
     "raspberry, strawberry, tangerine."},
    {"edit a list", true,
     "Here is a shopping list: 2 eggs, 1 loaf of bread, 3 apples, 1 bottle of milk, 2 onions, "
     "1 bag of rice, 4 tomatoes, 1 jar of honey. Write the same list again, one item per line, "
     "with every quantity doubled."},
    {"rewrite a paragraph", true,
     "Rewrite this paragraph, replacing the word 'cat' with 'dog' everywhere and changing "
     "nothing else: The cat woke up early. The cat stretched, walked to the kitchen and waited "
     "by the bowl. When nobody came, the cat jumped onto the table and knocked a cup to the "
     "floor. The cat then sat by the window and watched the birds until noon."},
    {"answer from a document", true,
     "Read the document, then answer by quoting it.\nDocument: The lighthouse stands on a rock "
     "two miles from the harbour. The keeper climbs one hundred and twelve steps to reach the "
     "lamp room. Every evening he winds the clockwork that turns the lens, cleans the glass, "
     "and trims the wick. In winter the supply boat comes once a fortnight; in summer once a "
     "week.\nQuestion: What does the keeper do every evening?"},
    {"open chat: a story", false, "Write a short story about a robot who learns to paint."},
    {"open chat: advice", false, "What are the benefits of regular exercise?"},
    {"open chat: science", false, "Explain how a rainbow forms."},
};
enum { N_BUILTIN = sizeof builtin / sizeof builtin[0], MAX_PROMPT_TOKENS = 4096 };

typedef struct capture {
    tsr_token *tokens;
    size_t n, cap;
} capture;

static void on_token(void *ctx, tsr_token token)
{
    capture *c = ctx;
    if (c->n < c->cap)
        c->tokens[c->n++] = token;
}

typedef struct totals {
    double plain_seconds, spec_seconds;
    size_t tokens, drafted, accepted, steps; /* steps: the speculative runs' forward passes */
} totals;

static void print_row(const char *label, const totals *t)
{
    double plain = t->plain_seconds > 0 ? t->tokens / t->plain_seconds : 0;
    double spec = t->spec_seconds > 0 ? t->tokens / t->spec_seconds : 0;
    printf("| %-24s | %6zu | %9.2f | %9.2f | %6.2fx | %9.1f%% | %8.2f |\n", label, t->tokens,
           plain, spec, plain > 0 ? spec / plain : 0.0,
           t->drafted ? 100.0 * (double)t->accepted / (double)t->drafted : 0.0,
           t->steps ? (double)t->tokens / (double)t->steps : 1.0);
}

static void add(totals *sum, const totals *t)
{
    sum->plain_seconds += t->plain_seconds;
    sum->spec_seconds += t->spec_seconds;
    sum->tokens += t->tokens;
    sum->drafted += t->drafted;
    sum->accepted += t->accepted;
    sum->steps += t->steps;
}

/* One prompt: plain and speculative runs alternately, repeats times each,
 * after a warm-up of each. */
static tsr_status compare(cli_session *s, const char *text, int64_t n_gen, int64_t repeats,
                          capture *plain, capture *spec, totals *t, bool *same, tsr_error *err)
{
    static tsr_token prompt[MAX_PROMPT_TOKENS];
    tsr_message m = {"user", text};
    size_t n_prompt;
    tsr_status st = tsr_chat_tokenize(s->d, &m, 1, true, prompt, MAX_PROMPT_TOKENS, &n_prompt,
                                      err);
    memset(t, 0, sizeof *t);
    *same = true;
    for (int64_t r = -1; st == TSR_OK && r < repeats; r++) {
        for (int speculate = 0; st == TSR_OK && speculate < 2; speculate++) {
            capture *c = speculate ? spec : plain;
            tsr_generate_params o;
            tsr_generate_params_init(&o);
            o.max_tokens = (size_t)n_gen;
            o.no_speculation = !speculate;
            o.on_token = on_token;
            o.on_token_ctx = c;
            c->n = 0;
            tsr_kv_clear(s->ctx);
            tsr_sampler_reset(s->sampler);
            tsr_generate_stats g;
            st = tsr_generate(s->ctx, s->sampler, 0, prompt, n_prompt, &o, &g, err);
            if (st != TSR_OK || r < 0)
                continue; /* the warm-up is not counted */
            if (speculate) {
                t->spec_seconds += g.generate_seconds;
                t->drafted += g.n_drafted;
                t->accepted += g.n_accepted;
                t->steps += g.n_verifications + g.n_plain_steps;
            } else {
                t->plain_seconds += g.generate_seconds;
                t->tokens += g.n_generated;
            }
        }
        if (st == TSR_OK &&
            (plain->n != spec->n || memcmp(plain->tokens, spec->tokens,
                                           plain->n * sizeof *plain->tokens) != 0))
            *same = false;
    }
    return st;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What a verification costs here, the other half of the gain model: the
 * seconds of one forward pass of n rows of one sequence after a 64-token
 * context, best of a few, the rows given back each time. */
static tsr_status time_rows(cli_session *s, tsr_batch *batch, uint32_t n, double *seconds,
                            tsr_error *err)
{
    enum { CONTEXT = 64, TRIES = 8 };
    tsr_kv_clear(s->ctx);
    tsr_batch_clear(batch);
    uint32_t n_vocab = tsr_deployment_n_vocab(s->d);
    for (int32_t i = 0; i < CONTEXT; i++)
        tsr_batch_add(batch, (tsr_token)((i * 7919) % n_vocab), i, 0, i + 1 == CONTEXT, NULL);
    tsr_status st = tsr_decode(s->ctx, batch, err);
    *seconds = 1e30;
    for (int t = 0; st == TSR_OK && t < TRIES; t++) {
        tsr_batch_clear(batch);
        for (uint32_t i = 0; i < n; i++)
            tsr_batch_add(batch, (tsr_token)((i * 104729) % n_vocab), CONTEXT + (int32_t)i, 0,
                          true, NULL);
        double t0 = now_seconds();
        st = tsr_decode(s->ctx, batch, err);
        double dt = now_seconds() - t0;
        *seconds = dt < *seconds ? dt : *seconds;
        if (st == TSR_OK)
            st = tsr_kv_seq_remove(s->ctx, 0, CONTEXT, -1, err);
    }
    return st;
}

/* Prints the cost of a pass of 1 + k rows against a one-row pass. */
static tsr_status print_costs(cli_session *s, tsr_error *err)
{
    uint32_t rows = tsr_deployment_n_outputs(s->d);
    tsr_batch *batch;
    tsr_status st = tsr_batch_open(tsr_deployment_n_batch(s->d), &batch, err);
    double one = 0;
    if (st == TSR_OK)
        st = time_rows(s, batch, 1, &one, err);
    if (st == TSR_OK)
        printf("\nverification cost here (one forward pass, best of 8): 1 row %.2f ms", one * 1e3);
    for (uint32_t n = 2; st == TSR_OK && n <= rows && n <= 9; n++) {
        double t;
        if ((st = time_rows(s, batch, n, &t, err)) == TSR_OK)
            printf("%s %u rows %.2fx", n == 2 ? ";" : ",", n, t / one);
    }
    if (st == TSR_OK)
        printf(" (of one row)\n");
    tsr_batch_close(batch);
    return st;
}

/* The prompts of a file: one user message per non-empty line. */
static char **read_prompts(const char *path, size_t *n, tsr_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        tsr_error_set(err, TSR_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char **lines = NULL, *line = NULL;
    size_t cap = 0, len_cap = 0;
    *n = 0;
    ssize_t len;
    while ((len = getline(&line, &len_cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **bigger = realloc(lines, cap * sizeof *lines);
            if (!bigger)
                break;
            lines = bigger;
        }
        if (!(lines[*n] = strdup(line)))
            break;
        (*n)++;
    }
    bool failed = ferror(f) || !feof(f);
    fclose(f);
    free(line);
    if (failed || *n == 0) {
        for (size_t i = 0; i < *n; i++)
            free(lines[i]);
        free(lines);
        tsr_error_set(err, failed ? TSR_ERR_IO : TSR_ERR_INVALID,
                      failed ? "%s: could not read every prompt" : "%s: no prompts in the file",
                      path);
        return NULL;
    }
    return lines;
}

int bench_spec_compare(const char *profile, const cli_overrides *overrides, int64_t n_gen,
                       int64_t repeats, const char *prompts_path)
{
    tsr_error err = {0};
    size_t n_file = 0;
    char **file_prompts = NULL;
    if (prompts_path && !(file_prompts = read_prompts(prompts_path, &n_file, &err)))
        return cli_fail(&err, CLI_EXIT_USAGE);
    cli_session s;
    cli_session_options so = {.with_sampler = true};
    int rc = cli_session_open(profile, overrides, &so, &s);
    const char *strategy = rc == CLI_EXIT_OK ? tsr_deployment_speculation(s.d) : NULL;
    if (rc == CLI_EXIT_OK && !strategy) {
        cli_error("bench: --spec-compare: the profile names no speculative strategy (add "
                  "`speculative: {strategy: ngram}`, or a draft model)");
        rc = CLI_EXIT_USAGE;
    }
    capture plain = {0}, spec = {0};
    plain.cap = spec.cap = (size_t)n_gen;
    if (rc == CLI_EXIT_OK && (!(plain.tokens = malloc(plain.cap * sizeof *plain.tokens)) ||
                              !(spec.tokens = malloc(spec.cap * sizeof *spec.tokens)))) {
        tsr_error_set(&err, TSR_ERR_NOMEM, "out of memory");
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
    }
    if (rc == CLI_EXIT_OK) {
        printf("speculation: %s, %u threads, %lld tokens per prompt, %lld runs each, "
               "alternating\n\n",
               strategy, tsr_deployment_n_threads(s.d), (long long)n_gen, (long long)repeats);
        printf("| %-24s | %6s | %9s | %9s | %7s | %10s | %8s |\n", "prompt", "tokens",
               "plain t/s", "spec t/s", "speedup", "accepted", "tok/step");
        printf("| %.24s | -----: | --------: | --------: | ------: | ---------: | -------: |\n",
               "------------------------");
        fflush(stdout);
    }
    totals grounded = {0}, open = {0};
    size_t n = file_prompts ? n_file : N_BUILTIN;
    bool all_same = true;
    for (size_t i = 0; rc == CLI_EXIT_OK && i < n; i++) {
        totals t;
        bool same;
        const char *text = file_prompts ? file_prompts[i] : builtin[i].text;
        if (compare(&s, text, n_gen, repeats, &plain, &spec, &t, &same, &err) != TSR_OK) {
            rc = cli_fail(&err, CLI_EXIT_FAILURE);
            break;
        }
        char label[32];
        if (file_prompts)
            snprintf(label, sizeof label, "prompt %zu", i + 1);
        print_row(file_prompts ? label : builtin[i].label, &t);
        fflush(stdout);
        add(file_prompts || builtin[i].grounded ? &grounded : &open, &t);
        if (!same) {
            cli_error("bench: prompt %zu: the speculative text differs from the plain text", i + 1);
            all_same = false;
        }
    }
    if (rc == CLI_EXIT_OK) {
        if (!file_prompts) {
            print_row("all input-grounded", &grounded);
            print_row("all open-ended", &open);
        }
        printf("\ntok/step: tokens per forward pass of the main model with speculation "
               "(1 without); accepted: drafts the main model agreed with\n");
        if (print_costs(&s, &err) != TSR_OK)
            rc = cli_fail(&err, CLI_EXIT_FAILURE);
        if (!all_same)
            rc = CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n_file; i++)
        free(file_prompts[i]);
    free(file_prompts);
    free(plain.tokens);
    free(spec.tokens);
    cli_session_close(&s);
    return rc;
}
