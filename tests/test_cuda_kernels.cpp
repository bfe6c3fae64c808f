/* The CUDA kernels (kernels/cuda and the quant plugins' FORMAT_cuda.cu)
 * against the CPU: the kernels of kernels/cpu and the plugins' own
 * dequantize, on the same random inputs, within the tolerance each test
 * states (the kernels reduce in trees of float partial sums where the CPU
 * sums in order, some in double, and a device's expf is within 2 ulp).
 *
 * Built twice from this one source:
 *   tests/test_cuda_emu     the sources on the emulator (kernels/cuda/emu),
 *                           always, every kernel under the forward, reverse
 *                           and seeded-random thread orders; plus the
 *                           emulator's own tests (partial barriers abort,
 *                           the orders differ).
 *   tests/test_cuda_device  --enable-cuda: the nvcc build on the first GPU
 *                           (the quant kernels reached through the loaded
 *                           plugins' device_kernels); without a device it
 *                           prints why and exits 77 (skipped). `make
 *                           check-gpu` runs it. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "tessera/tessera.h"
extern "C" {
#include "loader.h"
}
#include "testutil.h"

#ifdef TSR_CUDA_EMU
extern "C" const tsr_quant_device_kernels *q4_1_device_kernels(uint32_t kind);
extern "C" const tsr_quant_device_kernels *q8_0_device_kernels(uint32_t kind);
extern "C" const tsr_quant_device_kernels *q4_0_device_kernels(uint32_t kind);
static const tsr_cuda_kernels *const kernels = &tsr_cuda_kernels_emulated;
static const tsr_emu_order orders[] = {TSR_EMU_FORWARD, TSR_EMU_REVERSE, TSR_EMU_RANDOM};
static const char *const order_names[] = {"forward", "reverse", "random"};
enum { N_ORDERS = 3 };
static void use_order(int i)
{
    tsr_emu_set_order(orders[i], 0x5eed0000u + (uint64_t)i);
}
#else
static const tsr_cuda_kernels *const kernels = &tsr_cuda_kernels_device;
static const char *const order_names[] = {"device"};
enum { N_ORDERS = 1 };
static void use_order(int i)
{
    (void)i;
}
#endif

/* ---- plugins, data, device buffers -------------------------------------- */

static tsr_registry *registry;

static void open_plugins(void)
{
    const char *dir = test_path(test_builddir(), "plugins/.libs");
    tsr_error err = {};
    cr_assert_eq(tsr_registry_open(&dir, 1, &registry, &err), TSR_OK, "%s", err.message);
}

static void close_plugins(void)
{
    tsr_registry_close(registry);
    registry = NULL;
}

static const tsr_quant_vtable *quant(const char *name)
{
    const tsr_plugin *p = tsr_registry_find(registry, TSR_PLUGIN_QUANT, name);
    cr_assert_not_null(p, "quant plugin '%s' is not loaded", name);
    return tsr_plugin_quant(p);
}

/* xorshift64*: reproducible inputs. */
static uint64_t rng_state;

static float uniform(float lo, float hi)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t bits = rng_state * 0x2545f4914f6cdd1dull;
    return lo + (hi - lo) * (float)(bits >> 40) / (float)(1u << 24);
}

static std::vector<float> random_floats(size_t n, float lo, float hi)
{
    std::vector<float> v(n);
    for (float &x : v)
        x = uniform(lo, hi);
    return v;
}

/* A device buffer of n T, freed at scope exit. */
template <typename T> struct device_buffer {
    T *ptr = nullptr;
    size_t n;
    explicit device_buffer(size_t count) : n(count)
    {
        cr_assert_eq(cudaMalloc(&ptr, n * sizeof(T)), cudaSuccess, "cudaMalloc of %zu bytes",
                     n * sizeof(T));
    }
    device_buffer(const T *host, size_t count) : device_buffer(count)
    {
        put(host);
    }
    explicit device_buffer(const std::vector<T> &host) : device_buffer(host.data(), host.size())
    {
    }
    ~device_buffer()
    {
        cudaFree(ptr);
    }
    device_buffer(const device_buffer &) = delete;
    device_buffer &operator=(const device_buffer &) = delete;
    void put(const T *host)
    {
        cr_assert_eq(cudaMemcpy(ptr, host, n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    }
    std::vector<T> get() const
    {
        std::vector<T> host(n);
        cr_assert_eq(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost),
                     cudaSuccess);
        return host;
    }
};

/* A launch went in and ran. */
static void launched(int32_t status, const char *what, int order)
{
    cr_assert_eq(status, 0, "%s (%s order): %s", what, order_names[order],
                 kernels->error_name(status));
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess, "%s (%s order)", what, order_names[order]);
}

