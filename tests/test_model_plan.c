/* The plan is what the allocators are asked for: a model opened with a plan
 * reserves exactly the plan's bytes on the plan's devices, nothing else, and
 * computes the same logits wherever its layers are; a pipeline stage maps
 * only its own share and hands on activations that give the whole model's
 * logits. On the default model (SmolLM2-135M, Q4_1). */
#include <criterion/criterion.h>
#include <math.h>
#include <unistd.h>

#include "default_model.h"
#include "llama_arch.h"
#include "loader.h"
#include "model.h"
#include "plan.h"
#include "testutil.h"

typedef struct opened {
    tsr_registry *registry;
    tsr_gguf *gguf;
    const tsr_alloc_vtable *alloc;
    void *alloc_state;
    tsr_plan *plan;
    tsr_model *model;
} opened;

/* Small, so that the sanitizers' build runs it in seconds. */
enum { N_THREADS = 2, MAX_SEQ = 256, N_BATCH = 16, N_PROMPT = 4 };

/* Plans the default model on the allocator's devices (split: NULL = auto),
 * its weights re-quantized to quantize (NULL: as stored), and opens it with
 * that plan. */
static void open_stage(opened *o, const char *allocator, const uint64_t *sim, uint32_t n_sim,
                       const uint64_t *split, const char *quantize, uint32_t first_layer,
                       uint32_t end_layer)
{
    memset(o, 0, sizeof *o);
    tsr_error err = {0};
    const char *dirs[] = {test_path(test_builddir(), "plugins/.libs")};
    cr_assert_eq(tsr_registry_open(dirs, 1, &o->registry, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_gguf_open(test_model_path(), &o->gguf, &err), TSR_OK, "%s", err.message);
    o->alloc = tsr_plugin_alloc(tsr_registry_find(o->registry, TSR_PLUGIN_ALLOC, allocator));
    cr_assert_not_null(o->alloc);
    tsr_alloc_config config = {sizeof config, sim, n_sim};
    cr_assert_eq(o->alloc->open(tsr_host_services(), &config, &o->alloc_state, &err), TSR_OK,
                 "%s", err.message);
    tsr_plan_device_spec specs[8];
    uint32_t n = tsr_plan_devices_from_alloc(o->alloc, o->alloc_state, specs, 8, &err);
    cr_assert_gt(n, 0, "%s", err.message);
    tsr_plan_request r = {
        .registry = o->registry,
        .n_models = 1,
        .devices = specs,
        .n_devices = n,
        .split_auto = split == NULL,
        .split_bytes = split,
        .n_split = split ? n : 0,
        .reserve_bytes = 0,
        .n_threads = N_THREADS,
        .n_batch = N_BATCH,
    };
    r.models[0] = (tsr_plan_model_request){
        .gguf = o->gguf, .max_seq_len = MAX_SEQ, .quantize = quantize,
        .first_layer = first_layer, .end_layer = end_layer};
    cr_assert_eq(tsr_plan_make(&r, &o->plan, &err), TSR_OK, "%s", err.message);
    cr_assert(o->plan->fits, "%s", o->plan->diags.count ? o->plan->diags.items[0].message : "");
    for (uint32_t d = 0; d < n; d++)
        cr_assert_eq(o->alloc->bytes_in_use(o->alloc_state, d), 0, "nothing before the model");
    tsr_model_options mo = {
        .registry = o->registry,
        .alloc = o->alloc,
        .alloc_state = o->alloc_state,
        .plan = &o->plan->models[0],
    };
    cr_assert_eq(tsr_model_open(o->gguf, &mo, &o->model, &err), TSR_OK, "%s", err.message);
}

static void open_planned(opened *o, const char *allocator, const uint64_t *sim, uint32_t n_sim,
                         const uint64_t *split, const char *quantize)
{
    open_stage(o, allocator, sim, n_sim, split, quantize, 0, 0);
}

static void close_planned(opened *o)
{
    tsr_model_close(o->model);
    if (o->alloc_state)
        o->alloc->close(o->alloc_state);
    tsr_plan_free(o->plan);
    tsr_gguf_close(o->gguf);
    tsr_registry_close(o->registry);
}

/* What the plan asks of device d: its arenas (the reserve is kept free, the
 * overhead is the runtime's, neither is allocated by us). */
static uint64_t planned_arenas(const tsr_plan *plan, uint32_t d)
{
    const tsr_plan_device *dev = &plan->devices[d];
    return dev->weights_bytes + dev->kv_cache_bytes + dev->scratch_bytes;
}

/* A prompt (in batches of N_BATCH), then greedy tokens; returns the last
 * token chosen. */
static int32_t generate(tsr_model *model, size_t n_new, float *last_logits)
{
    tsr_error err = {0};
    int32_t prompt[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++)
        prompt[i] = (int32_t)(1 + (i * 7919) % 40000);
    cr_assert_eq(tsr_model_eval(model, prompt, N_PROMPT, &err), TSR_OK, "%s", err.message);
    uint32_t n_vocab = tsr_model_config(model)->n_vocab;
    int32_t token = 0;
    for (size_t step = 0; step < n_new; step++) {
        const float *logits = tsr_model_logits(model, 0);
        token = 0;
        for (uint32_t t = 1; t < n_vocab; t++)
            if (logits[t] > logits[token])
                token = (int32_t)t;
        if (last_logits)
            memcpy(last_logits, logits, n_vocab * sizeof *logits);
        cr_assert_eq(tsr_model_eval(model, &token, 1, &err), TSR_OK, "%s", err.message);
    }
    return token;
}

Test(model_plan, planned_total_matches_the_hosts_real_peak_within_2_percent)
{
    opened o;
    open_planned(&o, "host", NULL, 0, NULL, NULL);
    generate(o.model, 2, NULL);
    uint64_t planned = planned_arenas(o.plan, 0);
    uint64_t peak = o.alloc->peak_bytes(o.alloc_state, 0);
    double off = fabs((double)peak - (double)planned) / (double)planned * 100.0;
    fprintf(stderr, "# model_plan: host planned %llu bytes (weights %llu, KV %llu, scratch %llu), "
            "allocator peak %llu: %.3f%% apart\n", (unsigned long long)planned,
            (unsigned long long)o.plan->devices[0].weights_bytes,
            (unsigned long long)o.plan->devices[0].kv_cache_bytes,
            (unsigned long long)o.plan->devices[0].scratch_bytes, (unsigned long long)peak, off);
    cr_expect_leq(off, 2.0);
    /* Nothing is asked behind the plan's back: the peak is the plan, to the byte. */
    cr_expect_eq(peak, planned);
    cr_expect_eq(o.alloc->bytes_in_use(o.alloc_state, 0), planned);
    close_planned(&o);
}

Test(model_plan, a_requantized_load_reserves_exactly_the_plan)
{
    /* q8_0 weights take more than the file's q4_1: the plan counts them
     * re-quantized, tensor by tensor, and the model reserves just that. */
    opened plain, o;
    open_planned(&plain, "host", NULL, 0, NULL, NULL);
    open_planned(&o, "host", NULL, 0, NULL, "q8_0");
    cr_expect_gt(o.plan->devices[0].weights_bytes, plain.plan->devices[0].weights_bytes * 7 / 5);
    uint64_t planned = planned_arenas(o.plan, 0);
    cr_expect_eq(o.alloc->bytes_in_use(o.alloc_state, 0), planned);
    generate(o.model, 2, NULL);
    fprintf(stderr, "# model_plan: q8_0 re-quantized: planned %llu bytes (weights %llu), "
            "allocator peak %llu\n", (unsigned long long)planned,
            (unsigned long long)o.plan->devices[0].weights_bytes,
            (unsigned long long)o.alloc->peak_bytes(o.alloc_state, 0));
    cr_expect_eq(o.alloc->peak_bytes(o.alloc_state, 0), planned);
    close_planned(&o);
    close_planned(&plain);
}

Test(model_plan, requantized_layers_on_two_devices_reserve_exactly_each_devices_share)
{
    const uint64_t sim[] = {1ull << 30, 1ull << 30};
    const uint64_t split[] = {70ull << 20, 1ull << 30};
    opened o;
    open_planned(&o, "sim", sim, 2, split, "q8_0");
    const tsr_plan_model *m = &o.plan->models[0];
    cr_assert_eq(m->layer_device[m->n_layer - 1], 1u, "the model should span both devices");
    generate(o.model, 2, NULL);
    for (uint32_t d = 0; d < 2; d++)
        cr_expect_eq(o.alloc->peak_bytes(o.alloc_state, d), planned_arenas(o.plan, d),
                     "device %u", d);
    close_planned(&o);
}

Test(model_plan, layers_on_two_devices_reserve_exactly_each_devices_share)
{
    const uint64_t sim[] = {1ull << 30, 1ull << 30};
    /* About half the weights on each device. */
    const uint64_t split[] = {40ull << 20, 1ull << 30};
    opened o;
    open_planned(&o, "sim", sim, 2, split, NULL);
    const tsr_plan_model *m = &o.plan->models[0];
    cr_assert_eq(m->layer_device[0], 0u);
    cr_assert_eq(m->layer_device[m->n_layer - 1], 1u, "the model should span both devices");
    for (uint32_t d = 0; d < 2; d++)
        cr_expect_eq(o.alloc->bytes_in_use(o.alloc_state, d), planned_arenas(o.plan, d),
                     "device %u", d);
    generate(o.model, 2, NULL);
    for (uint32_t d = 0; d < 2; d++)
        cr_expect_eq(o.alloc->peak_bytes(o.alloc_state, d), planned_arenas(o.plan, d),
                     "device %u", d);
    close_planned(&o);
}

Test(model_plan, a_model_split_over_devices_computes_what_one_device_computes)
{
    const uint64_t sim[] = {1ull << 30, 1ull << 30, 1ull << 30};
    const uint64_t split[] = {30ull << 20, 25ull << 20, 1ull << 30};
    opened one, three;
    open_planned(&one, "host", NULL, 0, NULL, NULL);
    open_planned(&three, "sim", sim, 3, split, NULL);
    cr_assert_eq(three.plan->models[0].output_device, 2u);
    uint32_t n_vocab = tsr_model_config(one.model)->n_vocab;
    float *a = malloc(n_vocab * sizeof *a), *b = malloc(n_vocab * sizeof *b);
    int32_t ta = generate(one.model, 2, a);
    int32_t tb = generate(three.model, 2, b);
    cr_expect_eq(ta, tb);
    double worst = 0;
    for (uint32_t t = 0; t < n_vocab; t++)
        worst = fmax(worst, fabs((double)a[t] - (double)b[t]));
    cr_expect_leq(worst, 1e-4, "logits differ by %g across devices", worst);
    free(a);
    free(b);
    close_planned(&one);
    close_planned(&three);
}

/* The host allocator as a GPU would describe itself: device memory the CPU
 * cannot address, of kind CUDA (alloc/cuda's cuda0). */
static const tsr_alloc_vtable *host_vtable;

static tsr_status gpu_like_device_info(void *state, uint32_t device, tsr_device_info *info,
                                       tsr_error *err)
{
    tsr_status s = host_vtable->device_info(state, device, info, err);
    snprintf(info->name, sizeof info->name, "cuda%u", device);
    info->flags &= ~(uint32_t)TSR_DEVICE_HOST_MEMORY;
    info->device_kind = TSR_DEVICE_KIND_CUDA;
    return s;
}

Test(model_plan, a_device_the_cpu_cannot_address_is_refused_before_a_byte_loads)
{
    opened o;
    open_planned(&o, "host", NULL, 0, NULL, NULL);
    host_vtable = o.alloc;
    tsr_alloc_vtable gpu_like = *o.alloc;
    gpu_like.device_info = gpu_like_device_info;
    tsr_model_options mo = {.registry = o.registry,
                            .alloc = &gpu_like,
                            .alloc_state = o.alloc_state,
                            .plan = &o.plan->models[0]};
    tsr_model *model = NULL;
    tsr_error err = {0};
    uint64_t before = o.alloc->bytes_in_use(o.alloc_state, 0);
    cr_expect_eq(tsr_model_open(o.gguf, &mo, &model, &err), TSR_ERR_UNSUPPORTED);
    cr_expect_null(model);
    cr_expect_not_null(strstr(err.message, ": cannot load onto cuda0, a CUDA device whose "
                                           "memory the CPU cannot address: this build runs "
                                           "the forward pass on the CPU only"),
                       "%s", err.message);
    cr_expect_not_null(strstr(err.message, "devices.allocator: host"), "%s", err.message);
    cr_expect_eq(o.alloc->bytes_in_use(o.alloc_state, 0), before, "something was reserved");
    close_planned(&o);
}

Test(model_plan, a_plan_for_another_model_is_refused)
{
    opened o;
    open_planned(&o, "host", NULL, 0, NULL, NULL);
    tsr_plan_model other = o.plan->models[0];
    other.n_layer += 1;
    tsr_model_options mo = {
        .registry = o.registry, .alloc = o.alloc, .alloc_state = o.alloc_state, .plan = &other};
    tsr_model *model = NULL;
    tsr_error err = {0};
    uint64_t before = o.alloc->bytes_in_use(o.alloc_state, 0);
    cr_expect_eq(tsr_model_open(o.gguf, &mo, &model, &err), TSR_ERR_INVALID);
    cr_expect_null(model);
    cr_expect_not_null(strstr(err.message, "layers"), "%s", err.message);
    cr_expect_eq(o.alloc->bytes_in_use(o.alloc_state, 0), before);
    close_planned(&o);
}

/* Whether a stage of layers [first, end) should hold the tensor named name,
 * by the rule across hosts (written out here apart from the planner's):
 * its layers; token_embd on the first stage, and on the last as the tied
 * head's own copy; output_norm and output on the last; rope_freqs on all. */
static bool stage_should_hold(const char *name, uint32_t first, uint32_t end, uint32_t n_layer,
                              bool tied)
{
    unsigned layer;
    int used = 0;
    if (sscanf(name, "blk.%u.%n", &layer, &used) == 1 && used > 0)
        return layer >= first && layer < end;
    if (strcmp(name, "token_embd.weight") == 0)
        return first == 0 || (tied && end == n_layer);
    if (strcmp(name, "output_norm.weight") == 0 || strcmp(name, "output.weight") == 0)
        return end == n_layer;
    return strcmp(name, "rope_freqs.weight") == 0;
}

/* Every tensor the stage should hold lies in one of the plan's runs on its
 * device, no other tensor does, and the runs hold nothing else but the
 * padding between those tensors. */
static void expect_exact_share(const opened *o, uint32_t first, uint32_t end)
{
    const tsr_plan_model *m = &o->plan->models[0];
    const tsr_plan_share *share = &m->shares[0];
    bool tied = tsr_gguf_find_tensor(o->gguf, "output.weight") == NULL;
    uint64_t held = 0, extents = 0, n_held = 0;
    for (size_t e = 0; e < share->n_extents; e++)
        extents += share->extents[e].bytes;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(o->gguf); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(o->gguf, i);
        bool inside = false;
        for (size_t e = 0; e < share->n_extents; e++)
            inside |= t->offset >= share->extents[e].offset &&
                      t->offset + t->n_bytes <= share->extents[e].offset +
                                                    share->extents[e].bytes;
        bool should = stage_should_hold(t->name, first, end, m->n_layer, tied);
        cr_expect_eq(inside, should, "stage [%u, %u): tensor %s %s", first, end, t->name,
                     should ? "is not mapped" : "is mapped, and it should not be");
        if (should) {
            held += t->n_bytes;
            n_held++;
        }
    }
    /* GGUF aligns each tensor to at most 32 bytes by default. */
    cr_expect_geq(extents, held);
    cr_expect_leq(extents, held + 32 * n_held, "stage [%u, %u): %llu bytes mapped for %llu of "
                  "tensors", first, end, (unsigned long long)extents, (unsigned long long)held);
    cr_expect_eq(share->weights_bytes, extents);
    /* What the allocator gave: the plan's arenas, to the byte. */
    cr_expect_eq(o->alloc->bytes_in_use(o->alloc_state, 0), planned_arenas(o->plan, 0),
                 "stage [%u, %u)", first, end);
}

