/* The quant plugins (plugins/quant/), loaded through the registry as the core
 * loads them:
 *   (a) dequantizing gives, bit for bit, the gguf package's floats for the
 *       same bytes (tests/reference/quant_ref.py wrote them, from the default
 *       model's tensors and seeded random blocks), on every ISA level;
 *   (b) quantizing gives the gguf package's bytes (ggml's own reference for
 *       q8_1, which the package lacks), on every level, and round-trips
 *       within the format's error bound;
 *   (c) every SIMD product equals the scalar reference on random data:
 *       integer dot products exactly, float sums within a rounding bound;
 *   (d) the registry finds each format by its GGUF type id. */
#include "quanttest.h"

TestSuite(quant, .init = quanttest_open, .fini = quanttest_close);

/* ---- (a) dequantizing, (b) quantizing --------------------------------- */

Test(quant, f32_dequantize_matches_gguf_package) { quanttest_check_dequantize("f32"); }
Test(quant, f16_dequantize_matches_gguf_package) { quanttest_check_dequantize("f16"); }
Test(quant, bf16_dequantize_matches_gguf_package) { quanttest_check_dequantize("bf16"); }
Test(quant, q8_0_dequantize_matches_gguf_package) { quanttest_check_dequantize("q8_0"); }
Test(quant, q4_1_dequantize_matches_gguf_package) { quanttest_check_dequantize("q4_1"); }
/* the package has no q8_1: the script computes d * q from ggml-common.h's layout */
Test(quant, q8_1_dequantize_matches_its_layout) { quanttest_check_dequantize("q8_1"); }

Test(quant, f32_quantize_matches_gguf_package) { quanttest_check_quantize("f32"); }
Test(quant, f16_quantize_matches_gguf_package) { quanttest_check_quantize("f16"); }
Test(quant, bf16_quantize_matches_gguf_package) { quanttest_check_quantize("bf16"); }
Test(quant, q8_0_quantize_matches_gguf_package) { quanttest_check_quantize("q8_0"); }
Test(quant, q4_1_quantize_matches_gguf_package) { quanttest_check_quantize("q4_1"); }
Test(quant, q8_1_quantize_matches_ggml_reference) { quanttest_check_quantize("q8_1"); }

/* Round trips. With a block's float scale d (and minimum min for q4_1), the
 * quantizer picks the nearest step, so before the scales are stored the
 * error is at most d/2; storing d and min as halves moves each by at most
 * 2^-11 of itself, and a step count q (at most 127, or 15) multiplies d's
 * share. Hence |x - dequantize(quantize(x))| is at most
 *   q8_0, q8_1:  d/2 + 127 * 2^-11 * d
 *   q4_1:        d/2 +  15 * 2^-11 * d + 2^-11 * |min|
 * plus float rounding of the arithmetic (1e-6 of the block's magnitude),
 * as long as d and min are normal halves, which these data keep them. */
static void check_round_trip(const char *name, int max_step, bool has_min)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    enum { N_BLOCKS = 64 };
    int64_t n = (int64_t)N_BLOCKS * vt->block_elems;
    float *x = malloc((size_t)n * sizeof *x), *back = malloc((size_t)n * sizeof *back);
    uint8_t *q = malloc((size_t)N_BLOCKS * vt->block_bytes);
    quanttest_rng rng = {0x5eed5eed5eedull};
    for (int b = 0; b < N_BLOCKS; b++) {
        float scale = powf(10.0f, (float)(b % 6) - 2.0f); /* 0.01 .. 1000 */
        float offset = has_min && b % 2 ? 2.5f * scale : 0.0f;
        for (uint32_t j = 0; j < vt->block_elems; j++)
            x[b * vt->block_elems + j] = quanttest_normalish(&rng) * scale + offset;
    }
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, NULL);
        vt->quantize(x, q, n);
        vt->dequantize(q, back, n);
        for (int b = 0; b < N_BLOCKS; b++) {
            const float *xb = x + b * vt->block_elems;
            float lo = xb[0], hi = xb[0], amax = 0.0f;
            for (uint32_t j = 0; j < vt->block_elems; j++) {
                lo = fminf(lo, xb[j]);
                hi = fmaxf(hi, xb[j]);
                amax = fmaxf(amax, fabsf(xb[j]));
            }
            float d = has_min ? (hi - lo) / (float)max_step : amax / (float)max_step;
            float bound = d / 2 + (float)max_step * d / 2048 + (has_min ? fabsf(lo) / 2048 : 0) +
                          1e-6f * (amax + d);
            for (uint32_t j = 0; j < vt->block_elems; j++) {
                float err = fabsf(xb[j] - back[b * vt->block_elems + j]);
                cr_assert(err <= bound,
                          "%s (ISA level %s): block %d value %u: %g came back as %g, off by %g, "
                          "more than the bound %g",
                          name, quanttest_levels[level], b, j, (double)xb[j],
                          (double)back[b * vt->block_elems + j], (double)err, (double)bound);
            }
        }
    }
    free(x);
    free(back);
    free(q);
}

