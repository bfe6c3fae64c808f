/* What the tessera commands share: the terminal, the config, the plugins. */
#ifndef TSR_CLI_H
#define TSR_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "tessera/tessera.h"

/* Exit codes every command uses (PROFILE.md: 2 unusable input, 3 refused). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_REFUSED = 3 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} cli_command;

/* Each command lives in its own cli/cmd_NAME.c. */
extern const cli_command cli_command_run;
extern const cli_command cli_command_bench;
extern const cli_command cli_command_plugins;
extern const cli_command cli_command_profile;
extern const cli_command cli_command_plan;

/* Prints "tessera: MESSAGE" to stderr. */
void cli_error(const char *fmt, ...) TSR_PRINTF(1, 2);
/* Prints the error's message as cli_error does; returns exit. */
int cli_fail(const tsr_error *err, int exit_code);

/* Loads tessera.ini and the environment once, installs the stderr log sink
 * and applies TESSERA_ISA. The result lives until exit. */
tsr_status cli_setup(tsr_config **config, tsr_error *err);

/* Opens the plugin registry on the search path: extra_dirs (the profile's
 * plugins.path), then $TESSERA_PLUGIN_PATH, tessera.ini, the install dir. */
tsr_status cli_open_registry(const tsr_config *config, const char *const *extra_dirs,
                             size_t n_extra_dirs, tsr_registry **out, tsr_error *err);

/* The environment variables every command honours, for --help. */
void cli_print_environment(FILE *out);

/* true when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);

#endif
