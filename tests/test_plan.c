/* The memory planner on sparse fixtures of real model shapes (Llama 3.1 70B
 * and 8B, Llama 3.2 1B, Llama 2 7B): sizes from headers, placement rules,
 * every diagnostic of PROFILE.md, and hints that are numbers which, applied,
 * make the deployment fit. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gguf_writer.h"
#include "model.h"
#include "plan_testutil.h"
#include "units.h"

#define GIB ((uint64_t)1 << 30)

TestSuite(plan, .init = fixtures_setup, .fini = fixtures_teardown);

static const char *yaml(const char *fmt, ...) TSR_PRINTF(1, 2);
static const char *yaml(const char *fmt, ...)
{
    static char buf[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    return buf;
}

/* The bytes of layer l's tensors as the type table sizes them. */
static uint64_t layer_bytes(const tsr_gguf *g, uint32_t l)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "blk.%u.", l);
    uint64_t n = 0;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(g); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(g, i);
        if (strncmp(t->name, prefix, strlen(prefix)) == 0)
            n += t->n_bytes;
    }
    return n;
}

static double ms_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* ---- sizes from headers ---------------------------------------------------------- */

Test(plan, a_70b_header_plans_in_milliseconds)
{
    struct timespec start;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB]}\n", &p);
    double ms = ms_since(&start);
    fprintf(stderr, "# plan: a 70B header read and planned in %.1f ms of CPU time\n", ms);
    cr_expect_lt(ms, 1000.0, "planning a 70B model took %.1f ms", ms);
    cr_expect(p.plan->fits);
    planned_free(&p);
}

Test(plan, a_file_cut_after_its_header_still_plans)
{
    /* No tensor data is there to read: planning must not need any. */
    tsr_gguf *g;
    tsr_error err = {0};
    cr_assert_eq(tsr_gguf_open_headers(fixture("llama-3.2-1b-q8_0.gguf"), &g, &err), TSR_OK);
    uint64_t header = tsr_gguf_data_offset(g);
    tsr_gguf_close(g);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && truncate -s %llu '%s'",
             fixture("llama-3.2-1b-q8_0.gguf"), fixture("cut.gguf"), (unsigned long long)header,
             fixture("cut.gguf"));
    cr_assert_eq(system(cmd), 0);
    planned p;
    plan_yaml("model: {path: cut.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [8GiB]}\n", &p);
    cr_expect(p.plan->fits);
    cr_expect_gt(p.plan->models[0].weights_bytes, GIB, "1.2B parameters at 8.5 bits");
    planned_free(&p);
}

Test(plan, kv_cache_is_positions_times_layers_kv_heads_and_head_size)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192, cache_type: f16}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    /* K and V, 80 layers, 8192 positions, 8 KV heads of 128 values, 2 bytes each. */
    cr_expect_eq(p.plan->devices[0].kv_cache_bytes, 2ull * 80 * 8192 * 8 * 128 * 2);
    planned_free(&p);
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192, cache_type: q8_0}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    /* q8_0: 34 bytes per block of 32 values. */
    cr_expect_eq(p.plan->devices[0].kv_cache_bytes, 2ull * 80 * 8192 * 8 * (128 / 32 * 34));
    planned_free(&p);
}

/* The build's plugins but one (its file under plugins/.libs), from a folder
 * of links to the others. */
static tsr_registry *plugins_without(const char *file)
{
    char dir[2048], link[4096], target[4096];
    snprintf(dir, sizeof dir, "%s/plugins-without", fixtures);
    cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "%s: %s", dir, strerror(errno));
    const char *libs = test_path(test_builddir(), "plugins/.libs");
    DIR *d = opendir(libs);
    cr_assert_not_null(d, "%s", libs);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 3, ".so") != 0 || strcmp(e->d_name, file) == 0)
            continue;
        snprintf(target, sizeof target, "%s/%s", libs, e->d_name);
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        cr_assert(symlink(target, link) == 0 || errno == EEXIST, "%s: %s", link, strerror(errno));
    }
    closedir(d);
    tsr_registry *r;
    tsr_error err = {0};
    const char *dirs[] = {dir};
    cr_assert_eq(tsr_registry_open(dirs, 1, &r, &err), TSR_OK, "%s", err.message);
    return r;
}

