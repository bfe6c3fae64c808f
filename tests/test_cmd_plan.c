/* `tessera plan` as a user runs it: the examples of conf/examples give their
 * verdicts, the exit status is PROFILE.md's (0 fits, 2 unusable, 3
 * refused), and --json prints exactly PROFILE.md's object. */
#include <dirent.h>
#include <jansson.h>
#include <sys/wait.h>

#include "plan_testutil.h"

TestSuite(cmd_plan, .init = fixtures_setup, .fini = fixtures_teardown);

typedef struct ran {
    int status;
    char *out, *err;
} ran;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

/* Runs `tessera ARGS` (a shell-quoted string) from the fixtures folder. */
static ran tessera(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/tessera' %s >out.txt 2>err.txt", fixtures,
             test_builddir(), args);
    int rc = system(cmd);
    ran r = {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(fixture("out.txt")),
             slurp(fixture("err.txt"))};
    return r;
}

static void ran_free(ran *r)
{
    free(r->out);
    free(r->err);
}

static void write_text(const char *name, const char *text)
{
    cr_assert_eq(test_write_file(fixture(name), text, strlen(text)), 0);
}

/* ---- the examples ----------------------------------------------------------------- */

static const struct example {
    const char *file;
    int status;
    const char *code; /* a diagnostic it must carry, or NULL */
} examples[] = {
    {"70b-two-24gb.yaml", 0, NULL},
    {"70b-draft-is-main.yaml", 3, "draft-is-main"},
    {"70b-long-context.yaml", 3, "does-not-fit"},
    {"70b-long-context-q8_0.yaml", 0, NULL},
    /* The default model (the model cache): speculation on one CPU. */
    {"smollm2-ngram.yaml", 0, NULL},
    {"smollm2-selfdraft.yaml", 0, "self-draft"},
};

/* The examples name fixtures/...: lay them out as the README says. */
static void copy_examples(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/examples' && cp '%s'/conf/examples/*.yaml '%s/examples/' && "
             "ln -s .. '%s/examples/fixtures'",
             fixtures, test_srcdir(), fixtures, fixtures);
    cr_assert_eq(system(cmd), 0);
}

static bool has_code(json_t *root, const char *code)
{
    json_t *diags = json_object_get(root, "diagnostics"), *d;
    size_t i;
    json_array_foreach(diags, i, d)
        if (json_is_string(json_object_get(d, "code")) &&
            strcmp(json_string_value(json_object_get(d, "code")), code) == 0)
            return true;
    return false;
}

Test(cmd_plan, every_example_validates_and_plans_to_its_verdict)
{
    copy_examples();
    size_t n_files = 0;
    DIR *dir = opendir(test_path(test_srcdir(), "conf/examples"));
    cr_assert_not_null(dir);
    for (struct dirent *e; (e = readdir(dir));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        n_files++;
        bool listed = false;
        for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
            listed = listed || strcmp(examples[i].file, e->d_name) == 0;
        cr_expect(listed, "conf/examples/%s has no expected verdict in this test", e->d_name);
    }
    closedir(dir);
    cr_expect_eq(n_files, sizeof examples / sizeof examples[0]);
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        const struct example *x = &examples[i];
        char args[512];
        snprintf(args, sizeof args, "plan examples/%s", x->file);
        ran r = tessera(args);
        cr_expect_eq(r.status, x->status, "%s: exit %d\n%s%s", x->file, r.status, r.out, r.err);
        cr_expect_not_null(strstr(r.out, x->status ? "refused" : "fits"), "%s:\n%s", x->file,
                           r.out);
        if (x->code) {
            char tag[64];
            snprintf(tag, sizeof tag, "[%s]", x->code);
            cr_expect_not_null(strstr(r.err, tag), "%s:\n%s", x->file, r.err);
        }
        ran_free(&r);
        snprintf(args, sizeof args, "plan --json examples/%s", x->file);
        r = tessera(args);
        cr_expect_eq(r.status, x->status, "%s --json", x->file);
        json_error_t jerr;
        json_t *root = json_loads(r.out, 0, &jerr);
        cr_assert_not_null(root, "%s: %s", x->file, jerr.text);
        cr_expect_eq(json_is_true(json_object_get(root, "fits")), x->status == 0);
        if (x->code)
            cr_expect(has_code(root, x->code), "%s lacks %s", x->file, x->code);
        json_decref(root);
        ran_free(&r);
    }
}

