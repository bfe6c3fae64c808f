/* Reading a profile (phase 1): defaults, paths, and every kind of problem,
 * each reported with its FILE:LINE:COLUMN, all of them at once. */
#include "profile_testutil.h"

#include "units.h"

TestSuite(profile, .init = scratch_setup, .fini = scratch_teardown);

static const char *in_scratch(const char *rel)
{
    return test_path(scratch, rel);
}

Test(profile, smallest_profile_gets_every_default)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("model: {path: model.gguf}\n", &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(diags.count, 0, "%s", dump(&diags));

    cr_assert_eq(p->version, 1);
    cr_assert_str_eq(p->model.path, in_scratch("model.gguf"));
    cr_assert_str_eq(p->model.path_as_written, "model.gguf");
    cr_assert_eq(p->model.format, TSR_MODEL_FORMAT_GGUF);
    cr_assert_eq(p->model.max_seq_len, 0, "0: the model's own");
    cr_assert_str_eq(p->model.cache_type, "f16");
    cr_assert_null(p->model.quantize);
    cr_assert_not(p->has_draft);
    cr_assert_not(p->has_speculative);

    cr_assert_str_eq(p->devices.allocator, "host");
    cr_assert_eq(p->devices.n_sim, 2);
    cr_assert_eq(p->devices.sim_bytes[0], 24 * TSR_GIB);
    cr_assert_eq(p->devices.sim_bytes[1], 24 * TSR_GIB);
    cr_assert(p->devices.split_auto);
    cr_assert_eq(p->devices.n_split, 0);
    cr_assert_eq(p->devices.reserve_bytes, 256 * TSR_MIB);
    cr_assert(p->devices.overhead_auto);

    static const char *const chain[] = {"repetition_penalty", "top_k", "top_p", "min_p",
                                        "temperature"};
    cr_assert_eq(p->n_sampler, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(p->sampler[i].name, chain[i]);
        cr_assert_eq(p->sampler[i].loc.line, 0, "a default has no place");
    }
    cr_assert_str_eq(p->sampler[1].args->text, "40");
    cr_assert_eq(p->sampler[0].args->kind, TSR_YAML_MAPPING);

    cr_assert_eq(p->n_plugin_dirs, 0, "plugins.path is empty: no folder is searched by default");
    cr_assert_eq(p->threads, 0);
    cr_assert_eq(p->seed, 42);
    cr_assert_str_eq(p->server.host, "127.0.0.1");
    cr_assert_eq(p->server.port, 8080);
    cr_assert_eq(p->server.parallel, 4);
    cr_assert_eq(p->server.queue, 64);
    cr_assert_eq(p->server.n_api_keys, 0);
    cr_assert_null(p->server.model_name);
    cr_assert_eq(p->server.max_body_bytes, 8ull << 20);

    cr_assert_eq(p->model.loc.line, 1);
    cr_assert_eq(p->model.loc.column, 1);
    cr_assert_eq(p->model.path_loc.line, 1);
    cr_assert_eq(p->model.path_loc.column, 15);
    cr_assert_eq(p->devices.reserve_loc.line, 0);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, profile_md_example_parses_to_the_values_it_gives)
{
    /* The example's paths: one under ~ and one relative to the profile. */
    setenv("HOME", scratch, 1);
    mkdir(in_scratch("plugins"), 0755);
    scratch_model(".cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    scratch_model("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    char source[PATH_MAX];
    snprintf(source, sizeof source, "%s/tests/data/profiles/profile-md-example.yaml",
             test_srcdir());
    FILE *f = fopen(source, "rb");
    cr_assert_not_null(f, "%s", source);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';

    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text(text, &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(diags.count, 0, "%s", dump(&diags));

    cr_assert_str_eq(p->model.path,
                     in_scratch(".cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    cr_assert_eq(p->model.max_seq_len, 2048);
    cr_assert_eq(p->model.max_seq_len_loc.line, 5);
    cr_assert_eq(p->model.max_seq_len_loc.column, 16);
    cr_assert_str_eq(p->model.cache_type, "f16");
    cr_assert_null(p->model.quantize);

    cr_assert(p->has_draft);
    cr_assert_str_eq(p->draft.path, in_scratch("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    cr_assert_eq(p->draft.max_seq_len, 2048);
    cr_assert_str_eq(p->draft.cache_type, "f16");
    cr_assert_eq(p->draft.loc.line, 9);

    cr_assert(p->has_speculative);
    cr_assert_str_eq(p->speculative.strategy, "draft-model");
    cr_assert_eq(p->speculative.tokens, 5);
    cr_assert_not_null(p->speculative.options);
    cr_assert_eq(p->speculative.options->n_items, 0);

    cr_assert_str_eq(p->devices.allocator, "host");
    cr_assert_eq(p->devices.n_sim, 2);
    cr_assert_eq(p->devices.sim_bytes[1], 24 * TSR_GIB);
    cr_assert_eq(p->devices.sim_locs[1].line, 21);
    cr_assert_eq(p->devices.sim_locs[1].column, 16);
    cr_assert(p->devices.split_auto);
    cr_assert_eq(p->devices.split_loc.line, 22);
    cr_assert_eq(p->devices.reserve_bytes, 256 * TSR_MIB);
    cr_assert(p->devices.overhead_auto);

    cr_assert_eq(p->n_sampler, 5);
    cr_assert_str_eq(p->sampler[0].name, "repetition_penalty");
    cr_assert_eq(p->sampler[0].loc.line, 27);
    cr_assert_eq(p->sampler[0].loc.column, 5);
    const tsr_yaml_node *last_n = tsr_yaml_get(p->sampler[0].args, "last_n", NULL);
    cr_assert_str_eq(last_n->text, "64");
    cr_assert_str_eq(p->sampler[2].name, "top_p");
    cr_assert_str_eq(p->sampler[2].args->text, "0.95");
    cr_assert_str_eq(p->sampler[4].name, "temperature");
    cr_assert_str_eq(p->sampler[4].args->text, "0.8");
    cr_assert_eq(p->sampler_loc.line, 26);

    cr_assert_eq(p->n_plugin_dirs, 1);
    cr_assert_str_eq(p->plugin_dirs[0], in_scratch("plugins"));
    cr_assert_eq(p->threads, 0);
    cr_assert_eq(p->threads_loc.line, 36);
    cr_assert_eq(p->seed, 42);
    cr_assert_str_eq(p->server.host, "127.0.0.1");
    cr_assert_eq(p->server.port, 8080);
    cr_assert_eq(p->server.parallel, 4);
    cr_assert_eq(p->server.queue, 64);
    cr_assert_eq(p->server.queue_loc.line, 43);
    cr_assert_eq(p->server.n_api_keys, 0);
    cr_assert_null(p->server.model_name);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, tilde_is_home_and_relative_is_the_profiles_folder)
{
    setenv("HOME", scratch, 1);
    scratch_model("home-model.gguf");
    scratch_model("sub/dir/model.gguf");
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: ~/home-model.gguf}\n"
                                "draft: {path: ./sub/dir/model.gguf}\n"
                                "speculative: {strategy: x}\n"
                                "plugins: {path: [~/p, ./q, /abs/r, s/t]}\n",
                                &diags, NULL);
    cr_assert_str_eq(p->model.path, in_scratch("home-model.gguf"));
    cr_assert_str_eq(p->model.path_as_written, "~/home-model.gguf");
    cr_assert_str_eq(p->draft.path, in_scratch("sub/dir/model.gguf"));
    cr_assert_eq(p->n_plugin_dirs, 4);
    cr_assert_str_eq(p->plugin_dirs[0], in_scratch("p"));
    cr_assert_str_eq(p->plugin_dirs[1], in_scratch("q"));
    cr_assert_str_eq(p->plugin_dirs[2], "/abs/r");
    cr_assert_str_eq(p->plugin_dirs[3], in_scratch("s/t"));
    /* Folders that do not exist are skipped with a warning, not refused. */
    assert_no_errors(&diags);
    assert_diag(&diags, 4, 18, "is not a folder; it is skipped");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, load_resolves_paths_against_the_files_folder)
{
    scratch_model("deploy/models/m.gguf");
    const char *text = "model:\n  path: models/m.gguf\n";
    scratch_write("deploy/p.yaml", text, strlen(text));
    tsr_diagnostics diags = {0};
    tsr_profile *p = NULL;
    tsr_error err = {0};
    const char *file = in_scratch("deploy/p.yaml");
    cr_assert_eq(tsr_profile_load(file, &p, &diags, &err), TSR_OK, "%s%s", err.message,
                 dump(&diags));
    cr_assert_str_eq(p->file, file);
    cr_assert_str_eq(p->model.path, in_scratch("deploy/models/m.gguf"));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, unreadable_file_is_one_diagnostic_without_a_place)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = (tsr_profile *)1;
    tsr_error err = {0};
    const char *file = in_scratch("absent.yaml");
    cr_assert_eq(tsr_profile_load(file, &p, &diags, &err), TSR_ERR_IO);
    cr_assert_null(p);
    cr_assert_eq(diags.count, 1);
    char line[1024];
    tsr_diag_format(&diags.items[0], line, sizeof line);
    char expect[PATH_MAX + 64];
    snprintf(expect, sizeof expect, "%s: cannot read the profile: No such file or directory", file);
    cr_assert_str_eq(line, expect);
    tsr_diagnostics_free(&diags);
}

Test(profile, unknown_key_suggests_the_nearest_known_key)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("model:\n"
                                "  path: model.gguf\n"
                                "  max_seq_length: 4096\n"
                                "devics: {}\n"
                                "server: {prot: 1}\n",
                                &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    cr_assert_not_null(p, "the profile is still returned, for validation");
    assert_diag(&diags, 3, 3, "unknown key 'max_seq_length' in model; did you mean 'max_seq_len'?");
    assert_diag(&diags, 4, 1, "unknown key 'devics'; did you mean 'devices'?");
    assert_diag(&diags, 5, 10, "unknown key 'prot' in server; did you mean 'port'?");
    cr_assert_eq(diags.count, 3, "%s", dump(&diags));
    cr_assert_eq(p->model.max_seq_len, 0, "the unknown key set nothing");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, unknown_key_far_from_any_lists_the_known_ones)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf, colour: blue}\n"
                                "cache_type: q8_0\n"
                                "zzzzzz: 1\n",
                                &diags, NULL);
    assert_diag(&diags, 1, 27,
                "unknown key 'colour' in model (known: path, max_seq_len, cache_type, quantize)");
    assert_diag(
        &diags, 2, 1,
        "unknown key 'cache_type'; did you mean 'model.cache_type'? (it belongs under model:)");
    assert_diag(&diags, 3, 1,
                "unknown key 'zzzzzz' (known: version, model, draft, speculative, "
                "devices, sampler, plugins, threads, seed, server, dist)");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, wrong_types_name_what_was_expected_and_found)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf, max_seq_len: lots, cache_type: [f16]}\n"
                                "devices: [host]\n"
                                "sampler: {top_k: 40}\n"
                                "threads: 1.5\n"
                                "seed: {}\n"
                                "server: {host: {a: b}}\n",
                                &diags, NULL);
    assert_diag(&diags, 1, 40, "model.max_seq_len must be a whole number, not 'lots'");
    assert_diag(&diags, 1, 58, "model.cache_type must be a string, not a list");
    assert_diag(&diags, 2, 10, "devices must be a mapping such as {allocator: host}, not a list");
    assert_diag(&diags, 3, 10, "sampler must be a list of samplers");
    assert_diag(&diags, 4, 10, "threads must be a whole number, not '1.5'");
    assert_diag(&diags, 5, 7, "seed must be a whole number, not a mapping");
    assert_diag(&diags, 6, 16, "server.host must be a string, not a mapping");
    cr_assert_eq(diags.count, 7, "%s", dump(&diags));
    cr_assert_str_eq(p->model.cache_type, "f16", "a bad value leaves the default");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, bad_sizes_say_why)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "devices:\n"
                                "  sim: [24GiB, 24 apples]\n"
                                "  split: [20, x]\n"
                                "  reserve: 256\n"
                                "  overhead: 1.5B\n",
                                &diags, NULL);
    assert_diag(&diags, 3, 16, "devices.sim[1]: size '24 apples' has an unknown unit 'apples'");
    assert_diag(&diags, 4, 15, "devices.split[1]: 'x' is not a size");
    assert_diag(&diags, 5, 12, "devices.reserve: size '256' has no unit");
    assert_diag(&diags, 6, 13, "devices.overhead: size '1.5B' has a fraction of a byte");
    cr_assert_eq(diags.count, 4, "%s", dump(&diags));
    cr_assert_eq(p->devices.n_sim, 2);
    cr_assert_eq(p->devices.sim_bytes[1], 24 * TSR_GIB, "a bad list leaves the default");
    cr_assert(p->devices.split_auto);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, sizes_and_split_read_in_their_units)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "devices: {allocator: sim, sim: [24GiB, 20GB], split: [20, 1.5GiB],"
                                " reserve: 0, overhead: 512MiB}\n",
                                &diags, NULL);
    assert_no_errors(&diags);
    cr_assert_eq(p->devices.sim_bytes[0], 24 * TSR_GIB);
    cr_assert_eq(p->devices.sim_bytes[1], 20000000000ull);
    cr_assert_not(p->devices.split_auto);
    cr_assert_eq(p->devices.n_split, 2);
    cr_assert_eq(p->devices.split_bytes[0], 20 * TSR_GIB, "bare numbers in split are GiB");
    cr_assert_eq(p->devices.split_bytes[1], 1536 * TSR_MIB);
    cr_assert_eq(p->devices.split_locs[1].column, 59);
    cr_assert_eq(p->devices.reserve_bytes, 0);
    cr_assert_not(p->devices.overhead_auto);
    cr_assert_eq(p->devices.overhead_bytes, 512 * TSR_MIB);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, negative_and_absurd_numbers_are_refused)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p =
        parse_text("model: {path: model.gguf, max_seq_len: -2048}\n"
                   "threads: -1\n"
                   "seed: 99999999999999999999999\n"
                   "server: {port: 99999, parallel: 0, queue: -0.5}\n"
                   "speculative: {tokens: 100000}\n"
                   "devices: {sim: [2000TiB], reserve: -1MiB, split: [1, 2, 3, 4, 5, 6, "
                   "7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
                   "25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, "
                   "42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, "
                   "59, 60, 61, 62, 63, 64, 65]}\n",
                   &diags, NULL);
    assert_diag(&diags, 1, 40, "model.max_seq_len must not be negative (got -2048)");
    assert_diag(&diags, 2, 10, "threads must not be negative (got -1)");
    assert_diag(&diags, 3, 7, "seed = 99999999999999999999999 is absurd");
    assert_diag(&diags, 4, 16, "server.port = 99999 is absurd: at most 65535");
    assert_diag(&diags, 4, 33, "server.parallel must be from 1 to 4096, not 0");
    assert_diag(&diags, 4, 43, "server.queue must not be negative (got -0.5)");
    assert_diag(&diags, 5, 23, "speculative.tokens = 100000 is absurd: at most 256");
    assert_diag(&diags, 6, 17, "devices.sim[0] = '2000TiB' is absurd: at most 1024TiB");
    assert_diag(&diags, 6, 36, "devices.reserve: size '-1MiB' is negative");
    assert_diag(&diags, 6, 50, "devices.split must name from 1 to 64 devices, not 65");
    cr_assert_eq(diags.count, 10, "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, missing_model_files_are_reported_with_the_resolved_path)
{
    mkdir(in_scratch("empty-folder"), 0755);
    scratch_write("hf/config.json", "{}", 2);
    scratch_write("not-a-model.txt", "hello", 5);
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: ./missing.gguf}\n"
                                "draft: {path: empty-folder}\n",
                                &diags, NULL);
    char expect[PATH_MAX + 128];
    snprintf(expect, sizeof expect,
             "model.path: %s: no such file or folder (written as './missing.gguf')",
             in_scratch("missing.gguf"));
    assert_diag(&diags, 1, 15, expect);
    assert_diag(&diags, 2, 15, "holds no config.json and no *.safetensors");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = parse_text("model: {path: hf}\ndraft: {path: not-a-model.txt}\n", &diags, NULL);
    assert_diag(&diags, 1, 15, "holds no *.safetensors");
    assert_diag(&diags, 2, 15, "not a GGUF file (it does not start with the GGUF magic)");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, safetensors_folder_is_a_model)
{
    scratch_write("hf/config.json", "{}", 2);
    scratch_write("hf/model-00001-of-00002.safetensors", "x", 1);
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: hf}\n", &diags, NULL);
    assert_no_errors(&diags);
    cr_assert_eq(p->model.format, TSR_MODEL_FORMAT_SAFETENSORS);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, model_and_its_path_are_required)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("threads: 2\n", &diags, NULL);
    assert_diag(&diags, 1, 1,
                "model is required; the smallest profile is `model: {path: model.gguf}`");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = parse_text("threads: 2\nmodel:\n  max_seq_len: 8\ndraft: {path: null}\n", &diags, NULL);
    assert_diag(&diags, 2, 1, "model.path is required");
    assert_diag(&diags, 4, 9, "draft.path is required");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = parse_text("", &diags, NULL);
    assert_diag(&diags, 1, 1, "the profile is empty");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, null_means_the_default)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf, cache_type: null, max_seq_len: ~}\n"
                                "devices:\n  reserve: null\n  allocator:\n"
                                "sampler: null\ndraft: null\nspeculative: null\nserver: null\n",
                                &diags, NULL);
    assert_no_errors(&diags);
    cr_assert_str_eq(p->model.cache_type, "f16");
    cr_assert_str_eq(p->devices.allocator, "host");
    cr_assert_eq(p->devices.reserve_bytes, 256 * TSR_MIB);
    cr_assert_eq(p->n_sampler, 5);
    cr_assert_not(p->has_draft);
    cr_assert_not(p->has_speculative);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, draft_inherits_the_models_settings_and_implies_speculation)
{
    scratch_model("draft.gguf");
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf, max_seq_len: 4096, cache_type: q8_0}\n"
                                "draft: {path: draft.gguf, quantize: q4_0}\n",
                                &diags, NULL);
    assert_no_errors(&diags);
    cr_assert(p->has_draft);
    cr_assert_eq(p->draft.max_seq_len, 4096);
    cr_assert_str_eq(p->draft.cache_type, "q8_0");
    cr_assert_str_eq(p->draft.quantize, "q4_0");
    cr_assert(p->has_speculative);
    cr_assert_str_eq(p->speculative.strategy, "draft-model");
    cr_assert_eq(p->speculative.tokens, 5);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, sampler_entries_take_three_forms)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "sampler:\n"
                                "  - greedy\n"
                                "  - top_k: 40\n"
                                "  - penalties: {last_n: 64, penalty: 1.1}\n"
                                "  - dist: {}\n"
                                "  - typical: null\n",
                                &diags, NULL);
    assert_no_errors(&diags);
    cr_assert_eq(p->n_sampler, 5);
    cr_assert_str_eq(p->sampler[0].name, "greedy");
    cr_assert_null(p->sampler[0].args);
    cr_assert_eq(p->sampler[0].loc.line, 3);
    cr_assert_eq(p->sampler[0].loc.column, 5);
    cr_assert_str_eq(p->sampler[1].args->text, "40");
    cr_assert_eq(p->sampler[2].args->n_items, 2);
    cr_assert_eq(p->sampler[3].args->n_items, 0);
    cr_assert_null(p->sampler[4].args);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, malformed_sampler_entries_are_refused)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "sampler:\n"
                                "  - {top_k: 40, top_p: 0.9}\n"
                                "  - [greedy]\n"
                                "  - null\n"
                                "  - greedy: 3\n",
                                &diags, NULL);
    assert_diag(&diags, 3, 5,
                "each sampler entry is one `name: parameters` pair; this one has 2 "
                "(top_k, top_p)");
    assert_diag(&diags, 4, 5, "a sampler entry must be `name` or `name: parameters`, not a list");
    assert_diag(&diags, 5, 5, "not null");
    cr_assert_eq(diags.count, 3, "%s", dump(&diags));
    cr_assert_eq(p->n_sampler, 1, "the good entry stays, for validation to check");
    cr_assert_str_eq(p->sampler[0].name, "greedy");
    cr_assert_eq(p->sampler[0].loc.line, 6);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, version_other_than_1_is_refused)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("version: 2\nmodel: {path: model.gguf}\n", &diags, NULL);
    assert_diag(&diags, 1, 10, "profile version 2 is not supported: this tessera reads version 1");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, yaml_syntax_error_has_a_place_and_no_profile)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("model:\n  path: model.gguf\n    bad: [\n", &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    cr_assert_null(p);
    cr_assert_eq(diags.count, 1, "%s", dump(&diags));
    cr_assert(strstr(diags.items[0].message, "invalid YAML: "), "%s", dump(&diags));
    cr_assert_eq(diags.items[0].line, 3, "%s", dump(&diags));
    tsr_diagnostics_free(&diags);
}

