/* Checking a profile against the plugins (phase 2), with the test plugins of
 * tests/plugins/params.c: a sampler with a parameter of every type, a
 * choosing sampler, two strategies, two formats and a three-device allocator.
 * And writing a validated profile back as YAML. */
#include <math.h>

#include "profile_testutil.h"

static tsr_registry *registry;

static void setup(void)
{
    scratch_setup();
    const char *dirs[] = {
        test_path(test_builddir(), "plugins/.libs"),
        test_path(test_builddir(), "tests/plugins/.libs"),
    };
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 2, &registry, &err), TSR_OK, "%s", err.message);
    cr_assert_not_null(tsr_registry_find(registry, TSR_PLUGIN_SAMPLER, "test_params"),
                       "the test plugins are built (make check builds them)");
}

static void teardown(void)
{
    tsr_registry_close(registry);
    scratch_teardown();
}

TestSuite(profile_validate, .init = setup, .fini = teardown);

/* A valid deployment with the test plugins, to which a test adds lines. */
#define BASE                                                                                       \
    "model: {path: model.gguf, cache_type: test_kv}\n" /* 1 */                                     \
    "devices: {allocator: host}\n"                     /* 2 */

/* Parses and validates text; returns the profile (free it) and the status. */
static tsr_profile *check(const char *text, tsr_diagnostics *diags, tsr_status *status)
{
    tsr_profile *p = parse_text(text, diags, NULL);
    cr_assert_not_null(p, "%s", dump(diags));
    tsr_error err = {0};
    tsr_status got = tsr_profile_validate(p, registry, diags, &err);
    cr_assert(got == TSR_OK || got == TSR_ERR_INVALID, "%s", err.message);
    if (status)
        *status = got;
    return p;
}