Test(cmd_plan, the_table_shows_each_devices_share)
{
    copy_examples();
    ran r = tessera("plan examples/70b-two-24gb.yaml");
    cr_assert_eq(r.status, 0, "%s", r.err);
    static const char *const columns[] = {"device", "weights", "KV cache", "scratch", "overhead",
                                          "reserve", "total", "capacity", "layers"};
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        cr_expect_not_null(strstr(r.out, columns[i]), "no column %s:\n%s", columns[i], r.out);
    cr_expect_not_null(strstr(r.out, "sim0"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "sim1"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "draft 0-15"), "the draft's layers:\n%s", r.out);
    cr_expect_not_null(strstr(r.out, "24.0 GiB"), "%s", r.out);
    ran_free(&r);
}

/* ---- --json: PROFILE.md's object, no more, no less ------------------------------------------ */

static void expect_keys(json_t *object, const char *const *keys, size_t n, const char *what)
{
    cr_assert(json_is_object(object), "%s is not an object", what);
    cr_expect_eq(json_object_size(object), n, "%s has %zu keys, PROFILE.md names %zu", what,
                 json_object_size(object), n);
    for (size_t i = 0; i < n; i++)
        cr_expect_not_null(json_object_get(object, keys[i]), "%s lacks \"%s\"", what, keys[i]);
}

static void expect_profile_md_shape(json_t *root)
{
    static const char *const top[] = {"fits", "devices", "models", "diagnostics"};
    static const char *const device[] = {"name",           "capacity_bytes", "weights_bytes",
                                         "kv_cache_bytes", "scratch_bytes",  "overhead_bytes",
                                         "reserve_bytes",  "total_bytes",    "layers"};
    static const char *const model[] = {"role", "path", "params", "weights_bytes",
                                        "bits_per_weight"};
    static const char *const diag[] = {"severity", "code", "message", "hint"};
    expect_keys(root, top, 4, "the object");
    cr_expect(json_is_boolean(json_object_get(root, "fits")));
    json_t *item;
    size_t i;
    json_array_foreach(json_object_get(root, "devices"), i, item) {
        /* Across hosts only, two more keys: whose device it is. */
        bool across = json_object_get(item, "host") != NULL;
        if (across) {
            cr_expect_eq(json_object_size(item), 11, "a device across hosts has 9 + 2 keys");
            for (size_t k = 0; k < 9; k++)
                cr_expect_not_null(json_object_get(item, device[k]), "%s", device[k]);
        } else {
            expect_keys(item, device, 9, "a device");
        }
        if (across) {
            cr_expect(json_is_integer(json_object_get(item, "rank")));
            cr_expect(json_is_string(json_object_get(item, "host")));
        }
        cr_expect(json_is_string(json_object_get(item, "name")));
        for (size_t k = 1; k < 8; k++)
            cr_expect(json_is_integer(json_object_get(item, device[k])), "%s", device[k]);
        json_t *layers = json_object_get(item, "layers");
        cr_expect(json_is_null(layers) ||
                      (json_array_size(layers) == 2 &&
                       json_is_integer(json_array_get(layers, 0)) &&
                       json_is_integer(json_array_get(layers, 1))),
                  "layers is [first, last] or null");
        json_int_t total = 0;
        for (size_t k = 2; k < 7; k++)
            total += json_integer_value(json_object_get(item, device[k]));
        cr_expect_eq(total, json_integer_value(json_object_get(item, "total_bytes")),
                     "total is the sum of its parts");
    }
    json_array_foreach(json_object_get(root, "models"), i, item) {
        expect_keys(item, model, 5, "a model");
        const char *role = json_string_value(json_object_get(item, "role"));
        cr_expect(role && (strcmp(role, "main") == 0 || strcmp(role, "draft") == 0));
        cr_expect(json_is_string(json_object_get(item, "path")));
        cr_expect(json_is_integer(json_object_get(item, "params")));
        cr_expect(json_is_integer(json_object_get(item, "weights_bytes")));
        cr_expect(json_is_number(json_object_get(item, "bits_per_weight")));
    }
    json_array_foreach(json_object_get(root, "diagnostics"), i, item) {
        expect_keys(item, diag, 4, "a diagnostic");
        const char *severity = json_string_value(json_object_get(item, "severity"));
        cr_expect(severity && (strcmp(severity, "error") == 0 ||
                               strcmp(severity, "warning") == 0 || strcmp(severity, "note") == 0));
        cr_expect(json_is_string(json_object_get(item, "code")));
        cr_expect(json_is_string(json_object_get(item, "message")));
        json_t *hint = json_object_get(item, "hint");
        cr_expect(json_is_string(hint) || json_is_null(hint));
    }
}

