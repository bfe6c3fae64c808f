/* tessera bench: prompt-processing and generation speed, in llama-bench's
 * terms (ppN: N prompt tokens in one batch; tgN: N tokens one at a time). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_spec.h"

enum { MAX_TESTS = 8, MAX_PARALLEL = 256 };

typedef struct bench_args {
    const char *profile;
    int64_t pp[MAX_TESTS], tg[MAX_TESTS], parallel[MAX_TESTS];
    size_t n_pp, n_tg, n_parallel;
    int64_t repeats;
    bool spec_compare, tg_given, repeats_given;
    const char *prompts;
    cli_overrides overrides;
} bench_args;

static void bench_help(FILE *out)
{
    fputs("Usage: tessera bench [PROFILE] [-m MODEL] [-p N[,N...]] [-n N[,N...]] [-r N]\n"
          "                     [--parallel P[,P...]]\n"
          "       tessera bench PROFILE --spec-compare [--prompts FILE] [-n N] [-r N]\n"
          "\n"
          "Measures the model's speed on this machine and prints a table in llama-bench's\n"
          "style: ppN is N prompt tokens processed as one batch (prefill), tgN is N tokens\n"
          "generated one after another (decode), each as tokens/s, mean +- standard\n"
          "deviation over the repetitions, after one warm-up run. No sampling is timed,\n"
          "so the sampling options below are refused (--seed and --temp 0 aside). Below\n"
          "the table, one line per tensor type: the quant plugin file and the kernels\n"
          "that computed it.\n"
          "\n"
          "Options:\n"
          "  -p, --n-prompt N,...    prompt lengths to test (default 512; 0 = none)\n"
          "  -n, --n-gen N,...       generation lengths to test (default 128; 0 = none)\n"
          "  -r, --repetitions N     runs of each test (default 5)\n"
          "      --parallel P,...    also run each tgN with P sequences decoding together,\n"
          "                          one forward pass a step (\"tgN xP\": aggregate tokens/s\n"
          "                          of all P; x1 is the single sequence through the same\n"
          "                          path), as a server's continuous batching does\n"
          "      --spec-compare      the profile's speculative strategy against decoding one\n"
          "                          token at a time: chat prompts (input-grounded ones, as\n"
          "                          editing a list or answering from a document, and open-\n"
          "                          ended ones) generated both ways, alternately, greedy;\n"
          "                          tokens/s of each, the speedup, the drafts accepted and\n"
          "                          tokens per forward pass. -n is the tokens per prompt\n"
          "                          (default 128), -r the runs of each (default 3). Fails\n"
          "                          when the two texts differ\n"
          "      --prompts FILE      with --spec-compare: one user message per line of FILE\n"
          "                          instead of the built-in prompts\n"
          "\n",
          out);
    cli_print_deploy_options(out);
    fputs("\n  -h, --help              show this help\n\n"
          "Exit status: 0 success, 1 failure, 2 unusable input.\n\n",
          out);
    cli_print_environment(out);
}

static bool parse_list(const char *option, const char *text, int64_t *out, size_t *n)
{
    char *copy = strdup(text), *save = NULL;
    *n = 0;
    bool ok = copy != NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        long long v = strtoll(tok, &end, 10);
        if (errno || *end || end == tok || v < 0 || v > (1 << 20) || *n == MAX_TESTS) {
            cli_error("bench: %s %s: expected up to %d comma-separated token counts", option,
                      text, MAX_TESTS);
            ok = false;
        } else if (v > 0) {
            out[(*n)++] = v;
        }
    }
    free(copy);
    return ok;
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    memset(a, 0, sizeof *a);
    a->pp[a->n_pp++] = 512;
    a->tg[a->n_tg++] = 128;
    a->repeats = 5;
    a->overrides.max_seq_len = -1;
    a->overrides.threads = -1;
    a->overrides.greedy = true; /* sampling is not timed; keep the chain trivial */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(arg)) {
            bench_help(stdout);
            return -1;
        }
        bool is_pp = strcmp(arg, "-p") == 0 || strcmp(arg, "--n-prompt") == 0;
        bool is_tg = strcmp(arg, "-n") == 0 || strcmp(arg, "--n-gen") == 0;
        bool is_r = strcmp(arg, "-r") == 0 || strcmp(arg, "--repetitions") == 0;
        bool is_parallel = strcmp(arg, "--parallel") == 0;
        bool is_prompts = strcmp(arg, "--prompts") == 0;
        if (strcmp(arg, "--spec-compare") == 0) {
            a->spec_compare = true;
            continue;
        }
        if ((is_pp || is_tg || is_r || is_parallel || is_prompts) && !value) {
            cli_error("bench: %s needs a value", arg);
            return CLI_EXIT_USAGE;
        }
        if (is_prompts) {
            a->prompts = value;
            i++;
            continue;
        }
        if (is_pp || is_tg) {
            if (!parse_list(arg, value, is_pp ? a->pp : a->tg, is_pp ? &a->n_pp : &a->n_tg))
                return CLI_EXIT_USAGE;
            a->tg_given = a->tg_given || is_tg;
            i++;
            continue;
        }
        if (is_parallel) {
            if (!parse_list(arg, value, a->parallel, &a->n_parallel))
                return CLI_EXIT_USAGE;
            for (size_t k = 0; k < a->n_parallel; k++)
                if (a->parallel[k] > MAX_PARALLEL) {
                    cli_error("bench: --parallel %s: at most %d sequences", value, MAX_PARALLEL);
                    return CLI_EXIT_USAGE;
                }
            i++;
            continue;
        }
        if (is_r) {
            char *end;
            errno = 0;
            a->repeats = strtoll(value, &end, 10);
            if (errno || *end || end == value || a->repeats < 1 || a->repeats > 1000) {
                cli_error("bench: -r %s: expected 1 to 1000 repetitions", value);
                return CLI_EXIT_USAGE;
            }
            a->repeats_given = true;
            i++;
            continue;
        }
        size_t n_samplers = a->overrides.n_samplers;
        int handled = cli_parse_deploy_option(argc, argv, &i, &a->overrides);
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled > 0 && a->overrides.n_samplers != n_samplers) {
            /* Accepted unchecked, a sampler option would say the run measured
             * something it did not. */
            cli_error("bench: %s: bench times no sampling, so it takes no sampler options", arg);
            return CLI_EXIT_USAGE;
        }
        if (handled > 0)
            continue;
        if (arg[0] != '-' && !a->profile) {
            a->profile = arg;
            continue;
        }
        cli_error("bench: unknown argument '%s' (see tessera bench --help)", arg);
        return CLI_EXIT_USAGE;
    }
    if (a->prompts && !a->spec_compare) {
        cli_error("bench: --prompts is for --spec-compare");
        return CLI_EXIT_USAGE;
    }
    if (a->spec_compare) {
        if (a->n_parallel) {
            cli_error("bench: --spec-compare measures one sequence; drop --parallel");
            return CLI_EXIT_USAGE;
        }
        if (a->tg_given && a->n_tg != 1) {
            cli_error("bench: --spec-compare takes one -n (tokens per prompt)");
            return CLI_EXIT_USAGE;
        }
        if (!a->tg_given)
            a->tg[0] = 128;
        if (!a->repeats_given)
            a->repeats = 3;
        return CLI_EXIT_OK;
    }
    if (a->n_pp + a->n_tg == 0) {
        cli_error("bench: nothing to measure (-p 0 and -n 0)");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds for one test: a batch of n tokens (prefill), n single steps of
 * one sequence, or n steps of n_seq sequences decoding together. Every
 * sequence starts empty. */
static tsr_status time_test(cli_session *b, tsr_batch *batch, const tsr_token *tokens,
                            int64_t n, bool prefill, int64_t n_seq, double *seconds,
                            tsr_error *err)
{
    tsr_kv_clear(b->ctx);
    double t0 = now_seconds();
    tsr_status s = TSR_OK;
    if (prefill) {
        tsr_batch_clear(batch);
        for (int64_t i = 0; i < n; i++)
            tsr_batch_add(batch, tokens[i], (int32_t)i, 0, i + 1 == n, err);
        s = tsr_decode(b->ctx, batch, err);
    }
    for (int64_t i = 0; !prefill && s == TSR_OK && i < n; i++) {
        tsr_batch_clear(batch);
        for (int64_t q = 0; q < n_seq; q++)
            tsr_batch_add(batch, tokens[(i + 7 * q) % n], (int32_t)i, (int32_t)q, true, err);
        s = tsr_decode(b->ctx, batch, err);
    }
    *seconds = now_seconds() - t0;
    return s;
}

static void print_header(void)
{
    printf("| %-30s | %10s | %10s | %-8s | %7s | %8s | %20s |\n", "model", "size", "params",
           "backend", "threads", "test", "t/s");
    printf("| %.30s | %.10s:| %.10s:| %.8s | %.7s:| %.8s:| %.20s:|\n",
           "------------------------------", "----------", "----------", "--------", "-------",
           "--------", "--------------------");
}

/* One row of the table: the test repeated, tokens/s mean +- sd. Returns
 * false when measuring or printing failed (*rc says how to exit). */
typedef struct bench_row {
    const char *model_name, *size, *params;
    uint32_t threads;
} bench_row;

static bool measure(cli_session *b, tsr_batch *batch, const tsr_token *tokens,
                    const bench_args *a, const bench_row *row, int64_t n, bool prefill,
                    int64_t n_seq, bool parallel_row, int *rc)
{
    tsr_error err = {0};
    double seconds, sum = 0, sum_sq = 0;
    tsr_status s = time_test(b, batch, tokens, n, prefill, n_seq, &seconds, &err); /* warm-up */
    for (int64_t r = 0; r < a->repeats && s == TSR_OK; r++) {
        s = time_test(b, batch, tokens, n, prefill, n_seq, &seconds, &err);
        double rate = (double)(n * n_seq) / seconds;
        sum += rate;
        sum_sq += rate * rate;
    }
    if (s != TSR_OK) {
        *rc = cli_fail(&err, CLI_EXIT_FAILURE);
        return false;
    }
    double mean = sum / (double)a->repeats;
    double var = a->repeats > 1 ? (sum_sq - sum * mean) / (double)(a->repeats - 1) : 0;
    char test[32], rate[32];
    if (parallel_row)
        snprintf(test, sizeof test, "tg%lld x%lld", (long long)n, (long long)n_seq);
    else
        snprintf(test, sizeof test, "%s%lld", prefill ? "pp" : "tg", (long long)n);
    snprintf(rate, sizeof rate, "%.2f ± %.2f", mean, sqrt(var > 0 ? var : 0));
    printf("| %-30s | %10s | %10s | %-8s | %7u | %8s | %21s |\n", row->model_name, row->size,
           row->params, "CPU", row->threads, test, rate);
    if (fflush(stdout) != 0) { /* stop measuring for no one */
        *rc = cli_output_failed(errno);
        return false;
    }
    return true;
}

static int bench_run(int argc, char **argv)
{
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.spec_compare)
        return bench_spec_compare(a.profile, &a.overrides, a.tg[0], a.repeats, a.prompts);
    int64_t longest = 0, most_parallel = 1;
    for (size_t i = 0; i < a.n_pp; i++)
        longest = a.pp[i] > longest ? a.pp[i] : longest;
    for (size_t i = 0; i < a.n_tg; i++)
        longest = a.tg[i] > longest ? a.tg[i] : longest;
    for (size_t i = 0; i < a.n_parallel; i++)
        most_parallel = a.parallel[i] > most_parallel ? a.parallel[i] : most_parallel;
    if (a.overrides.max_seq_len < 0)
        a.overrides.max_seq_len = longest;
    if (a.overrides.n_batch == 0)
        a.overrides.n_batch = (uint32_t)(longest > 512 ? longest : 512);
    if (a.overrides.n_batch < most_parallel)
        a.overrides.n_batch = (uint32_t)most_parallel;
    cli_session b;
    cli_session_options so = {.n_seq_max = (uint32_t)most_parallel};
    rc = cli_session_open(a.profile, &a.overrides, &so, &b);
    tsr_token *tokens = rc == CLI_EXIT_OK ? malloc((size_t)longest * sizeof *tokens) : NULL;
    tsr_batch *batch = NULL;
    tsr_error err = {0};
    if (rc == CLI_EXIT_OK && (!tokens || tsr_batch_open(tsr_deployment_n_batch(b.d), &batch,
                                                        &err) != TSR_OK)) {
        tsr_error_set(&err, TSR_ERR_NOMEM, "out of memory for the test's tokens");
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
    }
    if (rc != CLI_EXIT_OK) {
        free(tokens);
        cli_session_close(&b);
        return rc;
    }
    /* Deterministic, varied token ids, as llama-bench's random tokens. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int64_t i = 0; i < longest; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tokens[i] = (tsr_token)(x % tsr_deployment_n_vocab(b.d));
    }
    uint64_t params, file_bytes, held_bytes;
    tsr_deployment_size(b.d, &params, &file_bytes, &held_bytes);
    char model_name[31] = "", size[16], params_text[16];
    tsr_deployment_meta(b.d, "general.name", model_name, sizeof model_name);
    /* Re-quantized at load, the size is what the weights take in memory. */
    uint64_t bytes = tsr_deployment_quantize(b.d) ? held_bytes : file_bytes;
    snprintf(size, sizeof size, "%.2f MiB", bytes / 1048576.0);
    snprintf(params_text, sizeof params_text, "%.2f M", params / 1e6);
    bench_row row = {model_name, size, params_text, tsr_deployment_n_threads(b.d)};
    print_header();
    if (fflush(stdout) != 0)
        rc = cli_output_failed(errno);
    bool ok = rc == CLI_EXIT_OK;
    for (size_t t = 0; ok && t < a.n_pp; t++)
        ok = measure(&b, batch, tokens, &a, &row, a.pp[t], true, 1, false, &rc);
    for (size_t t = 0; ok && t < a.n_tg; t++)
        ok = measure(&b, batch, tokens, &a, &row, a.tg[t], false, 1, false, &rc);
    for (size_t t = 0; ok && t < a.n_tg; t++)
        for (size_t p = 0; ok && p < a.n_parallel; p++)
            ok = measure(&b, batch, tokens, &a, &row, a.tg[t], false, a.parallel[p], true, &rc);
    /* As llama-bench ends with its build: what computed, from which file. */
    if (ok) {
        printf("\n");
        cli_print_formats(stdout, b.d, "", "");
        rc = cli_finish_output(rc);
    }
    free(tokens);
    tsr_batch_close(batch);
    cli_session_close(&b);
    return rc;
}

const cli_command cli_command_bench = {"bench", "measure prompt and generation tokens/s",
                                       bench_run, bench_help};
