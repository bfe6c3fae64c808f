/* tessera perplexity: how well a model predicts a text, by llama-perplexity's
 * method so that the figures compare; and, against reference logits saved
 * from another format of the same model, how far its distributions moved
 * (KL divergence, top-token agreement, the change of the right token's
 * probability).
 *
 * The method: the text is tokenized (with the BOS the model asks for) and
 * cut into chunks of -c tokens, the rest dropped. Each chunk is decoded from
 * an empty cache, its first token replaced by BOS when the model adds one,
 * and only its second half is scored: row k (k from c/2 to c-2) predicts
 * token k+1, so every scored token has at least c/2 tokens of context.
 * PPL = exp(mean NLL) over every scored token; its error is PPL times the
 * standard error of that mean (first order: d exp(x) = exp(x) dx). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logits_file.h"
#include "session.h"

enum { DEFAULT_CTX = 512, DEFAULT_BATCH = 512 };
/* A bound on the text read: far more than any evaluation corpus (wikitext-2's
 * test set is 1.3 MB), far less than memory. */
static const size_t max_text_bytes = (size_t)256 << 20;

typedef struct perplexity_args {
    const char *profile, *text_path, *save_path, *kld_path;
    int64_t n_chunks;           /* -1: every whole chunk of the text */
    cli_overrides overrides;    /* max_seq_len is -c, the chunk size */
} perplexity_args;

static void perplexity_help(FILE *out)
{
    fputs("Usage: tessera perplexity [PROFILE] [-m MODEL] -f TEXT [-c N] [-b N] [--chunks N]\n"
          "                          [--save-logits FILE | --kl-divergence FILE]\n"
          "\n"
          "Measures how well the model predicts TEXT, by llama-perplexity's method, so the\n"
          "figures compare with llama.cpp's: the text is tokenized and cut into chunks of\n"
          "-c tokens; each chunk is evaluated from an empty context (BOS first, when the\n"
          "model uses one) and the tokens of its second half are scored. One line per\n"
          "chunk with the running estimate goes to stderr; the result to stdout:\n"
          "  Final estimate: PPL = X +/- Y\n"
          "(Y: the standard error of the estimate). The text needs at least two chunks.\n"
          "\n"
          "To see what a quantization format costs, save the reference distributions of\n"
          "one model (f16, say) and compare another format of it against them:\n"
          "  tessera perplexity -m model-f16.gguf -f text.txt --save-logits base.logits\n"
          "  tessera perplexity -m model-q4_0.gguf -f text.txt --kl-divergence base.logits\n"
          "The comparison prints, beside both perplexities, the mean KL divergence of\n"
          "the reference distribution to this model's (+/- its standard error), its 99th\n"
          "percentile and maximum, how often both agree on the most likely token, and\n"
          "the change of the right token's probability (delta-p: mean, RMS,\n"
          "percentiles), as llama-perplexity --kl-divergence does.\n"
          "\n"
          "Options:\n"
          "  -f, --file TEXT         the text to score (UTF-8)\n"
          "  -c, --ctx-size N        tokens per chunk (default 512; with --kl-divergence:\n"
          "                          the file's)\n"
          "  -b, --batch-size N      most tokens per forward pass (default 512)\n"
          "      --chunks N          score the first N chunks only (default: all)\n"
          "      --save-logits FILE  write every scored token's distribution to FILE\n"
          "                          (log-probabilities as half floats, with the tokens:\n"
          "                          2 bytes x vocabulary per token, about 50 MB for 500\n"
          "                          tokens of a 49k vocabulary)\n"
          "      --kl-divergence FILE  compare with the distributions FILE holds; the\n"
          "                          model's vocabulary and the text's tokens must be\n"
          "                          those it was made with\n"
          "  -m, --model FILE        the GGUF model (default: the profile's model.path)\n"
          "      --cache-type NAME   KV cache type (f16, q8_0, f32)\n"
          "      --quantize NAME     re-quantize the weights at load (q8_0, q4_0, ...)\n"
          "  -t, --threads N         CPU threads; 0 = one per physical core\n"
          "      --plugins DIR       search DIR for plugins first (may be repeated)\n"
          "  -q, --quiet             no progress lines\n"
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 unusable input (arguments, text, model,\n"
          "logits file), 3 the planner refused the deployment.\n\n",
          out);
    cli_print_environment(out);
}

static bool parse_count(const char *option, const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > (1 << 24)) {
        cli_error("perplexity: %s %s: expected a whole number from 1 to %d", option, text,
                  1 << 24);
        return false;
    }
    *out = v;
    return true;
}