static json_t *plan_json(const char *args, int want_status)
{
    ran r = tessera(args);
    cr_expect_eq(r.status, want_status, "tessera %s: exit %d\n%s", args, r.status, r.err);
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(root, "tessera %s: %s\n%s", args, jerr.text, r.out);
    ran_free(&r);
    expect_profile_md_shape(root);
    return root;
}

Test(cmd_plan, json_is_profile_md_object_for_a_plan_that_fits)
{
    copy_examples();
    json_t *root = plan_json("plan examples/70b-two-24gb.yaml --json", 0);
    cr_expect(json_is_true(json_object_get(root, "fits")));
    json_t *devices = json_object_get(root, "devices"), *models = json_object_get(root, "models");
    cr_assert_eq(json_array_size(devices), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(devices, 0), "name")),
                     "sim0");
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(devices, 0),
                                                    "capacity_bytes")), 24LL << 30);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(devices, 1),
                                                    "overhead_bytes")), 512LL << 20);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(devices, 1),
                                                    "reserve_bytes")), 256LL << 20);
    json_t *layers = json_object_get(json_array_get(devices, 0), "layers");
    cr_expect_eq(json_integer_value(json_array_get(layers, 0)), 0);
    layers = json_object_get(json_array_get(devices, 1), "layers");
    cr_expect_eq(json_integer_value(json_array_get(layers, 1)), 79);
    cr_assert_eq(json_array_size(models), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(models, 0), "role")),
                     "main");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(models, 1), "role")),
                     "draft");
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(models, 0), "params")),
                 70553706560LL);
    cr_expect_eq(json_array_size(json_object_get(root, "diagnostics")), 0);
    json_decref(root);
}

Test(cmd_plan, json_of_the_seed_scenario_carries_draft_is_main_with_its_hint)
{
    copy_examples();
    json_t *root = plan_json("plan --json examples/70b-draft-is-main.yaml", 3);
    cr_expect(json_is_false(json_object_get(root, "fits")));
    json_t *first = json_array_get(json_object_get(root, "diagnostics"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(first, "code")), "draft-is-main");
    cr_expect_str_eq(json_string_value(json_object_get(first, "severity")), "error");
    cr_expect(json_is_string(json_object_get(first, "hint")));
    cr_expect(has_code(root, "does-not-fit"));
    json_decref(root);
}

Test(cmd_plan, devices_plans_the_profile_for_hardware_you_do_not_have)
{
    copy_examples();
    json_t *root = plan_json("plan examples/70b-long-context.yaml --devices 2x48GiB --json", 0);
    json_t *devices = json_object_get(root, "devices");
    cr_assert_eq(json_array_size(devices), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(devices, 1),
                                                    "capacity_bytes")), 48LL << 30);
    json_decref(root);
    root = plan_json("plan examples/70b-long-context.yaml --devices 24GiB,16 --json", 3);
    cr_expect_eq(json_array_size(json_object_get(root, "devices")), 2);
    json_decref(root);
    /* A split for two devices on three: the planner's split-mismatch, exit 3. */
    root = plan_json("plan examples/70b-two-24gb.yaml --devices 3x24GiB --json", 3);
    cr_expect(has_code(root, "split-mismatch"));
    json_decref(root);
}

