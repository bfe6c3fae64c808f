/* A deployment opened for a command through the public API alone: the
 * profile (or -m MODEL, or the default model) with the command line's
 * overrides, every finding printed, a progress bar while weights load, a
 * context and (when asked) the sampler chain. */
#ifndef TSR_CLI_SESSION_H
#define TSR_CLI_SESSION_H

#include "cli.h"
#include "options.h"

typedef struct cli_session {
    tsr_deployment *d;
    tsr_context *ctx;
    tsr_sampler *sampler;      /* NULL unless asked for */
} cli_session;

typedef struct cli_session_options {
    bool with_sampler;         /* the profile's chain, with the command line's options */
    uint32_t n_seq_max;        /* sequences; 0: the profile's (1 without a server section) */
    bool all_logits;           /* every row of a batch may be an output */
} cli_session_options;

/* Opens *s, or prints why not and returns the exit status (CLI_EXIT_USAGE
 * for the profile, a model file or an option, CLI_EXIT_REFUSED when the
 * planner refuses, CLI_EXIT_FAILURE otherwise). */
int cli_session_open(const char *profile_path, const cli_overrides *o,
                     const cli_session_options *so, cli_session *s);
void cli_session_close(cli_session *s);

/* Prints, one line each, what the model computes with and what served it:
 * "weights q4_1, 210 tensors: quant plugin q4_1 from FILE, kernel avx2",
 * each line between open and close ("[" and "]" for run --stats). */
void cli_print_formats(FILE *out, const tsr_deployment *d, const char *open, const char *close);

/* Prints one finding to stderr, its hint indented below. */
void cli_print_diagnostic(const tsr_diagnostic_info *d);

#endif
