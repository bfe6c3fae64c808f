/* What the profile's reader, validator and writer share; not for other
 * parts of the core (they use profile.h). */
#ifndef TSR_CORE_PROFILE_INTERNAL_H
#define TSR_CORE_PROFILE_INTERNAL_H

#include "profile.h"

/* One pass over a profile, collecting problems. */
typedef struct tsr_profile_checker {
    tsr_profile *profile;
    tsr_diagnostics *diags;
    bool failed;        /* an error was reported */
    bool out_of_memory;
} tsr_profile_checker;

/* Adds a diagnostic at a place of the profile's file (line 0: no place). */
void tsr_profile_report(tsr_profile_checker *c, tsr_severity severity, tsr_profile_loc at,
                        const char *fmt, ...) TSR_PRINTF(4, 5);
tsr_profile_loc tsr_profile_loc_of(const tsr_yaml_node *node);
/* "'text'" for a scalar (quoted for a message), else "a mapping", "null", ... */
const char *tsr_profile_shown(const tsr_yaml_node *node, char *buf, size_t buf_bytes);
/* "a, b, c" into buf (cut to fit). */
void tsr_profile_join(const char *const *names, size_t n, char *buf, size_t buf_bytes);

/* Frees the chain (names, parameter sets, places) and empties it. */
void tsr_profile_free_sampler(tsr_profile *profile);
void tsr_profile_free_strings(char **strings, size_t n);
/* Sets every node's line and column to 0 (a default has no place). */
void tsr_profile_zero_places(tsr_yaml_node *node);

#endif
