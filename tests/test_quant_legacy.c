/* The quant plugins of ggml's other 4- and 5-bit formats, q4_0, q5_0, q5_1,
 * iq4_nl and iq4_xs (plugins/quant/FORMAT/), loaded through the registry as
 * the core loads them:
 *   (a) dequantizing gives, bit for bit, the gguf package's floats for the
 *       same bytes (tests/reference/quant_legacy_ref.py wrote them, from a
 *       file llama.cpp's quantizer made and seeded random blocks), on every
 *       ISA level;
 *   (b) quantizing gives the gguf package's bytes (for iq4_nl and iq4_xs,
 *       which the package cannot quantize, ggml's quantize_iq4_nl's and
 *       quantize_iq4_xs's), on every level, and round-trips within the
 *       format's error bound;
 *   (c) every SIMD product equals the scalar reference on random data:
 *       integer dot products exactly, float sums within a rounding bound,
 *       for n_tokens 1..9 and across the token chunks, and odd row ranges;
 *   (d) the registry finds each format by its GGUF type id, with the
 *       activation form ggml pairs it with, and reports the path it runs. */
#include <float.h>

#include "quanttest.h"

TestSuite(quant_legacy, .init = quanttest_open, .fini = quanttest_close);

/* ---- (a) dequantizing, (b) quantizing --------------------------------- */

Test(quant_legacy, q4_0_dequantize_matches_gguf_package) { quanttest_check_dequantize("q4_0"); }
Test(quant_legacy, q5_0_dequantize_matches_gguf_package) { quanttest_check_dequantize("q5_0"); }
Test(quant_legacy, q5_1_dequantize_matches_gguf_package) { quanttest_check_dequantize("q5_1"); }
Test(quant_legacy, iq4_nl_dequantize_matches_gguf_package)
{
    quanttest_check_dequantize("iq4_nl");
}
Test(quant_legacy, iq4_xs_dequantize_matches_gguf_package)
{
    quanttest_check_dequantize("iq4_xs");
}

Test(quant_legacy, q4_0_quantize_matches_gguf_package)
{
    quanttest_check_quantize("q4_0");
}
Test(quant_legacy, q5_0_quantize_matches_gguf_package)
{
    quanttest_check_quantize("q5_0");
}
Test(quant_legacy, q5_1_quantize_matches_gguf_package)
{
    quanttest_check_quantize("q5_1");
}
/* the package cannot quantize iq4_nl: the bytes are ggml's quantize_iq4_nl's */
Test(quant_legacy, iq4_nl_quantize_matches_ggml)
{
    quanttest_check_quantize("iq4_nl");
}
Test(quant_legacy, iq4_xs_quantize_matches_ggml)
{
    quanttest_check_quantize("iq4_xs");
}

/* Round trips, from random blocks of magnitudes 0.01 .. 1000, some offset
 * from zero. Let d be the block's float scale before it is stored as a half
 * (which moves it by at most 2^-11 of itself, an error a step count s
 * multiplies).
 *   q4_0, q5_0: d = max / -N (N = 8, 16): the value of largest magnitude is
 *     exactly -N steps, every other value within half a step of the
 *     nearest, except that +N steps is clamped to N - 1: error at most
 *     d + N * 2^-11 * d.
 *   q5_1: d = (max - min) / 31, nearest step: d/2 + 31 * 2^-11 * d, plus
 *     2^-11 * |min| from storing min as a half.
 * plus float rounding of the arithmetic (1e-6 of the block's magnitude). */
