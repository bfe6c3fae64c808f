/* tessera serve (cli/cmd_serve.c): the command's entry, for cli/main.c. */
#ifndef TSR_CLI_SERVE_H
#define TSR_CLI_SERVE_H

#include "cli.h"

extern const cli_command cli_command_serve;

#endif
