/* tessera plugins: what the search path offers, and what it refused. */
#include <string.h>

#include "cli.h"
#include "session.h"

static void plugins_help(FILE *out)
{
    fputs("Usage: tessera plugins [PROFILE] [-v] [--path DIR]...\n"
          "\n"
          "Lists every plugin found on the search path `tessera run` uses (with\n"
          "PROFILE, `tessera run PROFILE`'s; without, `tessera run -m MODEL`'s), one\n"
          "row each: kind, name, version, the plugin ABI it was built for, and its\n"
          "file. Then one line for each file that was refused, saying why (built for\n"
          "another ABI, not a plugin, a name or GGUF type already taken, ...), and\n"
          "the folders searched, in order.\n"
          "\n"
          "Options:\n"
          "  -v, --verbose    also show each plugin's summary and its declared parameters\n"
          "                   (name, type, default, range, meaning)\n"
          "  --path DIR       search DIR first, as run's --plugins DIR (may be repeated)\n"
          "  -h, --help       show this help\n"
          "\n"
          "Search order: --path, the profile's plugins.path (relative to the profile's\n"
          "folder), $TESSERA_PLUGIN_PATH, tessera.ini [plugins] path, then\n"
          TSR_PLUGIN_DIR ". Nothing relative to the current folder is searched.\n"
          "The first plugin of a kind and name (for quant plugins, of a GGUF type)\n"
          "wins: folders in that order, the *.so files of one folder in name order;\n"
          "a later one is refused. Writing a plugin: " TSR_DOC_DIR "/plugins.md.\n"
          "Exit status: 0; 2 when PROFILE is unusable or the arguments are wrong; 1\n"
          "when the plugins could not be listed.\n\n",
          out);
    cli_print_environment(out);
}

static const char *param_type_name(uint32_t type)
{
    switch (type) {
    case TSR_PARAM_BOOL: return "bool";
    case TSR_PARAM_INT: return "int";
    case TSR_PARAM_FLOAT: return "float";
    case TSR_PARAM_STRING: return "string";
    case TSR_PARAM_STRING_LIST: return "list";
    case TSR_PARAM_FLOAT_MAP: return "map";
    }
    return "?";
}

static void print_param(const tsr_param_desc *p)
{
    char def[128] = "";
    switch (p->type) {
    case TSR_PARAM_BOOL: snprintf(def, sizeof def, "%s", p->default_number ? "true" : "false"); break;
    case TSR_PARAM_INT:
    case TSR_PARAM_FLOAT: snprintf(def, sizeof def, "%g", p->default_number); break;
    case TSR_PARAM_STRING: snprintf(def, sizeof def, "%s", p->default_string ? p->default_string : "null"); break;
    default: snprintf(def, sizeof def, "%s", p->default_list ? "[...]" : "[]"); break;
    }
    printf("      %-20s %-6s default %-10s", p->name, param_type_name(p->type), def);
    if (p->type == TSR_PARAM_INT || p->type == TSR_PARAM_FLOAT)
        printf(" range [%g, %g]", p->min, p->max);
    printf("\n        %s\n", p->doc ? p->doc : "");
}

static void print_finding(const tsr_diagnostic_info *d, void *ctx)
{
    (void)ctx;
    cli_print_diagnostic(d);
}

static int plugins_run(int argc, char **argv)
{
    bool verbose = false;
    const char *extra[64];
    size_t n_extra = 0;
    const char *profile = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            plugins_help(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--path") == 0 || strcmp(argv[i], "--plugins") == 0) {
            if (i + 1 == argc || n_extra == sizeof extra / sizeof extra[0]) {
                cli_error("plugins: %s needs a folder (at most %zu of them)", argv[i],
                          sizeof extra / sizeof extra[0]);
                return CLI_EXIT_USAGE;
            }
            extra[n_extra++] = argv[++i];
        } else if (argv[i][0] != '-' && !profile) {
            profile = argv[i];
        } else {
            cli_error("plugins: unknown argument '%s' (see tessera plugins --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    tsr_error err = {0};
    tsr_config *config;
    tsr_registry *reg;
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    tsr_status status =
        tsr_profile_open_registry(profile, extra, n_extra, print_finding, NULL, &reg, &err);
    if (status == TSR_ERR_INVALID) {
        cli_error("%s: the profile is unusable, so no search path is shown (`tessera profile "
                  "check %s` lists every problem)", profile, profile);
        return CLI_EXIT_USAGE;
    }
    if (status != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);

    size_t n = tsr_registry_count(reg);
    printf("%-8s %-20s %-9s %-5s %s\n", "KIND", "NAME", "VERSION", "ABI", "FILE");
    static const tsr_plugin_kind order[] = {TSR_PLUGIN_ALLOC, TSR_PLUGIN_QUANT,
                                            TSR_PLUGIN_SAMPLER, TSR_PLUGIN_SPEC};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        for (size_t i = 0; i < n; i++) {
            const tsr_plugin *p = tsr_registry_get(reg, i);
            if (p->kind != order[k])
                continue;
            char abi[16];
            snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
            printf("%-8s %-20s %-9s %-5s %s\n", tsr_plugin_kind_name(p->kind), p->name,
                   p->version, abi, p->path);
            if (verbose) {
                printf("      %s\n", p->summary);
                for (uint32_t j = 0; j < p->n_params; j++)
                    print_param(&p->params[j]);
            }
        }
    }
    size_t n_refused = tsr_registry_refusal_count(reg);
    if (n_refused)
        printf("\nRefused:\n");
    for (size_t i = 0; i < n_refused; i++)
        printf("  %s\n", tsr_registry_refusal(reg, i)->reason);
    printf("\n%zu plugins loaded, %zu files refused; searched:", n, n_refused);
    for (size_t i = 0; i < tsr_registry_dir_count(reg); i++)
        printf(" %s", tsr_registry_dir(reg, i));
    printf("\n");
    tsr_registry_close(reg);
    return CLI_EXIT_OK;
}

const cli_command cli_command_plugins = {"plugins", "list the plugins found and the files refused",
                                         plugins_run, plugins_help};