Test(profile, yaml_constructs_a_profile_does_not_take_are_refused)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "threads: 2\n"
                                "threads: 3\n"
                                "server: &s {port: 81}\n"
                                "seed: *s\n"
                                "? [a, b]\n"
                                ": 1\n",
                                &diags, NULL);
    assert_diag(&diags, 3, 1, "duplicate key 'threads' (first given at line 2, column 1)");
    assert_diag(&diags, 5, 7, "aliases (*s) are not supported in a profile; write the value out");
    assert_diag(&diags, 6, 3, "a key must be a name, not a list");
    cr_assert_eq(p->threads, 2, "the first of duplicate keys counts");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    p = parse_text("model: {path: model.gguf}\n---\nthreads: 2\n", &diags, NULL);
    cr_assert_null(p);
    assert_diag(&diags, 2, 1, "a second YAML document starts here");
    tsr_diagnostics_free(&diags);

    char deep[400] = "model: ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    p = parse_text(deep, &diags, NULL);
    cr_assert_null(p);
    cr_assert(strstr(dump(&diags), "nested deeper than 64 levels"), "%s", dump(&diags));
    tsr_diagnostics_free(&diags);

    p = parse_text("- a\n- b\n", &diags, NULL);
    assert_diag(&diags, 1, 1, "a profile is a mapping of sections");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, several_errors_are_all_reported_in_one_pass)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("version: 1\n"             /* 1 */
                                "model:\n"                 /* 2 */
                                "  path: nowhere.gguf\n"   /* 3 */
                                "  max_seq_len: -1\n"      /* 4 */
                                "devices:\n"               /* 5 */
                                "  allocater: sim\n"       /* 6 */
                                "  reserve: 10 potatoes\n" /* 7 */
                                "sampler:\n"               /* 8 */
                                "  - top_k: 40\n"          /* 9 */
                                "  - {a: 1, b: 2}\n"       /* 10 */
                                "threads: many\n"          /* 11 */
                                "server:\n"                /* 12 */
                                "  port: 0\n"              /* 13 */
                                "  api_key: ''\n",         /* 14 */
                                &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    assert_diag(&diags, 3, 9, "model.path: ");
    assert_diag(&diags, 3, 9, "nowhere.gguf: no such file or folder");
    assert_diag(&diags, 4, 16, "model.max_seq_len must not be negative");
    assert_diag(&diags, 6, 3, "unknown key 'allocater' in devices; did you mean 'allocator'?");
    assert_diag(&diags, 7, 12, "devices.reserve: size '10 potatoes' has an unknown unit");
    assert_diag(&diags, 10, 5, "each sampler entry is one `name: parameters` pair");
    assert_diag(&diags, 11, 10, "threads must be a whole number, not 'many'");
    assert_diag(&diags, 13, 9, "server.port must be from 1 to 65535, not 0");
    assert_diag(&diags, 14, 12, "server.api_key must not be empty");
    cr_assert_eq(diags.count, 8, "%s", dump(&diags));
    tsr_diag_sort(&diags);
    char line[1024];
    tsr_diag_format(&diags.items[diags.count - 1], line, sizeof line);
    cr_assert_str_eq(line, "test.yaml:14:12: server.api_key must not be empty (write null for "
                           "the default)");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, strings_with_control_characters_are_shown_escaped)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p =
        parse_text("model: {path: model.gguf}\n\"we\\x01ird\\nkey\": 1\n", &diags, NULL);
    assert_diag(&diags, 2, 1, "unknown key 'we\\x01ird\\x0Akey'");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, server_api_key_is_a_key_or_a_list_and_max_body_a_size, .init = scratch_setup,
     .fini = scratch_teardown)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "server: {api_key: [alpha, beta], max_body: 64KiB}\n",
                                &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(p->server.n_api_keys, 2);
    cr_assert_str_eq(p->server.api_keys[0], "alpha");
    cr_assert_str_eq(p->server.api_keys[1], "beta");
    cr_assert_eq(p->server.max_body_bytes, 64ull << 10);
    cr_assert_eq(p->server.max_body_loc.line, 2);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    diags = (tsr_diagnostics){0};
    p = parse_text("model: {path: model.gguf}\nserver: {api_key: solo}\n", &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert_eq(p->server.n_api_keys, 1);
    cr_assert_str_eq(p->server.api_keys[0], "solo");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    diags = (tsr_diagnostics){0};
    p = parse_text("model: {path: model.gguf}\nserver: {api_key: [ok, 7, ''], max_body: lots}\n",
                   &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    cr_assert(strstr(dump(&diags), "server.api_key"), "%s", dump(&diags));
    cr_assert(strstr(dump(&diags), "server.max_body"), "%s", dump(&diags));
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, dist_takes_layer_ranges_activations_in_flight_and_a_timeout,
     .init = scratch_setup, .fini = scratch_teardown)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("model: {path: model.gguf}\n", &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert(!p->has_dist);
    cr_assert(p->dist.layers_auto && !p->dist.activations_f16);
    cr_assert_eq(p->dist.in_flight, 0);
    cr_assert_eq(p->dist.timeout_ms, 10000);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);

    diags = (tsr_diagnostics){0};
    p = parse_text("model: {path: model.gguf}\n"
                   "dist: {layers: [[0, 9], [10, 29]], activations: f16, in_flight: 4, "
                   "timeout: 1.5s}\n",
                   &diags, &status);
    cr_assert_eq(status, TSR_OK, "%s", dump(&diags));
    cr_assert(p->has_dist && !p->dist.layers_auto && p->dist.activations_f16);
    cr_assert_eq(p->dist.n_layers, 2);
    cr_assert_eq(p->dist.layers[1].first, 10);
    cr_assert_eq(p->dist.layers[1].last, 29);
    cr_assert_eq(p->dist.in_flight, 4);
    cr_assert_eq(p->dist.timeout_ms, 1500);
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}

Test(profile, dist_refuses_gaps_empty_ranges_other_types_and_bad_durations_with_their_places,
     .init = scratch_setup, .fini = scratch_teardown)
{
    tsr_diagnostics diags = {0};
    tsr_status status;
    tsr_profile *p = parse_text("model: {path: model.gguf}\n"
                                "dist:\n"
                                "  layers: [[0, 9], [11, 29], [31, 30]]\n"
                                "  activations: bf16\n"
                                "  timeout: 10\n",
                                &diags, &status);
    cr_assert_eq(status, TSR_ERR_INVALID);
    assert_diag(&diags, 3, 20, "dist.layers[1] starts at layer 11; the ranges must follow one "
                               "another from layer 0, so it starts at 10");
    assert_diag(&diags, 3, 30, "dist.layers[2] = [31, 30] is empty");
    assert_diag(&diags, 4, 16, "dist.activations must be f32");
    assert_diag(&diags, 5, 12, "dist.timeout: duration '10' has no unit");
    cr_assert(p->dist.layers_auto, "bad ranges leave the default");
    tsr_profile_free(p);
    tsr_diagnostics_free(&diags);
}