/* |got - want| <= abs_tol + rel_tol * |want| everywhere. */
static void expect_close(const char *what, int order, const float *got, const float *want,
                         size_t n, double abs_tol, double rel_tol)
{
    for (size_t i = 0; i < n; i++) {
        double error = fabs((double)got[i] - (double)want[i]);
        cr_assert(error <= abs_tol + rel_tol * fabs((double)want[i]),
                  "%s (%s order): [%zu] is %.9g, the CPU's %.9g (tolerance %g + %g relative)",
                  what, order_names[order], i, got[i], want[i], abs_tol, rel_tol);
    }
}

static void expect_identical(const char *what, int order, const float *got, const float *want,
                             size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&got[i], &want[i], sizeof(float)) == 0,
                  "%s (%s order): [%zu] is %.9g, the CPU's %.9g", what, order_names[order], i,
                  got[i], want[i]);
}

TestSuite(cuda, .init = open_plugins, .fini = close_plugins);

/* ---- format-independent kernels ------------------------------------------ */

/* The sum of squares in a tree of floats against the CPU's double: within
 * a few float roundings of each value. */
Test(cuda, rmsnorm_matches_the_cpu_within_float_rounding)
{
    rng_state = 1;
    const int64_t rows = 3, n = 1000; /* not a multiple of the block's threads */
    std::vector<float> x = random_floats(rows * n, -3, 3), w = random_floats(n, 0.5f, 1.5f);
    std::vector<float> want(rows * n);
    for (int64_t r = 0; r < rows; r++)
        tsr_rmsnorm_reference(&want[r * n], &x[r * n], w.data(), n, 1e-5f);
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<float> dx(x), dw(w), dy(rows * n);
        launched(kernels->rmsnorm(dy.ptr, dx.ptr, dw.ptr, rows, n, 1e-5f, NULL), "rmsnorm", o);
        expect_close("rmsnorm", o, dy.get().data(), want.data(), want.size(), 1e-6, 1e-5);
        /* in place, as the forward pass calls it */
        launched(kernels->rmsnorm(dx.ptr, dx.ptr, dw.ptr, rows, n, 1e-5f, NULL), "rmsnorm", o);
        expect_close("rmsnorm in place", o, dx.get().data(), want.data(), want.size(), 1e-6,
                     1e-5);
    }
}

/* Tables in double on both sides (the device's cos, sin and pow are within
 * 2 ulp of a double), rounded to float: within 1e-6. The rotation differs
 * from the CPU's by the fma the compiler may fuse: 1e-6 relative. */
static void check_rope(tsr_rope_config config, int64_t head_dim, const float *host_factors)
{
    const int32_t positions[] = {0, 1, 17, 4095, 131071};
    const int64_t n_tokens = 5, n_heads = 3, n_rot = config.n_rot;
    std::vector<float> want_table(n_tokens * n_rot);
    tsr_rope_config host_config = config;
    host_config.freq_factors = host_factors;
    for (int64_t t = 0; t < n_tokens; t++)
        tsr_rope_table(&host_config, positions[t], &want_table[t * n_rot]);
    std::vector<float> x = random_floats(n_tokens * n_heads * head_dim, -2, 2), want = x;
    for (int64_t t = 0; t < n_tokens; t++)
        tsr_rope_reference(&want[t * n_heads * head_dim], n_heads, head_dim, &host_config,
                           &want_table[t * n_rot]);
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<int32_t> dpos(positions, n_tokens);
        device_buffer<float> dtable(n_tokens * n_rot), dx(x), dfactors(n_rot / 2);
        if (host_factors) {
            dfactors.put(host_factors);
            config.freq_factors = dfactors.ptr;
        }
        launched(kernels->rope_table(dtable.ptr, dpos.ptr, n_tokens, &config, NULL), "rope_table",
                 o);
        expect_close("rope table", o, dtable.get().data(), want_table.data(), want_table.size(),
                     1e-6, 0);
        /* rotate by the CPU's table, so the rotation alone is compared */
        dtable.put(want_table.data());
        launched(kernels->rope(dx.ptr, n_tokens, n_heads, head_dim, config.mode, config.n_rot,
                               dtable.ptr, NULL),
                 "rope", o);
        expect_close("rope", o, dx.get().data(), want.data(), want.size(), 1e-6, 1e-6);
    }
}

