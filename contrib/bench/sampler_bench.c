/* How long sampling takes: the profile's default chain and a chain of every
 * sampler, on a vocabulary of 128k logits, in microseconds per token, beside
 * one decode step of the default model when given (--decode-ms, which
 * contrib/bench/decode_step.py measures with llama.cpp).
 *
 *   contrib/bench/sampler-bench [--plugins DIR] [--vocab N] [--steps N]
 *                               [--decode-ms MS] [--only default|full|worst]
 *
 * Plugins come from DIR, else $TESSERA_PLUGIN_PATH, else plugins/.libs (run
 * it from the build tree). Logits are synthetic: Gaussian with a standard
 * deviation of 3, a fresh array each step from a pool, so every chain sees
 * the same inputs. Built by `make`, not run by `make check`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include "rng.h"
#include "sampler_chain.h"

enum { POOL = 16 };

typedef struct setting {
    const char *sampler;
    const char *param;
    const char *value;
} setting;

/* The profile's default chain (PROFILE.md); dist is appended. */
static const setting default_chain[] = {
    {"repetition_penalty", "penalty", "1.1"}, {"repetition_penalty", "last_n", "64"},
    {"top_k", "k", "40"},
    {"top_p", "p", "0.95"},
    {"min_p", "p", "0.05"},
    {"temperature", "temperature", "0.8"},
};

/* Every sampler of the set, in llama.cpp's order; dist is appended. */
static const setting full_chain[] = {
    {"logit_bias", NULL, NULL},
    {"repetition_penalty", "penalty", "1.1"},
    {"frequency_penalty", "penalty", "0.1"},
    {"presence_penalty", "penalty", "0.1"},
    {"dry", "multiplier", "0.8"}, {"dry", "last_n", "1024"},
    {"top_n_sigma", "n", "3"},
    {"top_k", "k", "40"},
    {"typical_p", "p", "0.95"},
    {"top_p", "p", "0.95"},
    {"min_p", "p", "0.05"},
    {"xtc", "probability", "0.5"},
    {"temperature", "temperature", "0.8"}, {"temperature", "dynamic_range", "0.2"},
};

/* The same without top_k: every sampler then works on the whole vocabulary
 * (typical_p and top_p sort it), the worst case. */
