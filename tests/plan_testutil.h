/* What the planner's tests share: the sparse model fixtures of real shapes
 * (tests/make_fixtures) in a scratch folder, the plugins of the build tree,
 * and a profile (YAML text) planned on simulated devices. */
#ifndef TSR_PLAN_TESTUTIL_H
#define TSR_PLAN_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "plan.h"
#include "profile.h"
#include "testutil.h"

static char fixtures[1024];
static tsr_registry *plugins;

/* Makes the fixtures (a few MB on disk) and opens the build's plugins. */
static inline void fixtures_setup(void)
{
    snprintf(fixtures, sizeof fixtures, "%s/tests/tmp-plan-XXXXXX", test_builddir());
    cr_assert_not_null(mkdtemp(fixtures));
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "'%s/tests/make_fixtures' '%s'", test_builddir(), fixtures);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    tsr_error err = {0};
    const char *dirs[] = {test_path(test_builddir(), "plugins/.libs")};
    cr_assert_eq(tsr_registry_open(dirs, 1, &plugins, &err), TSR_OK, "%s", err.message);
}

static inline void fixtures_teardown(void)
{
    tsr_registry_close(plugins);
    plugins = NULL;
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixtures);
    cr_assert_eq(system(cmd), 0);
}

static inline const char *fixture(const char *name)
{
    return test_path(fixtures, name);
}

/* A profile planned, with what it holds open. */
typedef struct planned {
    tsr_profile *profile;
    tsr_gguf *ggufs[2];
    tsr_plan *plan;
    tsr_diagnostics profile_diags;
} planned;

/* The devices of a profile's sim allocator, as the planner sees them: the
 * allocator opened with the profile's devices.sim and devices.options, as
 * tsr_api_open does. */
static inline uint32_t sim_specs(const tsr_profile *p, tsr_plan_device_spec *specs)
{
    cr_assert_str_eq(p->devices.allocator, "sim", "the planner's tests simulate devices");
    const tsr_alloc_vtable *vt = tsr_plugin_alloc(p->devices.plugin);
    cr_assert_not_null(vt);
    tsr_alloc_config config;
    tsr_profile_alloc_config(&p->devices, &config);
    void *state = NULL;
    tsr_error err = {0};
    cr_assert_eq(vt->open(tsr_host_services(), &config, &state, &err), TSR_OK, "%s",
                 err.message);
    uint32_t n = tsr_plan_devices_from_alloc(vt, state, specs, TSR_PROFILE_MAX_DEVICES, &err);
    vt->close(state);
    cr_assert_gt(n, 0, "%s", err.message);
    return n;
}

/* Parses yaml (paths relative to the fixtures), validates it as `tessera
 * plan` does (the split left to the planner) and plans it. */
static inline void plan_yaml(const char *yaml, planned *out)
{
    memset(out, 0, sizeof *out);
    tsr_error err = {0};
    tsr_status s = tsr_profile_parse(yaml, strlen(yaml), "test.yaml", fixtures, &out->profile,
                                     &out->profile_diags, &err);
    cr_assert_eq(s, TSR_OK, "profile: %s (%zu problems, first: %s)", err.message,
                 out->profile_diags.count,
                 out->profile_diags.count ? out->profile_diags.items[0].message : "-");
    bool split_auto = out->profile->devices.split_auto;
    out->profile->devices.split_auto = true;
    s = tsr_profile_validate(out->profile, plugins, &out->profile_diags, &err);
    out->profile->devices.split_auto = split_auto;
    cr_assert_eq(s, TSR_OK, "validation: %s", out->profile_diags.count
                                                   ? out->profile_diags.items[0].message
                                                   : err.message);
    const tsr_profile_model *models[2] = {&out->profile->model, &out->profile->draft};
    for (int k = 0; k < (out->profile->has_draft ? 2 : 1); k++)
        cr_assert_eq(tsr_gguf_open_headers(models[k]->path, &out->ggufs[k], &err), TSR_OK, "%s",
                     err.message);
    tsr_plan_device_spec specs[TSR_PROFILE_MAX_DEVICES];
    uint32_t n = sim_specs(out->profile, specs);
    tsr_plan_request request;
    tsr_plan_request_from_profile(out->profile, plugins, out->ggufs[0], out->ggufs[1], specs, n,
                                  &request);
    request.n_threads = out->profile->threads ? out->profile->threads : 4;
    cr_assert_eq(tsr_plan_make(&request, &out->plan, &err), TSR_OK, "%s", err.message);
}

static inline void planned_free(planned *p)
{
    tsr_plan_free(p->plan);
    tsr_gguf_close(p->ggufs[0]);
    tsr_gguf_close(p->ggufs[1]);
    tsr_diagnostics_free(&p->profile_diags);
    tsr_profile_free(p->profile);
}

/* The planner's first diagnostic of that code whose message holds text
 * (any message when text is NULL), or NULL. */
static inline const tsr_diagnostic *find_diag_naming(const tsr_plan *plan, const char *code,
                                                     const char *text)
{
    for (size_t i = 0; i < plan->diags.count; i++) {
        const tsr_diagnostic *d = &plan->diags.items[i];
        if (d->code && strcmp(d->code, code) == 0 && (!text || strstr(d->message, text)))
            return d;
    }
    return NULL;
}

/* The planner's diagnostic of that code, or NULL. */
static inline const tsr_diagnostic *find_diag(const tsr_plan *plan, const char *code)
{
    return find_diag_naming(plan, code, NULL);
}

static inline size_t count_diags(const tsr_plan *plan, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->diags.count; i++)
        n += plan->diags.items[i].code && strcmp(plan->diags.items[i].code, code) == 0;
    return n;
}

#endif