/* Options of this command; 1 handled, 0 not one, -1 bad (said why). */
static int parse_own_option(int argc, char **argv, int *i, perplexity_args *a)
{
    const char *arg = argv[*i], *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    const char **path = NULL;
    if (strcmp(arg, "-f") == 0 || strcmp(arg, "--file") == 0)
        path = &a->text_path;
    else if (strcmp(arg, "--save-logits") == 0)
        path = &a->save_path;
    else if (strcmp(arg, "--kl-divergence") == 0)
        path = &a->kld_path;
    else if (strcmp(arg, "--chunks") != 0)
        return 0;
    if (!value) {
        cli_error("perplexity: %s needs a value", arg);
        return -1;
    }
    ++*i;
    if (path) {
        *path = value;
        return 1;
    }
    return parse_count(arg, value, &a->n_chunks) ? 1 : -1;
}

static int parse_args(int argc, char **argv, perplexity_args *a)
{
    memset(a, 0, sizeof *a);
    a->n_chunks = -1;
    a->overrides.max_seq_len = -1;
    a->overrides.threads = -1;
    a->overrides.greedy = true; /* nothing is sampled */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (cli_is_help(arg)) {
            perplexity_help(stdout);
            return -1;
        }
        int handled = parse_own_option(argc, argv, &i, a);
        if (handled == 0) {
            size_t n_samplers = a->overrides.n_samplers;
            handled = cli_parse_deploy_option(argc, argv, &i, &a->overrides);
            if (handled > 0 && a->overrides.n_samplers != n_samplers) {
                cli_error("perplexity: %s: nothing is sampled, so it takes no sampler options",
                          arg);
                return CLI_EXIT_USAGE;
            }
        }
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled > 0)
            continue;
        if (arg[0] != '-' && !a->profile) {
            a->profile = arg;
            continue;
        }
        cli_error("perplexity: unknown argument '%s' (see tessera perplexity --help)", arg);
        return CLI_EXIT_USAGE;
    }
    if (!a->text_path) {
        cli_error("perplexity: no text: give -f FILE (see tessera perplexity --help)");
        return CLI_EXIT_USAGE;
    }
    if (a->save_path && a->kld_path) {
        cli_error("perplexity: --save-logits and --kl-divergence: one run saves the reference "
                  "or compares with it, not both");
        return CLI_EXIT_USAGE;
    }
    if (a->overrides.max_seq_len >= 0 && a->overrides.max_seq_len < 4) {
        cli_error("perplexity: -c %lld: a chunk needs at least 4 tokens",
                  (long long)a->overrides.max_seq_len);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* ---- scoring -------------------------------------------------------------- */

/* Sums over the scored tokens, from which means and standard errors come;
 * the per-token KLD and delta-p are kept for their percentiles. */
typedef struct scores {
    size_t count;
    double nll, nll2;                   /* this model */
    double nll_base, nll_base2;         /* the reference file's */
    double kld, kld2, dp, dp2, dp4;
    size_t same_top;
    float *kld_values, *dp_values;      /* count of each, with --kl-divergence */
} scores;

typedef struct mean_error {
    double mean, error;
} mean_error;

/* The mean of n values from their sum and sum of squares, and its standard
 * error sqrt(var / (n - 1)). */
static mean_error mean_and_error(double sum, double sum2, size_t n)
{
    mean_error r = {n ? sum / (double)n : 0, 0};
    double var = n ? sum2 / (double)n - r.mean * r.mean : 0;
    if (n > 1 && var > 0)
        r.error = sqrt(var / (double)(n - 1));
    return r;
}

/* ln of the softmax's denominator, and the most likely token. */
static double log_sum_exp(const float *logits, uint32_t n_vocab, uint32_t *argmax)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n_vocab; i++)
        best = logits[i] > logits[best] ? i : best;
    double sum = 0;
    for (uint32_t i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - logits[best]);
    *argmax = best;
    return logits[best] + log(sum);
}