Test(cuda, rope_norm_matches_the_cpu)
{
    rng_state = 2;
    tsr_rope_config config = {TSR_ROPE_NORM, 64, 10000.0f, 1.0f, NULL};
    check_rope(config, 64, NULL);
}

Test(cuda, rope_neox_with_llama3_factors_and_partial_rotation_matches_the_cpu)
{
    rng_state = 3;
    std::vector<float> factors(16);
    tsr_rope_llama3_factors(factors.data(), 32, 500000.0f, 8.0f, 1.0f, 4.0f, 8192.0f);
    tsr_rope_config config = {TSR_ROPE_NEOX, 32, 500000.0f, 0.5f, NULL};
    check_rope(config, 64, factors.data());
}

/* A vocabulary-sized row, and one with masked (-inf) logits. */
Test(cuda, softmax_matches_the_cpu_and_masks_to_zero)
{
    rng_state = 4;
    const int64_t rows = 2, n = 49152;
    std::vector<float> x = random_floats(rows * n, -20, 20);
    for (int64_t i = 0; i < n; i += 3)
        x[n + i] = -INFINITY;
    std::vector<float> want = x;
    for (int64_t r = 0; r < rows; r++)
        tsr_softmax_reference(&want[r * n], n);
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<float> dx(x);
        launched(kernels->softmax(dx.ptr, rows, n, NULL), "softmax", o);
        std::vector<float> got = dx.get();
        expect_close("softmax", o, got.data(), want.data(), want.size(), 1e-12, 1e-5);
        for (int64_t i = 0; i < n; i += 3)
            cr_assert_eq(got[n + i], 0.0f, "a masked logit's probability is exactly 0");
    }
}

Test(cuda, swiglu_and_add_match_the_cpu)
{
    rng_state = 5;
    const int64_t n = 10007;
    std::vector<float> gate = random_floats(n, -8, 8), up = random_floats(n, -2, 2);
    std::vector<float> want_swiglu(n), want_add(n);
    tsr_swiglu_reference(want_swiglu.data(), gate.data(), up.data(), n);
    tsr_add_reference(want_add.data(), gate.data(), up.data(), n);
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<float> dg(gate), du(up), dy(n);
        launched(kernels->swiglu(dy.ptr, dg.ptr, du.ptr, n, NULL), "swiglu", o);
        expect_close("swiglu", o, dy.get().data(), want_swiglu.data(), n, 1e-7, 1e-6);
        launched(kernels->add(dy.ptr, dg.ptr, du.ptr, n, NULL), "add", o);
        expect_identical("add", o, dy.get().data(), want_add.data(), n);
    }
}

/* f32 and f16 tables (the f16 one written by the real f16 plugin): exactly
 * the plugin's values, and NaN for a token outside the vocabulary. */
