/* The K-quant plugins (plugins/quant/q{2,3,4,5,6}_k) and q8_k, their
 * activation form, loaded through the registry as the core loads them:
 *   (a) dequantizing gives, bit for bit, the gguf package's floats for the
 *       same bytes (ggml's for q8_k), on every ISA level; the bytes come from
 *       llama.cpp's own K-quant files of the default model, from ggml's
 *       quantizer on the model's weights, and from seeded random blocks
 *       (tests/reference/quant_k_ref.py);
 *   (b) q8_k quantizes to ggml's bytes on every level;
 *   (c) the weight formats' quantizers (a least-squares search over
 *       candidate grids, kquant_quantize.h) round-trip with no more
 *       squared error than rounding to the covering grid would leave, and
 *       their error stays within a stated factor of ggml's own
 *       quantizers' on the same floats;
 *   (d) every SIMD product equals the scalar reference on random data,
 *       n_tokens 1..9 and odd row ranges: bit for bit where every sum is an
 *       exact integer, within a rounding bound otherwise;
 *   (e) the registry finds each by its GGUF type, and each level runs the
 *       path it should. */
#include <float.h>

#include "quanttest.h"

TestSuite(quant_k, .init = quanttest_open, .fini = quanttest_close);

/* What the tests need to know of each weight format's layout: where its
 * f16 scales are and the ranges of its integers. Affine formats are
 * d * sc * q - dmin * m (q in 0..max_q, sc and m in 0..max_scale),
 * symmetric ones d * sc * (u - offset) (q = u - offset in
 * -q_high - 1..q_high, |sc| <= max_scale + 1). */
typedef struct kformat {
    const char *name;
    uint32_t gguf_type, block_bytes;
    bool affine;
    int max_q;       /* affine: the largest q; symmetric: q_high */
    int max_scale;   /* what the quantizer uses; the format allows one more when symmetric */
    int sub_len;     /* values per scale */
    int d_offset;    /* byte offset of d */
    int dmin_offset; /* byte offset of dmin, -1 when symmetric */
} kformat;

static const kformat kformats[] = {
    {"q4_k", 12, 144, true, 15, 63, 32, 0, 2},
    {"q6_k", 14, 210, false, 31, 127, 16, 208, -1},
    {"q5_k", 13, 176, true, 31, 63, 32, 0, 2},
    {"q3_k", 11, 110, false, 3, 31, 16, 108, -1},
    {"q2_k", 10, 84, true, 3, 15, 16, 80, 82},
};
enum { N_KFORMATS = sizeof kformats / sizeof kformats[0] };

static const kformat *kformat_of(const char *name)
{
    for (int i = 0; i < N_KFORMATS; i++)
        if (strcmp(kformats[i].name, name) == 0)
            return &kformats[i];
    cr_assert_fail("no K format %s", name);
    return NULL;
}

/* ---- (a) dequantizing, (b) quantizing q8_k ------------------------------ */

Test(quant_k, q8_k_dequantize_matches_ggml) { quanttest_check_dequantize("q8_k"); }
Test(quant_k, q4_k_dequantize_matches_gguf_package) { quanttest_check_dequantize("q4_k"); }
Test(quant_k, q6_k_dequantize_matches_gguf_package) { quanttest_check_dequantize("q6_k"); }
Test(quant_k, q5_k_dequantize_matches_gguf_package) { quanttest_check_dequantize("q5_k"); }
Test(quant_k, q3_k_dequantize_matches_gguf_package) { quanttest_check_dequantize("q3_k"); }
Test(quant_k, q2_k_dequantize_matches_gguf_package) { quanttest_check_dequantize("q2_k"); }

/* the bytes of ggml's quantize_row_q8_K_ref */
Test(quant_k, q8_k_quantize_matches_ggml_reference) { quanttest_check_quantize("q8_k"); }

/* ---- (c) the weight formats' quantizers --------------------------------- */

/* The error bound of rounding value j of block x (256 floats) to the
 * nearest level of the grid that covers each sub-block's range with the
 * smallest step its integer scale allows (tessera's first K-quant
 * quantizers did that): from the data alone; each half-rounded scale may
 * be up to 2^-10 above its float, so 2^-9 is allowed, and 1e-6 of the
 * block's largest magnitude covers the float arithmetic. */