Test(quant, q8_0_round_trip_stays_within_half_a_step) { check_round_trip("q8_0", 127, false); }
Test(quant, q8_1_round_trip_stays_within_half_a_step) { check_round_trip("q8_1", 127, false); }
Test(quant, q4_1_round_trip_stays_within_half_a_step) { check_round_trip("q4_1", 15, true); }

/* q8_1's s is d * sum(q) rounded to a half, as the products rely on. It is
 * computed from d before d is itself rounded to a half, so against the
 * stored d it is off by both roundings: at most 2 * 2^-11 of itself. */
Test(quant, q8_1_sum_field_is_the_scaled_sum_of_its_quants)
{
    const tsr_quant_vtable *vt = quanttest_find("q8_1");
    float x[64];
    uint8_t q[72];
    quanttest_rng rng = {77};
    for (int i = 0; i < 64; i++)
        x[i] = quanttest_normalish(&rng) + (i < 32 ? 0.3f : -0.1f);
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, NULL);
        vt->quantize(x, q, 64);
        for (int b = 0; b < 2; b++) {
            const uint8_t *block = q + 36 * b;
            int sum = 0;
            for (int j = 0; j < 32; j++)
                sum += (int8_t)block[4 + j];
            float want = quanttest_half_at(block) * (float)sum, got = quanttest_half_at(block + 2);
            cr_assert(fabsf(got - want) <= fabsf(want) / 1024,
                      "q8_1 (ISA level %s): block %d has s = %g, d * sum(q) = %g",
                      quanttest_levels[level], b, (double)got, (double)want);
        }
    }
}

/* ---- (c) products ----------------------------------------------------- */

/* q4_1 adds its m * s terms apart from the d * dx * dot ones, so those may
 * be as large as sum_i (|w_i| + |m|) |x_i| + |m * s| when they cancel. */
static void q4_1_terms(const uint8_t *w_block, const uint8_t *x_block, const void *ctx,
                       double *a, double *c)
{
    (void)ctx;
    *a = fabs(quanttest_half_at(w_block + 2));
    *c = *a * fabs(quanttest_half_at(x_block + 2));
}

static const int64_t block32_cols[] = {32, 96, 576, 1056};
static const int64_t float_cols[] = {1, 7, 8, 37, 576};
/* a term per block (per value for the float formats) */
static const quanttest_products per_block = {0};
static const quanttest_products q4_1_rounding = {.terms = q4_1_terms};

Test(quant, q4_1_simd_products_match_scalar_reference)
{
    quanttest_check_products("q4_1", block32_cols, 4, &q4_1_rounding);
}
Test(quant, q8_0_simd_products_match_scalar_reference)
{
    quanttest_check_products("q8_0", block32_cols, 4, &per_block);
}
Test(quant, f32_simd_products_match_scalar_reference)
{
    quanttest_check_products("f32", float_cols, 5, &per_block);
}
Test(quant, f16_simd_products_match_scalar_reference)
{
    quanttest_check_products("f16", float_cols, 5, &per_block);
}
Test(quant, bf16_simd_products_match_scalar_reference)
{
    quanttest_check_products("bf16", float_cols, 5, &per_block);
}

/* bf16 on AVX512-BF16 (the path "native" picks where the CPU has it)
 * rounds its f32 activations to bfloat16, nearest even, as ggml's bf16
 * products do; elsewhere the products take the floats as they are. */
