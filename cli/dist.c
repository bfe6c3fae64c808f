/* A command under mpirun: every rank runs it; rank 0 does the command's
 * work, the others serve their pipeline stage (tessera.h, "across hosts"). */
#include <stdlib.h>

#include "cli.h"

int cli_dist_begin(int *argc, char ***argv)
{
    tsr_error err = {0};
    if (tsr_dist_init(argc, argv, &err) != TSR_OK) {
        cli_error("%s", err.message);
        return err.code == TSR_ERR_UNSUPPORTED ? CLI_EXIT_USAGE : CLI_EXIT_PEER;
    }
    return CLI_EXIT_OK;
}

int cli_dist_end(int exit_code)
{
    if (tsr_dist_size() > 1 && exit_code != CLI_EXIT_OK) {
        fflush(stdout);
        fflush(stderr);
        tsr_dist_abort(exit_code);
    }
    tsr_dist_finalize();
    return exit_code;
}
