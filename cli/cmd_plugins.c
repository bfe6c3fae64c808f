/* tessera plugins: what the search path offers, and what it refused. */
#include <string.h>

#include "cli.h"

static void plugins_help(FILE *out)
{
    fputs("Usage: tessera plugins [-v] [--path DIR]...\n"
          "\n"
          "Lists every plugin found on the search path, one row each: kind, name,\n"
          "version, the plugin ABI it was built for, and its file. Then one line for\n"
          "each file that was refused, saying why (built for another ABI, not a\n"
          "plugin, a name already taken, ...).\n"
          "\n"
          "Options:\n"
          "  -v, --verbose    also show each plugin's summary and its declared parameters\n"
          "                   (name, type, default, range, meaning)\n"
          "  --path DIR       search DIR first (may be repeated)\n"
          "  -h, --help       show this help\n"
          "\n"
          "Search order: --path, $TESSERA_PLUGIN_PATH, tessera.ini [plugins] path,\n"
          "then " TSR_PLUGIN_DIR ".\n"
          "Exit status: 0, or 1 when the plugins could not be listed.\n\n",
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

static int plugins_run(int argc, char **argv)
{
    bool verbose = false;
    const char *extra[64];
    size_t n_extra = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            plugins_help(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc && n_extra < 64) {
            extra[n_extra++] = argv[++i];
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
    if (cli_open_registry(config, extra, n_extra, &reg, &err) != TSR_OK)
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
