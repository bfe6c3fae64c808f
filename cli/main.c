/* tessera: the command line. Each command is a cli_command in cli/cmd_*.c. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

static const cli_command *const commands[] = {
    &cli_command_run,
    &cli_command_bench,
    &cli_command_perplexity,
    &cli_command_quantize,
    &cli_command_plugins,
    &cli_command_plugin,
    &cli_command_profile,
    &cli_command_plan,
    &cli_command_serve,
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *out)
{
    fputs("Usage: tessera COMMAND [ARGS]...\n"
          "       tessera --version | --help | help COMMAND\n"
          "\n"
          "An LLM inference runtime whose quantization formats, samplers, speculative\n"
          "strategies and device allocators are plugins, chosen by a YAML profile.\n"
          "\nCommands:\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("  help       show a command's full help\n"
          "\n"
          "Every command takes -h/--help. Exit status: 0 success, 1 failure, 2 unusable\n"
          "input (bad arguments, profile or model file), 3 deployment refused by the planner,\n"
          "4 under mpirun: a rank disagreed at the handshake, failed or stopped answering.\n"
          "Manuals: tessera(1), tessera-profile(5); the profile reference and the plugin\n"
          "author's guide: " TSR_DOC_DIR "/profile.md, plugins.md.\n\n",
          out);
    cli_print_environment(out);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int print_version(void)
{
    char detected[256], usable[256];
    tsr_error err = {0};
    tsr_config *config;
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    tsr_cpu_describe(tsr_cpu_detect(), detected, sizeof detected);
    tsr_cpu_describe(tsr_cpu_features(), usable, sizeof usable);
    printf("tessera %s\n", tsr_version());
    printf("plugin ABI %d.%d\n", TSR_ABI_MAJOR, TSR_ABI_MINOR);
    printf("build: %s\n", tsr_build_options());
    printf("cpu: %s\n", detected);
    if (strcmp(detected, usable) != 0)
        printf("cpu (limited by TESSERA_ISA): %s\n", usable);
    printf("plugins: %s\n", tsr_install_plugin_dir());
    return CLI_EXIT_OK;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (cli_is_help(name)) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0 ||
        strcmp(name, "version") == 0)
        return print_version();
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_usage(stdout);
            return CLI_EXIT_OK;
        }
        const cli_command *cmd = find_command(argv[2]);
        if (!cmd) {
            cli_error("no command '%s' (see tessera --help)", argv[2]);
            return CLI_EXIT_USAGE;
        }
        cmd->help(stdout);
        return CLI_EXIT_OK;
    }
    const cli_command *cmd = find_command(name);
    if (!cmd) {
        cli_error("no command '%s' (see tessera --help)", name);
        return CLI_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    cli_catch_sigbus();
    int rc = cli_dist_begin(&argc, &argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* A full disk or a closed pipe fails the command, whatever it printed. */
    return cli_dist_end(cli_finish_output(dispatch(argc, argv)));
}