Test(cuda, embed_reads_f32_and_f16_rows_exactly)
{
    rng_state = 6;
    const tsr_quant_vtable *f16 = quant("f16");
    const int64_t n_vocab = 50, n_embd = 300;
    std::vector<float> table = random_floats(n_vocab * n_embd, -1, 1);
    std::vector<uint16_t> halves(table.size());
    f16->quantize(table.data(), halves.data(), (int64_t)table.size());
    const int32_t tokens[] = {3, 0, 49, 3, 50, -1};
    const int64_t n_tokens = 6, n_valid = 4;
    std::vector<float> want_f32(n_valid * n_embd), want_f16(n_valid * n_embd);
    for (int64_t t = 0; t < n_valid; t++) {
        memcpy(&want_f32[t * n_embd], &table[tokens[t] * n_embd], n_embd * sizeof(float));
        f16->dequantize(&halves[tokens[t] * n_embd], &want_f16[t * n_embd], n_embd);
    }
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<float> d32(table), out(n_tokens * n_embd);
        device_buffer<uint16_t> d16(halves);
        device_buffer<int32_t> dt(tokens, n_tokens);
        launched(kernels->embed(out.ptr, d32.ptr, 0, n_embd * 4, n_vocab, dt.ptr, n_tokens, n_embd,
                                NULL),
                 "embed f32", o);
        std::vector<float> got = out.get();
        expect_identical("embed f32", o, got.data(), want_f32.data(), want_f32.size());
        for (int64_t c = n_valid * n_embd; c < n_tokens * n_embd; c++)
            cr_assert(isnan(got[c]), "a token outside the vocabulary gives NaN");
        launched(kernels->embed(out.ptr, d16.ptr, 1, n_embd * 2, n_vocab, dt.ptr, n_tokens, n_embd,
                                NULL),
                 "embed f16", o);
        expect_identical("embed f16", o, out.get().data(), want_f16.data(), want_f16.size());
    }
}

/* One decode query over an f16 cache written by the real f16 plugin,
 * against the CPU's reference attention over the same cache: a context of
 * one position, one inside a single split, one over three splits, and a
 * sliding window. Weighted means of values in [-1, 1]: within 1e-5. */
static void check_attention(int64_t pos, int64_t window)
{
    const tsr_quant_vtable *f16 = quant("f16");
    const int64_t n_heads = 4, n_kv = 2, hd = 64, n_positions = pos + 1;
    const size_t head_bytes = hd * 2, pos_bytes = n_kv * head_bytes;
    std::vector<float> q = random_floats(n_heads * hd, -1, 1);
    std::vector<float> kv = random_floats(2 * n_positions * n_kv * hd, -1, 1);
    std::vector<uint16_t> cache(kv.size());
    f16->quantize(kv.data(), cache.data(), (int64_t)kv.size());
    const uint16_t *k = cache.data(), *v = cache.data() + n_positions * n_kv * hd;

    std::vector<float> want(n_heads * hd);
    tsr_attention_args cpu = {};
    cpu.q = q.data();
    cpu.q_stride = n_heads * hd;
    cpu.out = want.data();
    cpu.out_stride = n_heads * hd;
    cpu.k = k;
    cpu.v = v;
    cpu.k_pos_bytes = cpu.v_pos_bytes = pos_bytes;
    cpu.k_head_bytes = cpu.v_head_bytes = head_bytes;
    cpu.kv_format = f16;
    cpu.n_tokens = 1;
    cpu.pos0 = pos;
    cpu.window = window;
    cpu.n_heads = n_heads;
    cpu.n_kv_heads = n_kv;
    cpu.head_dim = hd;
    cpu.scale = 1.0f / sqrtf((float)hd);
    std::vector<uint8_t> scratch(tsr_attention_scratch_bytes(n_heads, n_kv, hd));
    tsr_attention_reference(&cpu, 0, n_heads, scratch.data());

    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<float> dq(q), dout(n_heads * hd);
        device_buffer<uint16_t> dk(k, n_positions * n_kv * hd), dv(v, n_positions * n_kv * hd);
        size_t scratch_bytes = kernels->attention_scratch_bytes(n_heads, hd, n_positions);
        device_buffer<float> dscratch(scratch_bytes / sizeof(float) + 1);
        tsr_cuda_attention_args a = {};
        a.q = dq.ptr;
        a.out = dout.ptr;
        a.k = dk.ptr;
        a.v = dv.ptr;
        a.k_pos_bytes = a.v_pos_bytes = pos_bytes;
        a.k_head_bytes = a.v_head_bytes = head_bytes;
        a.pos = pos;
        a.window = window;
        a.n_heads = n_heads;
        a.n_kv_heads = n_kv;
        a.head_dim = hd;
        a.scale = cpu.scale;
        a.scratch = scratch_bytes ? dscratch.ptr : NULL;
        launched(kernels->attention_decode(&a, NULL), "attention_decode", o);
        expect_close("attention_decode", o, dout.get().data(), want.data(), want.size(), 1e-5,
                     0);
    }
}