/* One decode of batch through two stages in one process, as two ranks run
 * it: stage a from the tokens, its residual stream handed to stage b, which
 * computes the logits. Returns b's logits (n_out rows). */
static const float *decode_in_stages(opened *a, opened *b, const tsr_batch *batch)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_model_decode_check(a->model, batch, &err), TSR_OK, "%s", err.message);
    const tsr_plan_model *pa = &a->plan->models[0], *pb = &b->plan->models[0];
    tsr_model_stage_run(a->model, batch, pa->first_layer, pa->end_layer, true, false);
    size_t n = (size_t)batch->n_tokens * tsr_model_config(a->model)->n_embd;
    memcpy(tsr_model_stage_activations(b->model), tsr_model_stage_result(a->model),
           n * sizeof(float));
    tsr_model_stage_run(b->model, batch, pb->first_layer, pb->end_layer, false, true);
    tsr_model_decode_commit(a->model, batch);
    return tsr_model_stage_logits(b->model);
}

Test(model_plan, two_stages_map_only_their_share_and_give_the_whole_models_logits)
{
    opened whole, a, b;
    open_planned(&whole, "host", NULL, 0, NULL, NULL);
    uint32_t n_layer = whole.plan->models[0].n_layer, cut = n_layer / 2;
    open_stage(&a, "host", NULL, 0, NULL, NULL, 0, cut);
    open_stage(&b, "host", NULL, 0, NULL, NULL, cut, n_layer);
    expect_exact_share(&a, 0, cut);
    expect_exact_share(&b, cut, n_layer);
    cr_expect(!tsr_model_is_whole(a.model));
    cr_expect(tsr_model_is_whole(whole.model));
    /* Together they hold the model once, and the tied head's token_embd twice. */
    const tsr_gguf_tensor *embd = tsr_gguf_find_tensor(whole.gguf, "token_embd.weight");
    uint64_t wa = a.plan->models[0].weights_bytes, wb = b.plan->models[0].weights_bytes;
    uint64_t ww = whole.plan->models[0].weights_bytes;
    fprintf(stderr, "# model_plan: stages hold %.1f and %.1f MiB of the %.1f MiB of weights\n",
            (double)wa / 1048576, (double)wb / 1048576, (double)ww / 1048576);
    cr_expect_lt(wa, ww);
    cr_expect_lt(wb, ww);
    if (tsr_gguf_find_tensor(whole.gguf, "output.weight") == NULL)
        cr_expect_geq(wa + wb, ww + embd->n_bytes - 64 * 32);
    /* A stage decodes only through its pipeline. */
    tsr_error err = {0};
    int32_t token = 1;
    cr_expect_eq(tsr_model_eval(b.model, &token, 1, &err), TSR_ERR_UNSUPPORTED);

    tsr_batch *batch = NULL;
    cr_assert_eq(tsr_batch_open(N_BATCH, &batch, &err), TSR_OK);
    uint32_t n_vocab = tsr_model_config(whole.model)->n_vocab;
    int32_t pos = 0;
    for (int step = 0; step < 6; step++) {
        /* A prompt of N_PROMPT tokens, then the greedy tokens one at a time. */
        tsr_batch_clear(batch);
        uint32_t n = step == 0 ? N_PROMPT : 1;
        for (uint32_t i = 0; i < n; i++) {
            int32_t t = step == 0 ? (int32_t)(1 + (i * 7919) % 40000) : token;
            cr_assert_eq(tsr_batch_add(batch, t, pos++, 0, i + 1 == n, &err), TSR_OK, "%s",
                         err.message);
        }
        cr_assert_eq(tsr_model_decode(whole.model, batch, NULL, NULL, &err), TSR_OK, "%s",
                     err.message);
        const float *want = tsr_model_decode_logits(whole.model, (int32_t)n - 1);
        const float *got = decode_in_stages(&a, &b, batch);
        cr_assert_not_null(want);
        cr_expect_eq(memcmp(want, got, n_vocab * sizeof *got), 0,
                     "step %d: the stages' logits are not the whole model's bit for bit", step);
        token = 0;
        for (uint32_t t = 1; t < n_vocab; t++)
            if (want[t] > want[token])
                token = (int32_t)t;
    }
    tsr_batch_close(batch);
    close_planned(&b);
    close_planned(&a);
    close_planned(&whole);
}