static const setting full_chain_no_top_k[] = {
    {"logit_bias", NULL, NULL},
    {"repetition_penalty", "penalty", "1.1"},
    {"frequency_penalty", "penalty", "0.1"},
    {"presence_penalty", "penalty", "0.1"},
    {"dry", "multiplier", "0.8"}, {"dry", "last_n", "1024"},
    {"top_n_sigma", "n", "3"},
    {"typical_p", "p", "0.95"},
    {"top_p", "p", "0.95"},
    {"min_p", "p", "0.05"},
    {"xtc", "probability", "0.5"},
    {"temperature", "temperature", "0.8"}, {"temperature", "dynamic_range", "0.2"},
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A standard normal draw (Box-Muller). */
static double gaussian(tsr_rng *rng)
{
    double u = 1.0 - tsr_rng_uniform(rng), v = tsr_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Microseconds per token of the chain the settings describe, or -1. */
static double time_chain(const tsr_registry *reg, const setting *settings, size_t n_settings,
                         float *const *pool, int32_t n_vocab, int steps)
{
    tsr_sampler_list list = {0};
    tsr_error err = {0};
    tsr_sampler_chain *chain = NULL;
    for (size_t i = 0; i < n_settings; i++) {
        const setting *s = &settings[i];
        if (s->param) {
            if (tsr_sampler_list_override(&list, reg, s->sampler, s->param, s->value, true,
                                          &err) != TSR_OK) {
                fprintf(stderr, "sampler-bench: %s\n", err.message);
                goto fail;
            }
            continue;
        }
        /* logit_bias: a few biased tokens, as a request might carry. */
        const tsr_plugin *plugin = tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, s->sampler);
        tsr_sampler_entry *entry;
        const char *keys[] = {"13", "100", "1000"};
        const double values[] = {-INFINITY, 2.0, -1.0};
        if (!plugin || tsr_sampler_list_append(&list, plugin, &entry, &err) != TSR_OK ||
            tsr_param_set_map(&entry->params, 0, keys, values, 3, &err) != TSR_OK) {
            fprintf(stderr, "sampler-bench: cannot add %s: %s\n", s->sampler, err.message);
            goto fail;
        }
    }
    tsr_sampler_chain_config config = {.n_vocab = n_vocab, .seed = 42, .max_seq_len = 4096};
    if (tsr_sampler_chain_open(reg, list.entries, list.n_entries, &config, &chain, &err) !=
        TSR_OK) {
        fprintf(stderr, "sampler-bench: %s\n", err.message);
        goto fail;
    }
    int32_t token;
    for (int i = 0; i < 32; i++) /* warm up, and fill the penalty windows */
        tsr_sampler_chain_sample(chain, pool[i % POOL], &token, &err);
    double start = now_seconds();
    for (int i = 0; i < steps; i++)
        if (tsr_sampler_chain_sample(chain, pool[i % POOL], &token, &err) != TSR_OK) {
            fprintf(stderr, "sampler-bench: %s\n", err.message);
            goto fail;
        }
    double us = (now_seconds() - start) * 1e6 / steps;
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
    return us;
fail:
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
    return -1.0;
}

int main(int argc, char **argv)
{
    const char *plugins = getenv("TESSERA_PLUGIN_PATH");
    int32_t n_vocab = 128 * 1024;
    int steps = 200;
    double decode_ms = 0.0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--plugins") == 0 && has_value)
            plugins = argv[++i];
        else if (strcmp(argv[i], "--vocab") == 0 && has_value)
            n_vocab = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && has_value)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--decode-ms") == 0 && has_value)
            decode_ms = atof(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && has_value)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: sampler-bench [--plugins DIR] [--vocab N] [--steps N] "
                            "[--decode-ms MS] [--only default|full|worst]\n");
            return 2;
        }
    }
    if (n_vocab <= 0 || steps <= 0) {
        fprintf(stderr, "sampler-bench: --vocab and --steps must be positive\n");
        return 2;
    }
    const char *dirs[] = {plugins && plugins[0] ? plugins : "plugins/.libs"};
    tsr_registry *reg;
    tsr_error err = {0};
    if (tsr_registry_open(dirs, 1, &reg, &err) != TSR_OK) {
        fprintf(stderr, "sampler-bench: %s\n", err.message);
        return 1;
    }
    float *pool[POOL];
    tsr_rng rng;
    tsr_rng_seed(&rng, 1);
    for (int p = 0; p < POOL; p++) {
        pool[p] = malloc((size_t)n_vocab * sizeof *pool[p]);
        if (!pool[p]) {
            fprintf(stderr, "sampler-bench: out of memory\n");
            return 1;
        }
        for (int32_t i = 0; i < n_vocab; i++)
            pool[p][i] = (float)(3.0 * gaussian(&rng));
    }

    struct {
        const char *key;
        const char *name;
        const setting *settings;
        size_t n;
    } chains[] = {
        {"default", "default chain (repetition_penalty, top_k 40, top_p 0.95, min_p 0.05, "
         "temperature 0.8, dist)",
         default_chain, sizeof default_chain / sizeof default_chain[0]},
        {"full", "every sampler (logit_bias .. temperature, dist)", full_chain,
         sizeof full_chain / sizeof full_chain[0]},
        {"worst", "every sampler but top_k (all on the whole vocabulary)", full_chain_no_top_k,
         sizeof full_chain_no_top_k / sizeof full_chain_no_top_k[0]},
    };
    printf("sampling %d logits, %d steps each\n", n_vocab, steps);
    int status = 0;
    for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++) {
        if (only && strcmp(only, chains[c].key) != 0)
            continue;
        double us = time_chain(reg, chains[c].settings, chains[c].n, pool, n_vocab, steps);
        if (us < 0) {
            status = 1;
            continue;
        }
        printf("  %9.1f us/token  %s", us, chains[c].name);
        if (decode_ms > 0)
            printf("  (%.1f%% of a decode step)", us / (decode_ms * 10.0));
        printf("\n");
    }
    if (decode_ms > 0)
        printf("  %9.1f us/token  one decode step of the default model (--decode-ms)\n",
               decode_ms * 1000.0);
    for (int p = 0; p < POOL; p++)
        free(pool[p]);
    tsr_registry_close(reg);
    return status;
}