Test(cmd_plan, a_format_without_cuda_kernels_on_cuda_devices_exits_3_naming_it)
{
    write_text("gpu.yaml", "model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
                           "devices: {allocator: sim, sim: [24GiB], options: {kind: cuda}}\n");
    ran r = tessera("plan gpu.yaml");
    cr_expect_eq(r.status, 3, "exit %d\n%s%s", r.status, r.out, r.err);
    cr_expect_not_null(strstr(r.out, "refused"), "%s", r.out);
    cr_expect_not_null(strstr(r.err, "gpu.yaml:1:"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "[no-device-kernels]"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "llama-3.1-8b-q4_k_m.gguf (the main model)"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "tensors in q4_k (token_embd.weight and "), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "CUDA device sim0"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "model.quantize") ? r.err : strstr(r.err, "--enable-cuda"),
                       "no way out in the hint:\n%s", r.err);
    ran_free(&r);
    json_t *root = plan_json("plan --json gpu.yaml", 3);
    cr_expect(has_code(root, "no-device-kernels"));
    json_decref(root);
    /* The same on simulated CPUs fits. */
    write_text("cpu.yaml", "model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
                           "devices: {allocator: sim, sim: [24GiB]}\n");
    r = tessera("plan cpu.yaml");
    cr_expect_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
    ran_free(&r);
}

/* ---- exit status 2: the input is unusable ---------------------------------------------------- */

Test(cmd_plan, an_unusable_profile_exits_2_with_its_problems)
{
    write_text("bad.yaml", "model: {path: llama-3.2-1b-q8_0.gguf, max_seq_lem: 4096}\n");
    ran r = tessera("plan bad.yaml");
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "bad.yaml:1:"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "max_seq_len"), "the nearest key:\n%s", r.err);
    ran_free(&r);
    json_t *root = plan_json("plan --json bad.yaml", 2);
    cr_expect(json_is_false(json_object_get(root, "fits")));
    cr_expect(has_code(root, "profile"));
    json_decref(root);
}

Test(cmd_plan, a_model_file_that_is_not_gguf_exits_2)
{
    /* The magic passes the profile's check; the header does not parse. */
    cr_assert_eq(test_write_file(fixture("junk.gguf"), "GGUF\3\0\0\0\xff\xff", 10), 0);
    write_text("junk.yaml", "model: {path: junk.gguf}\ndevices: {allocator: sim}\n");
    ran r = tessera("plan junk.yaml");
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "junk.gguf"), "%s", r.err);
    ran_free(&r);
    json_t *root = plan_json("plan --json junk.yaml", 2);
    cr_expect(has_code(root, "model-file"));
    json_decref(root);
}

Test(cmd_plan, bad_arguments_exit_2_and_help_exits_0)
{
    ran r = tessera("plan");
    cr_expect_eq(r.status, 2);
    ran_free(&r);
    r = tessera("plan nowhere.yaml");
    cr_expect_eq(r.status, 2);
    ran_free(&r);
    write_text("ok.yaml", "model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
                          "devices: {allocator: sim, sim: [8GiB]}\n");
    r = tessera("plan ok.yaml --devices 2xlots");
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "--devices"), "%s", r.err);
    ran_free(&r);
    r = tessera("plan ok.yaml --frobnicate");
    cr_expect_eq(r.status, 2);
    ran_free(&r);
    const char *bad_parallel[] = {"--parallel", "--parallel 0", "--parallel x",
                                  "--parallel 4097", "--parallel -1"};
    for (size_t i = 0; i < sizeof bad_parallel / sizeof *bad_parallel; i++) {
        char args[64];
        snprintf(args, sizeof args, "plan ok.yaml %s", bad_parallel[i]);
        r = tessera(args);
        cr_expect_eq(r.status, 2, "%s", args);
        cr_expect_not_null(strstr(r.err, "--parallel"), "%s: %s", args, r.err);
        ran_free(&r);
    }
    r = tessera("plan ok.yaml");
    cr_expect_eq(r.status, 0, "%s", r.err);
    ran_free(&r);
    r = tessera("plan --help");
    cr_expect_eq(r.status, 0);
    cr_expect_not_null(strstr(r.out, "--devices"));
    cr_expect_not_null(strstr(r.out, "draft-is-main"));
    ran_free(&r);
}

static long long kv_bytes(json_t *root)
{
    return json_integer_value(
        json_object_get(json_array_get(json_object_get(root, "devices"), 0), "kv_cache_bytes"));
}

