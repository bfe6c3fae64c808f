/* Weights re-quantized at load time (model.quantize, core/model/model_requant.c)
 * on the default model (SmolLM2-135M, Q4_1 matrices and a Q8_0 embedding).
 *
 * Bytes. llama.cpp's quantizer re-quantizes the same file (the test setup,
 * tests/make_quant_models.py and tests/make_kquant_models.py, run by make
 * check into the build tree): every tensor tessera re-quantizes to q8_0 or
 * q4_0 must equal llama.cpp's byte for byte. The K-quant plugins search
 * for least-squares scales as ggml does, but by a search of their own
 * (test_quant_k.c), so for q4_k and q6_k the bytes differ by design;
 * there, wherever llama.cpp's mix chose the target's type (a 576-wide row
 * has no room for 256-value blocks, and both keep those as they are), the
 * error against the source's floats must stay within test_quant_k.c's
 * factor of llama.cpp's. A missing file fails the test with the setup's
 * reason: it never skips.
 *
 * Logits. The default model re-quantized to q8_0 at load holds the very
 * bytes of llama.cpp's q8_0 file (the test above), so the forward pass is
 * held to llama.cpp's run of that file (tests/reference/
 * smollm2-q8_0-greedy.json, made by make_llama_ref.py) as test_model.c
 * holds the original file to llama.cpp's run of it: same tolerances, same
 * reasons (8-bit activations rounded in another order, through 30 layers). */
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "model_fixture.h"
#include "model_internal.h"

/* test_model.c's, for an f16 cache against llama.cpp's f16 cache. */
#define MEAN_TOLERANCE 0.2
#define TOLERANCE 2.0
#define NEAR_TIE 0.25
/* Greedy steps of each case the sanitizers' build compares. */
#define SANITIZER_STEPS 16

/* Opens the default model re-quantized to target, and compares each tensor
 * it holds in target's format with the tensor of llama.cpp's file where
 * that has the same type. Returns how many were compared. */
static size_t compare_with_llama_cpp(const char *target, const char *reference)
{
    test_model t;
    tsr_model_options o = {.max_seq_len = 64, .n_threads = 2, .quantize = target};
    test_model_open(&t, &o);
    tsr_gguf *ref;
    tsr_error err = {0};
    cr_assert_eq(tsr_gguf_open(reference, &ref, &err), TSR_OK, "%s", err.message);
    const tsr_model *m = t.model;
    cr_assert_not_null(m->quantize);
    size_t held_in_target = 0, compared = 0, differing = 0;
    for (size_t i = 0; i < m->n_held; i++) {
        const tsr_model_tensor *h = &m->held[i];
        if (h->q != m->quantize)
            continue;
        held_in_target++;
        const tsr_gguf_tensor *r = tsr_gguf_find_tensor(ref, h->tensor->name);
        cr_assert_not_null(r, "%s has no tensor %s", reference, h->tensor->name);
        if (r->type != h->q->gguf_type)
            continue;
        compared++;
        uint64_t bytes = h->tensor->n_elems / h->q->block_elems * h->q->block_bytes;
        cr_assert_eq(bytes, r->n_bytes, "%s: %llu bytes, llama.cpp's %llu", r->name,
                     (unsigned long long)bytes, (unsigned long long)r->n_bytes);
        const uint8_t *ours = h->data, *theirs = r->data;
        for (uint64_t b = 0; b < bytes; b++)
            if (ours[b] != theirs[b]) {
                cr_expect_fail("%s as %s: byte %llu (block %llu) is 0x%02x, llama.cpp's 0x%02x",
                               r->name, target, (unsigned long long)b,
                               (unsigned long long)(b / h->q->block_bytes), ours[b], theirs[b]);
                differing++;
                break;
            }
    }
    fprintf(stderr, "# %s: %zu tensors held as %s, %zu compared with %s, %zu differ\n", target,
            held_in_target, target, compared, reference, differing);
    tsr_gguf_close(ref);
    test_model_close(&t);
    return compared;
}

