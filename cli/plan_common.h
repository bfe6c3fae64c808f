/* What `tessera plan` shares with the commands that deploy (run, bench):
 * checking a profile for planning, planning it on an allocator's devices,
 * and showing the verdict. */
#ifndef TSR_CLI_PLAN_COMMON_H
#define TSR_CLI_PLAN_COMMON_H

#include "cli.h"
#include "plan.h"
#include "profile.h"

/* tsr_profile_validate, except that a split naming another number of
 * devices than the allocator has is left to the planner (PROFILE.md gives
 * it the planner's code split-mismatch and the planner's exit status). */
tsr_status cli_validate_for_plan(tsr_profile *profile, const tsr_registry *registry,
                                 tsr_diagnostics *diags, tsr_error *err);

/* Plans the validated profile on the devices of the open allocator (its
 * arenas untouched). n_threads and n_batch as the model will run with them
 * (0: the defaults); n_sequences KV caches per model (0: as the profile
 * deploys, server.parallel with a server section, else 1). */
tsr_status cli_make_plan(const tsr_profile *profile, const tsr_registry *registry,
                         const tsr_gguf *main_gguf, const tsr_gguf *draft_gguf,
                         const tsr_alloc_vtable *alloc, void *alloc_state, uint32_t n_threads,
                         uint32_t n_batch, uint32_t n_sequences, tsr_plan **out,
                         tsr_error *err);

/* Prints diagnostics as FILE:LINE:COLUMN: [warning: ]message [code], each
 * hint indented on the next line. */
void cli_print_plan_diagnostics(const tsr_diagnostics *diags, FILE *out);

/* Prints the plan as a table: one row per device, then the models. */
void cli_print_plan_table(const tsr_plan *plan, FILE *out);

#endif