Test(plan, a_type_without_a_plugin_is_sized_by_the_gguf_type_table)
{
    /* the fixture's iq3_xxs, with its plugin left out */
    tsr_registry *all = plugins;
    plugins = plugins_without("quant_iq3_xxs.so");
    cr_assert_null(tsr_registry_find_quant(plugins, 18), "iq3_xxs's plugin is left out");
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 1024}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(p.ggufs[0], "blk.40.ffn_up.weight");
    cr_assert_eq(t->type, 18u);
    /* iq3_xxs: 98 bytes per block of 256 values. */
    cr_expect_eq(tsr_plan_tensor_bytes(plugins, t), 8192ull * 28672 / 256 * 98);
    /* On one device the weights are the file's data section, padding included. */
    uint64_t end = 0;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(p.ggufs[0]); i++) {
        const tsr_gguf_tensor *x = tsr_gguf_tensor_at(p.ggufs[0], i);
        if (x->offset + x->n_bytes > end)
            end = x->offset + x->n_bytes;
    }
    cr_expect_eq(p.plan->models[0].weights_bytes, end);
    cr_expect_eq(p.plan->models[0].params, 70553706560ull);
    cr_expect(p.plan->models[0].bits_per_weight > 3.0 && p.plan->models[0].bits_per_weight < 3.2);
    planned_free(&p);
    tsr_registry_close(plugins);
    plugins = all;
}

/* ---- placement ----------------------------------------------------------------------- */

/* Layers contiguous and in order, each device's weights in extents that
 * hold exactly its tensors. */
static void expect_sound_placement(const tsr_plan *plan, uint32_t k, const tsr_gguf *g)
{
    const tsr_plan_model *m = &plan->models[k];
    for (uint32_t l = 1; l < m->n_layer; l++)
        cr_expect_geq(m->layer_device[l], m->layer_device[l - 1], "layer %u goes back", l);
    cr_expect_eq(m->input_device, m->layer_device[0]);
    cr_expect_eq(m->output_device, m->layer_device[m->n_layer - 1]);
    uint64_t sum = 0;
    for (uint32_t d = 0; d < m->n_devices; d++)
        for (size_t i = 0; i < m->shares[d].n_extents; i++)
            sum += m->shares[d].extents[i].bytes;
    cr_expect_eq(sum, m->weights_bytes);
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(g); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(g, i);
        int32_t unit = tsr_plan_tensor_unit(t->name, m->n_layer);
        if (unit == TSR_PLAN_UNIT_NONE)
            continue;
        uint32_t d = tsr_plan_unit_device(m, unit);
        bool inside = false;
        for (size_t e = 0; e < m->shares[d].n_extents; e++) {
            const tsr_plan_extent *x = &m->shares[d].extents[e];
            inside = inside || (t->offset >= x->offset && t->offset + t->n_bytes <= x->offset + x->bytes);
        }
        cr_expect(inside, "%s is not in device %u's weights", t->name, d);
    }
}

Test(plan, auto_spreads_layers_in_proportion_to_each_devices_room)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [16GiB, 32GiB], reserve: 0B}\n", &p);
    const tsr_plan *plan = p.plan;
    cr_assert(plan->fits);
    expect_sound_placement(plan, 0, p.ggufs[0]);
    cr_expect_eq(plan->devices[0].first_layer, 0);
    cr_expect_eq(plan->devices[1].last_layer, 79);
    /* Each device's share of weights and cache follows its room, within a layer. */
    const tsr_plan_model *m = &plan->models[0];
    double room[2], load[2];
    for (int d = 0; d < 2; d++) {
        room[d] = (double)plan->devices[d].spec.capacity_bytes - (double)m->activations_bytes;
        load[d] = (double)(plan->devices[d].weights_bytes + plan->devices[d].kv_cache_bytes);
    }
    room[1] -= (double)m->logits_bytes;
    double total = load[0] + load[1];
    double layer = (double)(layer_bytes(p.ggufs[0], 0) + m->kv_layer_bytes);
    double input = (double)tsr_gguf_find_tensor(p.ggufs[0], "token_embd.weight")->n_bytes;
    cr_expect_leq(fabs(load[0] - total * room[0] / (room[0] + room[1])), layer + input,
                  "device 0 carries %.2f GiB of %.2f", load[0] / GIB, total / GIB);
    planned_free(&p);
}