Test(model_requant, q8_0_bytes_equal_llama_cpps_quantizer)
{
    /* Every matrix: 210 re-quantized from q4_1, the embedding copied. */
    cr_expect_eq(compare_with_llama_cpp("q8_0", model_file("q8_0")), 211u);
}

Test(model_requant, q4_0_bytes_equal_llama_cpps_quantizer)
{
    /* The q8_0 embedding too goes through dequantize and quantize here. */
    cr_expect_eq(compare_with_llama_cpp("q4_0", model_file("q4_0")), 211u);
}

/* test_quant_k.c's bound: our K-quant RMS error at most 1.05 times ggml's
 * (measured here: q4_k 1.001, q6_k 0.925 at worst over the tensors). */
#define K_ERROR_FACTOR 1.05

/* Opens the default model re-quantized to a K-quant target and, for each
 * tensor held in target's format that llama.cpp's file has in the same
 * type, compares the relative RMS error of both against the source's own
 * floats (the file's tensor dequantized). Returns how many were compared. */
static size_t compare_error_with_llama_cpp(const char *target, const char *reference)
{
    test_model t;
    tsr_model_options o = {.max_seq_len = 64, .n_threads = 2, .quantize = target};
    test_model_open(&t, &o);
    tsr_gguf *ref;
    tsr_error err = {0};
    cr_assert_eq(tsr_gguf_open(reference, &ref, &err), TSR_OK, "%s", err.message);
    const tsr_model *m = t.model;
    size_t compared = 0;
    double worst = 0;
    for (size_t i = 0; i < m->n_held; i++) {
        const tsr_model_tensor *h = &m->held[i];
        const tsr_gguf_tensor *src = h->tensor, *r = tsr_gguf_find_tensor(ref, src->name);
        if (h->q != m->quantize || !r || r->type != h->q->gguf_type)
            continue;
        compared++;
        const tsr_quant_vtable *from =
            tsr_plugin_quant(tsr_registry_find_quant(t.registry, src->type));
        cr_assert_not_null(from);
        size_t n = src->n_elems;
        float *x = malloc(n * sizeof *x), *ours = malloc(n * sizeof *ours),
              *theirs = malloc(n * sizeof *theirs);
        from->dequantize(src->data, x, (int64_t)n);
        h->q->dequantize(h->data, ours, (int64_t)n);
        h->q->dequantize(r->data, theirs, (int64_t)n);
        double ours_sq = 0, theirs_sq = 0, signal_sq = 0;
        for (size_t k = 0; k < n; k++) {
            ours_sq += ((double)x[k] - ours[k]) * ((double)x[k] - ours[k]);
            theirs_sq += ((double)x[k] - theirs[k]) * ((double)x[k] - theirs[k]);
            signal_sq += (double)x[k] * x[k];
        }
        double ratio = sqrt(ours_sq / theirs_sq);
        worst = fmax(worst, ratio);
        cr_expect_leq(ratio, K_ERROR_FACTOR, "%s as %s: relative RMS error %.4f, %.3f times "
                      "llama.cpp's %.4f", src->name, target, sqrt(ours_sq / signal_sq), ratio,
                      sqrt(theirs_sq / signal_sq));
        free(x);
        free(ours);
        free(theirs);
    }
    fprintf(stderr, "# %s: %zu tensors compared with %s: RMS error at most %.3f times "
            "llama.cpp's\n", target, compared, reference, worst);
    tsr_gguf_close(ref);
    test_model_close(&t);
    return compared;
}

Test(model_requant, q4_k_error_stays_near_llama_cpps_where_its_mix_chose_q4_k)
{
    /* Q4_K_M gives q4_k to 16 of the 30 1536-wide ffn_down (q6_k to the rest). */
    const char *file = model_file("Q4_K_M");
    cr_expect_eq(compare_error_with_llama_cpp("q4_k", file), 16u);
}

Test(model_requant, q6_k_error_stays_near_llama_cpps)
{
    const char *file = model_file("Q6_K");
    cr_expect_eq(compare_error_with_llama_cpp("q6_k", file), 30u);
}