Test(cuda, attention_decode_at_the_first_position_matches_the_cpu)
{
    rng_state = 7;
    check_attention(0, 0);
}

Test(cuda, attention_decode_in_one_split_matches_the_cpu)
{
    rng_state = 8;
    check_attention(100, 0);
}

Test(cuda, attention_decode_split_over_the_context_matches_the_cpu)
{
    rng_state = 9;
    check_attention(599, 0);
}

Test(cuda, attention_decode_with_a_sliding_window_matches_the_cpu)
{
    rng_state = 10;
    check_attention(599, 300);
}

/* Against the core's candidates_partial_sort (ties to the lower id), as
 * the greedy sampler chooses; and a row with NaN and ties by hand. */
Test(cuda, argmax_chooses_as_the_cpu_with_ties_to_the_lower_index)
{
    rng_state = 11;
    const int64_t rows = 4, n = 49152;
    std::vector<float> x = random_floats(rows * n, -10, 10);
    x[1 * n + 40000] = 50.0f;
    x[1 * n + 20000] = 50.0f; /* a tie: the lower index wins */
    x[2 * n + n - 1] = 30.0f; /* the last element */
    for (int64_t i = 0; i < n; i++)
        x[3 * n + i] = i % 7 == 0 ? NAN : (i == 778 ? 9.0f : -1.0f);
    std::vector<int32_t> want(rows);
    std::vector<tsr_candidate> cands(n);
    for (int64_t r = 0; r < 3; r++) {
        for (int64_t i = 0; i < n; i++)
            cands[i] = {(int32_t)i, x[r * n + i], 0.0f};
        tsr_candidates c = {cands.data(), (size_t)n, -1, false};
        tsr_host_services()->candidates_partial_sort(&c, 1);
        want[r] = cands[0].token;
    }
    want[3] = 778; /* NaN never wins */
    cr_assert_eq(want[1], 20000);
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<float> dx(x);
        device_buffer<int32_t> dout(rows);
        launched(kernels->argmax(dout.ptr, dx.ptr, rows, n, NULL), "argmax", o);
        std::vector<int32_t> got = dout.get();
        for (int64_t r = 0; r < rows; r++)
            cr_assert_eq(got[r], want[r], "argmax (%s order): row %ld is %d, the CPU's %d",
                         order_names[o], (long)r, got[r], want[r]);
    }
}

Test(cuda, kernels_refuse_what_they_cannot_serve)
{
    float *p = (float *)(uintptr_t)64; /* never dereferenced: refused before a launch */
    tsr_cuda_attention_args a = {};
    a.q = a.out = p;
    a.k = a.v = p;
    a.n_heads = 4;
    a.n_kv_heads = 2;
    a.head_dim = 48; /* not a multiple of 32 */
    cr_assert_eq(kernels->attention_decode(&a, NULL), cudaErrorInvalidValue);
    a.head_dim = 64;
    a.pos = 1000; /* several splits, no scratch */
    cr_assert_eq(kernels->attention_decode(&a, NULL), cudaErrorInvalidValue);
    cr_assert_eq(kernels->rmsnorm(p, p, p, 1, 0, 1e-5f, NULL), cudaErrorInvalidValue);
    cr_assert_eq(kernels->embed(p, p, 2, 18, 10, (const int32_t *)p, 1, 32, NULL),
                 cudaErrorInvalidValue, "q4_0 tables are their plugin's");
    tsr_rope_config odd = {TSR_ROPE_NORM, 63, 10000.0f, 1.0f, NULL};
    cr_assert_eq(kernels->rope_table(p, (const int32_t *)p, 1, &odd, NULL),
                 cudaErrorInvalidValue);
    cr_assert_str_eq(kernels->error_name(cudaErrorInvalidValue), "cudaErrorInvalidValue");
}