static void check_round_trip(const char *name, int n_steps, bool has_min)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    enum { N_BLOCKS = 64 };
    int64_t n = (int64_t)N_BLOCKS * vt->block_elems;
    float *x = malloc((size_t)n * sizeof *x), *back = malloc((size_t)n * sizeof *back);
    uint8_t *q = malloc((size_t)N_BLOCKS * vt->block_bytes);
    quanttest_rng rng = {0x5eed5eed5eedull ^ vt->gguf_type};
    for (int b = 0; b < N_BLOCKS; b++) {
        float scale = powf(10.0f, (float)(b % 6) - 2.0f);
        float offset = b % 2 ? 2.5f * scale : 0.0f;
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
            float bound;
            if (has_min) {
                float d = (hi - lo) / (float)n_steps;
                bound = d / 2 + (float)n_steps * d / 2048 + fabsf(lo) / 2048;
            } else {
                float d = amax / (float)n_steps;
                bound = d + (float)n_steps * d / 2048;
            }
            bound += 1e-6f * amax;
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

Test(quant_legacy, q4_0_round_trip_stays_within_a_step) { check_round_trip("q4_0", 8, false); }
Test(quant_legacy, q5_0_round_trip_stays_within_a_step) { check_round_trip("q5_0", 16, false); }
Test(quant_legacy, q5_1_round_trip_stays_within_half_a_step)
{
    check_round_trip("q5_1", 31, true);
}

/* The iq4 formats' steps are a table, and their scales least-squares fits,
 * so the bound is per value: each value must come back as the table step
 * nearest to it at its 32 values' stored scale (iq4_nl: d; iq4_xs: d times
 * the sub-block's 6-bit scale), give or take what storing d as a half moved
 * (at most 2^-11 of that scale per unit of step, and steps reach 127).
 * Also, over all the blocks, the RMS error must stay below 1/10 of the
 * data's RMS (measured: iq4_nl 7.3%, iq4_xs 7.4%; q4_0's on the same data
 * is 8.1%). The groups of 32 differ in size, 0.01 to 1000, so one iq4_xs
 * block meets sub-block scales of every size, down to 0 for groups too
 * small for the block's d (nothing is nearer then). */
static const int8_t iq4_steps[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* The stored scale of values 32i .. 32i + 31 of block `block`. */
static float iq4_group_scale(const char *name, const uint8_t *q, int64_t group)
{
    if (strcmp(name, "iq4_nl") == 0)
        return quanttest_half_at(q + 18 * group);
    const uint8_t *block = q + 136 * (group / 8);
    int i = (int)(group % 8);
    int ls = (block[4 + i / 2] >> 4 * (i % 2) & 15) | ((block[2] | block[3] << 8) >> 2 * i & 3) << 4;
    return quanttest_half_at(block) * (float)(ls - 32);
}

static void check_iq4_round_trip(const char *name)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    enum { N = 96 * 32 };
    int64_t n_groups = N / 32;
    float *x = malloc(N * sizeof *x), *back = malloc(N * sizeof *back);
    uint8_t *q = malloc((size_t)(N / vt->block_elems) * vt->block_bytes);
    quanttest_rng rng = {0x1a4e1a4e};
    for (int64_t g = 0; g < n_groups; g++) {
        float scale = powf(10.0f, (float)(g % 6) - 2.0f);
        float offset = g % 3 == 1 ? 1.5f * scale : 0.0f;
        for (int j = 0; j < 32; j++)
            x[g * 32 + j] = quanttest_normalish(&rng) * scale + offset;
    }
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, NULL);
        vt->quantize(x, q, N);
        vt->dequantize(q, back, N);
        double err2 = 0, sig2 = 0;
        for (int64_t g = 0; g < n_groups; g++) {
            float d = iq4_group_scale(name, q, g);
            for (int j = 0; j < 32; j++) {
                float v = x[g * 32 + j], got = back[g * 32 + j];
                float nearest = INFINITY;
                for (int k = 0; k < 16; k++)
                    nearest = fminf(nearest, fabsf(v - d * (float)iq4_steps[k]));
                float slack = 2 * 127.0f * fabsf(d) / 2048 + 1e-6f * fabsf(v);
                cr_assert(fabsf(v - got) <= nearest + slack,
                          "%s (ISA level %s): group %lld value %d: %g came back as %g; the "
                          "nearest step at scale %g is %g away",
                          name, quanttest_levels[level], (long long)g, j, (double)v,
                          (double)got, (double)d, (double)nearest);
                err2 += (double)(v - got) * (v - got);
                sig2 += (double)v * v;
            }
        }
        cr_assert_lt(sqrt(err2 / sig2), 0.1, "%s: relative RMS error %.4f", name,
                     sqrt(err2 / sig2));
    }
    free(x);
    free(back);
    free(q);
}

Test(quant_legacy, iq4_nl_round_trip_picks_the_nearest_step) { check_iq4_round_trip("iq4_nl"); }
Test(quant_legacy, iq4_xs_round_trip_picks_the_nearest_step) { check_iq4_round_trip("iq4_xs"); }

/* ---- (c) products ----------------------------------------------------- */

/* q5_1 keeps its minimum m (a half) at byte 2, its activations (q8_1)
 * sx = dx * sum(p) at byte 2; it adds its m * sx terms apart from the
 * d * dx * dot ones, so those may be as large as
 * sum_i (|w_i| + |m|) |x_i| + |m * sx| when they cancel. */
static void q5_1_terms(const uint8_t *w_block, const uint8_t *x_block, const void *ctx,
                       double *a, double *c)
{
    (void)ctx;
    *a = fabs(quanttest_half_at(w_block + 2));
    *c = *a * fabs(quanttest_half_at(x_block + 2));
}