static int32_t *json_tokens(json_t *array, size_t *n)
{
    *n = json_array_size(array);
    int32_t *tokens = malloc((*n + 1) * sizeof *tokens);
    for (size_t i = 0; i < *n; i++)
        tokens[i] = (int32_t)json_integer_value(json_array_get(array, i));
    return tokens;
}

static size_t argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

Test(model_requant, q8_0_logits_stay_close_to_llama_cpp_on_its_q8_0_file)
{
    test_model t;
    tsr_model_options o = {.max_seq_len = 512, .n_threads = 2, .quantize = "q8_0"};
    test_model_open(&t, &o);
    json_error_t jerr;
    json_t *root = json_load_file(
        test_path(test_srcdir(), "tests/reference/smollm2-q8_0-greedy.json"), 0, &jerr);
    cr_assert_not_null(root, "reference data: %s (line %d)", jerr.text, jerr.line);
    json_t *cases = json_object_get(root, "cases");
    uint32_t n_vocab = tsr_model_config(t.model)->n_vocab;
    tsr_error err = {0};
    double worst = 0, sum = 0;
    size_t n_compared = 0, full_matches = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *kase = json_array_get(cases, c);
        const char *name = json_string_value(json_object_get(kase, "name"));
        size_t n_prompt, n_gen;
        int32_t *prompt = json_tokens(json_object_get(kase, "prompt_tokens"), &n_prompt);
        int32_t *gen = json_tokens(json_object_get(kase, "generated"), &n_gen);
        json_t *steps = json_object_get(kase, "steps");
        if (test_under_sanitizers() && n_gen > SANITIZER_STEPS)
            n_gen = SANITIZER_STEPS;
        tsr_model_rollback(t.model, 0);
        cr_assert_eq(tsr_model_eval(t.model, prompt, n_prompt, &err), TSR_OK, "%s", err.message);
        bool all_same = true;
        for (size_t i = 0; i < n_gen; i++) {
            const float *logits = tsr_model_logits(t.model, 0);
            json_t *step = json_array_get(steps, i);
            json_t *top = json_object_get(step, "top");
            for (size_t k = 0; k < json_array_size(top); k++) {
                json_t *pair = json_array_get(top, k);
                int32_t id = (int32_t)json_integer_value(json_array_get(pair, 0));
                double diff = fabs(logits[id] - json_real_value(json_array_get(pair, 1)));
                worst = fmax(worst, diff);
                sum += diff;
                n_compared++;
                cr_expect_leq(diff, TOLERANCE, "%s step %zu token %d: logit %.4f off by %.4f",
                              name, i, id, logits[id], diff);
            }
            size_t ours = argmax(logits, n_vocab);
            if ((int32_t)ours != gen[i] && all_same) {
                double gap = json_real_value(json_object_get(step, "gap"));
                double our_gap = logits[ours] - logits[gen[i]];
                cr_expect_lt(fmin(gap, our_gap), NEAR_TIE,
                             "%s step %zu: we choose %zu, llama.cpp %d; gaps %.3f and %.3f are "
                             "no near-tie", name, i, ours, gen[i], gap, our_gap);
                all_same = false;
            }
            cr_assert_eq(tsr_model_eval(t.model, &gen[i], 1, &err), TSR_OK, "%s", err.message);
        }
        full_matches += all_same;
        free(prompt);
        free(gen);
    }
    double mean = sum / (double)n_compared;
    fprintf(stderr, "# q8_0 re-quantized vs llama.cpp on its q8_0 file: mean |logit diff| %.4f "
            "over %zu logits, max %.4f, %zu/%zu prompts match every greedy token\n", mean,
            n_compared, worst, full_matches, json_array_size(cases));
    cr_expect_gt(n_compared, 0u);
    cr_expect_leq(mean, MEAN_TOLERANCE, "mean logit difference %.4f", mean);
    json_decref(root);
    test_model_close(&t);
}