/* ---- the quant plugins' device kernels ----------------------------------- */

static const tsr_quant_device_kernels *device_kernels_of(const char *name)
{
#ifdef TSR_CUDA_EMU
    if (!strcmp(name, "q4_1"))
        return q4_1_device_kernels(TSR_DEVICE_KIND_CUDA);
    if (!strcmp(name, "q8_0"))
        return q8_0_device_kernels(TSR_DEVICE_KIND_CUDA);
    return q4_0_device_kernels(TSR_DEVICE_KIND_CUDA);
#else
    const tsr_quant_vtable *vt = quant(name);
    cr_assert_not_null(vt->device_kernels, "%s has no device_kernels member", name);
    return vt->device_kernels(TSR_DEVICE_KIND_CUDA);
#endif
}

/* Weights quantized by the real plugin; the CPU side is its dequantize and
 * a dot product in double. The device sums in float: within 1e-5 of the
 * sum of |w x| of the row. The lookup is exact (the formats' values are
 * products exact in float). */
static void check_format(const char *name, int64_t n_rows, int64_t n_cols)
{
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_device_kernels *dk = device_kernels_of(name);
    cr_assert_not_null(dk, "%s has no CUDA kernels", name);
    cr_assert_eq(dk->device_kind, (uint32_t)TSR_DEVICE_KIND_CUDA);
    size_t row_bytes = (size_t)(n_cols / vt->block_elems) * vt->block_bytes;
    std::vector<float> weights = random_floats(n_rows * n_cols, -1, 1);
    std::vector<uint8_t> w(n_rows * row_bytes);
    for (int64_t r = 0; r < n_rows; r++)
        vt->quantize(&weights[r * n_cols], &w[r * row_bytes], n_cols);
    std::vector<float> x = random_floats(n_cols, -1, 1), dequantized(n_rows * n_cols);
    std::vector<float> want(n_rows), bound(n_rows);
    for (int64_t r = 0; r < n_rows; r++) {
        float *row = &dequantized[r * n_cols];
        vt->dequantize(&w[r * row_bytes], row, n_cols);
        double sum = 0.0, magnitude = 0.0;
        for (int64_t c = 0; c < n_cols; c++) {
            sum += (double)row[c] * x[c];
            magnitude += fabs((double)row[c] * x[c]);
        }
        want[r] = (float)sum;
        bound[r] = (float)(1e-5 * magnitude);
    }
    const int32_t rows[] = {(int32_t)n_rows - 1, 0, 5, (int32_t)n_rows, -3};
    const int64_t n_out = 5, n_valid = 3;
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        device_buffer<uint8_t> dw(w);
        device_buffer<float> dx(x), dy(n_rows), dout(n_out * n_cols);
        device_buffer<int32_t> drows(rows, n_out);
        launched(dk->matvec_f32(dw.ptr, row_bytes, dx.ptr, dy.ptr, n_cols, n_rows, NULL), name,
                 o);
        std::vector<float> got = dy.get();
        for (int64_t r = 0; r < n_rows; r++)
            cr_assert(fabsf(got[r] - want[r]) <= bound[r],
                      "%s matvec_f32 (%s order), %ld x %ld: row %ld is %.9g, the CPU's %.9g "
                      "(tolerance %g)",
                      name, order_names[o], (long)n_rows, (long)n_cols, (long)r, got[r], want[r],
                      bound[r]);
        launched(dk->get_rows(dw.ptr, row_bytes, n_rows, drows.ptr, n_out, dout.ptr, n_cols, NULL),
                 name, o);
        std::vector<float> rows_got = dout.get();
        for (int64_t i = 0; i < n_valid; i++)
            expect_identical(name, o, &rows_got[i * n_cols], &dequantized[rows[i] * n_cols],
                             n_cols);
        for (int64_t c = n_valid * n_cols; c < n_out * n_cols; c++)
            cr_assert(isnan(rows_got[c]), "%s get_rows: a row outside W gives NaN", name);
    }
}