static bool has_avx512bf16(uint32_t features)
{
    const uint32_t need = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C |
                          TSR_CPU_AVX512F | TSR_CPU_AVX512BW | TSR_CPU_AVX512VL |
                          TSR_CPU_AVX512BF16;
    return (features & need) == need;
}

/* f rounded to bfloat16, nearest even (finite f) */
static float test_bf16_round(float f)
{
    uint32_t u = quanttest_bits(f);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* Row r holds 1.0 in column 3r % n_cols and zeros elsewhere, so y[t][r] is
 * that activation as the path takes it: bfloat16 nearest even (ties
 * included) on AVX512-BF16, the float itself otherwise. 45 columns: one
 * whole 32-column step and a masked one. */
Test(quant, bf16_native_path_rounds_activations_to_nearest_even_or_not_at_all)
{
    const tsr_quant_vtable *vt = quanttest_find("bf16");
    quanttest_use_level("native", vt, NULL);
    bool bf16_path = has_avx512bf16(tsr_cpu_features());
    cr_assert_eq(strcmp(vt->kernel_name(), "avx512bf16") == 0, bf16_path,
                 "kernel %s with%s AVX512-BF16", vt->kernel_name(), bf16_path ? "" : "out");
    enum { COLS = 45, ROWS = 13, TOKENS = 6 };
    uint8_t w[ROWS * COLS * 2] = {0};
    float x[TOKENS * COLS], y[TOKENS * ROWS], y_matvec[ROWS];
    for (int r = 0; r < ROWS; r++)
        quanttest_put_half(w + 2 * (r * COLS + (3 * r) % COLS), 0x3f80); /* bf16 1.0 */
    quanttest_rng rng = {0xbf16};
    for (int i = 0; i < TOKENS * COLS; i++) {
        /* normal floats with every low half: exact ties (0x8000) on odd
         * and even bfloat16s, just below and above them */
        static const uint32_t lows[] = {0x8000, 0x7fff, 0x8001, 0x0000, 0xffff};
        uint32_t u = (uint32_t)(quanttest_next(&rng) >> 32);
        u = (u & 0x80ff0000u) | (0x3c000000u + ((u >> 8) & 0x03000000u));
        u |= i % 7 < 5 ? lows[i % 7] : (u >> 5 & 0xffffu);
        memcpy(&x[i], &u, sizeof u);
    }
    vt->matmat(w, COLS * 2, x, COLS * 4, y, ROWS, COLS, TOKENS, 0, ROWS);
    for (int t = 0; t < TOKENS; t++) {
        vt->matvec(w, COLS * 2, x + t * COLS, y_matvec, COLS, 0, ROWS);
        for (int r = 0; r < ROWS; r++) {
            float a = x[t * COLS + (3 * r) % COLS];
            float want = bf16_path ? test_bf16_round(a) : a;
            cr_assert_eq(quanttest_bits(y[t * ROWS + r]), quanttest_bits(want),
                         "%s: token %d row %d: %a for activation %a, want %a", vt->kernel_name(),
                         t, r, (double)y[t * ROWS + r], (double)a, (double)want);
            cr_assert_eq(quanttest_bits(y_matvec[r]), quanttest_bits(want),
                         "%s matvec: token %d row %d", vt->kernel_name(), t, r);
        }
    }
}

/* Random rows on the native path against (a) the exact sum of w * x with
 * x as the path rounds it, within the summation bound of the float paths
 * (2 (n + 3) u of sum |w x|: nothing but the activations' rounding may
 * differ), and (b) matmat_reference within that plus the product_rounding
 * bf16 declares (2^-8 of sum |w x|; each activation moves by at most 2^-9 of
 * itself). Columns across whole and masked 32-column steps; matvec and
 * matmat over several row ranges and token counts. */
Test(quant, bf16_native_products_match_exact_sums_and_reference_within_declared_rounding)
{
    const tsr_quant_vtable *vt = quanttest_find("bf16");
    quanttest_use_level("native", vt, NULL);
    bool bf16_path = has_avx512bf16(tsr_cpu_features());
    cr_assert_float_eq(vt->product_rounding, 0x1p-8f, 0.0f);
    static const int64_t cols[] = {1, 7, 31, 32, 33, 64, 203, 576};
    static const int ranges[][2] = {{0, 13}, {3, 11}, {5, 6}, {1, 9}};
    static const int token_counts[] = {1, 2, 3, 4, 5, 9, 33, 70};
    enum { ROWS = 13, MAX_T = 70 };
    quanttest_rng rng = {0x5eed0bf16};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        int64_t n = cols[k];
        uint8_t *w = malloc((size_t)(ROWS * n * 2));
        float *x = malloc(sizeof(float) * (size_t)(MAX_T * n));
        float *wf = malloc(sizeof(float) * (size_t)(ROWS * n));
        float *y = malloc(sizeof(float) * ROWS * MAX_T);
        float *y_ref = malloc(sizeof(float) * ROWS * MAX_T);
        for (int64_t i = 0; i < ROWS * n; i++)
            wf[i] = quanttest_normalish(&rng);
        vt->quantize_reference(wf, w, ROWS * n);
        vt->dequantize(w, wf, ROWS * n);
        for (int64_t i = 0; i < MAX_T * n; i++)
            x[i] = quanttest_normalish(&rng) * (float)(1 + i % 5);
        vt->matmat_reference(w, (size_t)n * 2, x, (size_t)n * 4, y_ref, ROWS, n, MAX_T, 0, ROWS);
        for (size_t kt = 0; kt < sizeof token_counts / sizeof token_counts[0]; kt++)
            for (size_t g = 0; g < sizeof ranges / sizeof ranges[0]; g++) {
                int n_t = token_counts[kt], r0 = ranges[g][0], r1 = ranges[g][1];
                for (int i = 0; i < ROWS * MAX_T; i++)
                    y[i] = -1234.5f;
                if (n_t == 1)
                    vt->matvec(w, (size_t)n * 2, x, y, n, r0, r1);
                else
                    vt->matmat(w, (size_t)n * 2, x, (size_t)n * 4, y, ROWS, n, n_t, r0, r1);
                for (int t = 0; t < MAX_T; t++)
                    for (int r = 0; r < ROWS; r++) {
                        float got = y[t * ROWS + r];
                        if (t >= n_t || r < r0 || r >= r1) {
                            cr_assert_eq(got, -1234.5f, "wrote y[%d][%d] outside its range", t,
                                         r);
                            continue;
                        }
                        double exact = 0.0, mag = 0.0, mag_x = 0.0;
                        for (int64_t c = 0; c < n; c++) {
                            float a = x[t * n + c];
                            float xa = bf16_path ? test_bf16_round(a) : a;
                            exact += (double)wf[r * n + c] * xa;
                            mag += fabs((double)wf[r * n + c] * xa);
                            mag_x += fabs((double)wf[r * n + c] * a);
                        }
                        double sums = 2.0 * (double)(n + 3) * FLT_EPSILON;
                        cr_assert(fabs(got - exact) <= sums * mag + FLT_MIN,
                                  "%s: %lld columns, %d tokens, rows [%d, %d): y[%d][%d] = %.9g, "
                                  "the exact sum %.9g (bound %.3g)",
                                  vt->kernel_name(), (long long)n, n_t, r0, r1, t, r,
                                  (double)got, exact, sums * mag);
                        double declared = (sums + vt->product_rounding) * mag_x + FLT_MIN;
                        cr_assert(fabs((double)got - y_ref[t * ROWS + r]) <= declared,
                                  "%s: %lld columns: y[%d][%d] = %.9g, reference %.9g",
                                  vt->kernel_name(), (long long)n, t, r, (double)got,
                                  (double)y_ref[t * ROWS + r]);
                    }
            }
        free(w), free(x), free(wf), free(y), free(y_ref);
    }
}

