/* The planner on devices other than the CPU (core/plan/plan_device.c): a
 * tensor whose format has no CUDA kernels is refused on a CUDA device
 * (no-device-kernels), never planned to run on the host instead; so is a KV
 * cache the CUDA attention cannot read. The devices are alloc/sim's with
 * devices.options: {kind: cuda}, as a user plans GPUs they do not have.
 * Which formats carry kernels depends on the build (--enable-cuda gives
 * q4_0, q4_1 and q8_0 theirs): the expectations follow config.h's
 * TSR_HAVE_CUDA, and the counts are taken from the files' headers. */
#include "config.h"

#include "plan_testutil.h"

#define MIB ((uint64_t)1 << 20)

TestSuite(plan_device, .init = fixtures_setup, .fini = fixtures_teardown);

#ifdef TSR_HAVE_CUDA
static const bool built_with_cuda = true;
#else
static const bool built_with_cuda = false;
#endif

/* The no-device-kernels diagnostic whose message names text, or NULL. */
static const tsr_diagnostic *refusal_naming(const tsr_plan *plan, const char *text)
{
    return find_diag_naming(plan, "no-device-kernels", text);
}

/* The tensors of a file of one type (NULL: its matrices, what
 * model.quantize re-quantizes), counted from its header: every tensor the
 * forward pass reads (the fixtures hold no other). */
static size_t tensors_of_type(const char *file, const char *type)
{
    tsr_gguf *g;
    tsr_error err = {0};
    cr_assert_eq(tsr_gguf_open_headers(fixture(file), &g, &err), TSR_OK, "%s", err.message);
    int64_t id = type ? tsr_ggml_type_by_name(type) : -1;
    cr_assert(!type || id >= 0, "no type %s", type);
    size_t n = 0;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(g); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(g, i);
        n += type ? t->type == (uint32_t)id : t->n_dims >= 2;
    }
    tsr_gguf_close(g);
    return n;
}

static void expect_count(const tsr_diagnostic *d, size_t n, const char *format)
{
    char text[64];
    snprintf(text, sizeof text, "%zu tensors in %s", n, format);
    cr_expect(strstr(d->message, text), "'%s' not in: %s", text, d->message);
}

/* The hint a build gives: the formats with kernels and the setting, or
 * that the plugins were built without them. */
static void expect_hint(const tsr_diagnostic *d, const char *setting)
{
    cr_assert_not_null(d->hint);
    if (built_with_cuda) {
        for (const char *f = "q4_0\0q4_1\0q8_0\0"; *f; f += strlen(f) + 1)
            cr_expect(strstr(d->hint, f), "%s not in hint: %s", f, d->hint);
        char want[64];
        snprintf(want, sizeof want, "%s.quantize: q8_0", setting);
        cr_expect(strstr(d->hint, want), "'%s' not in hint: %s", want, d->hint);
    } else {
        cr_expect(strstr(d->hint, "--enable-cuda"), "hint: %s", d->hint);
        cr_expect(strstr(d->hint, "devices.allocator: host"), "hint: %s", d->hint);
    }
}

Test(plan_device, a_format_without_cuda_kernels_is_refused_on_cuda_devices)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], options: {kind: cuda}}\n", &p);
    cr_expect_not(p.plan->fits);
    /* One diagnostic per format, however many tensors. */
    cr_expect_eq(count_diags(p.plan, "no-device-kernels"), 2);
    const tsr_diagnostic *q4_k = refusal_naming(p.plan, " in q4_k ");
    cr_assert_not_null(q4_k, "no refusal names q4_k");
    cr_expect(strstr(q4_k->message, "llama-3.1-8b-q4_k_m.gguf"), "%s", q4_k->message);
    expect_count(q4_k, tensors_of_type("llama-3.1-8b-q4_k_m.gguf", "q4_k"), "q4_k");
    /* The example is the first in file order. */
    cr_expect(strstr(q4_k->message, "(token_embd.weight and "), "%s", q4_k->message);
    cr_expect(strstr(q4_k->message, "CUDA devices sim0, sim1"), "%s", q4_k->message);
    cr_expect(strstr(q4_k->message, "no CUDA kernels"), "%s", q4_k->message);
    expect_hint(q4_k, "model");
    const tsr_diagnostic *q6_k = refusal_naming(p.plan, " in q6_k ");
    cr_assert_not_null(q6_k, "no refusal names q6_k");
    expect_count(q6_k, tensors_of_type("llama-3.1-8b-q4_k_m.gguf", "q6_k"), "q6_k");
    planned_free(&p);
}

Test(plan_device, the_same_deployment_on_simulated_cpus_is_not_refused)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], options: {kind: cpu}}\n", &p);
    cr_expect(p.plan->fits);
    cr_expect_eq(count_diags(p.plan, "no-device-kernels"), 0);
    planned_free(&p);
}

Test(plan_device, formats_with_cuda_kernels_plan_on_cuda_devices_in_a_cuda_build)
{
    planned p;
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB], options: {kind: cuda}}\n", &p);
    if (built_with_cuda) {
        cr_expect(p.plan->fits);
        cr_expect_eq(count_diags(p.plan, "no-device-kernels"), 0);
    } else {
        /* The same plugins without their kernels: refused, saying why. */
        cr_expect_not(p.plan->fits);
        const tsr_diagnostic *d = refusal_naming(p.plan, " in q8_0 ");
        cr_assert_not_null(d);
        expect_count(d, tensors_of_type("llama-3.2-1b-q8_0.gguf", "q8_0"), "q8_0");
        cr_expect(strstr(d->message, "CUDA device sim0"), "%s", d->message);
        expect_hint(d, "model");
    }
    /* Norms are f32 vectors, which kernels/cuda reads itself. */
    cr_expect_null(refusal_naming(p.plan, " in f32 "));
    planned_free(&p);
}

