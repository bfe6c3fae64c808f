/* tessera bench: prompt-processing and generation speed, in llama-bench's
 * terms (ppN: N prompt tokens in one batch; tgN: N tokens one at a time). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy.h"
#include "threadpool.h"

enum { MAX_TESTS = 8 };

typedef struct bench_args {
    const char *profile;
    int64_t pp[MAX_TESTS], tg[MAX_TESTS];
    size_t n_pp, n_tg;
    int64_t repeats;
    cli_overrides overrides;
} bench_args;

static void bench_help(FILE *out)
{
    fputs("Usage: tessera bench [PROFILE] [-m MODEL] [-p N[,N...]] [-n N[,N...]] [-r N]\n"
          "\n"
          "Measures the model's speed on this machine and prints a table in llama-bench's\n"
          "style: ppN is N prompt tokens processed as one batch (prefill), tgN is N tokens\n"
          "generated one after another (decode), each as tokens/s, mean +- standard\n"
          "deviation over the repetitions, after one warm-up run. No sampling is timed.\n"
          "\n"
          "Options:\n"
          "  -p, --n-prompt N,...    prompt lengths to test (default 512; 0 = none)\n"
          "  -n, --n-gen N,...       generation lengths to test (default 128; 0 = none)\n"
          "  -r, --repetitions N     runs of each test (default 5)\n"
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
        if ((is_pp || is_tg || is_r) && !value) {
            cli_error("bench: %s needs a value", arg);
            return CLI_EXIT_USAGE;
        }
        if (is_pp || is_tg) {
            if (!parse_list(arg, value, is_pp ? a->pp : a->tg, is_pp ? &a->n_pp : &a->n_tg))
                return CLI_EXIT_USAGE;
            i++;
            continue;
        }
        if (is_r) {
            char *end;
            a->repeats = strtoll(value, &end, 10);
            if (*end || end == value || a->repeats < 1 || a->repeats > 1000) {
                cli_error("bench: -r %s: expected 1 to 1000 repetitions", value);
                return CLI_EXIT_USAGE;
            }
            i++;
            continue;
        }
        int handled = cli_parse_deploy_option(argc, argv, &i, &a->overrides);
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled > 0)
            continue;
        if (arg[0] != '-' && !a->profile) {
            a->profile = arg;
            continue;
        }
        cli_error("bench: unknown argument '%s' (see tessera bench --help)", arg);
        return CLI_EXIT_USAGE;
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

/* Seconds for one test: a batch of n tokens (prefill), or n single steps. */
static tsr_status time_test(tsr_model *model, const int32_t *tokens, int64_t n, bool batch,
                            double *seconds, tsr_error *err)
{
    tsr_model_rollback(model, 0);
    double t0 = now_seconds();
    tsr_status s = TSR_OK;
    if (batch)
        s = tsr_model_eval(model, tokens, (size_t)n, err);
    for (int64_t i = 0; !batch && s == TSR_OK && i < n; i++)
        s = tsr_model_eval(model, &tokens[i], 1, err);
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

static int bench_run(int argc, char **argv)
{
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int64_t longest = 0;
    for (size_t i = 0; i < a.n_pp; i++)
        longest = a.pp[i] > longest ? a.pp[i] : longest;
    for (size_t i = 0; i < a.n_tg; i++)
        longest = a.tg[i] > longest ? a.tg[i] : longest;
    if (a.overrides.max_seq_len < 0)
        a.overrides.max_seq_len = longest;
    if (a.overrides.n_batch == 0)
        a.overrides.n_batch = (uint32_t)(longest > 512 ? longest : 512);
    cli_deployment d;
    rc = cli_deployment_open(a.profile, &a.overrides, false, &d);
    if (rc != CLI_EXIT_OK) {
        cli_deployment_close(&d);
        return rc;
    }
    const tsr_llama_config *c = tsr_model_config(d.model);
    int32_t *tokens = malloc((size_t)longest * sizeof *tokens);
    if (!tokens) {
        cli_deployment_close(&d);
        return CLI_EXIT_FAILURE;
    }
    /* Deterministic, varied token ids, as llama-bench's random tokens. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int64_t i = 0; i < longest; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tokens[i] = (int32_t)(x % c->n_vocab);
    }
    uint64_t params = 0, bytes = 0;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(d.gguf); i++) {
        params += tsr_gguf_tensor_at(d.gguf, i)->n_elems;
        bytes += tsr_gguf_tensor_at(d.gguf, i)->n_bytes;
    }
    tsr_gguf_str name = {"", 0};
    tsr_gguf_get_str(d.gguf, "general.name", &name);
    char model_name[31], size[16], params_text[16];
    snprintf(model_name, sizeof model_name, "%.*s", (int)name.len, name.data);
    /* Re-quantized at load, the size is what the weights take in memory. */
    if (d.profile->model.quantize)
        bytes = d.plan->models[0].weights_bytes;
    snprintf(size, sizeof size, "%.2f MiB", bytes / 1048576.0);
    snprintf(params_text, sizeof params_text, "%.2f M", params / 1e6);
    uint32_t threads = d.profile->threads;
    print_header();
    tsr_error err = {0};
    tsr_status s = TSR_OK;
    for (int pass = 0; pass < 2 && s == TSR_OK; pass++) {
        size_t n_tests = pass == 0 ? a.n_pp : a.n_tg;
        for (size_t t = 0; t < n_tests && s == TSR_OK; t++) {
            int64_t n = pass == 0 ? a.pp[t] : a.tg[t];
            double seconds, sum = 0, sum_sq = 0;
            s = time_test(d.model, tokens, n, pass == 0, &seconds, &err); /* warm-up */
            for (int64_t r = 0; r < a.repeats && s == TSR_OK; r++) {
                s = time_test(d.model, tokens, n, pass == 0, &seconds, &err);
                double rate = (double)n / seconds;
                sum += rate;
                sum_sq += rate * rate;
            }
            if (s != TSR_OK)
                break;
            double mean = sum / (double)a.repeats;
            double var = a.repeats > 1 ? (sum_sq - sum * mean) / (double)(a.repeats - 1) : 0;
            char test[16], rate[32];
            snprintf(test, sizeof test, "%s%lld", pass == 0 ? "pp" : "tg", (long long)n);
            snprintf(rate, sizeof rate, "%.2f ± %.2f", mean, sqrt(var > 0 ? var : 0));
            printf("| %-30s | %10s | %10s | %-8s | %7u | %8s | %21s |\n", model_name, size,
                   params_text, "CPU", threads ? threads : tsr_cpu_physical_cores(), test,
                   rate);
            fflush(stdout);
        }
    }
    free(tokens);
    cli_deployment_close(&d);
    if (s != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    return CLI_EXIT_OK;
}

const cli_command cli_command_bench = {"bench", "measure prompt and generation tokens/s",
                                       bench_run, bench_help};