/* Compares one row with the reference's ln p: KL(reference || model) =
 * sum p_ref (ln p_ref - ln p). The reference is renormalised first: stored
 * as half floats its p sum to 1 only within about 1e-4, which would bias a
 * KLD near 0 by as much. */
static void compare_row(scores *sc, const float *logits, double lse, uint32_t top,
                        const float *base, uint32_t n_vocab, tsr_token target)
{
    uint32_t base_top = 0;
    double sum = 0;
    for (uint32_t i = 0; i < n_vocab; i++) {
        base_top = base[i] > base[base_top] ? i : base_top;
        sum += exp((double)base[i]);
    }
    double log_norm = log(sum), kld = 0;
    for (uint32_t i = 0; i < n_vocab; i++) {
        double log_p_base = (double)base[i] - log_norm, p_base = exp(log_p_base);
        if (p_base > 0)
            kld += p_base * (log_p_base - ((double)logits[i] - lse));
    }
    double nll_base = log_norm - (double)base[target];
    double dp = exp((double)logits[target] - lse) - exp(-nll_base);
    sc->nll_base += nll_base;
    sc->nll_base2 += nll_base * nll_base;
    sc->kld += kld;
    sc->kld2 += kld * kld;
    sc->dp += dp;
    sc->dp2 += dp * dp;
    sc->dp4 += dp * dp * dp * dp;
    sc->same_top += top == base_top;
    sc->kld_values[sc->count] = (float)kld;
    sc->dp_values[sc->count] = (float)dp;
}

typedef struct run_state {
    cli_session *s;
    tsr_batch *batch;
    const tsr_token *tokens;
    uint32_t n_ctx, n_vocab;
    tsr_token bos;              /* TSR_NO_TOKEN: the model starts without one */
    logits_file save_file, reference_file;
    logits_file *save, *reference; /* the files above while in use, else NULL */
    const char *save_path;         /* removed unless finished */
    float *base_row;            /* n_vocab ln p of the reference */
    scores sc;
} run_state;

static tsr_status score_row(run_state *r, const float *logits, tsr_token target,
                            tsr_error *err)
{
    uint32_t top;
    double lse = log_sum_exp(logits, r->n_vocab, &top);
    double nll = lse - logits[target];
    tsr_status s = TSR_OK;
    if (r->save)
        s = logits_file_write_row(r->save, logits, err);
    if (r->reference && (s = logits_file_read_row(r->reference, r->base_row, err)) == TSR_OK)
        compare_row(&r->sc, logits, lse, top, r->base_row, r->n_vocab, target);
    r->sc.nll += nll;
    r->sc.nll2 += nll * nll;
    r->sc.count++;
    return s;
}

/* Decodes chunk c from an empty cache, -b tokens a pass, and scores the
 * rows of its second half. */