/* 576 columns (SmolLM2's width: 18 blocks, fewer than a warp's lanes) and
 * 2048 (64 blocks: two per lane); 37 rows, not a multiple of a CUDA
 * block's 4. */
Test(cuda, q4_1_matvec_and_rows_match_the_cpu)
{
    rng_state = 12;
    check_format("q4_1", 37, 576);
    check_format("q4_1", 37, 2048);
}

Test(cuda, q8_0_matvec_and_rows_match_the_cpu)
{
    rng_state = 13;
    check_format("q8_0", 37, 576);
    check_format("q8_0", 37, 2048);
}

Test(cuda, q4_0_matvec_and_rows_match_the_cpu)
{
    rng_state = 14;
    check_format("q4_0", 37, 576);
    check_format("q4_0", 37, 2048);
}

Test(cuda, quant_kernels_refuse_partial_blocks_and_misaligned_rows)
{
    const tsr_quant_device_kernels *dk = device_kernels_of("q4_1");
    float *p = (float *)(uintptr_t)64; /* never dereferenced: refused before a launch */
    cr_assert_eq(dk->matvec_f32(p, 20, p, p, 48, 1, NULL), cudaErrorInvalidValue,
                 "48 columns are not whole blocks");
    cr_assert_eq(dk->matvec_f32(p, 22, p, p, 32, 1, NULL), cudaErrorInvalidValue,
                 "22-byte rows break the 4-byte loads");
    cr_assert_eq(dk->matvec_f32(p, 20, p, p, 64, 1, NULL), cudaErrorInvalidValue,
                 "rows shorter than their blocks");
#ifdef TSR_CUDA_EMU
    cr_assert_null(q4_1_device_kernels(TSR_DEVICE_KIND_CUDA + 1), "no kernels for other kinds");
#endif
}

/* ---- the emulator itself ----------------------------------------------------- */
#ifdef TSR_CUDA_EMU

/* Each thread takes a ticket as it first runs. */
__global__ void ticket_kernel(int *tickets, int *next)
{
    tickets[blockIdx.x * blockDim.x + threadIdx.x] = atomicAdd(next, 1);
}

Test(cuda, emulator_orders_really_differ)
{
    std::vector<std::vector<int>> seen;
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        std::vector<int> tickets(2 * 64);
        int next = 0;
        TSR_LAUNCH(ticket_kernel, 2, 64, NULL, tickets.data(), &next);
        cr_assert_eq(cudaGetLastError(), cudaSuccess);
        cr_assert_eq(next, 128);
        seen.push_back(tickets);
    }
    /* forward: blocks and threads in index order; reverse: the opposite */
    for (int i = 0; i < 128; i++) {
        cr_assert_eq(seen[0][i], i);
        cr_assert_eq(seen[1][i], 127 - i);
    }
    cr_assert(seen[2] != seen[0] && seen[2] != seen[1], "the random order is another one");
}

/* A race: thread 0 publishes a value that the others read without a
 * __syncthreads between. The forward order hides it, the reverse shows it. */
__global__ void missing_barrier_kernel(int *out)
{
    __shared__ int published;
    if (threadIdx.x == 0)
        published = 42;
    /* no __syncthreads() here: the bug */
    out[threadIdx.x] = published;
    __syncthreads();
    if (threadIdx.x == 0)
        published = 0;
}

Test(cuda, emulator_orders_expose_a_missing_barrier)
{
    int wrong[N_ORDERS] = {0};
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        std::vector<int> out(64, -1);
        TSR_LAUNCH(missing_barrier_kernel, 1, 64, NULL, out.data());
        for (int v : out)
            wrong[o] += v != 42;
    }
    cr_assert_eq(wrong[0], 0, "forward: thread 0 runs first and every reader sees 42");
    cr_assert_eq(wrong[1], 63, "reverse: thread 0 runs last, after every reader");
    cr_assert(wrong[2] > 0 && wrong[2] < 63, "random: some readers run before thread 0 (%d)",
              wrong[2]);
}