Test(plan, a_manual_split_fills_each_device_up_to_its_budget)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [48GiB, 48GiB], split: [10, 40]}\n", &p);
    const tsr_plan *plan = p.plan;
    cr_assert(plan->fits);
    expect_sound_placement(plan, 0, p.ggufs[0]);
    int32_t last0 = plan->devices[0].last_layer;
    cr_assert_gt(last0, 0);
    uint64_t w0 = plan->devices[0].weights_bytes;
    /* Padding between tensors is the only slack the file's layout adds. */
    cr_expect_leq(w0, 10 * GIB + 32 * 9 * 80);
    cr_expect_gt(w0 + layer_bytes(p.ggufs[0], (uint32_t)last0 + 1), 10 * GIB,
                 "layer %d would have fit in device 0's budget", last0 + 1);
    cr_expect_eq(plan->devices[1].first_layer, last0 + 1);
    /* The embeddings with the first layer, the output head with the last. */
    cr_expect(plan->models[0].shares[0].input);
    cr_expect(plan->models[0].shares[1].output);
    cr_expect_eq(plan->devices[0].split_bytes, 10 * GIB);
    planned_free(&p);
}

Test(plan, the_draft_goes_whole_onto_the_device_with_most_room)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192}\n"
              "draft: {path: llama-3.2-1b-q8_0.gguf}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 23]}\n", &p);
    const tsr_plan *plan = p.plan;
    cr_assert(plan->fits, "%s", plan->diags.count ? plan->diags.items[0].message : "");
    const tsr_plan_model *draft = &plan->models[1];
    cr_expect_eq(draft->role, TSR_PLAN_DRAFT);
    for (uint32_t l = 0; l < draft->n_layer; l++)
        cr_expect_eq(draft->layer_device[l], 1u, "draft layer %u", l);
    cr_expect_eq(draft->shares[0].weights_bytes, 0);
    cr_expect_eq(draft->shares[1].kv_cache_bytes, 2ull * 16 * 8192 * 8 * 64 * 2);
    cr_expect_eq(draft->max_seq_len, 8192u, "the draft follows the main model's context");
    expect_sound_placement(plan, 1, p.ggufs[1]);
    planned_free(&p);
}

/* ---- the draft's diagnostics ----------------------------------------------------------- */

static void expect_draft_is_main(const char *draft_path, const char *how)
{
    planned p;
    plan_yaml(yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 4096}\n"
                   "draft: {path: %s}\n"
                   "devices: {allocator: sim, sim: [80GiB, 80GiB]}\n", draft_path), &p);
    const tsr_diagnostic *d = find_diag(p.plan, "draft-is-main");
    cr_assert_not_null(d, "draft %s is not seen as the main model", draft_path);
    cr_expect_eq(d->severity, TSR_SEVERITY_ERROR);
    cr_expect_not_null(strstr(d->message, how), "%s", d->message);
    cr_expect_not_null(d->hint);
    cr_expect_eq(d->line, 2u, "points at draft.path");
    cr_expect_null(find_diag(p.plan, "draft-too-large"), "one diagnostic says it");
    cr_expect_not(p.plan->fits, "draft-is-main refuses even when memory suffices");
    planned_free(&p);
}

Test(plan, draft_is_main_by_path_symlink_hard_link_and_copy)
{
    cr_assert_eq(symlink(fixture("llama-3.1-70b-iq3_xxs.gguf"), fixture("link.gguf")), 0);
    cr_assert_eq(link(fixture("llama-3.1-70b-iq3_xxs.gguf"), fixture("hard.gguf")), 0);
    expect_draft_is_main("llama-3.1-70b-iq3_xxs.gguf", "the same file");
    expect_draft_is_main("./llama-3.1-70b-iq3_xxs.gguf", "the same file");
    expect_draft_is_main("link.gguf", "symbolic link");
    expect_draft_is_main("hard.gguf", "hard link");
    expect_draft_is_main("llama-3.1-70b-iq3_xxs-copy.gguf", "a copy");
}