static float round_trip_bound(const kformat *f, const float *x, int j)
{
    const float half_up = 1.0f + 1.0f / 512;
    float amax = 0.0f;
    for (int i = 0; i < 256; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    int n_sub = 256 / f->sub_len, sub = j / f->sub_len;
    float lo[16], hi[16], max_low = 0.0f;
    for (int s = 0; s < n_sub; s++) {
        lo[s] = 0.0f;
        hi[s] = x[s * f->sub_len];
        for (int i = 0; i < f->sub_len; i++) {
            lo[s] = fminf(lo[s], x[s * f->sub_len + i]);
            hi[s] = fmaxf(hi[s], x[s * f->sub_len + i]);
        }
        max_low = fmaxf(max_low, -lo[s]);
    }
    if (f->affine) {
        float dmin = max_low / (float)f->max_scale * half_up;
        float max_need = 0.0f;
        for (int s = 0; s < n_sub; s++)
            max_need = fmaxf(max_need, (hi[s] - lo[s] + dmin) / (float)f->max_q);
        float d = max_need / (float)f->max_scale * half_up;
        return ((hi[sub] - lo[sub] + dmin) / (float)f->max_q + d) / 2 + 1e-6f * amax;
    }
    float max_amax = 0.0f;
    for (int s = 0; s < n_sub; s++)
        max_amax = fmaxf(max_amax, fmaxf(hi[s], -lo[s]));
    float d = max_amax / (float)f->max_q / (float)f->max_scale * half_up;
    float group_amax = fmaxf(hi[sub], -lo[sub]);
    return (group_amax / (float)f->max_q + d) / 2 + 1e-6f * amax;
}

/* Blocks of several shapes, scales from 0.1 to 1000 (so that the
 * super-block scales stay normal halves, where the bound holds). */
static void fill_round_trip_data(float *x, int n_blocks, uint64_t seed)
{
    quanttest_rng rng = {seed};
    for (int b = 0; b < n_blocks; b++) {
        float scale = powf(10.0f, (float)(b % 5) - 1.0f);
        for (int i = 0; i < 256; i++) {
            float v = quanttest_normalish(&rng);
            switch (b % 4) {
            case 0: x[256 * b + i] = v * scale; break;
            case 1: x[256 * b + i] = v * scale + 2.0f * scale; break; /* one-sided */
            case 2: x[256 * b + i] = -fabsf(v) * scale; break;        /* all negative */
            default: /* groups of very different sizes */
                x[256 * b + i] = v * scale / (float)(1 + (i / 16) % 7);
                break;
            }
        }
    }
}

/* The quantizers search each sub-block for the grid of least weighted
 * squared error, which may clip an extreme value by more than half a
 * step; what they must keep is the squared error of rounding to the grid
 * that covers the whole range: block by block, the RMS error of the round
 * trip stays within the RMS of round_trip_bound over the block. */
static void check_round_trip(const char *name)
{
    const kformat *f = kformat_of(name);
    const tsr_quant_vtable *vt = quanttest_find(name);
    enum { N_BLOCKS = 40 };
    float *x = malloc(N_BLOCKS * 256 * sizeof *x), *back = malloc(N_BLOCKS * 256 * sizeof *back);
    uint8_t *q = malloc((size_t)N_BLOCKS * vt->block_bytes);
    fill_round_trip_data(x, N_BLOCKS, 0x5eed5eed ^ vt->gguf_type);
    double worst = 0;
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, NULL);
        vt->quantize(x, q, N_BLOCKS * 256);
        vt->dequantize(q, back, N_BLOCKS * 256);
        for (int b = 0; b < N_BLOCKS; b++) {
            double err2 = 0, bound2 = 0;
            for (int j = 0; j < 256; j++) {
                double e = (double)x[256 * b + j] - back[256 * b + j];
                double bound = round_trip_bound(f, x + 256 * b, j);
                cr_assert(isfinite(e), "%s: block %d value %d came back as %g", name, b, j,
                          (double)back[256 * b + j]);
                err2 += e * e;
                bound2 += bound * bound;
            }
            worst = fmax(worst, sqrt(err2 / bound2));
            cr_assert(err2 <= bound2, "%s (ISA level %s): block %d: RMS error %g, more than "
                      "the covering grid's bound %g", name, quanttest_levels[level], b,
                      sqrt(err2 / 256), sqrt(bound2 / 256));
        }
    }
    cr_log_info("%s: RMS error at most %.3f of the covering grid's bound", name, worst);
    free(x);
    free(back);
    free(q);
}

