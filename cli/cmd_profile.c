/* tessera profile: check deployment profiles, show them resolved. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
          "  --path DIR    search DIR for plugins first, before the profile's plugins.path\n"
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
          "    split: auto          or a ceiling of weights per device, e.g. [20, 24] (GiB)\n"
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
          "    path: []             folders searched before $TESSERA_PLUGIN_PATH, tessera.ini\n"
          "                         and the install folder; relative to the profile's\n"
          "                         folder (never the current one)\n"
          "  threads: 0             CPU threads; 0 = one per physical core\n"
          "  seed: 42               sampling seed\n"
          "  server:\n"
          "    host: 127.0.0.1\n"
          "    port: 8080\n"
          "    parallel: 4          sequences decoded together\n"
          "    queue: 64            waiting requests beyond this get 503\n"
          "    api_key: null        a key or a list; requests then need `Authorization:\n"
          "                         Bearer KEY` or `X-Api-Key`\n"
          "    model_name: null     the id /v1/models reports; null = the model's name\n"
          "    max_body: 8MiB       larger request bodies are answered 413\n"
          "\n"
          "`tessera plugins -v` lists every plugin and its parameters. The full reference\n"
          "(units, the planner's verdict and codes) is tessera-profile(5) and\n"
          TSR_DOC_DIR "/profile.md; " TSR_DOC_DIR "/examples/ holds the\n"
          "default model's profile (smollm2-cpu.yaml) and a tessera.ini.\n"
          "Exit status: 0 every profile is valid (warnings allowed), 2 a profile has\n"
          "problems or the arguments are wrong, 1 another failure.\n\n",
          out);
    cli_print_environment(out);
}

/* Prints each finding as FILE:LINE:COLUMN: message, its hint below, and
 * counts the warnings. */
typedef struct findings {
    FILE *out;
    size_t n_warnings;
} findings;

static void print_diagnostic(const tsr_diagnostic_info *d, void *ctx)
{
    findings *f = ctx;
    char line[4096];
    tsr_diagnostic_format(d, line, sizeof line);
    fprintf(f->out, "%s\n", line);
    if (d->hint)
        fprintf(f->out, "  hint: %s\n", d->hint);
    f->n_warnings += d->severity != TSR_SEVERITY_ERROR;
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
        findings found = {show ? stderr : stdout, 0};
        char *yaml = NULL;
        tsr_status status = tsr_profile_check_file(files[f], extra, n_extra, print_diagnostic,
                                                   &found, show ? &yaml : NULL, &err);
        if (status == TSR_OK && show) {
            fputs(yaml, stdout);
        } else if (status == TSR_OK) {
            if (found.n_warnings)
                printf("%s: ok (%zu warning%s)\n", files[f], found.n_warnings,
                       found.n_warnings == 1 ? "" : "s");
            else
                printf("%s: ok\n", files[f]);
        } else if (status == TSR_ERR_INVALID) {
            if (exit_code == CLI_EXIT_OK)
                exit_code = CLI_EXIT_USAGE;
        } else {
            cli_error("%s: %s", files[f], err.message);
            exit_code = CLI_EXIT_FAILURE;
        }
        free(yaml);
    }
done:
    free(files);
    free(extra);
    return exit_code;
}

const cli_command cli_command_profile = {
    "profile", "check deployment profiles, or show one resolved", profile_run, profile_help};
