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
