/* The options that override a profile from the command line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* Options that set a sampler parameter, as llama.cpp spells them. */
static const struct {
    const char *option, *sampler, *param;
    bool insert;
} sampler_options[] = {
    {"--temp", "temperature", "temperature", true},
    {"--dynatemp-range", "temperature", "dynamic_range", true},
    {"--dynatemp-exp", "temperature", "exponent", true},
    {"--top-k", "top_k", "k", true},
    {"--top-p", "top_p", "p", true},
    {"--min-p", "min_p", "p", true},
    {"--typical", "typical_p", "p", true},
    {"--top-n-sigma", "top_n_sigma", "n", true},
    {"--repeat-penalty", "repetition_penalty", "penalty", true},
    {"--presence-penalty", "presence_penalty", "penalty", true},
    {"--frequency-penalty", "frequency_penalty", "penalty", true},
    {"--dry-multiplier", "dry", "multiplier", true},
    {"--dry-base", "dry", "base", false},
    {"--dry-allowed-length", "dry", "allowed_length", false},
    {"--xtc-probability", "xtc", "probability", true},
    {"--xtc-threshold", "xtc", "threshold", false},
    {"--mirostat", "mirostat", "version", true},
    {"--mirostat-ent", "mirostat", "tau", false},
    {"--mirostat-lr", "mirostat", "eta", false},
};

static bool add_override(cli_overrides *o, const char *sampler, const char *param,
                         const char *text, bool insert)
{
    if (o->n_samplers == CLI_MAX_OVERRIDES) {
        cli_error("too many sampler options (at most %d)", CLI_MAX_OVERRIDES);
        return false;
    }
    o->samplers[o->n_samplers++] = (cli_sampler_override){sampler, param, text, insert};
    return true;
}

static bool parse_int(const char *option, const char *text, int64_t min, int64_t max,
                      int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        cli_error("%s %s: expected a whole number from %lld to %lld", option, text,
                  (long long)min, (long long)max);
        return false;
    }
    *out = v;
    return true;
}

int cli_parse_deploy_option(int argc, char **argv, int *i, cli_overrides *o)
{
    const char *arg = argv[*i];
    const char *value = *i + 1 < argc ? argv[*i + 1] : NULL;
#define NEED_VALUE()                                                                   \
    do {                                                                               \
        if (!value) {                                                                  \
            cli_error("%s needs a value", arg);                                        \
            return -1;                                                                 \
        }                                                                              \
        ++*i;                                                                          \
    } while (0)
    if (strcmp(arg, "-m") == 0 || strcmp(arg, "--model") == 0) {
        NEED_VALUE();
        o->model_path = value;
        return 1;
    }
    if (strcmp(arg, "-c") == 0 || strcmp(arg, "--ctx-size") == 0) {
        NEED_VALUE();
        return parse_int(arg, value, 1, 1 << 24, &o->max_seq_len) ? 1 : -1;
    }
    if (strcmp(arg, "--cache-type") == 0) {
        NEED_VALUE();
        o->cache_type = value;
        return 1;
    }
    if (strcmp(arg, "--quantize") == 0) {
        NEED_VALUE();
        o->quantize = value;
        return 1;
    }
    if (strcmp(arg, "-t") == 0 || strcmp(arg, "--threads") == 0) {
        NEED_VALUE();
        return parse_int(arg, value, 0, 4096, &o->threads) ? 1 : -1;
    }
    if (strcmp(arg, "-s") == 0 || strcmp(arg, "--seed") == 0) {
        NEED_VALUE();
        int64_t seed;
        if (!parse_int(arg, value, 0, INT64_MAX, &seed))
            return -1;
        o->has_seed = true;
        o->seed = (uint64_t)seed;
        return 1;
    }
    if (strcmp(arg, "-b") == 0 || strcmp(arg, "--batch-size") == 0) {
        NEED_VALUE();
        int64_t n;
        if (!parse_int(arg, value, 1, 65536, &n))
            return -1;
        o->n_batch = (uint32_t)n;
        return 1;
    }
    if (strcmp(arg, "--plugins") == 0) {
        NEED_VALUE();
        if (o->n_plugin_dirs == CLI_MAX_PLUGIN_DIRS) {
            cli_error("--plugins: at most %d folders", CLI_MAX_PLUGIN_DIRS);
            return -1;
        }
        o->plugin_dirs[o->n_plugin_dirs++] = value;
        return 1;
    }
    if (strcmp(arg, "--greedy") == 0) {
        o->greedy = true;
        return 1;
    }
    if (strcmp(arg, "--sampler") == 0) {
        /* --sampler NAME.PARAM=VALUE: any sampler, third-party ones included. */
        NEED_VALUE();
        const char *dot = strchr(value, '.'), *eq = strchr(value, '=');
        if (!dot || !eq || eq < dot || dot == value || eq == dot + 1) {
            cli_error("--sampler %s: expected NAME.PARAM=VALUE, e.g. top_k.k=40", value);
            return -1;
        }
        /* Kept in argv's storage: split in place. */
        char *text = argv[*i];
        text[dot - value] = '\0';
        text[eq - value] = '\0';
        return add_override(o, text, text + (dot - value) + 1, text + (eq - value) + 1, true)
                   ? 1
                   : -1;
    }
    for (size_t k = 0; k < sizeof sampler_options / sizeof sampler_options[0]; k++) {
        if (strcmp(arg, sampler_options[k].option) != 0)
            continue;
        NEED_VALUE();
        if (strcmp(arg, "--temp") == 0) {
            /* Only a number equal to 0 means greedy; "hot" or "" go to the
             * sampler's parameter check, which refuses them. */
            char *end;
            double t = strtod(value, &end);
            if (end != value && *end == '\0' && t == 0.0) {
                o->greedy = true;
                return 1;
            }
        }
        if (strcmp(arg, "--mirostat") == 0 && strcmp(value, "0") == 0)
            return 1;
        if (strcmp(arg, "--repeat-last-n") == 0)
            break;
        return add_override(o, sampler_options[k].sampler, sampler_options[k].param, value,
                            sampler_options[k].insert)
                   ? 1
                   : -1;
    }
    if (strcmp(arg, "--repeat-last-n") == 0) {
        NEED_VALUE();
        /* The window every penalty sampler in the chain looks back over. */
        return add_override(o, "repetition_penalty", "last_n", value, false) &&
                       add_override(o, "frequency_penalty", "last_n", value, false) &&
                       add_override(o, "presence_penalty", "last_n", value, false)
                   ? 1
                   : -1;
    }
    if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
        o->quiet = true;
        return 1;
    }
    return 0;
