/* tessera bench --spec-compare (cli/bench_spec.c). */
#ifndef TSR_CLI_BENCH_SPEC_H
#define TSR_CLI_BENCH_SPEC_H

#include "session.h"

/* Generates n_gen tokens from each prompt (the built-in set, or one per line
 * of prompts_path) with and without speculation, alternately, repeats times
 * after a warm-up, and prints the table. Returns the exit status. */
int bench_spec_compare(const char *profile, const cli_overrides *overrides, int64_t n_gen,
                       int64_t repeats, const char *prompts_path);

#endif