Test(model_requant, a_matrix_the_target_cannot_hold_stays_as_stored_and_computes)
{
    /* q4_k's 256-value blocks fit the 1536-wide ffn_down rows only: the
     * 576-wide matrices stay q4_1, byte for byte the file's, and the two
     * formats (with their two activation forms) compute together. */
    test_model plain, mixed;
    tsr_model_options o = {.max_seq_len = 64, .n_threads = 2};
    test_model_open(&plain, &o);
    o.quantize = "q4_k";
    test_model_open(&mixed, &o);
    const tsr_layer *l = &mixed.model->layers[3];
    cr_expect_str_eq(tsr_ggml_type(l->w_down.q->gguf_type)->name, "q4_k");
    cr_expect_str_eq(tsr_ggml_type(l->wq.q->gguf_type)->name, "q4_1");
    cr_expect_str_eq(tsr_ggml_type(l->w_gate.q->gguf_type)->name, "q4_1");
    cr_expect_neq(l->w_down.act, l->wq.act, "q4_k and q4_1 take different activations");
    const tsr_gguf_tensor *wq = tsr_gguf_find_tensor(mixed.gguf, "blk.3.attn_q.weight");
    cr_expect_neq((const void *)l->wq.data, wq->data, "held in the model's own arena");
    cr_expect_eq(memcmp(l->wq.data, wq->data, wq->n_bytes), 0, "kept as the file stores it");
    tsr_error err = {0};
    int32_t prompt[] = {504, 3156, 314, 2533, 1789, 28, 339, 253, 1345};
    cr_assert_eq(tsr_model_eval(plain.model, prompt, 9, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_model_eval(mixed.model, prompt, 9, &err), TSR_OK, "%s", err.message);
    uint32_t n = tsr_model_config(plain.model)->n_vocab;
    const float *a = tsr_model_logits(plain.model, 0), *b = tsr_model_logits(mixed.model, 0);
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, worst = 0;
    for (uint32_t i = 0; i < n; i++) {
        cr_assert(isfinite(b[i]), "logit %u is %f", i, b[i]);
        sa += a[i], sb += b[i];
        saa += (double)a[i] * a[i], sbb += (double)b[i] * b[i], sab += (double)a[i] * b[i];
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    }
    double cov = sab - sa * sb / n, r = cov / sqrt((saa - sa * sa / n) * (sbb - sb * sb / n));
    fprintf(stderr, "# q4_k ffn_down among q4_1: logits correlate with the file's at %.5f, "
            "move by at most %.4f\n", r, worst);
    /* Re-rounding ffn_down onto another 4-bit grid moves logits as much as
     * quantizing does (measured: correlation 0.996, at most 1.86); a wrong
     * product or a matrix read in the wrong format scrambles them. The
     * least-squares K-quant quantizer moves this row's top token to one the
     * file ranks 0.56 below its own (the covering grid's kept it): what must
     * hold is that the top token is one the file's logits rank within one
     * logit of their top, and the correlation below. */
    size_t top_a = argmax(a, n), top_b = argmax(b, n);
    fprintf(stderr, "# top token %zu (file) and %zu (q4_k ffn_down), the file's logits %.4f "
            "and %.4f\n", top_a, top_b, (double)a[top_a], (double)a[top_b]);
    cr_expect_geq(a[top_b], a[top_a] - 1.0f, "the top token %zu is %.4f below the file's %zu",
                  top_b, (double)(a[top_a] - a[top_b]), top_a);
    cr_expect_geq(r, 0.97, "correlation %.5f", r);
    cr_expect_gt(worst, 0.0, "the re-quantized ffn_down should change something");
    test_model_close(&plain);
    test_model_close(&mixed);
}

typedef struct progress_seen {
    size_t calls;
    double last;
    bool backwards;
} progress_seen;

static bool record_progress(void *ctx, double fraction)
{
    progress_seen *p = ctx;
    if (fraction < p->last)
        p->backwards = true;
    p->last = fraction;
    p->calls++;
    return true;
}

Test(model_requant, the_progress_bar_advances_while_requantizing)
{
    test_model t;
    progress_seen seen = {0};
    tsr_model_options o = {.max_seq_len = 64,
                           .n_threads = 2,
                           .quantize = "q8_0",
                           .progress = record_progress,
                           .progress_ctx = &seen};
    test_model_open(&t, &o);
    cr_expect_geq(seen.calls, 50u, "the bar moved %zu times", seen.calls);
    cr_expect_not(seen.backwards);
    cr_expect_eq(seen.last, 1.0);
    test_model_close(&t);
}

/* Opens the default model with quantize on an allocator and plugins from
 * plugin_dir; expects the failure code and returns the message. */
static const char *open_refused(const char *plugin_dir, const char *allocator,
                                const uint64_t *sim, uint32_t n_sim, const char *quantize,
                                tsr_status want)
{
    static tsr_error err;
    memset(&err, 0, sizeof err);
    tsr_registry *registry;
    tsr_gguf *gguf;
    cr_assert_eq(tsr_registry_open(&plugin_dir, 1, &registry, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_gguf_open(test_model_path(), &gguf, &err), TSR_OK, "%s", err.message);
    const tsr_alloc_vtable *alloc =
        tsr_plugin_alloc(tsr_registry_find(registry, TSR_PLUGIN_ALLOC, allocator));
    cr_assert_not_null(alloc);
    void *state;
    tsr_alloc_config config = {sizeof config, sim, n_sim};
    cr_assert_eq(alloc->open(tsr_host_services(), &config, &state, &err), TSR_OK);
    tsr_model_options o = {.registry = registry, .alloc = alloc, .alloc_state = state,
                           .max_seq_len = 64, .n_threads = 2, .quantize = quantize};
    tsr_model *model = NULL;
    cr_expect_eq(tsr_model_open(gguf, &o, &model, &err), want, "%s", err.message);
    cr_expect_null(model);
    cr_expect_eq(alloc->bytes_in_use(state, 0), 0, "a refused model holds nothing");
    alloc->close(state);
    tsr_gguf_close(gguf);
    tsr_registry_close(registry);
    return err.message;
}

static const char *build_plugins(void)
{
    return test_path(test_builddir(), "plugins/.libs");
}

Test(model_requant, a_missing_target_plugin_is_refused_naming_the_key)
{
    const char *msg = open_refused(build_plugins(), "host", NULL, 0, "q9_9", TSR_ERR_NOT_FOUND);
    cr_expect_not_null(strstr(msg, "model.quantize q9_9: no loaded quant plugin of that name "
                              "can quantize weights"), "%s", msg);
}

Test(model_requant, an_activation_only_format_is_refused_as_a_target)
{
    /* q8_k is what K-quant products take as input; it has no products. */
    const char *msg = open_refused(build_plugins(), "host", NULL, 0, "q8_k", TSR_ERR_NOT_FOUND);
    cr_expect_not_null(strstr(msg, "model.quantize q8_k"), "%s", msg);
}

Test(model_requant, running_out_of_device_memory_names_the_device)
{
    const uint64_t sim[] = {64ull << 20};
    const char *msg = open_refused(build_plugins(), "sim", sim, 1, "q8_0", TSR_ERR_NOMEM);
    cr_expect_not_null(strstr(msg, "re-quantized to q8_0"), "%s", msg);
    cr_expect_not_null(strstr(msg, "sim0: cannot reserve"), "%s", msg);
}

Test(model_requant, a_source_format_no_plugin_dequantizes_is_refused)
{
    /* Plugins without q4_1: the file's matrices cannot be read back. */
    char dir[] = "/tmp/tsr-requant-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *keep[] = {"quant_f32.so", "quant_f16.so", "quant_q8_0.so", "alloc_host.so"};
    char *plugins = realpath(build_plugins(), NULL);
    cr_assert_not_null(plugins);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s", plugins, keep[i]);
        snprintf(to, sizeof to, "%s/%s", dir, keep[i]);
        cr_assert_eq(symlink(from, to), 0, "%s", to);
    }
    free(plugins);
    const char *msg = open_refused(dir, "host", NULL, 0, "q8_0", TSR_ERR_UNSUPPORTED);
    cr_expect_not_null(strstr(msg, "is of type q4_1, which no loaded quant plugin can "
                              "dequantize"), "%s", msg);
    cr_expect_not_null(strstr(msg, "model.quantize"), "%s", msg);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        unlink(test_path(dir, keep[i]));
    rmdir(dir);
}