/* q8_0's AVX-512 VNNI products (16 rows a zmm for matmat, 4 rows for
 * matvec) compute what the scalar reference computes, in its order. */
Test(quant, q8_0_avx512vnni_products_equal_the_scalar_reference_bit_for_bit)
{
    quanttest_check_tier_equals_reference("q8_0", "avx512vnni");
}

/* Exact products (quanttest_check_exact_products). q4_1: d = 1, m in
 * {-2, 0, 3}, every nibble random. */
static void fill_q4_1_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    static const uint16_t minimums[] = {0xc000, 0x0000, 0x4200};
    quanttest_put_half(block, 0x3c00);
    quanttest_put_half(block + 2, minimums[quanttest_next(rng) % 3]);
    for (int j = 0; j < 16; j++)
        block[4 + j] = (uint8_t)quanttest_next(rng);
}

Test(quant, q4_1_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("q4_1", 1024, fill_q4_1_exact, quanttest_fill_q8_1_exact, NULL);
}

Test(quant, q8_0_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("q8_0", 1024, quanttest_fill_q8_0_exact,
                                   quanttest_fill_q8_0_exact, NULL);
}

/* ---- (d) the registry, and which path runs ---------------------------- */

static const struct {
    const char *name;
    uint32_t gguf_type;
} formats[] = {
    {"f32", 0}, {"f16", 1}, {"q4_1", 3}, {"q8_0", 8}, {"q8_1", 9}, {"bf16", 30},
};