Test(plan, the_same_file_requantized_is_a_legitimate_draft)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-f16.gguf, max_seq_len: 4096}\n"
              "draft: {path: llama-3.1-8b-f16.gguf, quantize: q8_0}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    cr_expect_null(find_diag(p.plan, "draft-is-main"));
    const tsr_diagnostic *d = find_diag(p.plan, "self-draft");
    cr_assert_not_null(d, "a note says it is self-speculation");
    cr_expect_eq(d->severity, TSR_SEVERITY_NOTE);
    cr_expect_not_null(strstr(d->message, "re-quantized to q8_0 as the draft"), "%s", d->message);
    cr_expect(p.plan->fits);
    /* Re-quantized: 8.5 bits per weight for the matrices instead of 16. */
    cr_expect_lt(p.plan->models[1].weights_bytes, p.plan->models[0].weights_bytes * 6 / 10);
    planned_free(&p);
    /* The same file at the same format is the main model again. */
    plan_yaml("model: {path: llama-3.1-8b-f16.gguf, max_seq_len: 4096, quantize: q8_0}\n"
              "draft: {path: llama-3.1-8b-f16.gguf, quantize: q8_0}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    cr_expect_not_null(find_diag(p.plan, "draft-is-main"));
    cr_expect_null(find_diag(p.plan, "self-draft"));
    cr_expect_not(p.plan->fits);
    planned_free(&p);
}

Test(plan, a_draft_of_another_vocabulary_size_is_refused)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 4096}\n"
              "draft: {path: llama-2-7b-q4_k_m.gguf}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "draft-vocab-mismatch");
    cr_assert_not_null(d);
    cr_expect_eq(d->severity, TSR_SEVERITY_ERROR);
    cr_expect_not_null(strstr(d->message, "32000"), "%s", d->message);
    cr_expect_not_null(strstr(d->message, "128256"), "%s", d->message);
    cr_expect_not(p.plan->fits);
    planned_free(&p);
}

/* A tiny Llama (2 layers, 64 wide) whose vocabulary of 256 tokens has
 * `odd` as token 42 and eos as its end-of-sequence token: a sparse file,
 * headers only. */
static void write_tiny_eos(const char *name, const char *odd, uint32_t eos)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_kv_u32(w, "llama.block_count", 2);
    gguf_writer_kv_u32(w, "llama.context_length", 512);
    gguf_writer_kv_u32(w, "llama.embedding_length", 64);
    gguf_writer_kv_u32(w, "llama.feed_forward_length", 128);
    gguf_writer_kv_u32(w, "llama.attention.head_count", 4);
    gguf_writer_kv_u32(w, "llama.attention.head_count_kv", 2);
    char texts[256][8];
    const char *tokens[256];
    for (int i = 0; i < 256; i++) {
        snprintf(texts[i], sizeof texts[i], "t%d", i);
        tokens[i] = i == 42 ? odd : texts[i];
    }
    gguf_writer_kv_str_array(w, "tokenizer.ggml.tokens", 256, tokens);
    gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", eos);
    gguf_writer_tensor(w, "token_embd.weight", 0, 2, (uint64_t[]){64, 256}, NULL);
    for (int l = 0; l < 2; l++) {
        static const struct { const char *name; uint64_t cols, rows; } ts[] = {
            {"attn_norm.weight", 64, 1}, {"attn_q.weight", 64, 64}, {"attn_k.weight", 64, 32},
            {"attn_v.weight", 64, 32},   {"attn_output.weight", 64, 64},
            {"ffn_norm.weight", 64, 1},  {"ffn_gate.weight", 64, 128},
            {"ffn_up.weight", 64, 128},  {"ffn_down.weight", 128, 64},
        };
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
            char tname[64];
            snprintf(tname, sizeof tname, "blk.%d.%s", l, ts[i].name);
            gguf_writer_tensor(w, tname, 0, ts[i].rows == 1 ? 1 : 2,
                               (uint64_t[]){ts[i].cols, ts[i].rows}, NULL);
        }
    }
    gguf_writer_tensor(w, "output_norm.weight", 0, 1, (uint64_t[]){64}, NULL);
    cr_assert_eq(gguf_writer_write_file(w, fixture(name), true), 0);
    gguf_writer_free(w);
}

