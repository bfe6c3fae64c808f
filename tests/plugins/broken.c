/* Deliberately broken plugins, one per refusal the loader must make. The
 * build compiles this file once per case with -DBROKEN_<CASE>. */
#include <string.h>

#include "tessera/plugin.h"

static tsr_status ok_create(const tsr_host *host, const tsr_param_value *params,
                            const tsr_sampler_init *init, void **state, tsr_error *err)
{
    *state = NULL;
    return TSR_OK;
}
static void ok_destroy(void *state) {}
static __attribute__((unused)) tsr_status ok_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    return TSR_OK;
}

#if defined(BROKEN_WRONG_MAJOR)
#define DESC_ABI {TSR_ABI_MAJOR + 1, 0, sizeof(tsr_plugin_desc)}
#define NAME "wrong_major"
#elif defined(BROKEN_NEWER_MINOR)
#define DESC_ABI {TSR_ABI_MAJOR, TSR_ABI_MINOR + 3, sizeof(tsr_plugin_desc)}
#define NAME "newer_minor"
#elif defined(BROKEN_TRUNCATED)
#define DESC_ABI {TSR_ABI_MAJOR, TSR_ABI_MINOR, 20}
#define NAME "truncated"
#else
#define DESC_ABI TSR_ABI_INIT(tsr_plugin_desc)
#endif

#if defined(BROKEN_TRUNCATED_VTABLE)
#define VTABLE_ABI {TSR_ABI_MAJOR, TSR_ABI_MINOR, 16}
#define NAME "truncated_vtable"
#else
#define VTABLE_ABI TSR_ABI_INIT(tsr_sampler_vtable)
#endif

#if defined(BROKEN_DUPLICATE)
#define NAME "greedy" /* the real sampler/greedy already has this name */
#elif defined(BROKEN_MISSING_MEMBER)
#define NAME "missing_apply"
#elif defined(BROKEN_BAD_PARAM)
#define NAME "bad_param"
#endif
#ifndef NAME
#define NAME "no_entry"
#endif

static const tsr_sampler_vtable vtable = {
    .abi = VTABLE_ABI,
    .create = ok_create,
    .destroy = ok_destroy,
#if !defined(BROKEN_MISSING_MEMBER)
    .apply = ok_apply,
#endif
};

#if defined(BROKEN_BAD_PARAM)
static const tsr_param_desc params[] = {
    {.name = "k", .type = TSR_PARAM_INT, .min = 1, .max = 10, .default_number = 40,
     .doc = "default outside the range"},
};
#define PARAMS params
#define N_PARAMS 1
#else
#define PARAMS NULL
#define N_PARAMS 0
#endif

static const tsr_plugin_desc desc = {
    .abi = DESC_ABI,
    .kind = TSR_PLUGIN_SAMPLER,
    .name = NAME,
    .version = "0.0.1",
    .summary = "a deliberately broken plugin for the loader's tests",
    .params = PARAMS,
    .n_params = N_PARAMS,
    .vtable = &vtable,
};

#if !defined(BROKEN_NO_ENTRY)
TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
#else
TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry_misspelled(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
#endif
