/* A command under mpirun: every rank runs it; rank 0 does the command's
 * work, the others serve their pipeline stage (tessera.h, "across hosts"). */
#include <stdio.h>
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
    /* A refusal is every rank's verdict alike (the job plan): each rank ends
     * on its own with it. Anything else may leave other ranks waiting. */
    if (tsr_dist_size() > 1 && exit_code != CLI_EXIT_OK && exit_code != CLI_EXIT_REFUSED) {
        fflush(stdout);
        fflush(stderr);
        tsr_dist_abort(exit_code);
    }
    tsr_dist_finalize();
    return exit_code;
}

/* A hop as `tessera plan` prints it under mpirun (core/api/plan.c). */
static void format_hop(double latency_s, double bytes_per_s, uint64_t row_bytes, char *buf,
                       size_t bytes)
{
    snprintf(buf, bytes, "latency %.1f us per row of %llu bytes, bandwidth %.1f MB/s",
             latency_s * 1e6, (unsigned long long)row_bytes, bytes_per_s / 1e6);
}

void cli_print_stages(FILE *out, tsr_deployment *d)
{
    if (tsr_dist_size() < 2 || tsr_dist_rank() != 0)
        return;
    tsr_error err = {0};
    if (tsr_dist_collect_stats(d, &err) != TSR_OK) {
        cli_error("the stages' figures: %s", err.message);
        return;
    }
    for (uint32_t r = 0; r < tsr_dist_size(); r++) {
        tsr_dist_stats s = {.struct_size = sizeof s};
        if (!tsr_dist_stage_stats(d, r, &s))
            return;
        fprintf(out, "[stage %u (rank %u, host %s): layers %u-%u, %.1f MiB of weights held | "
                "compute %.3f s, wait %.3f s, idle %.1f%% | %.0f bytes sent per token]\n",
                r, s.rank, s.host, s.first_layer, s.last_layer,
                (double)s.weights_bytes / (1024.0 * 1024.0), s.compute_s, s.wait_s,
                100.0 * s.idle_share, s.rows ? (double)s.bytes_sent / (double)s.rows : 0.0);
    }
    for (uint32_t r = 0; r + 1 < tsr_dist_size(); r++) {
        tsr_dist_stats from = {.struct_size = sizeof from}, to = {.struct_size = sizeof to};
        if (!tsr_dist_stage_stats(d, r, &from) || !tsr_dist_stage_stats(d, r + 1, &to) ||
            !from.hop_row_bytes)
            continue;
        char line[160];
        format_hop(from.hop_latency_s, from.hop_bytes_per_s, from.hop_row_bytes, line,
                       sizeof line);
        fprintf(out, "[hop rank %u -> rank %u (host %s -> %s): %s, timed at the handshake]\n",
                r, r + 1, from.host, to.host, line);
    }
}