Test(quant_k, q4_k_round_trip_error_stays_within_the_covering_grids_bound) { check_round_trip("q4_k"); }
Test(quant_k, q6_k_round_trip_error_stays_within_the_covering_grids_bound) { check_round_trip("q6_k"); }
Test(quant_k, q5_k_round_trip_error_stays_within_the_covering_grids_bound) { check_round_trip("q5_k"); }
Test(quant_k, q3_k_round_trip_error_stays_within_the_covering_grids_bound) { check_round_trip("q3_k"); }
Test(quant_k, q2_k_round_trip_error_stays_within_the_covering_grids_bound) { check_round_trip("q2_k"); }

/* Both ours and ggml's search for the scales of least squared error, by
 * different searches and weights, so neither always wins. On the
 * reference's floats (real weights, heavy tails, one-sided blocks,
 * constants), the root-mean-square error of ours, relative to each
 * block's own, is at most 1.05 times ggml's (measured: q2_k 0.899, q6_k
 * 0.950, q3_k 0.967, q5_k 0.970, q4_k 1.002). */
static void check_error_against_ggml(const char *name, double factor)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    quanttest_reference ref = quanttest_load_reference(name, vt);
    size_t n = (size_t)ref.n_quant * 256;
    float *x = malloc(n * sizeof *x), *ours = malloc(n * sizeof *ours);
    float *theirs = malloc(n * sizeof *theirs);
    uint8_t *q = malloc((size_t)ref.n_quant * vt->block_bytes);
    memcpy(x, ref.quant_floats, n * sizeof *x);
    vt->quantize(x, q, (int64_t)n);
    vt->dequantize(q, ours, (int64_t)n);
    vt->dequantize(ref.quant_bytes, theirs, (int64_t)n);
    double ours_sq = 0, theirs_sq = 0, signal_sq = 0;
    for (size_t b = 0; b < ref.n_quant; b++) {
        /* each block weighs the same, whatever its scale */
        double block_ours = 0, block_theirs = 0, block_signal = 0;
        for (size_t i = 256 * b; i < 256 * (b + 1); i++) {
            block_ours += ((double)x[i] - ours[i]) * ((double)x[i] - ours[i]);
            block_theirs += ((double)x[i] - theirs[i]) * ((double)x[i] - theirs[i]);
            block_signal += (double)x[i] * x[i];
        }
        if (block_signal > 0) {
            ours_sq += block_ours / block_signal;
            theirs_sq += block_theirs / block_signal;
        }
        signal_sq += block_signal > 0;
    }
    double ratio = sqrt(ours_sq / theirs_sq);
    cr_log_info("%s: relative RMS error %.4f, ggml's %.4f (ratio %.3f)", name,
                sqrt(ours_sq / signal_sq), sqrt(theirs_sq / signal_sq), ratio);
    cr_assert(ratio <= factor,
              "%s: our relative RMS error %.4f is %.3f times ggml's %.4f (at most %.2f allowed)",
              name, sqrt(ours_sq / signal_sq), ratio, sqrt(theirs_sq / signal_sq), factor);
    free(x);
    free(ours);
    free(theirs);
    free(q);
    free(ref.file);
}