static void write_tiny(const char *name, const char *odd)
{
    write_tiny_eos(name, odd, 2);
}

Test(plan, a_draft_whose_special_tokens_differ_is_refused_naming_them)
{
    write_tiny("tiny-a.gguf", "t42");
    write_tiny_eos("tiny-eos.gguf", "t42", 7);
    planned p;
    plan_yaml("model: {path: tiny-a.gguf}\n"
              "draft: {path: tiny-eos.gguf}\n"
              "devices: {allocator: sim, sim: [1GiB]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "draft-vocab-mismatch");
    cr_assert_not_null(d, "the same texts, another end-of-sequence token");
    cr_expect_not_null(strstr(d->message, "end-of-sequence token is 2 in the main model and 7 "
                                          "in the draft"), "%s", d->message);
    cr_expect_not(p.plan->fits);
    planned_free(&p);
}

Test(plan, a_draft_whose_tokens_differ_is_refused_naming_the_token)
{
    write_tiny("tiny-a.gguf", "t42");
    write_tiny("tiny-b.gguf", "other");
    planned p;
    plan_yaml("model: {path: tiny-a.gguf}\n"
              "draft: {path: tiny-b.gguf}\n"
              "devices: {allocator: sim, sim: [1GiB]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "draft-vocab-mismatch");
    cr_assert_not_null(d);
    cr_expect_not_null(strstr(d->message, "token 42"), "%s", d->message);
    cr_expect_not_null(strstr(d->message, "'other'"), "%s", d->message);
    planned_free(&p);
    write_tiny("tiny-c.gguf", "t42");
    plan_yaml("model: {path: tiny-a.gguf}\n"
              "draft: {path: tiny-c.gguf}\n"
              "devices: {allocator: sim, sim: [1GiB]}\n", &p);
    cr_expect_null(find_diag(p.plan, "draft-vocab-mismatch"), "the same tokens");
    /* Same shape, same tokens, another file: the same model by its header. */
    cr_expect_not_null(find_diag(p.plan, "draft-is-main"));
    planned_free(&p);
}

Test(plan, a_draft_over_a_quarter_of_the_main_model_is_a_warning)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-f16.gguf, max_seq_len: 4096}\n"
              "draft: {path: llama-3.1-8b-q4_k_m.gguf}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "draft-too-large");
    cr_assert_not_null(d);
    cr_expect_eq(d->severity, TSR_SEVERITY_WARNING);
    cr_assert_not_null(d->hint);
    cr_expect(p.plan->fits, "a warning does not refuse");
    /* As many parameters in under half the bytes: what it costs is its
     * bytes, so it says so and asks for a measurement. */
    cr_expect(strstr(d->message, "of its weight bytes"), "%s", d->message);
    cr_expect(strstr(d->hint, "--spec-compare"), "%s", d->hint);
    planned_free(&p);
    /* The other way round the draft reads more than the main model. */
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
              "draft: {path: llama-3.1-8b-f16.gguf}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    d = find_diag(p.plan, "draft-too-large");
    cr_assert_not_null(d);
    cr_expect(strstr(d->message, "nearly as much as decoding"), "%s", d->message);
    cr_assert_not_null(d->hint);
    cr_expect(strstr(d->hint, "a quarter of the main model's"), "%s", d->hint);
    planned_free(&p);
    plan_yaml("model: {path: llama-3.1-8b-f16.gguf, max_seq_len: 4096}\n"
              "draft: {path: llama-3.2-1b-q8_0.gguf}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &p);
    cr_expect_null(find_diag(p.plan, "draft-too-large"), "1.2B of 8B is a fine draft");
    planned_free(&p);
}

/* ---- does-not-fit and its hints ------------------------------------------------------------ */

static const char *long_context(const char *cache, uint32_t n)
{
    return yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: %u, cache_type: %s}\n"
                "devices: {allocator: sim, sim: [24GiB, 24GiB], overhead: 512MiB}\n"
                "threads: 8\n", n, cache);
}