static const int64_t block32_cols[] = {32, 96, 576, 1056};
static const int64_t block256_cols[] = {256, 768, 1536};
/* a term per 32 values (iq4_xs: per sub-block) */
static const quanttest_products per_32 = {.term_elems = 32};
static const quanttest_products q5_1_rounding = {.term_elems = 32, .terms = q5_1_terms};

Test(quant_legacy, q4_0_simd_products_match_scalar_reference)
{
    quanttest_check_products("q4_0", block32_cols, 4, &per_32);
}
Test(quant_legacy, q5_0_simd_products_match_scalar_reference)
{
    quanttest_check_products("q5_0", block32_cols, 4, &per_32);
}
Test(quant_legacy, q5_1_simd_products_match_scalar_reference)
{
    quanttest_check_products("q5_1", block32_cols, 4, &q5_1_rounding);
}
Test(quant_legacy, iq4_nl_simd_products_match_scalar_reference)
{
    quanttest_check_products("iq4_nl", block32_cols, 4, &per_32);
}
Test(quant_legacy, iq4_xs_simd_products_match_scalar_reference)
{
    quanttest_check_products("iq4_xs", block256_cols, 3, &per_32);
}

/* Exact products (quanttest_check_exact_products). Weights: d = 1 (and m in
 * {-2, 0, 3}), every other byte random, so every index, bit and scale
 * occurs. */
static void fill_random_bytes(uint8_t *p, size_t n, quanttest_rng *rng)
{
    for (size_t j = 0; j < n; j++)
        p[j] = (uint8_t)quanttest_next(rng);
}

static void fill_q4_0_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_put_half(block, 0x3c00);
    fill_random_bytes(block + 2, 16, rng);
}

static void fill_q5_0_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_put_half(block, 0x3c00);
    fill_random_bytes(block + 2, 20, rng);
}

static void fill_q5_1_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    static const uint16_t minimums[] = {0xc000, 0x0000, 0x4200};
    quanttest_put_half(block, 0x3c00);
    quanttest_put_half(block + 2, minimums[quanttest_next(rng) % 3]);
    fill_random_bytes(block + 4, 20, rng);
}

/* iq4_xs: d = 1, every scale, index and so every sub-block scale random. */
static void fill_iq4_xs_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_put_half(block, 0x3c00);
    fill_random_bytes(block + 2, 134, rng);
}

/* q8_K: p in [-3, 3], so that a block's sum, up to 8 * 32 * 32 * 127 * 3,
 * and four blocks' stay exact in float. */
static void fill_q8_k_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_fill_q8_k(block, rng, 3);
}

/* q4_0's AVX-512 VNNI products (16 rows a zmm for matmat, 4 rows for
 * matvec) compute what the scalar reference computes, in its order. */
Test(quant_legacy, q4_0_avx512vnni_products_equal_the_scalar_reference_bit_for_bit)
{
    quanttest_check_tier_equals_reference("q4_0", "avx512vnni");
}

Test(quant_legacy, q4_0_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("q4_0", 1024, fill_q4_0_exact, quanttest_fill_q8_0_exact, NULL);
}
Test(quant_legacy, q5_0_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("q5_0", 1024, fill_q5_0_exact, quanttest_fill_q8_0_exact, NULL);
}
Test(quant_legacy, q5_1_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("q5_1", 1024, fill_q5_1_exact, quanttest_fill_q8_1_exact, NULL);
}
Test(quant_legacy, iq4_nl_integer_products_are_exact_on_every_isa)
{
    /* iq4_nl's block is q4_0's: a half and 16 bytes of nibbles */
    quanttest_check_exact_products("iq4_nl", 1024, fill_q4_0_exact, quanttest_fill_q8_0_exact,
                                   NULL);
}
Test(quant_legacy, iq4_xs_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("iq4_xs", 1024, fill_iq4_xs_exact, fill_q8_k_exact, NULL);
}

/* ---- (d) the registry, and which path runs ---------------------------- */

static const quanttest_format formats[] = {
    {"q4_0", 2, 32, 18, "q8_0", true},
    {"q5_0", 6, 32, 22, "q8_0", true},
    {"q5_1", 7, 32, 24, "q8_1", true},
    {"iq4_nl", 20, 32, 18, "q8_0", true},
    {"iq4_xs", 23, 256, 136, "q8_k", true},
};

Test(quant_legacy, registry_finds_each_format_by_its_gguf_type_with_ggml_geometry)
{
    quanttest_check_registry(formats, sizeof formats / sizeof formats[0]);
}

Test(quant_legacy, kernel_name_reports_the_best_path_each_isa_level_allows)
{
    quanttest_check_format_kernel_names(formats, sizeof formats / sizeof formats[0]);
    quanttest_use_level("native", quanttest_find("q4_0"), NULL);
}
