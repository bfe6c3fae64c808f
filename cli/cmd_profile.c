/* tessera profile: check deployment profiles, show them resolved. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "profile.h"

static void profile_help(FILE *out)
{
    fputs("Usage: tessera profile check [--path DIR]... FILE...\n"
          "       tessera profile show [--path DIR]... FILE\n"
          "\n"
          "check   reads each profile and checks it against the plugins on the search\n"
          "        path, printing every problem as FILE:LINE:COLUMN: message (not just the\n"
          "        first): unknown keys (with the nearest known one), wrong types, bad sizes,\n"
          "        negative or absurd numbers, plugins that do not exist (with those that\n"
          "        do), unknown or out-of-range plugin parameters, a split that does not\n"
          "        match the devices, missing model files. A valid profile gets one line,\n"
          "        \"FILE: ok\". Nothing is loaded.\n"
          "show    prints the profile resolved, as YAML: every default filled in, paths\n"
          "        made absolute, every sampler parameter written out. Problems go to\n"
          "        stderr and nothing is printed.\n"
          "\n"
          "Options:\n"
          "  --path DIR    search DIR for plugins, after the profile's plugins.path\n"
          "                (may be repeated)\n"
          "  -h, --help    show this help\n"
          "\n"
          "A profile (version 1) and its defaults; `key: null` means the default, a\n"
          "relative path is relative to the profile's folder, '~' is your home, sizes\n"
          "take B, KiB, MiB, GiB, TiB or KB, MB, GB, TB:\n"
          "  version: 1\n"
          "  model:                 required\n"
          "    path:                required: a .gguf file, or a folder with config.json\n"
          "                         and *.safetensors\n"
          "    max_seq_len: null    tokens of context; null = the model's own\n"
          "    cache_type: f16      KV cache type: a quant plugin that can hold the cache\n"
          "    quantize: null       re-quantize weights at load to this quant plugin\n"
          "  draft:                 optional, the same keys; max_seq_len and cache_type\n"
          "                         default to the model's\n"
          "  speculative:           optional (implied by a draft)\n"
          "    strategy: draft-model  a spec plugin\n"
          "    tokens: 5            most tokens proposed per step\n"
          "    options: {}          the strategy's parameters\n"
          "  devices:\n"
          "    allocator: host      an alloc plugin: host, cuda, sim\n"
          "    sim: [24GiB, 24GiB]  allocator sim only: each simulated device's capacity\n"
          "    split: auto          or the weight budget per device, e.g. [20, 24] (GiB)\n"
          "    reserve: 256MiB      kept free on every device\n"
          "    overhead: auto       per-device runtime overhead; auto = the allocator's\n"
          "  sampler:               the chain, in order; `name`, `name: VALUE` (its first\n"
          "                         parameter) or `name: {param: value, ...}`. A chain\n"
          "                         ending without a choosing sampler gets dist appended.\n"
          "                         Default:\n"
          "    - repetition_penalty: {penalty: 1.1, last_n: 64}\n"
          "    - top_k: 40\n"
          "    - top_p: 0.95\n"
          "    - min_p: 0.05\n"
          "    - temperature: 0.8\n"
          "  plugins:\n"
          "    path: [./plugins]    searched before $TESSERA_PLUGIN_PATH and tessera.ini\n"
          "  threads: 0             CPU threads; 0 = one per physical core\n"
          "  seed: 42               sampling seed\n"
          "  server:\n"
          "    host: 127.0.0.1\n"
          "    port: 8080\n"
          "    parallel: 4          sequences decoded together\n"
          "    queue: 64            waiting requests beyond this get 503\n"
          "    api_key: null        when set, requests need `Authorization: Bearer KEY`\n"
          "    model_name: null     the id /v1/models reports; null = the model's name\n"
          "\n"
          "`tessera plugins -v` lists every plugin and its parameters.\n"
          "Exit status: 0 every profile is valid (warnings allowed), 2 a profile has\n"
          "problems or the arguments are wrong, 1 another failure.\n\n",
          out);
    cli_print_environment(out);
}

static void print_diagnostics(tsr_diagnostics *diags, FILE *out)
{
    tsr_diag_sort(diags);
    for (size_t i = 0; i < diags->count; i++) {
        char line[4096];
        tsr_diag_format(&diags->items[i], line, sizeof line);
        fprintf(out, "%s\n", line);
        if (diags->items[i].hint)
            fprintf(out, "  hint: %s\n", diags->items[i].hint);
    }
}

/* Loads and validates one profile. Returns TSR_OK, TSR_ERR_INVALID (the
 * problems are in diags) or another failure (in err). On TSR_OK, *profile
 * and *registry are open for the caller, who frees the profile first. */