static bool fits(const char *text)
{
    planned p;
    plan_yaml(text, &p);
    bool ok = p.plan->fits;
    planned_free(&p);
    return ok;
}

Test(plan, does_not_fit_names_the_device_what_it_needs_and_holds)
{
    planned p;
    plan_yaml(long_context("f16", 65536), &p);
    cr_assert_not(p.plan->fits);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_expect_eq(d->severity, TSR_SEVERITY_ERROR);
    cr_expect_not_null(strstr(d->message, "sim"), "%s", d->message);
    cr_expect_not_null(strstr(d->message, "holds 24.0 GiB"), "%s", d->message);
    for (uint32_t i = 0; i < p.plan->n_devices; i++)
        if (p.plan->devices[i].total_bytes > p.plan->devices[i].spec.capacity_bytes)
            cr_expect(strstr(d->message, p.plan->devices[i].spec.name) ||
                      count_diags(p.plan, "does-not-fit") > 1);
    planned_free(&p);
}

Test(plan, its_hint_gives_the_longest_max_seq_len_that_fits)
{
    planned p;
    plan_yaml(long_context("f16", 65536), &p);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_assert_not_null(d->hint);
    const char *at = strstr(d->hint, "max_seq_len to at most ");
    cr_assert_not_null(at, "%s", d->hint);
    unsigned longest = 0;
    cr_assert_eq(sscanf(at, "max_seq_len to at most %u", &longest), 1);
    planned_free(&p);
    cr_expect(fits(long_context("f16", longest)), "%u positions do not fit", longest);
    cr_expect_not(fits(long_context("f16", longest + 1)), "%u is not the longest", longest);
}

Test(plan, its_hint_names_the_cache_type_that_fits)
{
    planned p;
    plan_yaml(long_context("f16", 65536), &p);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d->hint);
    cr_expect_not_null(strstr(d->hint, "cache_type to q8_0"), "%s", d->hint);
    planned_free(&p);
    cr_expect(fits(long_context("q8_0", 65536)));
}

Test(plan, its_hint_gives_a_split_that_fits)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [10, 10]}\n", &p);
    cr_assert_not(p.plan->fits);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_expect_not_null(strstr(d->message, "left over"), "%s", d->message);
    const char *at = d->hint ? strstr(d->hint, "devices.split to [") : NULL;
    cr_assert_not_null(at, "%s", d->hint ? d->hint : "(no hint)");
    double a, b;
    cr_assert_eq(sscanf(at, "devices.split to [%lf, %lf]", &a, &b), 2);
    planned_free(&p);
    cr_expect(fits(yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 4096}\n"
                        "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [%g, %g]}\n", a,
                        b)), "split [%g, %g] does not fit", a, b);
}

Test(plan, its_hint_gives_the_largest_draft_that_fits)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192}\n"
              "draft: {path: llama-3.1-70b-q4_k_m.gguf}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 23]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_assert_not_null(d->hint);
    const char *at = strstr(d->hint, "drop the draft, or choose one with at most ");
    cr_assert_not_null(at, "%s", d->hint);
    double gib;
    cr_assert_eq(sscanf(at, "drop the draft, or choose one with at most %lf GiB", &gib), 1,
                 "%s", d->hint);
    /* The 1B draft (1.2 GiB) is below that and fits. */
    cr_expect_gt(gib, 1.3);
    cr_expect_lt(gib, 25.0);
    planned_free(&p);
    cr_expect(fits("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192}\n"
                   "draft: {path: llama-3.2-1b-q8_0.gguf}\n"
                   "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 23]}\n"));
}