Test(cmd_plan, a_server_plans_server_parallel_sequences_and_parallel_overrides_it)
{
    write_text("one.yaml", "model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
                           "devices: {allocator: sim, sim: [8GiB]}\n");
    write_text("served.yaml", "model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
                              "devices: {allocator: sim, sim: [8GiB]}\n"
                              "server: {parallel: 3}\n");
    json_t *one = plan_json("plan one.yaml --json", 0);
    json_t *served = plan_json("plan served.yaml --json", 0);
    json_t *forced = plan_json("plan served.yaml --parallel 2 --json", 0);
    long long per_sequence = kv_bytes(one);
    /* Llama 3.2 1B: 16 layers, 8 KV heads of 64 values, K and V, f16. */
    cr_expect_eq(per_sequence, 2LL * 16 * 4096 * 8 * 64 * 2);
    cr_expect_eq(kv_bytes(served), 3 * per_sequence);
    cr_expect_eq(kv_bytes(forced), 2 * per_sequence);
    json_decref(one);
    json_decref(served);
    json_decref(forced);
    ran r = tessera("plan served.yaml");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "KV cache for each of 3 sequences"), "%s", r.out);
    ran_free(&r);
}

/* ---- across hosts: --hosts plans a job you cannot run here ----------------------------------- */

/* The 70B at ~3 bits with a q8_0 cache of 64k positions takes about 36 GiB:
 * two 24 GiB hosts hold it together, no one of them alone. */
Test(cmd_plan, hosts_plans_a_job_across_hosts_you_do_not_have)
{
    copy_examples();
    json_t *root = plan_json("plan examples/70b-long-context-q8_0.yaml --hosts 2x24GiB --json", 0);
    cr_expect(json_is_true(json_object_get(root, "fits")));
    json_t *devices = json_object_get(root, "devices");
    cr_assert_eq(json_array_size(devices), 2, "one device sim0 per host");
    json_int_t next = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *d = json_array_get(devices, i);
        char host[16];
        snprintf(host, sizeof host, "host%zu", i);
        cr_expect_str_eq(json_string_value(json_object_get(d, "name")), "sim0");
        cr_expect_str_eq(json_string_value(json_object_get(d, "host")), host);
        cr_expect_eq(json_integer_value(json_object_get(d, "rank")), (json_int_t)i);
        cr_expect_eq(json_integer_value(json_object_get(d, "capacity_bytes")), 24LL << 30);
        json_t *layers = json_object_get(d, "layers");
        cr_expect_eq(json_integer_value(json_array_get(layers, 0)), next, "contiguous");
        next = json_integer_value(json_array_get(layers, 1)) + 1;
        cr_expect_lt(json_integer_value(json_object_get(d, "total_bytes")), 24LL << 30);
    }
    cr_expect_eq(next, 80, "every layer, once");
    cr_expect_eq(json_array_size(json_object_get(root, "diagnostics")), 0);
    json_decref(root);
    /* Without --hosts a device has PROFILE.md's keys alone. */
    root = plan_json("plan examples/70b-long-context-q8_0.yaml --json", 0);
    cr_expect_null(json_object_get(json_array_get(json_object_get(root, "devices"), 0), "host"));
    json_decref(root);
    ran r = tessera("plan examples/70b-long-context-q8_0.yaml --hosts 2x24GiB");
    cr_expect_eq(r.status, 0);
    cr_expect_not_null(strstr(r.out, "rank 0 on host host0: layers 0-"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "rank 1 on host host1: layers "), "%s", r.out);
    ran_free(&r);
}

Test(cmd_plan, a_stage_that_does_not_fit_is_refused_once_naming_its_rank_and_host)
{
    copy_examples();
    write_text("lopsided.yaml", "model: {path: llama-3.1-70b-iq3_xxs.gguf, "
                                "max_seq_len: 65536, cache_type: q8_0}\n"
                                "threads: 8\n"
                                "dist:\n  layers: [[0, 9], [10, 79]]\n");
    ran r = tessera("plan lopsided.yaml --hosts 2x24GiB");
    cr_expect_eq(r.status, 3, "%s", r.err);
    const char *named = strstr(r.err, "device sim0 of rank 1 (host host1) would need");
    cr_expect_not_null(named, "%s", r.err);
    cr_expect(named && !strstr(named + 1, "device sim0 of rank 1 (host host1) would need"),
              "reported once:\n%s", r.err);
    cr_expect_null(strstr(r.err, "rank 0 (host host0) would need"), "rank 0 fits:\n%s", r.err);
    ran_free(&r);
    json_t *root = plan_json("plan --json lopsided.yaml --hosts 2x24GiB", 3);
    cr_expect(has_code(root, "does-not-fit"));
    json_decref(root);
}

