/* Parameter values for a plugin's declared parameters (tessera/plugin.h):
 * a complete array in declaration order, defaults filled in, and the memory
 * behind every string, list and map, owned by the set. The profile fills a
 * set from YAML; the CLI overrides single values; samplers and spec plugins
 * receive set->values. */
#ifndef TSR_CORE_PARAMS_H
#define TSR_CORE_PARAMS_H

#include "tessera/tessera.h"

typedef struct tsr_param_set {
    const tsr_plugin *plugin;
    tsr_param_value *values; /* plugin->n_params entries */
    char **owned;            /* strings and arrays the values point into */
    size_t n_owned, cap_owned;
} tsr_param_set;

/* Fills every value with its declared default. */
tsr_status tsr_param_set_init(tsr_param_set *set, const tsr_plugin *plugin, tsr_error *err);
void tsr_param_set_free(tsr_param_set *set);

/* The index of the parameter called name, or -1. */
int tsr_param_find(const tsr_plugin *plugin, const char *name);

/* Setters check the declared type and range; an error message names the
 * plugin, the parameter, the value and what was expected, with no location
 * (the caller adds FILE:LINE:COLUMN). A FLOAT parameter accepts an integer;
 * an INT parameter refuses a fraction. */
tsr_status tsr_param_set_number(tsr_param_set *set, int index, double value, tsr_error *err);
tsr_status tsr_param_set_bool(tsr_param_set *set, int index, bool value, tsr_error *err);
tsr_status tsr_param_set_string(tsr_param_set *set, int index, const char *value,
                                tsr_error *err);
/* STRING_LIST: n items (copied). */
tsr_status tsr_param_set_list(tsr_param_set *set, int index, const char *const *items, size_t n,
                              tsr_error *err);
/* FLOAT_MAP: n keys and their values (copied). */
tsr_status tsr_param_set_map(tsr_param_set *set, int index, const char *const *keys,
                             const double *values, size_t n, tsr_error *err);

/* Parses text as the parameter's type (a CLI override: "0.7", "true",
 * "a,b,c" for a list) and sets it. */
tsr_status tsr_param_set_text(tsr_param_set *set, int index, const char *text, tsr_error *err);

/* Copies src into dst (dst uninitialised); deep: dst owns its own memory. */
tsr_status tsr_param_set_copy(tsr_param_set *dst, const tsr_param_set *src, tsr_error *err);

#endif
