/* What the profile's reader, validator and writer share; not for other
 * parts of the core (they use profile.h). */
#ifndef TSR_CORE_PROFILE_INTERNAL_H
#define TSR_CORE_PROFILE_INTERNAL_H

#include "profile.h"

/* One pass over a profile, collecting problems. */
typedef struct tsr_profile_checker {
    tsr_profile *profile;
    tsr_diagnostics *diags;
    bool failed; /* an error was reported */
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

/* Values (profile_values.c). Each reads node as the key called name
 * ("devices.reserve"), reports what is wrong with it, and leaves the output
 * alone unless the value is good; a null node (absent, or `null`) is the
 * default and changes nothing. */

/* A non-empty string without NUL bytes, or NULL (null, or reported). */
const char *tsr_profile_string(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name);
/* Replaces *out with a copy of the string, and *loc with its place. */
void tsr_profile_set_string(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                            char **out, tsr_profile_loc *loc);
/* A whole number in [min, max]; negative and absurd ones are named so. */
void tsr_profile_set_uint(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                          uint64_t min, uint64_t max, uint64_t *out, tsr_profile_loc *loc);
void tsr_profile_set_uint32(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                            uint32_t min, uint32_t max, uint32_t *out, tsr_profile_loc *loc);
/* A size (core/base/units.h) up to TSR_PROFILE_MAX_BYTES; bare numbers count in
 * bare_unit bytes (0: a unit is required). node must not be NULL. */
bool tsr_profile_size(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                      uint64_t bare_unit, uint64_t *out);
/* A list of 1..TSR_PROFILE_MAX_DEVICES sizes (a single size is a list of
 * one); replaces *out, *n_out and *locs_out only when every entry is good. */
void tsr_profile_set_size_list(tsr_profile_checker *c, const tsr_yaml_node *node, const char *name,
                               uint64_t bare_unit, uint64_t **out, size_t *n_out,
                               tsr_profile_loc **locs_out, tsr_profile_loc *loc);
/* A plain (unquoted) scalar equal to word, such as `auto`. */
bool tsr_profile_is_word(const tsr_yaml_node *node, const char *word);
/* tsr_path_resolve, tidied ("a/./b" and "a//b" become "a/b"); malloc'd. */
char *tsr_profile_resolve_path(const char *path, const char *base_dir);
/* Sets m->format from m->path, reporting a path that is not a usable model. */
void tsr_profile_check_model_file(tsr_profile_checker *c, tsr_profile_model *m, const char *name,
                                  const tsr_yaml_node *at);

/* Frees the chain (names, parameter sets, places) and empties it. */
void tsr_profile_free_sampler(tsr_profile *profile);
void tsr_profile_free_strings(char **strings, size_t n);
/* Sets every node's line and column to 0 (a default has no place). */
void tsr_profile_zero_places(tsr_yaml_node *node);

#endif