Test(cmd_plan, dist_layers_that_do_not_fit_the_job_are_a_profile_error_or_a_refusal)
{
    copy_examples();
    /* Ranges that stop short of the model's last layer: the profile's fault, at its place. */
    write_text("short.yaml", "model: {path: llama-3.1-70b-iq3_xxs.gguf}\n"
                             "dist:\n  layers: [[0, 39], [40, 70]]\n");
    ran r = tessera("plan short.yaml --hosts 2x64GiB");
    cr_expect_eq(r.status, 2, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "short.yaml:3:"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "dist.layers ends at layer 70"), "%s", r.err);
    ran_free(&r);
    json_t *root = plan_json("plan --json short.yaml --hosts 2x64GiB", 2);
    cr_expect(has_code(root, "profile"));
    cr_expect(!has_code(root, "model-file"), "not the model file's fault");
    json_decref(root);
    /* Three ranges for two hosts. */
    write_text("three.yaml", "model: {path: llama-3.1-70b-iq3_xxs.gguf}\n"
                             "dist:\n  layers: [[0, 9], [10, 19], [20, 79]]\n");
    root = plan_json("plan --json three.yaml --hosts 2x64GiB", 2);
    cr_expect(has_code(root, "profile"));
    json_decref(root);
    /* One range for two hosts: rank 1 would hold nothing. */
    write_text("one.yaml", "model: {path: llama-3.1-70b-iq3_xxs.gguf}\n"
                           "dist:\n  layers: [[0, 79]]\n");
    root = plan_json("plan --json one.yaml --hosts 2x64GiB", 3);
    cr_expect(has_code(root, "rank-without-layers"));
    json_decref(root);
    r = tessera("plan one.yaml --hosts 2x64GiB");
    cr_expect_not_null(strstr(r.err, "rank 1 (host host1) gets no layers"), "%s", r.err);
    ran_free(&r);
    /* More hosts than layers (the 1B has 16): auto gives each layer a host. */
    write_text("small.yaml", "model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n");
    root = plan_json("plan --json small.yaml --hosts 17x8GiB", 3);
    cr_expect(has_code(root, "rank-without-layers"));
    json_decref(root);
    /* As many hosts as layers, one far larger: still one layer each. */
    root = plan_json("plan --json small.yaml --hosts 15x8GiB,512GiB", 0);
    json_t *d;
    size_t i;
    cr_expect_eq(json_array_size(json_object_get(root, "devices")), 16);
    json_array_foreach(json_object_get(root, "devices"), i, d) {
        json_t *layers = json_object_get(d, "layers");
        cr_expect_eq(json_integer_value(json_array_get(layers, 0)), (json_int_t)i);
        cr_expect_eq(json_integer_value(json_array_get(layers, 1)), (json_int_t)i);
    }
    json_decref(root);
}

Test(cmd_plan, a_model_one_host_could_hold_split_across_hosts_is_warned)
{
    copy_examples();
    json_t *root = plan_json("plan --json examples/70b-long-context-q8_0.yaml --hosts 2x64GiB", 0);
    cr_expect(has_code(root, "split-across-hosts"));
    json_decref(root);
    root = plan_json("plan --json examples/70b-long-context-q8_0.yaml --hosts 2x24GiB", 0);
    cr_expect(!has_code(root, "split-across-hosts"), "no one 24 GiB host holds it");
    json_decref(root);
    ran r = tessera("plan examples/70b-long-context-q8_0.yaml --hosts 2x24GiB --devices 2x24GiB");
    cr_expect_eq(r.status, 2, "--hosts and --devices together");
    ran_free(&r);
}