Test(plan, weights_too_large_for_any_setting_get_the_bits_per_weight_that_would_fit)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-q4_k_m.gguf, max_seq_len: 1024}\n"
              "devices: {allocator: sim, sim: [24GiB]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_assert_not_null(d->hint);
    const char *at = strstr(d->hint, "about ");
    cr_assert_not_null(at, "%s", d->hint);
    double bits, now;
    cr_assert_eq(sscanf(at, "about %lf bits per weight instead of %lf", &bits, &now), 2, "%s",
                 d->hint);
    cr_expect(bits > 2.0 && bits < now, "%s", d->hint);
    planned_free(&p);
}

Test(plan, the_seed_scenario_is_refused_with_draft_is_main_first)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192}\n"
              "draft: {path: llama-3.1-70b-iq3_xxs.gguf}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 24],\n"
              "          overhead: 512MiB}\n"
              "threads: 8\n", &p);
    cr_assert_not(p.plan->fits);
    cr_assert_geq(p.plan->diags.count, 1);
    cr_expect_str_eq(p.plan->diags.items[0].code, "draft-is-main");
    const tsr_diagnostic *d = &p.plan->diags.items[0];
    cr_expect_not_null(strstr(d->hint, "needs "), "%s", d->hint);
    cr_expect_not_null(strstr(d->hint, "devices hold 48.0 GiB"), "%s", d->hint);
    cr_expect_not_null(strstr(d->hint, "1-3B"), "%s", d->hint);
    cr_expect_not_null(find_diag(p.plan, "does-not-fit"));
    cr_expect_not_null(find_diag(p.plan, "split-exceeds-device"), "24 of 24 GiB leaves no room");
    planned_free(&p);
}

/* ---- split ---------------------------------------------------------------------------------- */

Test(plan, a_split_naming_other_devices_is_split_mismatch)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [10, 10, 4]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "split-mismatch");
    cr_assert_not_null(d);
    cr_expect_eq(d->severity, TSR_SEVERITY_ERROR);
    cr_expect_not_null(strstr(d->message, "3 budgets"), "%s", d->message);
    cr_expect_not_null(strstr(d->message, "2 devices"), "%s", d->message);
    cr_expect_not_null(d->hint);
    cr_expect_not(p.plan->fits);
    cr_expect_eq(p.plan->n_devices, 2u, "planned as auto on the devices there are");
    planned_free(&p);
}

Test(plan, a_split_entry_beyond_its_device_is_clamped_with_a_warning)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [30, 10]}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "split-exceeds-device");
    cr_assert_not_null(d);
    cr_expect_eq(count_diags(p.plan, "split-exceeds-device"), 1);
    cr_expect_eq(d->severity, TSR_SEVERITY_WARNING, "PROFILE.md: an entry is a ceiling");
    cr_expect_not_null(strstr(d->message, "sim0"), "%s", d->message);
    cr_expect_not_null(strstr(d->message, "clamped"), "%s", d->message);
    cr_expect_eq(d->line, 2u);
    cr_expect_gt(d->column, 50u, "points at the entry 30, not the key");
    cr_expect(p.plan->fits, "the clamped split holds an 8B model");
    cr_expect_null(find_diag(p.plan, "does-not-fit"));
    uint64_t room = 24 * TSR_GIB - p.plan->devices[0].overhead_bytes -
                    p.plan->devices[0].reserve_bytes;
    cr_expect_eq(p.plan->devices[0].split_bytes, room, "clamped to the device's room");
    cr_expect_eq(p.plan->devices[1].split_bytes, 10 * TSR_GIB, "an entry that fits stays");
    planned_free(&p);
}

Test(plan, the_seed_users_split_fits_when_what_it_places_fits)
{
    /* [20, 24] on two 24 GiB devices: 24 is more than device 1 can give
     * weights, but what the plan puts there is far less. */
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 1024}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 24],\n"
              "          overhead: 512MiB}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "split-exceeds-device");
    cr_assert_not_null(d);
    cr_expect_eq(d->severity, TSR_SEVERITY_WARNING);
    cr_expect_not_null(strstr(d->message, "sim1"), "%s", d->message);
    cr_expect_eq(tsr_diag_error_count(&p.plan->diags), 0);
    cr_expect(p.plan->fits);
    cr_expect_leq(p.plan->devices[0].weights_bytes, 20 * TSR_GIB);
    cr_expect_lt(p.plan->devices[1].weights_bytes, 16 * TSR_GIB);
    cr_expect_gt(p.plan->devices[1].weights_bytes, 0u);
    planned_free(&p);
}

