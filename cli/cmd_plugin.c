/* tessera plugin check FILE.so: one plugin object against the plugin ABI's
 * contract (tsr_plugin_check), one line per check. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static void plugin_help(FILE *out)
{
    fputs("Usage: tessera plugin check FILE.so [--path DIR]...\n"
          "\n"
          "Loads FILE.so alone and exercises every plugin it carries against the\n"
          "contract of tessera/plugin.h, printing one line per check (ok, FAIL or\n"
          "skip, the plugin, what was checked and, for a failure, why):\n"
          "  quant    block sizes against GGUF's table; quantize/dequantize round trips\n"
          "           on seeded random, zero and large blocks; nothing written past a\n"
          "           block, a NaN included; quantize against quantize_reference;\n"
          "           matvec and matmat of every kernel tier (each TESSERA_ISA level)\n"
          "           against matmat_reference, over row ranges and from several\n"
          "           threads at once; and against another installed plugin of the\n"
          "           same GGUF type, when there is one\n"
          "  sampler  unsorted, sorted, one-candidate, all-equal and -inf candidate\n"
          "           arrays must come back valid\n"
          "  spec     proposals stay within bounds (not for draft-model strategies)\n"
          "  alloc    devices described; reserve/release accounting and alignment;\n"
          "           the refusal \"DEVICE: cannot reserve N bytes: U of C bytes in use\"\n"
          "\n"
          "The installed plugins (the search path `tessera run -m MODEL` uses) lend\n"
          "the activation forms FILE.so lacks and are compared with.\n"
          "\n"
          "Options:\n"
          "  --path DIR   search DIR first for those plugins (may be repeated)\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 when every check passed, 1 when one failed (or the file\n"
          "cannot be loaded), 2 when the arguments are wrong.\n\n",
          out);
    cli_print_environment(out);
}

static void print_check(const tsr_check_info *check, void *ctx)
{
    (void)ctx;
    printf("%-4s %s%s%s%s%s\n", check->skipped ? "skip" : check->passed ? "ok" : "FAIL",
           check->plugin ? check->plugin : "", check->plugin ? ": " : "", check->check,
           check->detail ? ": " : "", check->detail ? check->detail : "");
    fflush(stdout);
}

static int plugin_run(int argc, char **argv)
{
    const char *file = NULL, *extra[64];
    size_t n_extra = 0;
    if (argc >= 2 && cli_is_help(argv[1])) {
        plugin_help(stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        cli_error("plugin: the one subcommand is `check FILE.so` (see tessera plugin --help)");
        return CLI_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            plugin_help(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--path") == 0) {
            if (i + 1 >= argc || n_extra == sizeof extra / sizeof extra[0]) {
                cli_error("plugin check: --path needs a folder (at most 64)");
                return CLI_EXIT_USAGE;
            }
            extra[n_extra++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("plugin check: unknown option '%s' (see tessera plugin --help)", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (file) {
            cli_error("plugin check: one FILE.so at a time, not also '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        cli_error("plugin check: which FILE.so? (see tessera plugin --help)");
        return CLI_EXIT_USAGE;
    }
    tsr_config *config;
    tsr_error err = {0};
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    tsr_registry *installed = NULL;
    if (tsr_profile_open_registry(NULL, extra, n_extra, NULL, NULL, &installed, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    /* The checks run in a child process, so that a plugin that crashes or
     * aborts is one more failed check, not the end of the checker. */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        size_t n_failed = 0;
        tsr_status s = tsr_plugin_check(file, installed, print_check, NULL, &n_failed, &err);
        if (s != TSR_OK)
            _exit(cli_fail(&err, CLI_EXIT_FAILURE));
        if (n_failed)
            printf("%s: %zu check%s failed\n", file, n_failed, n_failed == 1 ? "" : "s");
        else
            printf("%s: every check passed\n", file);
        _exit(cli_finish_output(n_failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK));
    }
    tsr_registry_close(installed);
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child) {
        cli_error("plugin check: cannot run the checks in a child process: %s", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    if (WIFSIGNALED(status)) {
        printf("FAIL %s: the plugin crashed the checks after the last line above (signal %d, "
               "%s)\n", file, WTERMSIG(status), strsignal(WTERMSIG(status)));
        return cli_finish_output(CLI_EXIT_FAILURE);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : CLI_EXIT_FAILURE;
}

const cli_command cli_command_plugin = {
    .name = "plugin",
    .summary = "check a plugin file against the plugin ABI's contract",
    .run = plugin_run,
    .help = plugin_help,
};