#undef NEED_VALUE
}

void cli_print_deploy_options(FILE *out)
{
    fputs("Model and deployment (override the profile):\n"
          "  -m, --model FILE        the GGUF model (default: the profile's model.path)\n"
          "  -c, --ctx-size N        tokens of context to provision (model.max_seq_len)\n"
          "      --cache-type NAME   KV cache type: any quant plugin that can hold it (f16, q8_0, f32)\n"
          "      --quantize NAME     re-quantize the weights at load to this quant plugin\n"
          "                          (model.quantize: q8_0, q4_0, q4_k, ...)\n"
          "  -t, --threads N         CPU threads; 0 = one per physical core\n"
          "  -b, --batch-size N      most prompt tokens per forward pass (default 512)\n"
          "      --plugins DIR       search DIR for plugins first (may be repeated)\n"
          "  -q, --quiet             no progress bar\n"
          "\n"
          "Sampling (each sets a parameter of a sampler in the profile's chain, adding the\n"
          "sampler before the chain's final choice when the chain lacks it):\n"
          "  -s, --seed N            sampling seed (same seed, profile, prompt: same text)\n"
          "      --temp T            temperature; 0 = greedy (always the most likely token)\n"
          "      --greedy            greedy decoding: the chain becomes `greedy` alone\n"
          "      --dynatemp-range R  dynamic temperature range   --dynatemp-exp E  its exponent\n"
          "      --top-k K           keep the K most likely tokens\n"
          "      --top-p P           keep the smallest set holding probability P\n"
          "      --min-p P           drop tokens below P x the top token's probability\n"
          "      --typical P         locally typical sampling\n"
          "      --top-n-sigma N     keep logits within N standard deviations of the top\n"
          "      --repeat-penalty X  --presence-penalty X  --frequency-penalty X\n"
          "      --repeat-last-n N   the window of every penalty in the chain\n"
          "      --dry-multiplier X  --dry-base X  --dry-allowed-length N\n"
          "      --xtc-probability X --xtc-threshold X\n"
          "      --mirostat 1|2      --mirostat-ent TAU  --mirostat-lr ETA  (0 = off)\n"
          "      --sampler NAME.PARAM=VALUE\n"
          "                          set any sampler's parameter, third-party ones included\n",
          out);
}