Test(quant_k, q4_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q4_k", 1.05); }
Test(quant_k, q6_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q6_k", 1.05); }
Test(quant_k, q5_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q5_k", 1.05); }
Test(quant_k, q3_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q3_k", 1.05); }
Test(quant_k, q2_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q2_k", 1.05); }

/* ---- (d) products ---------------------------------------------------------- */

/* What bounds a product's rounding (quanttest_products). The paths split
 * each weight into a scaled integer d * sc * u and a correction (the
 * minimum dmin * m of the affine formats, the offset d * sc * offset of the
 * symmetric ones) and add both; |d * sc * u| <= |w| + |correction|, and
 * the correction is at most c = |dmin| * max_scale or
 * |d| * (max_scale + 1) * (q_high + 1). The paths compute exact integer
 * sums per block (the reference per block, the SIMD paths per lane) and
 * add two terms per block, plus the lanes' final sum, in their own
 * orders. */
static void kformat_terms(const uint8_t *w_block, const uint8_t *x_block, const void *ctx,
                          double *a, double *c)
{
    (void)x_block;
    const kformat *f = ctx;
    double corr = f->affine ? fabs(quanttest_half_at(w_block + f->dmin_offset)) * f->max_scale
                            : fabs(quanttest_half_at(w_block + f->d_offset)) *
                                  (f->max_scale + 1) * (f->max_q + 1);
    *a = 2 * corr;
    *c = 0;
}

static void check_products_match_reference(const char *name)
{
    static const int64_t col_counts[] = {256, 512, 1536, 2560};
    quanttest_products rounding = {
        .term_elems = 128, .extra_terms = 8, .terms = kformat_terms, .ctx = kformat_of(name)};
    quanttest_check_products(name, col_counts, sizeof col_counts / sizeof col_counts[0],
                             &rounding);
}

Test(quant_k, q4_k_simd_products_match_scalar_reference) { check_products_match_reference("q4_k"); }
Test(quant_k, q6_k_simd_products_match_scalar_reference) { check_products_match_reference("q6_k"); }
Test(quant_k, q5_k_simd_products_match_scalar_reference) { check_products_match_reference("q5_k"); }
Test(quant_k, q3_k_simd_products_match_scalar_reference) { check_products_match_reference("q3_k"); }
Test(quant_k, q2_k_simd_products_match_scalar_reference) { check_products_match_reference("q2_k"); }

/* Exact products (quanttest_check_exact_products): d = 1, dmin a small
 * integer, every other byte of the weights random; activation scales 1,
 * p anywhere in [-127, 127]. */
static void fill_kformat_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    static const uint16_t small_integers[] = {0x0000, 0x3c00, 0x4000, 0x4200}; /* 0, 1, 2, 3 */
    const kformat *f = ctx;
    for (uint32_t i = 0; i < f->block_bytes; i++)
        block[i] = (uint8_t)quanttest_next(rng);
    quanttest_put_half(block + f->d_offset, 0x3c00);
    if (f->affine)
        quanttest_put_half(block + f->dmin_offset, small_integers[quanttest_next(rng) % 4]);
}

static void fill_q8_k_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_fill_q8_k(block, rng, 127);
}

static void check_integer_products_exact(const char *name)
{
    quanttest_check_exact_products(name, 512, fill_kformat_exact, fill_q8_k_exact,
                                   kformat_of(name));
}

Test(quant_k, q4_k_integer_products_are_exact_on_every_isa) { check_integer_products_exact("q4_k"); }
Test(quant_k, q6_k_integer_products_are_exact_on_every_isa) { check_integer_products_exact("q6_k"); }
Test(quant_k, q5_k_integer_products_are_exact_on_every_isa) { check_integer_products_exact("q5_k"); }
Test(quant_k, q3_k_integer_products_are_exact_on_every_isa) { check_integer_products_exact("q3_k"); }
Test(quant_k, q2_k_integer_products_are_exact_on_every_isa) { check_integer_products_exact("q2_k"); }

/* ---- (e) the registry, and which path runs ------------------------------- */

Test(quant_k, registry_finds_each_k_format_by_its_gguf_type)
{
    for (int i = 0; i < N_KFORMATS; i++) {
        const tsr_plugin *p = tsr_registry_find_quant(quanttest_registry, kformats[i].gguf_type);
        cr_assert_not_null(p, "no plugin claims GGUF type %u", kformats[i].gguf_type);
        cr_assert_str_eq(p->name, kformats[i].name, "GGUF type %u", kformats[i].gguf_type);
        const tsr_quant_vtable *vt = tsr_plugin_quant(p);
        cr_assert_eq(vt->block_elems, 256, "%s", kformats[i].name);
        cr_assert_eq(vt->block_bytes, kformats[i].block_bytes, "%s", kformats[i].name);
        cr_assert_eq(vt->act_gguf_type, 15, "%s takes q8_K activations", kformats[i].name);
        cr_assert_not_null(vt->matvec);
        cr_assert_not_null(vt->quantize);
    }
    const tsr_plugin *q8_k = tsr_registry_find_quant(quanttest_registry, 15);
    cr_assert_not_null(q8_k, "no plugin claims GGUF type 15 (q8_K)");
    cr_assert_str_eq(q8_k->name, "q8_k");
    const tsr_quant_vtable *vt = tsr_plugin_quant(q8_k);
    cr_assert(vt->flags & TSR_QUANT_ACTIVATION);
    cr_assert_null(vt->matvec, "q8_k is an activation form only");
    cr_assert_eq(vt->block_bytes, 292);
}

Test(quant_k, kernel_name_reports_the_best_path_each_isa_level_allows)
{
    const char *names[N_KFORMATS + 1];
    bool vnni[N_KFORMATS + 1];
    for (int i = 0; i <= N_KFORMATS; i++) {
        names[i] = i < N_KFORMATS ? kformats[i].name : "q8_k";
        vnni[i] = i < N_KFORMATS;
    }
    quanttest_check_kernel_names(names, vnni, N_KFORMATS + 1);
}