static tsr_status check_one(const tsr_config *config, const char *file, const char *const *extra,
                            size_t n_extra, tsr_profile **profile, tsr_registry **registry,
                            tsr_diagnostics *diags, tsr_error *err)
{
    *profile = NULL;
    *registry = NULL;
    tsr_status status = tsr_profile_load(file, profile, diags, err);
    if (!*profile)
        return status == TSR_ERR_IO ? TSR_ERR_INVALID : status;
    tsr_profile *p = *profile;
    size_t n_dirs = p->n_plugin_dirs + n_extra;
    const char **dirs = calloc(n_dirs + 1, sizeof *dirs);
    if (!dirs)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_plugin_dirs; i++)
        dirs[i] = p->plugin_dirs[i];
    for (size_t i = 0; i < n_extra; i++)
        dirs[p->n_plugin_dirs + i] = extra[i];
    tsr_status opened = cli_open_registry(config, dirs, n_dirs, registry, err);
    free(dirs);
    if (opened != TSR_OK)
        return opened;
    tsr_status checked = tsr_profile_validate(p, *registry, diags, err);
    if (checked == TSR_ERR_NOMEM)
        return checked;
    return status == TSR_OK ? checked : status;
}

static void close_one(tsr_profile *profile, tsr_registry *registry)
{
    tsr_profile_free(profile); /* before the registry: it points into it */
    tsr_registry_close(registry);
}

static int profile_run(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("profile: say check or show (see tessera profile --help)");
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        profile_help(stdout);
        return CLI_EXIT_OK;
    }
    const char *action = argv[1];
    bool show = strcmp(action, "show") == 0;
    if (!show && strcmp(action, "check") != 0) {
        cli_error("profile: no action '%s'; say check or show (see tessera profile --help)",
                  action);
        return CLI_EXIT_USAGE;
    }
    const char **files = calloc((size_t)argc, sizeof *files);
    const char **extra = calloc((size_t)argc, sizeof *extra);
    size_t n_files = 0, n_extra = 0;
    int exit_code = CLI_EXIT_OK;
    if (!files || !extra) {
        cli_error("out of memory");
        exit_code = CLI_EXIT_FAILURE;
        goto done;
    }
    for (int i = 2; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            profile_help(stdout);
            goto done;
        } else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
            extra[n_extra++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error("profile: unknown option '%s' (see tessera profile --help)", argv[i]);
            exit_code = CLI_EXIT_USAGE;
            goto done;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (n_files == 0 || (show && n_files != 1)) {
        cli_error("profile %s: %s (see tessera profile --help)", action,
                  show ? "give exactly one FILE" : "give at least one FILE");
        exit_code = CLI_EXIT_USAGE;
        goto done;
    }
    tsr_error err = {0};
    tsr_config *config;
    if (cli_setup(&config, &err) != TSR_OK) {
        exit_code = cli_fail(&err, CLI_EXIT_USAGE);
        goto done;
    }
    for (size_t f = 0; f < n_files; f++) {
        tsr_diagnostics diags = {0};
        tsr_profile *profile;
        tsr_registry *registry;
        tsr_status status =
            check_one(config, files[f], extra, n_extra, &profile, &registry, &diags, &err);
        print_diagnostics(&diags, show ? stderr : stdout);
        if (status == TSR_OK && show) {
            char *yaml = tsr_profile_to_yaml(profile, &err);
            if (yaml)
                fputs(yaml, stdout);
            else
                exit_code = cli_fail(&err, CLI_EXIT_FAILURE);
            free(yaml);
        } else if (status == TSR_OK) {
            size_t n_warnings = diags.count - tsr_diag_error_count(&diags);
            if (n_warnings)
                printf("%s: ok (%zu warning%s)\n", files[f], n_warnings,
                       n_warnings == 1 ? "" : "s");
            else
                printf("%s: ok\n", files[f]);
        } else if (status == TSR_ERR_INVALID) {
            if (exit_code == CLI_EXIT_OK)
                exit_code = CLI_EXIT_USAGE;
        } else {
            cli_error("%s: %s", files[f], err.message);
            exit_code = CLI_EXIT_FAILURE;
        }
        close_one(profile, registry);
        tsr_diagnostics_free(&diags);
    }
done:
    free(files);
    free(extra);
    return exit_code;
}

const cli_command cli_command_profile = {
    "profile", "check deployment profiles, or show one resolved", profile_run, profile_help};