Test(profile_validate, valid_profile_fills_every_parameter)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p =
        check(BASE "sampler:\n"
                   "  - test_params: {k: 7, p: 0.25, enabled: false, mode: exact,\n"
                   "                  breakers: [a, b, c], bias: {\"15\": -100, \"7\": -.inf}}\n"
                   "  - test_choose\n",
              &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert(p->validated);
    cr_assert_eq(p->n_sampler, 2, "a chain ending with a choice gets nothing appended");
    const tsr_profile_sampler *e = &p->sampler[0];
    cr_assert_str_eq(e->plugin->name, "test_params");
    const tsr_param_value *v = e->params.values;
    cr_assert_eq(v[0].integer, 7);
    cr_assert(v[0].is_set);
    cr_assert_float_eq(v[1].number, 0.25, 1e-12);
    cr_assert_not(v[2].boolean);
    cr_assert_str_eq(v[3].string, "exact");
    cr_assert_eq(v[4].n_items, 3);
    cr_assert_str_eq(v[4].items[2], "c");
    cr_assert_eq(v[5].n_items, 2);
    cr_assert_str_eq(v[5].items[0], "15");
    cr_assert_float_eq(v[5].values[0], -100, 1e-12);
    cr_assert(isinf(v[5].values[1]) && v[5].values[1] < 0);
    /* Where each parameter was written. */
    cr_assert_eq(e->param_locs[0].line, 4);
    cr_assert_eq(e->param_locs[0].column, 22);
    cr_assert_eq(e->param_locs[5].line, 5);
    cr_assert_eq(e->param_locs[5].column, 46);
    cr_assert_str_eq(p->devices.plugin->name, "host");
    cr_assert_eq(p->devices.n_devices, 1);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, scalar_sets_the_first_parameter_and_null_means_defaults)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check(BASE "sampler: [test_params: 12, test_params: {}, test_params: null,"
                                " test_params, test_choose]\n",
                           &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(p->sampler[0].params.values[0].integer, 12);
    cr_assert_eq(p->sampler[0].param_locs[0].line, 3);
    cr_assert_eq(p->sampler[0].param_locs[0].column, 24);
    for (size_t i = 1; i < 4; i++) {
        const tsr_param_value *v = p->sampler[i].params.values;
        cr_assert_eq(v[0].integer, 40, "entry %zu: the default", i);
        cr_assert_not(v[0].is_set);
        cr_assert_float_eq(v[1].number, 0.9, 1e-12);
        cr_assert(v[2].boolean);
        cr_assert_str_eq(v[3].string, "fast");
        cr_assert_eq(v[4].n_items, 2);
        cr_assert_str_eq(v[4].items[0], "\n");
        cr_assert_eq(v[5].n_items, 0);
        cr_assert_eq(p->sampler[i].param_locs[0].line, 0);
    }
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, unknown_plugins_list_the_ones_that_exist)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check("model: {path: model.gguf, cache_type: f17, quantize: q9_9}\n"
                           "devices: {allocator: teleporter}\n"
                           "speculative: {strategy: test_spec_drat}\n"
                           "sampler: [test_parms: 1, test_choose]\n",
                           &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    cr_assert_not(p->validated);
    assert_diag(&diags, 1, 39, "model.cache_type: no quant plugin 'f17' on the search path");
    assert_diag(&diags, 1, 39, "quant plugins: ");
    assert_diag(&diags, 1, 39, "test_kv, test_weights");
    assert_diag(&diags, 1, 54, "model.quantize: no quant plugin 'q9_9'");
    assert_diag(&diags, 2, 22,
                "devices.allocator: no alloc plugin 'teleporter' on the search path "
                "(alloc plugins: host, sim, test_alloc)");
    assert_diag(&diags, 3, 25,
                "speculative.strategy: no spec plugin 'test_spec_drat' on the search "
                "path; did you mean 'test_spec_draft'? (spec plugins: ");
    assert_diag(&diags, 4, 11,
                "sampler: no sampler plugin 'test_parms' on the search path; did you "
                "mean 'test_params'? (sampler plugins: ");
    const tsr_diagnostic *d = find_diag(&diags, 4, 11, "test_parms");
    cr_assert(strstr(d->message, "greedy") && strstr(d->message, "test_choose"), "%s", d->message);
    cr_assert(d->hint && strstr(d->hint, "searched: ") && strstr(d->hint, "tests/plugins/.libs"),
              "%s", d->hint ? d->hint : "(no hint)");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, quant_plugins_must_be_able_to_do_their_job)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p =
        check("model: {path: model.gguf, cache_type: test_weights, quantize: test_weights}\n"
              "devices: {allocator: host}\nsampler: [test_choose]\n",
              &diags, NULL);
    assert_diag(&diags, 1, 39,
                "model.cache_type: quant plugin 'test_weights' cannot hold the KV "
                "cache (those that can: ");
    assert_diag(&diags, 1, 39, "test_kv");
    assert_diag(&diags, 1, 63,
                "model.quantize: quant plugin 'test_weights' cannot quantize weights");
    cr_assert_eq(diags.count, 2, "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, unknown_parameter_lists_the_known_names)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = check(BASE "sampler:\n"
                                "  - test_params: {kk: 3, temperature: 2}\n"
                                "  - test_choose: {x: 1}\n",
                           &diags, NULL);
    assert_diag(&diags, 4, 19,
                "test_params has no parameter 'kk'; did you mean 'k'? (its "
                "parameters: k, p, enabled, mode, breakers, bias)");
    assert_diag(&diags, 4, 26,
                "test_params has no parameter 'temperature' (its parameters: k, p, "
                "enabled, mode, breakers, bias)");
    assert_diag(&diags, 5, 19, "test_choose takes no parameters, so not 'x'");
    cr_assert_eq(diags.count, 3, "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = check(BASE "sampler: [test_choose: 5]\n", &diags, NULL);
    assert_diag(&diags, 3, 24, "test_choose takes no parameters; write just `test_choose`");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, parameters_of_the_wrong_type_are_refused)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = check(BASE "sampler:\n"
                                "  - test_params: {k: many, p: [1], enabled: yes, mode: {a: 1},\n"
                                "                  breakers: [a, [b]], bias: {\"1\": x}}\n"
                                "  - test_params: {bias: [1, 2]}\n"
                                "  - test_choose\n",
                           &diags, NULL);
    assert_diag(&diags, 4, 22, "test_params.k must be a whole number, not 'many'");
    assert_diag(&diags, 4, 31, "test_params.p must be a number, not a list");
    assert_diag(&diags, 4, 45, "test_params.enabled must be true or false, not 'yes'");
    assert_diag(&diags, 4, 56, "test_params.mode must be a string, not a mapping");
    assert_diag(&diags, 5, 33, "test_params.breakers[1] must be a string, not a list");
    assert_diag(&diags, 5, 51, "test_params.bias['1'] must be a number, not 'x'");
    assert_diag(&diags, 6, 25, "test_params.bias must be a mapping of keys to numbers");
    cr_assert_eq(diags.count, 7, "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, out_of_range_parameters_are_refused)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = check(BASE "sampler:\n"
                                "  - test_params: {k: 0, p: 1.5, mode: slow}\n"
                                "  - test_params: 2.5\n"
                                "  - test_params: {k: 1001, p: -.inf}\n"
                                "  - test_choose\n"
                                "speculative: {strategy: test_spec_alone, options: {n_min: 3}}\n",
                           &diags, NULL);
    assert_diag(&diags, 4, 22, "test_params.k = 0 is out of range [1, 1000]");
    assert_diag(&diags, 4, 28, "test_params.p = 1.5 is out of range [0, 1]");
    assert_diag(&diags, 4, 39, "test_params.mode = 'slow' is not one of: fast, exact");
    assert_diag(&diags, 5, 18, "test_params.k must be a whole number, not 2.5");
    assert_diag(&diags, 6, 22, "test_params.k = 1001 is out of range [1, 1000]");
    assert_diag(&diags, 6, 31, "test_params.p = -inf is out of range [0, 1]");
    assert_diag(&diags, 8, 52, "test_spec_alone takes no parameters, so not 'n_min'");
    cr_assert_eq(diags.count, 7, "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, split_must_name_one_budget_per_device)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check("model: {path: model.gguf, cache_type: test_kv}\n"
                           "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 24, 4]}\n"
                           "sampler: [test_choose]\n",
                           &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    assert_diag(&diags, 2, 55,
                "devices.split names 3 devices, but allocator sim has 2 (sim0, sim1)");
    cr_assert_eq(p->devices.n_devices, 2);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    /* Another allocator is opened and asked how many devices it has. */
    p = check("model: {path: model.gguf, cache_type: test_kv}\n"
              "devices:\n  allocator: test_alloc\n  split: [20, 24]\n"
              "sampler: [test_choose]\n",
              &diags, &status);
    assert_diag(&diags, 4, 10,
                "devices.split names 2 devices, but allocator test_alloc has 3 "
                "(t0, t1, t2)");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = check("model: {path: model.gguf, cache_type: test_kv}\n"
              "devices: {allocator: test_alloc, split: [20, 24, 1GiB]}\n"
              "sampler: [test_choose]\n",
              &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(p->devices.n_devices, 3);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, allocator_options_are_checked_against_its_declared_parameters)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check("model: {path: model.gguf, cache_type: test_kv}\n"
                           "devices:\n"
                           "  allocator: test_alloc\n"
                           "  options: {devices: 12, prefx: gpu, prefix: [a]}\n"
                           "sampler: [test_choose]\n",
                           &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    assert_diag(&diags, 4, 22, "test_alloc.devices = 12 is out of range [1, 8]");
    assert_diag(&diags, 4, 26,
                "test_alloc has no parameter 'prefx'; did you mean 'prefix'? (its parameters: "
                "devices, prefix)");
    assert_diag(&diags, 4, 46, "test_alloc.prefix must be a string, not a list");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = check("model: {path: model.gguf, cache_type: test_kv}\n"
              "devices: {allocator: host, options: {limit: 1}}\nsampler: [test_choose]\n",
              &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    assert_diag(&diags, 2, 38, "host takes no parameters, so not 'limit'");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = check("model: {path: model.gguf, cache_type: test_kv}\n"
              "devices: {allocator: host, options: 3}\nsampler: [test_choose]\n",
              &diags, NULL);
    assert_diag(&diags, 2, 37, "devices.options must be a mapping of the allocator's parameters");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, allocator_options_reach_open_and_devices_sim_does_not)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    /* test_alloc refuses to open when handed devices.sim (here given, and
     * there by default) and names its devices after its parameters. */
    tsr_profile *p = check("model: {path: model.gguf, cache_type: test_kv}\n"
                           "devices:\n"
                           "  allocator: test_alloc\n"
                           "  sim: [1GiB]\n"
                           "  options: {devices: 2, prefix: gpu}\n"
                           "  split: [1, 2, 3]\n"
                           "sampler: [test_choose]\n",
                           &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    assert_diag(&diags, 6, 10, "devices.split names 3 devices, but allocator test_alloc has 2 "
                               "(gpu0, gpu1)");
    cr_assert_eq(p->devices.n_devices, 2);
    cr_assert_eq(p->devices.param_locs[0].line, 5);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    /* sim itself still gets them. */
    p = check("model: {path: model.gguf, cache_type: test_kv}\n"
              "devices: {allocator: sim, sim: [1GiB, 2GiB, 3GiB]}\nsampler: [test_choose]\n",
              &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(p->devices.n_devices, 3);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, an_abi_1_0_allocator_loads_and_still_gets_devices_sim)
{
    const char *dirs[] = {
        test_path(test_builddir(), "tests/abi10/.libs"),
        test_path(test_builddir(), "tests/plugins/.libs"),
    };
    tsr_registry *with_old = NULL;
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 2, &with_old, &err), TSR_OK, "%s", err.message);
    const tsr_plugin *old = tsr_registry_find(with_old, TSR_PLUGIN_ALLOC, "abi10_alloc");
    cr_assert_not_null(old, "tests/plugins/abi_1_0.c is built and loads");
    cr_assert_eq(old->abi_minor, 0);
    const tsr_alloc_vtable *vt = old->vtable;
    cr_assert_eq(vt->flags, 0, "a member 1.0 lacks reads as 0");
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf, cache_type: test_kv}\n"
                                "devices: {allocator: abi10_alloc, sim: [1GiB, 2GiB]}\n"
                                "sampler: [test_choose]\n",
                                &diags, NULL);
    cr_assert_not_null(p, "%s", dump(&diags));
    cr_assert_eq(tsr_profile_validate(p, with_old, &diags, &err), TSR_OK, "%s", dump(&diags));
    cr_assert_eq(p->devices.n_devices, 2);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
    tsr_registry_close(with_old);
}