Test(plan, a_clamped_split_that_cannot_hold_the_weights_is_does_not_fit)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-70b-q4_k_m.gguf, max_seq_len: 1024}\n"
              "devices: {allocator: sim, sim: [16GiB, 16GiB], split: [30, 30]}\n", &p);
    cr_expect_eq(count_diags(p.plan, "split-exceeds-device"), 2);
    const tsr_diagnostic *d = find_diag(p.plan, "split-exceeds-device");
    cr_assert_not_null(d);
    cr_expect_eq(d->severity, TSR_SEVERITY_WARNING);
    const tsr_diagnostic *refused = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(refused, "the clamped budgets (about 31 GiB) cannot hold 40 GiB");
    cr_expect_eq(refused->severity, TSR_SEVERITY_ERROR);
    cr_expect_not(p.plan->fits);
    planned_free(&p);
}

Test(plan, diagnostics_use_profile_md_severities)
{
    cr_expect_str_eq(tsr_severity_name(TSR_SEVERITY_ERROR), "error");
    cr_expect_str_eq(tsr_severity_name(TSR_SEVERITY_WARNING), "warning");
    cr_expect_str_eq(tsr_severity_name(TSR_SEVERITY_NOTE), "note");
}

static const char *served(uint32_t parallel)
{
    return yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192, cache_type: f16}\n"
                "devices: {allocator: sim, sim: [24GiB, 24GiB], overhead: 512MiB}\n"
                "server: {parallel: %u}\n"
                "threads: 8\n", parallel);
}

Test(plan, a_server_section_provisions_a_kv_cache_per_parallel_sequence)
{
    planned one, four;
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192, cache_type: f16}\n"
              "devices: {allocator: sim, sim: [80GiB]}\n", &one);
    plan_yaml("model: {path: llama-3.1-70b-iq3_xxs.gguf, max_seq_len: 8192, cache_type: f16}\n"
              "devices: {allocator: sim, sim: [80GiB]}\nserver: {parallel: 4}\n", &four);
    uint64_t per_sequence = 2ull * 80 * 8192 * 8 * 128 * 2;
    cr_expect_eq(one.plan->devices[0].kv_cache_bytes, per_sequence);
    cr_expect_eq(one.plan->models[0].n_sequences, 1);
    cr_expect_eq(four.plan->devices[0].kv_cache_bytes, 4 * per_sequence);
    cr_expect_eq(four.plan->models[0].n_sequences, 4);
    cr_expect_eq(four.plan->models[0].kv_layer_bytes, one.plan->models[0].kv_layer_bytes,
                 "kv_layer_bytes stays one sequence's");
    /* and a logits row for each sequence's next token */
    uint64_t logits_row = 4ull * four.plan->models[0].n_vocab;
    cr_expect_eq(four.plan->devices[0].total_bytes - one.plan->devices[0].total_bytes,
                 3 * per_sequence + 3 * logits_row);
    planned_free(&one);
    planned_free(&four);
}

Test(plan, its_hint_gives_the_most_parallel_sequences_that_fit)
{
    planned p;
    plan_yaml(served(16), &p);
    cr_assert_not(p.plan->fits);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_assert_not_null(d->hint);
    const char *at = strstr(d->hint, "server.parallel to at most ");
    cr_assert_not_null(at, "%s", d->hint);
    unsigned most = 0;
    cr_assert_eq(sscanf(at, "server.parallel to at most %u", &most), 1);
    planned_free(&p);
    cr_expect_gt(most, 0);
    cr_expect(fits(served(most)), "%u sequences do not fit", most);
    cr_expect_not(fits(served(most + 1)), "%u is not the most", most);
}