__global__ void partial_syncthreads_kernel(float *out)
{
    if (threadIdx.x >= 16)
        return; /* half the block never reaches the barrier */
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void partial_shuffle_kernel(float *out)
{
    if (threadIdx.x % 2)
        return; /* odd lanes leave; the full-mask shuffle cannot complete */
    out[threadIdx.x] = tsr_warp_sum(1.0f);
}

/* Runs a launch in a child; returns its stderr and whether it aborted. */
static std::string run_in_child(void (*launch)(void), bool *aborted)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        launch();
        _exit(0);
    }
    close(fds[1]);
    std::string text;
    char buf[512];
    ssize_t got;
    while ((got = read(fds[0], buf, sizeof buf)) > 0)
        text.append(buf, (size_t)got);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    *aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    return text;
}

static void launch_partial_syncthreads(void)
{
    static float out[32];
    TSR_LAUNCH(partial_syncthreads_kernel, 1, 32, NULL, out);
}

static void launch_partial_shuffle(void)
{
    static float out[32];
    TSR_LAUNCH(partial_shuffle_kernel, 1, 32, NULL, out);
}

Test(cuda, emulator_aborts_on_a_syncthreads_reached_by_part_of_the_block)
{
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        bool aborted = false;
        std::string err = run_in_child(launch_partial_syncthreads, &aborted);
        cr_assert(aborted, "the launch aborts (%s order)", order_names[o]);
        cr_assert(err.find("kernel partial_syncthreads_kernel, block (0,0,0): __syncthreads "
                           "reached by 16 of 32 threads") != std::string::npos,
                  "the message names the kernel, the block and the count: %s", err.c_str());
    }
}

Test(cuda, emulator_aborts_on_a_shuffle_reached_by_part_of_the_warp)
{
    for (int o = 0; o < N_ORDERS; o++) {
        use_order(o);
        bool aborted = false;
        std::string err = run_in_child(launch_partial_shuffle, &aborted);
        cr_assert(aborted, "the launch aborts (%s order)", order_names[o]);
        cr_assert(err.find("__shfl_xor_sync reached by part of a warp") != std::string::npos &&
                      err.find("returned") != std::string::npos,
                  "the message names the operation and the lane that left: %s", err.c_str());
    }
}

Test(cuda, emulator_refuses_a_block_of_more_than_1024_threads)
{
    static float out[1];
    TSR_LAUNCH(partial_syncthreads_kernel, 1, 1025, NULL, out);
    cr_assert_eq(cudaGetLastError(), cudaErrorInvalidConfiguration);
    cr_assert_eq(cudaGetLastError(), cudaSuccess, "reading the error clears it");
}

#else

/* Asks for the devices in a child: CUDA cannot be used in a child forked
 * after the parent initialized it, and every Criterion test is such a
 * child. Returns an empty string when there is a device, else why not. */
static std::string why_no_device(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int count = 0;
        cudaError_t status = cudaGetDeviceCount(&count);
        char text[256] = "";
        cudaDeviceProp prop;
        if (status != cudaSuccess)
            snprintf(text, sizeof text, "no CUDA device: cudaGetDeviceCount says %s (%s)",
                     cudaGetErrorName(status), cudaGetErrorString(status));
        else if (count == 0)
            snprintf(text, sizeof text, "no CUDA device: cudaGetDeviceCount says 0");
        else if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
            fprintf(stderr, "device 0 of %d: %s, compute capability %d.%d\n", count, prop.name,
                    prop.major, prop.minor);
        ssize_t written = write(fds[1], text, strlen(text));
        _exit(written < 0);
    }
    close(fds[1]);
    std::string why;
    char buf[256];
    ssize_t got;
    while (pid > 0 && (got = read(fds[0], buf, sizeof buf)) > 0)
        why.append(buf, (size_t)got);
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
        return why.empty() ? "the device query failed" : why;
    return why;
}

/* Without a device the program skips, saying why, before Criterion starts. */
int main(int argc, char **argv)
{
    std::string why = why_no_device();
    if (!why.empty()) {
        printf("1..0 # SKIP %s\n", why.c_str());
        return 77;
    }
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}

#endif