Test(plan_device, requantized_weights_are_judged_in_the_format_they_load_as)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096, quantize: q8_0}\n"
              "devices: {allocator: sim, sim: [24GiB], options: {kind: cuda}}\n", &p);
    cr_expect_null(refusal_naming(p.plan, " in q4_k "));
    cr_expect_null(refusal_naming(p.plan, " in q6_k "));
    if (built_with_cuda) {
        cr_expect(p.plan->fits);
        cr_expect_eq(count_diags(p.plan, "no-device-kernels"), 0);
    } else {
        const tsr_diagnostic *d = refusal_naming(p.plan, " in q8_0 ");
        cr_assert_not_null(d);
        expect_count(d, tensors_of_type("llama-3.1-8b-q4_k_m.gguf", NULL), "q8_0");
        /* It points at the setting that chose the format. */
        cr_expect_eq(d->line, 1);
        cr_expect_eq(d->column, (uint32_t)strlen("model: {path: llama-3.1-8b-q4_k_m.gguf, "
                                            "max_seq_len: 4096, quantize: ") + 1);
    }
    planned_free(&p);
}

Test(plan_device, a_draft_without_kernels_is_named_as_the_draft)
{
    planned p;
    plan_yaml("model: {path: llama-3.1-8b-q4_k_m.gguf, max_seq_len: 4096, quantize: q8_0}\n"
              "draft: {path: llama-3.2-1b-f16.gguf}\n"
              "devices: {allocator: sim, sim: [40GiB], options: {kind: cuda}}\n", &p);
    cr_expect_not(p.plan->fits);
    const tsr_diagnostic *d = refusal_naming(p.plan, " in f16 ");
    cr_assert_not_null(d, "the f16 draft is not refused");
    cr_expect(strstr(d->message, "llama-3.2-1b-f16.gguf (the draft model)"), "%s", d->message);
    expect_count(d, tensors_of_type("llama-3.2-1b-f16.gguf", "f16"), "f16");
    expect_hint(d, "draft");
    planned_free(&p);
}

Test(plan_device, a_kv_cache_other_than_f16_is_refused_on_cuda_devices)
{
    planned p;
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096, cache_type: q8_0}\n"
              "devices: {allocator: sim, sim: [24GiB], options: {kind: cuda}}\n", &p);
    cr_expect_not(p.plan->fits);
    const tsr_diagnostic *d = refusal_naming(p.plan, "KV cache in q8_0");
    cr_assert_not_null(d, "a q8_0 cache is not refused");
    cr_expect(strstr(d->message, "reads an f16 cache only"), "%s", d->message);
    cr_assert_not_null(d->hint);
    cr_expect(strstr(d->hint, "model.cache_type: f16"), "%s", d->hint);
    planned_free(&p);
    /* f16, the default, is what the attention reads; on CPUs any type is. */
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB], options: {kind: cuda}}\n", &p);
    cr_expect_null(refusal_naming(p.plan, "KV cache"));
    planned_free(&p);
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096, cache_type: q8_0}\n"
              "devices: {allocator: sim, sim: [24GiB]}\n", &p);
    cr_expect(p.plan->fits);
    planned_free(&p);
}

Test(plan_device, does_not_fit_on_cuda_suggests_no_cache_type_the_gpu_cannot_read)
{
    planned p;
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 131072}\n"
              "devices: {allocator: sim, sim: [4GiB], options: {kind: cuda}}\n", &p);
    const tsr_diagnostic *d = find_diag(p.plan, "does-not-fit");
    cr_assert_not_null(d);
    cr_assert_not_null(d->hint);
    cr_expect_null(strstr(d->hint, "cache_type"), "%s", d->hint);
    cr_expect(strstr(d->hint, "max_seq_len"), "%s", d->hint);
    planned_free(&p);
}

Test(plan_device, simulated_cuda_devices_cost_an_estimated_context_each)
{
    planned p;
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB, 24GiB], options: {kind: cuda}}\n", &p);
    for (uint32_t d = 0; d < p.plan->n_devices; d++) {
        cr_expect_eq(p.plan->devices[d].overhead_bytes, 512 * MIB);
        cr_expect_eq(p.plan->devices[d].spec.device_kind, TSR_DEVICE_KIND_CUDA);
    }
    planned_free(&p);
    /* devices.overhead replaces the estimate. */
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB], options: {kind: cuda}, overhead: 1GiB}\n",
              &p);
    cr_expect_eq(p.plan->devices[0].overhead_bytes, 1024 * MIB);
    planned_free(&p);
    plan_yaml("model: {path: llama-3.2-1b-q8_0.gguf, max_seq_len: 4096}\n"
              "devices: {allocator: sim, sim: [24GiB]}\n", &p);
    cr_expect_eq(p.plan->devices[0].overhead_bytes, 0);
    cr_expect_eq(p.plan->devices[0].spec.device_kind, TSR_DEVICE_KIND_CPU);
    planned_free(&p);
}