static tsr_status score_chunk(run_state *r, uint32_t c, tsr_error *err)
{
    const tsr_token *chunk = r->tokens + (size_t)c * r->n_ctx;
    uint32_t first = r->n_ctx / 2, n_batch = r->batch->capacity;
    tsr_kv_clear(r->s->ctx);
    for (uint32_t start = 0; start < r->n_ctx; start += n_batch) {
        uint32_t end = start + n_batch < r->n_ctx ? start + n_batch : r->n_ctx;
        tsr_batch_clear(r->batch);
        for (uint32_t k = start; k < end; k++) {
            tsr_token t = k == 0 && r->bos != TSR_NO_TOKEN ? r->bos : chunk[k];
            tsr_batch_add(r->batch, t, (int32_t)k, 0, k >= first && k + 1 < r->n_ctx, err);
        }
        tsr_status s = tsr_decode(r->s->ctx, r->batch, err);
        uint32_t k0 = start > first ? start : first;
        for (uint32_t k = k0; s == TSR_OK && k < end && k + 1 < r->n_ctx; k++)
            s = score_row(r, tsr_logits(r->s->ctx, (int32_t)(k - start)), chunk[k + 1], err);
        if (s != TSR_OK)
            return s;
    }
    return TSR_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_progress(const run_state *r, uint32_t done, uint32_t n_chunks,
                           double seconds)
{
    mean_error nll = mean_and_error(r->sc.nll, r->sc.nll2, r->sc.count);
    double ppl = exp(nll.mean);
    fprintf(stderr, "[%u/%u] PPL = %.4f +/- %.4f", done, n_chunks, ppl, ppl * nll.error);
    if (r->reference) {
        mean_error kld = mean_and_error(r->sc.kld, r->sc.kld2, r->sc.count);
        fprintf(stderr, ", KLD = %.6f +/- %.6f", kld.mean, kld.error);
    }
    fprintf(stderr, " (%.2f s a chunk)\n", seconds / done);
}

/* ---- the report ----------------------------------------------------------- */

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The value below which a fraction of the sorted values lies, interpolated
 * linearly between neighbours. */
static double percentile(const float *sorted, size_t n, double fraction)
{
    double at = fraction * (double)(n - 1);
    size_t i = (size_t)at;
    if (i + 1 >= n)
        return sorted[n - 1];
    return sorted[i] + (at - (double)i) * (sorted[i + 1] - sorted[i]);
}

static void print_comparison(const scores *sc)
{
    size_t n = sc->count;
    mean_error base = mean_and_error(sc->nll_base, sc->nll_base2, n);
    mean_error kld = mean_and_error(sc->kld, sc->kld2, n);
    mean_error dp = mean_and_error(sc->dp, sc->dp2, n);
    mean_error dp_square = mean_and_error(sc->dp2, sc->dp4, n);
    double same = (double)sc->same_top / (double)n;
    double rms = sqrt(dp_square.mean);
    qsort(sc->kld_values, n, sizeof *sc->kld_values, compare_floats);
    qsort(sc->dp_values, n, sizeof *sc->dp_values, compare_floats);
    printf("Reference:      PPL = %.4f +/- %.5f\n", exp(base.mean), exp(base.mean) * base.error);
    printf("\nKL divergence of the reference to this model, over %zu tokens:\n", n);
    printf("Mean KLD:       %.6f +/- %.6f\n", kld.mean, kld.error);
    printf("Maximum KLD:    %.6f\n", (double)sc->kld_values[n - 1]);
    printf("99.0%% KLD:      %.6f\n", percentile(sc->kld_values, n, 0.99));
    printf("Median KLD:     %.6f\n", percentile(sc->kld_values, n, 0.5));
    printf("Same top token: %.3f +/- %.3f %%\n", 100 * same,
           n > 1 ? 100 * sqrt(same * (1 - same) / (double)(n - 1)) : 0.0);
    printf("\nChange of the right token's probability (delta-p = p - p_reference):\n");
    printf("Mean delta-p:   %.3f +/- %.3f %%\n", 100 * dp.mean, 100 * dp.error);
    printf("RMS delta-p:    %.3f %%\n", 100 * rms);
    static const struct {
        const char *name;
        double fraction;
    } points[] = {{"Maximum", 1}, {"99.0%", 0.99}, {"95.0%", 0.95}, {"90.0%", 0.90},
                  {"Median", 0.5}, {"10.0%", 0.10}, {"5.0%", 0.05}, {"1.0%", 0.01},
                  {"Minimum", 0}};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        printf("%-8s delta-p: %.3f %%\n", points[i].name,
               100 * percentile(sc->dp_values, n, points[i].fraction));
}

/* ---- the command ---------------------------------------------------------- */

/* The text's tokens, as the model reads them (BOS first when it asks). */
static tsr_status tokenize_text(const tsr_deployment *d, const char *text, size_t n_bytes,
                                tsr_token **tokens, size_t *n, tsr_error *err)
{
    size_t cap = n_bytes + 16;
    *tokens = malloc(cap * sizeof **tokens);
    if (!*tokens)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the text's tokens");
    tsr_status s = tsr_tokenize(d, text, n_bytes, TSR_TOKENIZE_ADD_SPECIAL, *tokens, cap, n,
                                err);
    if (s == TSR_OK && *n > cap) {
        tsr_token *bigger = realloc(*tokens, *n * sizeof **tokens);
        if (!bigger)
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the text's tokens");
        *tokens = bigger;
        s = tsr_tokenize(d, text, n_bytes, TSR_TOKENIZE_ADD_SPECIAL, *tokens, *n, n, err);
    }
    return s;
}

/* The chunk size: -c, or the reference file's, or the default. */
static int choose_ctx(perplexity_args *a)
{
    if (!a->kld_path) {
        if (a->overrides.max_seq_len < 0)
            a->overrides.max_seq_len = DEFAULT_CTX;
        return CLI_EXIT_OK;
    }
    tsr_error err = {0};
    uint32_t n_ctx;
    if (logits_file_peek(a->kld_path, &n_ctx, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    if (a->overrides.max_seq_len >= 0 && a->overrides.max_seq_len != n_ctx) {
        cli_error("perplexity: %s was made with chunks of %u tokens; -c %lld would score "
                  "other tokens (leave -c out, or give -c %u)", a->kld_path, n_ctx,
                  (long long)a->overrides.max_seq_len, n_ctx);
        return CLI_EXIT_USAGE;
    }
    a->overrides.max_seq_len = n_ctx;
    return CLI_EXIT_OK;
}

static int read_text(const char *path, char **text, size_t *n_bytes)
{
    tsr_error err = {0};
    if (tsr_text_read_file(path, "a text", max_text_bytes, "the most perplexity reads", text,
                           n_bytes, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    if (*n_bytes == 0) {
        cli_error("perplexity: %s is empty: there is no text to score", path);
        free(*text);
        *text = NULL;
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Everything between the open session and the report: the chunks counted,
 * the files opened, every chunk scored. */
static int evaluate(const perplexity_args *a, cli_session *s, const tsr_token *tokens,
                    size_t n_tokens, run_state *r)
{
    tsr_error err = {0};
    uint32_t n_ctx = (uint32_t)a->overrides.max_seq_len;
    if (tsr_deployment_max_seq_len(s->d) < n_ctx) {
        cli_error("perplexity: -c %u: the deployment holds only %u positions a sequence "
                  "(the profile's model.max_seq_len or the planner's limit)", n_ctx,
                  tsr_deployment_max_seq_len(s->d));
        return CLI_EXIT_USAGE;
    }
    uint32_t n_train = tsr_deployment_n_ctx_train(s->d);
    if (n_train > 0 && n_ctx > n_train) {
        cli_error("perplexity: -c %u: the model was trained on %u positions; beyond them its "
                  "predictions, and so the figure, mean nothing (give -c %u or less)", n_ctx,
                  n_train, n_train);
        return CLI_EXIT_USAGE;
    }
    if (n_tokens < 2 * (size_t)n_ctx) {
        cli_error("perplexity: %s is %zu tokens; -c %u needs at least %zu (two chunks): give "
                  "a longer text or a smaller -c", a->text_path, n_tokens, n_ctx,
                  2 * (size_t)n_ctx);
        return CLI_EXIT_USAGE;
    }
    uint32_t n_chunks = (uint32_t)(n_tokens / n_ctx);
    if (a->n_chunks > 0 && (uint64_t)a->n_chunks < n_chunks)
        n_chunks = (uint32_t)a->n_chunks;
    *r = (run_state){.s = s, .tokens = tokens, .n_ctx = n_ctx,
                     .n_vocab = tsr_deployment_n_vocab(s->d), .bos = TSR_NO_TOKEN};
    tsr_token bos = tsr_token_bos(s->d);
    if (bos != TSR_NO_TOKEN && tokens[0] == bos)
        r->bos = bos;
    tsr_status st = TSR_OK;
    if (a->save_path) {
        st = logits_file_create(&r->save_file, a->save_path, r->n_vocab, n_ctx, n_chunks,
                                tokens, &err);
        r->save = &r->save_file;
        r->save_path = a->save_path;
    } else if (a->kld_path) {
        st = logits_file_open(&r->reference_file, a->kld_path, r->n_vocab, tokens, n_tokens,
                              &err);
        if (st == TSR_OK) {
            r->reference = &r->reference_file;
            if (r->reference->n_chunks < n_chunks)
                n_chunks = r->reference->n_chunks;
        }
    }
    if (st != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    size_t n_scored = (size_t)n_chunks * logits_rows_per_chunk(n_ctx);
    if (r->reference) {
        r->base_row = malloc(r->n_vocab * sizeof *r->base_row);
        r->sc.kld_values = malloc(n_scored * sizeof *r->sc.kld_values);
        r->sc.dp_values = malloc(n_scored * sizeof *r->sc.dp_values);
        if (!r->base_row || !r->sc.kld_values || !r->sc.dp_values) {
            cli_error("out of memory for %zu scored tokens", n_scored);
            return CLI_EXIT_FAILURE;
        }
    }
    uint32_t n_batch = tsr_deployment_n_batch(s->d) < n_ctx ? tsr_deployment_n_batch(s->d)
                                                             : n_ctx;
    if (tsr_batch_open(n_batch, &r->batch, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    if (!a->overrides.quiet)
        fprintf(stderr, "perplexity: %zu tokens, %u chunks of %u, scoring %zu tokens\n",
                n_tokens, n_chunks, n_ctx, n_scored);
    double t0 = now_seconds();
    for (uint32_t c = 0; c < n_chunks; c++) {
        if ((st = score_chunk(r, c, &err)) != TSR_OK)
            return cli_fail(&err, st == TSR_ERR_FORMAT && r->reference ? CLI_EXIT_USAGE
                                                                       : CLI_EXIT_FAILURE);
        if (!a->overrides.quiet)
            print_progress(r, c + 1, n_chunks, now_seconds() - t0);
    }
    if (r->save)
        st = logits_file_finish(r->save, &err);
    else if (r->reference)
        st = logits_file_verify(r->reference, n_chunks == r->reference->n_chunks, &err);
    if (r->save && st == TSR_OK)
        r->save_path = NULL;
    r->save = r->reference = NULL;
    if (st != TSR_OK)
        return cli_fail(&err, st == TSR_ERR_IO ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE);
    return CLI_EXIT_OK;
}

static void run_state_free(run_state *r)
{
    if (r->save)
        logits_file_close(r->save);
    if (r->save_path) /* half a reference would only mislead */
        remove(r->save_path);
    if (r->reference)
        logits_file_close(r->reference);
    tsr_batch_close(r->batch);
    free(r->base_row);
    free(r->sc.kld_values);
    free(r->sc.dp_values);
}

static int perplexity_run(int argc, char **argv)
{
    perplexity_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    char *text = NULL;
    size_t n_bytes;
    if ((rc = read_text(a.text_path, &text, &n_bytes)) != CLI_EXIT_OK ||
        (rc = choose_ctx(&a)) != CLI_EXIT_OK) {
        free(text);
        return rc;
    }
    uint32_t batch = a.overrides.n_batch ? a.overrides.n_batch : DEFAULT_BATCH;
    a.overrides.n_batch = batch < a.overrides.max_seq_len ? batch
                                                          : (uint32_t)a.overrides.max_seq_len;
    cli_session s;
    cli_session_options so = {.n_seq_max = 1, .all_logits = true};
    if ((rc = cli_session_open(a.profile, &a.overrides, &so, &s)) != CLI_EXIT_OK) {
        free(text);
        return rc;
    }
    tsr_token *tokens = NULL;
    size_t n_tokens = 0;
    tsr_error err = {0};
    run_state r = {0};
    if (tokenize_text(s.d, text, n_bytes, &tokens, &n_tokens, &err) != TSR_OK)
        rc = cli_fail(&err, CLI_EXIT_USAGE);
    else
        rc = evaluate(&a, &s, tokens, n_tokens, &r);
    if (rc == CLI_EXIT_OK) {
        mean_error nll = mean_and_error(r.sc.nll, r.sc.nll2, r.sc.count);
        printf("Final estimate: PPL = %.4f +/- %.5f\n", exp(nll.mean), exp(nll.mean) * nll.error);
        if (r.sc.kld_values)
            print_comparison(&r.sc);
    }
    run_state_free(&r);
    free(tokens);
    free(text);
    cli_session_close(&s);
    return rc;
}

const cli_command cli_command_perplexity = {
    "perplexity", "score a text: perplexity, KL divergence to a reference", perplexity_run,
    perplexity_help};
