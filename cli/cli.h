/* What the tessera commands share: the terminal, the config, the plugins. */
#ifndef TSR_CLI_H
#define TSR_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "tessera/tessera.h"

/* Exit codes every command uses (PROFILE.md: 2 unusable input, 3 refused;
 * 4: under mpirun, a rank disagreed at the handshake, failed or stopped
 * answering). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_REFUSED = 3,
    CLI_EXIT_PEER = 4,
};

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} cli_command;

/* Each command lives in its own cli/cmd_NAME.c. */
extern const cli_command cli_command_run;
extern const cli_command cli_command_bench;
extern const cli_command cli_command_perplexity;
extern const cli_command cli_command_quantize;
extern const cli_command cli_command_plugins;
extern const cli_command cli_command_plugin;
extern const cli_command cli_command_profile;
extern const cli_command cli_command_plan;

/* Prints "tessera: MESSAGE" to stderr. */
void cli_error(const char *fmt, ...) TSR_PRINTF(1, 2);
/* Prints the error's message as cli_error does; returns exit_code, except
 * that running out of memory is always CLI_EXIT_FAILURE (never "unusable
 * input", whatever was being allocated), and its message always says
 * "out of memory"; and another rank's failure (TSR_ERR_PEER) always
 * CLI_EXIT_PEER. */
int cli_fail(const tsr_error *err, int exit_code);
/* The exit status of a deployment's or a plan's status: 0 ok, 3 refused by
 * the planner, 4 another rank of an mpirun job, 1 out of memory or a bug,
 * 2 any other (unusable input). */
int cli_exit_for(tsr_status status);

/* Writes n bytes to stdout and flushes them. false (errno set) when they
 * could not all be written: a full disk, a closed pipe with SIGPIPE ignored. */
bool cli_write_out(const char *text, size_t n);
/* Flushes stdout and checks that everything written to it since the start
 * arrived; when not, says so (once) and returns CLI_EXIT_FAILURE, else
 * exit_code. Every command's result passes through it. */
int cli_finish_output(int exit_code);
/* Says that standard output cannot be written ("tessera: cannot write the
 * output: REASON"), once per process; returns CLI_EXIT_FAILURE. */
int cli_output_failed(int errnum);

/* Under mpirun (cli/dist.c): joins the job, or prints why not and returns
 * the exit status; ends it with the command's exit status (a failure ends
 * every rank: the others may be waiting for this one). */
int cli_dist_begin(int *argc, char ***argv);
/* Under mpirun, on rank 0: one line per pipeline stage (its rank and host,
 * layers, weights held, compute and wait time, idle share, bytes sent per
 * token), collected from every rank; nothing in a job of one. */
void cli_print_stages(FILE *out, tsr_deployment *d);
int cli_dist_end(int exit_code);

/* Turns a SIGBUS from a mapped file truncated under tessera (a model file
 * overwritten in place) into a message naming the file and exit 1
 * (cli/sigbus.c). */
void cli_catch_sigbus(void);

/* Loads tessera.ini and the environment once, installs the stderr log sink
 * and applies TESSERA_ISA. The result lives until exit. */
tsr_status cli_setup(tsr_config **config, tsr_error *err);

/* The environment variables every command honours, for --help. */
void cli_print_environment(FILE *out);

/* Draws "WHAT [####....]  45%" over the current line of stderr (a
 * terminal), and clears it at 1.0. */
void cli_progress_bar(const char *what, double fraction);

/* true when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);

#endif