Test(profile_validate, profile_show_writes_the_allocator_options)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check("model: {path: model.gguf, cache_type: test_kv}\n"
                           "devices: {allocator: test_alloc, options: {prefix: gpu}}\n"
                           "sampler: [test_choose]\n",
                           &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    tsr_error err = {0};
    char *yaml = tsr_profile_to_yaml(p, &err);
    cr_assert_not_null(yaml, "%s", err.message);
    cr_assert(strstr(yaml, "options: {devices: 3, prefix: gpu}"), "%s", yaml);
    free(yaml);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, speculation_and_its_draft_must_go_together)
{
    scratch_model("draft.gguf");
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check(BASE "sampler: [test_choose]\n"
                                "speculative: {strategy: test_spec_draft, options: {n_min: 4}}\n",
                           &diags, &status);
    assert_diag(&diags, 4, 25, "speculative.strategy test_spec_draft needs a draft model");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = check(BASE "sampler: [test_choose]\n"
                   "draft: {path: draft.gguf}\n"
                   "speculative: {strategy: test_spec_draft, options: {n_min: 4, p_min: 0.1}}\n",
              &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_str_eq(p->draft.cache_type, "test_kv", "the draft follows the model");
    cr_assert_eq(p->speculative.params.values[0].integer, 4);
    cr_assert_float_eq(p->speculative.params.values[1].number, 0.1, 1e-12);
    cr_assert_eq(p->speculative.param_locs[1].line, 5);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = check(BASE "sampler: [test_choose]\n"
                   "draft: {path: draft.gguf}\n"
                   "speculative: {strategy: test_spec_alone}\n",
              &diags, &status);
    cr_assert_eq(status, TSR_OK, "a warning does not make the profile unusable");
    cr_assert_eq(diags.count, 1, "%s", dump(&diags));
    cr_assert_eq(diags.items[0].severity, TSR_SEVERITY_WARNING);
    assert_diag(&diags, 4, 1,
                "draft is given, but speculative.strategy test_spec_alone does not "
                "use a draft model");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, bad_entries_do_not_hide_the_problems_of_good_ones)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text(BASE "sampler: [{a: 1, b: 2}, test_params: 0, test_choose]\n",
                                &diags, NULL);
    tsr_error err = {0};
    cr_assert_eq(tsr_profile_validate(p, registry, &diags, &err), TSR_ERR_INVALID);
    assert_diag(&diags, 3, 11, "each sampler entry is one `name: parameters` pair");
    assert_diag(&diags, 3, 38, "test_params.k = 0 is out of range [1, 1000]");
    cr_assert_eq(diags.count, 2, "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, a_choosing_sampler_must_come_last)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p =
        check(BASE "sampler: [test_choose, test_params: 3, test_params: 4]\n", &diags, NULL);
    assert_diag(&diags, 3, 11,
                "sampler test_choose chooses the token, so the 2 samplers after it "
                "would change nothing; put it last");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, a_chain_without_a_choice_gets_dist)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = check(BASE "sampler: [test_params: 3]\n", &diags, &status);
    const tsr_plugin *dist = tsr_registry_find(registry, TSR_PLUGIN_SAMPLER, "dist");
    if (dist) {
        cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
        cr_assert_eq(p->n_sampler, 2);
        cr_assert_str_eq(p->sampler[1].name, "dist");
        cr_assert(p->sampler[1].implicit);
        cr_assert_eq(p->sampler[1].plugin, dist);
    } else {
        cr_assert_eq(status, TSR_ERR_INVALID);
        assert_diag(&diags, 3, 1,
                    "the sampler chain ends without a sampler that chooses the "
                    "token, and no choosing sampler 'dist' is on the search path");
        cr_assert_eq(p->n_sampler, 1);
    }
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, defaults_that_name_missing_plugins_say_so)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = check("devices: {allocator: host}\nmodel: {path: model.gguf}\n"
                           "sampler: [test_choose]\n",
                           &diags, NULL);
    /* The default cache type is f16: an error at the model section until a
     * quant plugin provides it, none after. */
    if (!tsr_registry_find(registry, TSR_PLUGIN_QUANT, "f16"))
        assert_diag(&diags, 2, 1, "model.cache_type (by default): no quant plugin 'f16'");
    else
        cr_assert_not(strstr(dump(&diags), "cache_type"), "%s", dump(&diags));
    cr_assert_not(strstr(dump(&diags), "allocator"), "host is there: %s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, written_yaml_reads_back_to_the_same_profile)
{
    scratch_model("draft.gguf");
    const char *text =
        BASE "draft: {path: draft.gguf, max_seq_len: 512}\n"
             "speculative: {strategy: test_spec_draft, tokens: 7,"
             " options: {p_min: 0.3}}\n"
             "sampler:\n"
             "  - test_params: {k: 3, mode: \"exact\", breakers: [\"null\", \"1.5\", x],"
             " bias: {\"15\": -100, \"x y\": 0.5}}\n"
             "  - test_choose\n"
             "threads: 3\nseed: 18446744073709551615\n"
             "server: {api_key: \"true\", model_name: 'tessera: small'}\n";
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *first = check(text, &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    tsr_error err = {0};
    char *yaml = tsr_profile_to_yaml(first, &err);
    cr_assert_not_null(yaml, "%s", err.message);
    cr_assert(strstr(yaml, "reserve: 256MiB"), "%s", yaml);
    cr_assert(strstr(yaml, "split: auto"), "%s", yaml);
    cr_assert(strstr(yaml, "max_seq_len: null"), "%s", yaml);
    cr_assert(strstr(yaml, "- test_params: {k: 3, p: 0.9, enabled: true, mode: exact,"), "%s",
              yaml);
    cr_assert(strstr(yaml, "api_key: \"true\""), "%s", yaml);

    tsr_profile *second = check(yaml, &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s\n%s", yaml, dump(&diags));
    char *again = tsr_profile_to_yaml(second, &err);
    cr_assert_not_null(again, "%s", err.message);
    cr_assert_str_eq(again, yaml, "writing is a fixed point");
    cr_assert_eq(second->server.n_api_keys, 1);
    cr_assert_str_eq(second->server.api_keys[0], "true");
    cr_assert_str_eq(second->server.model_name, "tessera: small");
    cr_assert_eq(second->seed, UINT64_MAX);
    cr_assert_str_eq(second->sampler[0].params.values[4].items[0], "null");
    cr_assert_eq(second->draft.max_seq_len, 512);
    free(yaml);
    free(again);
    tsr_profile_free(first);
    tsr_profile_free(second);
    tsr_diagnostics_free(&diags);
}

Test(profile_validate, unvalidated_profile_is_written_as_the_file_had_it)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p =
        parse_text("model: {path: model.gguf}\nsampler: [top_k: 40, greedy]\n", &diags, NULL);
    tsr_error err = {0};
    char *yaml = tsr_profile_to_yaml(p, &err);
    cr_assert_not_null(yaml, "%s", err.message);
    cr_assert(strstr(yaml, "sampler:\n- top_k: 40\n- greedy\n"), "%s", yaml);
    cr_assert(strstr(yaml, "cache_type: f16"), "%s", yaml);
    free(yaml);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}