Test(quant, registry_finds_each_format_by_its_gguf_type)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const tsr_plugin *p = tsr_registry_find_quant(quanttest_registry, formats[i].gguf_type);
        cr_assert_not_null(p, "no plugin claims GGUF type %u", formats[i].gguf_type);
        cr_assert_str_eq(p->name, formats[i].name, "GGUF type %u", formats[i].gguf_type);
        cr_assert_eq(p->kind, TSR_PLUGIN_QUANT);
    }
    cr_assert_null(tsr_registry_find_quant(quanttest_registry, 9999), "nothing claims an unknown type");
}

Test(quant, product_formats_name_a_loaded_activation_form)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const tsr_quant_vtable *vt = quanttest_find(formats[i].name);
        if (vt->flags & TSR_QUANT_ACTIVATION) {
            cr_assert_null(vt->matvec, "%s is an activation form only", formats[i].name);
            continue;
        }
        const tsr_quant_vtable *act = quanttest_activation_of(vt);
        cr_assert_not_null(act->quantize, "%s's activation form cannot quantize",
                           formats[i].name);
        cr_assert_eq(vt->block_elems % act->block_elems, 0, "%s: blocks do not line up",
                     formats[i].name);
    }
    cr_assert(quanttest_find("q8_1")->flags & TSR_QUANT_ACTIVATION);
    cr_assert(quanttest_find("f16")->flags & TSR_QUANT_KV_CACHE);
    cr_assert(quanttest_find("q8_0")->flags & TSR_QUANT_KV_CACHE);
    cr_assert(quanttest_find("f32")->flags & TSR_QUANT_KV_CACHE);
}

Test(quant, kernel_name_reports_the_best_path_each_isa_level_allows)
{
    const char *names[sizeof formats / sizeof formats[0]];
    bool vnni[sizeof formats / sizeof formats[0]];
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        names[i] = formats[i].name;
        vnni[i] = strcmp(names[i], "q4_1") == 0 || strcmp(names[i], "q8_0") == 0;
    }
    quanttest_check_kernel_names(names, vnni, sizeof formats / sizeof formats[0]);
    quanttest_use_level("scalar", quanttest_find("q4_1"), NULL);
    cr_assert_str_eq(quanttest_find("q4_1")->kernel_name(), "scalar");
}

/* The loader calls init itself (plugin.h: once after loading), with the
 * features allowed at that moment: a plugin is never left on its scalar
 * default by a core that forgot to. */
Test(quant, loading_initialises_each_plugin_for_the_allowed_features)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_cpu_set_limit("avx2", &err), TSR_OK, "%s", err.message);
    const char *dir = test_path(test_builddir(), "plugins/.libs");
    tsr_registry *limited;
    cr_assert_eq(tsr_registry_open(&dir, 1, &limited, &err), TSR_OK, "%s", err.message);
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const tsr_plugin *p = tsr_registry_find(limited, TSR_PLUGIN_QUANT, formats[i].name);
        cr_assert_not_null(p);
        const char *want = quanttest_expected_path(tsr_cpu_features(), true);
        cr_assert_str_eq(tsr_plugin_quant(p)->kernel_name(), want, "%s after loading",
                         formats[i].name);
    }
    tsr_registry_close(limited);
}
