/* From a profile and command-line overrides to a loaded model, ready to run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "loader.h"

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
        if (strcmp(arg, "--temp") == 0 && strtod(value, NULL) == 0.0) {
            o->greedy = true;
            return 1;
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

static void log_diag_lines(const tsr_diagnostics *diags)
{
    cli_print_diagnostics(diags);
}

void cli_print_diagnostics(const tsr_diagnostics *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        char line[2048];
        tsr_diag_format(&diags->items[i], line, sizeof line);
        fprintf(stderr, "%s\n", line);
        if (diags->items[i].hint)
            fprintf(stderr, "  hint: %s\n", diags->items[i].hint);
    }
}

/* A YAML double-quoted scalar of s. */
static char *yaml_quote(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 4 + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\x%02x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

static bool progress_bar(void *ctx, double fraction)
{
    int width = 40, filled = (int)(fraction * width + 0.5);
    fprintf(stderr, "\rloading weights [");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%", (int)(fraction * 100 + 0.5));
    if (fraction >= 1.0)
        fputs("\r\033[K", stderr);
    fflush(stderr);
    return true;
}

static int load_profile(const char *profile_path, const cli_overrides *o, tsr_profile **out,
                        tsr_diagnostics *diags, const tsr_config *config)
{
    tsr_error err = {0};
    tsr_status s;
    if (profile_path) {
        s = tsr_profile_load(profile_path, out, diags, &err);
    } else {
        /* No profile: the defaults, around -m or the default model. */
        char *fallback = NULL;
        const char *model = o->model_path;
        if (!model) {
            if (asprintf(&fallback, "%s/SmolLM2-135M-Instruct.Q4_1.gguf",
                         config->model_cache_dir) < 0)
                return CLI_EXIT_FAILURE;
            model = fallback;
            if (access(model, R_OK) != 0) {
                cli_error("no model: give a profile or -m MODEL (the default model would be "
                          "%s; contrib/fetch-model.sh puts it there)", model);
                free(fallback);
                return CLI_EXIT_USAGE;
            }
        }
        char *quoted = yaml_quote(model);
        char *text = NULL;
        int n = quoted ? asprintf(&text, "model: {path: %s}\n", quoted) : -1;
        free(quoted);
        free(fallback);
        if (n < 0)
            return CLI_EXIT_FAILURE;
        s = tsr_profile_parse(text, strlen(text), "(command line)", NULL, out, diags, &err);
        free(text);
    }
    if (s != TSR_OK || tsr_diag_error_count(diags) > 0) {
        log_diag_lines(diags);
        if (s == TSR_ERR_NOMEM)
            cli_error("out of memory reading the profile");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Applies -m, -c, --cache-type, --quantize, -t, --seed to the parsed profile. */
static int apply_overrides(tsr_profile *p, const cli_overrides *o, const char *profile_path)
{
    if (o->model_path && profile_path) {
        if (access(o->model_path, R_OK) != 0) {
            cli_error("-m %s: %s", o->model_path, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        char *copy = strdup(o->model_path);
        if (!copy)
            return CLI_EXIT_FAILURE;
        free(p->model.path);
        p->model.path = copy;
    }
    if (o->max_seq_len >= 0)
        p->model.max_seq_len = (uint32_t)o->max_seq_len;
    if (o->cache_type) {
        char *copy = strdup(o->cache_type);
        if (!copy)
            return CLI_EXIT_FAILURE;
        free(p->model.cache_type);
        p->model.cache_type = copy;
    }
    if (o->quantize) {
        char *copy = strdup(o->quantize);
        if (!copy)
            return CLI_EXIT_FAILURE;
        free(p->model.quantize);
        p->model.quantize = copy;
    }
    if (o->threads >= 0)
        p->threads = (uint32_t)o->threads;
    if (o->has_seed)
        p->seed = o->seed;
    return CLI_EXIT_OK;
}

static int open_chain(cli_deployment *d, const cli_overrides *o)
{
    tsr_error err = {0};
    tsr_sampler_list list = {0};
    tsr_status s = TSR_OK;
    const tsr_profile *p = d->profile;
    if (o->greedy) {
        const tsr_plugin *greedy = tsr_registry_find(d->registry, TSR_PLUGIN_SAMPLER, "greedy");
        s = greedy ? tsr_sampler_list_append(&list, greedy, NULL, &err)
                   : tsr_error_set(&err, TSR_ERR_NOT_FOUND, "no sampler plugin 'greedy'");
    } else {
        for (size_t i = 0; s == TSR_OK && i < p->n_sampler; i++) {
            tsr_sampler_entry *entry;
            s = tsr_sampler_list_append(&list, p->sampler[i].plugin, &entry, &err);
            if (s == TSR_OK) {
                tsr_param_set_free(&entry->params);
                s = tsr_param_set_copy(&entry->params, &p->sampler[i].params, &err);
            }
        }
        for (size_t i = 0; s == TSR_OK && i < o->n_samplers; i++) {
            const cli_sampler_override *ov = &o->samplers[i];
            s = tsr_sampler_list_override(&list, d->registry, ov->sampler, ov->param, ov->text,
                                          ov->insert, &err);
        }
    }
    if (s == TSR_OK) {
        tsr_sampler_chain_config config = {
            .n_vocab = (int32_t)tsr_model_config(d->model)->n_vocab,
            .seed = p->seed,
            .max_seq_len = (int32_t)tsr_model_max_seq_len(d->model),
            .vocab = d->tokenizer,
        };
        s = tsr_sampler_chain_open(d->registry, list.entries, list.n_entries, &config,
                                   &d->chain, &err);
    }
    tsr_sampler_list_free(&list);
    if (s != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    return CLI_EXIT_OK;
}

int cli_deployment_open(const char *profile_path, const cli_overrides *o, bool with_chain,
                        cli_deployment *d)
{
    memset(d, 0, sizeof *d);
    tsr_error err = {0};
    tsr_config *config;
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    tsr_diagnostics diags = {0};
    int rc = load_profile(profile_path, o, &d->profile, &diags, config);
    if (rc == CLI_EXIT_OK)
        rc = apply_overrides(d->profile, o, profile_path);
    if (rc != CLI_EXIT_OK) {
        tsr_diagnostics_free(&diags);
        return rc;
    }
    /* The search path: --plugins, the profile's plugins.path, then the rest. */
    const char *dirs[CLI_MAX_PLUGIN_DIRS + 64];
    size_t n_dirs = 0;
    for (size_t i = 0; i < o->n_plugin_dirs; i++)
        dirs[n_dirs++] = o->plugin_dirs[i];
    for (size_t i = 0; i < d->profile->n_plugin_dirs && n_dirs < 64; i++)
        dirs[n_dirs++] = d->profile->plugin_dirs[i];
    if (cli_open_registry(config, dirs, n_dirs, &d->registry, &err) != TSR_OK) {
        tsr_diagnostics_free(&diags);
        return cli_fail(&err, CLI_EXIT_FAILURE);
    }
    tsr_status s = cli_validate_for_plan(d->profile, d->registry, &diags, &err);
    if (s != TSR_OK || tsr_diag_error_count(&diags) > 0) {
        cli_print_diagnostics(&diags);
        tsr_diagnostics_free(&diags);
        return CLI_EXIT_USAGE;
    }
    cli_print_diagnostics(&diags); /* warnings */
    tsr_diagnostics_free(&diags);

    const tsr_profile *p = d->profile;
    if ((s = tsr_gguf_open(p->model.path, &d->gguf, &err)) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    if (p->has_draft && (s = tsr_gguf_open_headers(p->draft.path, &d->draft_gguf, &err)) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    d->alloc = tsr_plugin_alloc(p->devices.plugin);
    tsr_alloc_config alloc_config = {sizeof alloc_config, p->devices.sim_bytes,
                                     (uint32_t)p->devices.n_sim};
    if ((s = d->alloc->open(tsr_host_services(), &alloc_config, &d->alloc_state, &err)) !=
        TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    /* The plan, before anything is reserved: a refused deployment stops here
     * with every reason, and the model reserves exactly what the plan says. */
    uint32_t n_threads = p->threads ? p->threads : (uint32_t)config->threads;
    s = cli_make_plan(p, d->registry, d->gguf, d->draft_gguf, d->alloc, d->alloc_state,
                      n_threads, o->n_batch, 1, &d->plan, &err);
    if (s != TSR_OK)
        return cli_fail(&err, s == TSR_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE);
    cli_print_plan_diagnostics(&d->plan->diags, stderr);
    if (!d->plan->fits) {
        cli_error("the planner refused this deployment, before allocating anything; "
                  "`tessera plan %s` shows what each device would hold",
                  profile_path ? profile_path : "PROFILE");
        return CLI_EXIT_REFUSED;
    }
    tsr_model_options mo = {
        .registry = d->registry,
        .alloc = d->alloc,
        .alloc_state = d->alloc_state,
        .n_threads = n_threads,
        .progress = !o->quiet && isatty(STDERR_FILENO) ? progress_bar : NULL,
        .plan = &d->plan->models[0],
    };
    if ((s = tsr_model_open(d->gguf, &mo, &d->model, &err)) != TSR_OK)
        return cli_fail(&err, s == TSR_ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE);
    if ((s = tsr_tokenizer_open(d->gguf, &d->tokenizer, &err)) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    if (with_chain)
        return open_chain(d, o);
    return CLI_EXIT_OK;
}

void cli_deployment_close(cli_deployment *d)
{
    tsr_sampler_chain_close(d->chain);
    tsr_tokenizer_close(d->tokenizer);
    tsr_model_close(d->model);
    if (d->alloc_state)
        d->alloc->close(d->alloc_state);
    tsr_plan_free(d->plan);
    tsr_gguf_close(d->draft_gguf);
    tsr_gguf_close(d->gguf);
    tsr_profile_free(d->profile);
    tsr_registry_close(d->registry);
    memset(d, 0, sizeof *d);
}
