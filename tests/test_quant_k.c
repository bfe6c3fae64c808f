/* The K-quant plugins (plugins/quant/q{2,3,4,5,6}_k) and q8_k, their
 * activation form, loaded through the registry as the core loads them:
 *   (a) dequantizing gives, bit for bit, the gguf package's floats for the
 *       same bytes (ggml's for q8_k), on every ISA level; the bytes come from
 *       llama.cpp's own K-quant files of the default model, from ggml's
 *       quantizer on the model's weights, and from seeded random blocks
 *       (tests/reference/quant_k_ref.py);
 *   (b) q8_k quantizes to ggml's bytes on every level;
 *   (c) the weight formats' quantizers round-trip within the bound
 *       kquant_quantize.h states, and their error stays within a stated
 *       factor of ggml's own quantizers' on the same floats;
 *   (d) every SIMD product equals the scalar reference on random data,
 *       n_tokens 1..9 and odd row ranges: bit for bit where every sum is an
 *       exact integer, within a rounding bound otherwise;
 *   (e) the registry finds each by its GGUF type, and each level runs the
 *       path it should. */
#include <float.h>

#include "quant_testutil.h"

static tsr_registry *reg;

static void open_registry(void)
{
    reg = quant_open_registry();
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

TestSuite(quant_k, .init = open_registry, .fini = close_registry);

static const tsr_quant_vtable *quant(const char *name)
{
    return quant_by_name(reg, name);
}

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

static void check_dequantize_matches_reference(const char *name)
{
    const tsr_quant_vtable *vt = quant(name);
    quant_reference ref = quant_load_reference(name, vt);
    size_t n = (size_t)ref.n_dequant * ref.block_elems;
    float *out = malloc(n * sizeof *out);
    for (int level = 0; level < QUANT_N_LEVELS; level++) {
        quant_use_level(quant_isa_levels[level], vt, NULL);
        memset(out, 0xa5, n * sizeof *out);
        vt->dequantize(ref.dequant_bytes, out, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            float want = quant_float_at(ref.dequant_floats + 4 * i);
            cr_assert_eq(quant_bits_of(out[i]), quant_bits_of(want),
                         "%s (%s path at ISA level %s): value %zu of block %zu is %a (0x%08x); "
                         "the reference says %a (0x%08x)",
                         name, vt->kernel_name(), quant_isa_levels[level], i % ref.block_elems,
                         i / ref.block_elems, (double)out[i], quant_bits_of(out[i]), (double)want,
                         quant_bits_of(want));
        }
    }
    free(out);
    free(ref.file);
}

Test(quant_k, q8_k_dequantize_matches_ggml) { check_dequantize_matches_reference("q8_k"); }
Test(quant_k, q4_k_dequantize_matches_gguf_package) { check_dequantize_matches_reference("q4_k"); }
Test(quant_k, q6_k_dequantize_matches_gguf_package) { check_dequantize_matches_reference("q6_k"); }
Test(quant_k, q5_k_dequantize_matches_gguf_package) { check_dequantize_matches_reference("q5_k"); }
Test(quant_k, q3_k_dequantize_matches_gguf_package) { check_dequantize_matches_reference("q3_k"); }
Test(quant_k, q2_k_dequantize_matches_gguf_package) { check_dequantize_matches_reference("q2_k"); }

static void check_q8_k_bytes(const char *which, const char *level, const quant_reference *ref,
                             const uint8_t *got)
{
    for (size_t i = 0; i < (size_t)ref->n_quant * ref->block_bytes; i++)
        cr_assert_eq(got[i], ref->quant_bytes[i],
                     "q8_k (%s at ISA level %s): byte %zu of block %zu is 0x%02x, ggml's "
                     "quantize_row_q8_K_ref says 0x%02x",
                     which, level, i % ref->block_bytes, i / ref->block_bytes, got[i],
                     ref->quant_bytes[i]);
}

Test(quant_k, q8_k_quantize_matches_ggml_reference)
{
    const tsr_quant_vtable *vt = quant("q8_k");
    quant_reference ref = quant_load_reference("q8_k", vt);
    cr_assert_gt(ref.n_quant, 0);
    size_t n_in = (size_t)ref.n_quant * ref.block_elems;
    size_t n_out = (size_t)ref.n_quant * ref.block_bytes;
    float *in = malloc(n_in * sizeof *in);
    memcpy(in, ref.quant_floats, n_in * sizeof *in);
    uint8_t *out = malloc(n_out);
    for (int level = 0; level < QUANT_N_LEVELS; level++) {
        quant_use_level(quant_isa_levels[level], vt, NULL);
        memset(out, 0xa5, n_out);
        vt->quantize(in, out, (int64_t)n_in);
        check_q8_k_bytes(vt->kernel_name(), quant_isa_levels[level], &ref, out);
        memset(out, 0xa5, n_out);
        vt->quantize_reference(in, out, (int64_t)n_in);
        check_q8_k_bytes("quantize_reference", quant_isa_levels[level], &ref, out);
    }
    free(in);
    free(out);
    free(ref.file);
}

/* ---- (c) the weight formats' quantizers --------------------------------- */

/* The bound of kquant_quantize.h for value j of block x (256 floats), from
 * the data alone; each half-rounded scale may be up to 2^-10 above its
 * float, so 2^-9 is allowed, and 1e-6 of the block's largest magnitude
 * covers the float arithmetic. */
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
    quant_rng rng = {seed};
    for (int b = 0; b < n_blocks; b++) {
        float scale = powf(10.0f, (float)(b % 5) - 1.0f);
        for (int i = 0; i < 256; i++) {
            float v = quant_rng_normalish(&rng);
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

static void check_round_trip(const char *name)
{
    const kformat *f = kformat_of(name);
    const tsr_quant_vtable *vt = quant(name);
    enum { N_BLOCKS = 40 };
    float *x = malloc(N_BLOCKS * 256 * sizeof *x), *back = malloc(N_BLOCKS * 256 * sizeof *back);
    uint8_t *q = malloc((size_t)N_BLOCKS * vt->block_bytes);
    fill_round_trip_data(x, N_BLOCKS, 0x5eed5eed ^ vt->gguf_type);
    for (int level = 0; level < QUANT_N_LEVELS; level++) {
        quant_use_level(quant_isa_levels[level], vt, NULL);
        vt->quantize(x, q, N_BLOCKS * 256);
        vt->dequantize(q, back, N_BLOCKS * 256);
        for (int b = 0; b < N_BLOCKS; b++)
            for (int j = 0; j < 256; j++) {
                float err = fabsf(x[256 * b + j] - back[256 * b + j]);
                float bound = round_trip_bound(f, x + 256 * b, j);
                cr_assert(err <= bound,
                          "%s (ISA level %s): block %d value %d: %g came back as %g, off by %g, "
                          "more than the bound %g",
                          name, quant_isa_levels[level], b, j, (double)x[256 * b + j],
                          (double)back[256 * b + j], (double)err, (double)bound);
            }
    }
    free(x);
    free(back);
    free(q);
}

Test(quant_k, q4_k_round_trip_stays_within_half_a_step) { check_round_trip("q4_k"); }
Test(quant_k, q6_k_round_trip_stays_within_half_a_step) { check_round_trip("q6_k"); }
Test(quant_k, q5_k_round_trip_stays_within_half_a_step) { check_round_trip("q5_k"); }
Test(quant_k, q3_k_round_trip_stays_within_half_a_step) { check_round_trip("q3_k"); }
Test(quant_k, q2_k_round_trip_stays_within_half_a_step) { check_round_trip("q2_k"); }

/* Our quantizers keep every value within half a step; ggml's search for
 * the least squared error (clipping a sub-block's extremes when that pays),
 * so they win on the squared error. How much they may win by, on the
 * reference's floats (real weights, heavy tails, one-sided blocks,
 * constants): the root-mean-square error of ours, relative to each block's
 * own, is at most 1.45 times ggml's (measured: q6_k 1.07, q3_k 1.09, q4_k
 * 1.15, q2_k 1.18, q5_k 1.37). */
static void check_error_against_ggml(const char *name, double factor)
{
    const tsr_quant_vtable *vt = quant(name);
    quant_reference ref = quant_load_reference(name, vt);
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

Test(quant_k, q4_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q4_k", 1.45); }
Test(quant_k, q6_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q6_k", 1.45); }
Test(quant_k, q5_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q5_k", 1.45); }
Test(quant_k, q3_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q3_k", 1.45); }
Test(quant_k, q2_k_error_is_near_ggml_quantizer) { check_error_against_ggml("q2_k", 1.45); }

/* ---- (d) products ---------------------------------------------------------- */

/* Token counts: 1 to 9 meet every remainder of the register tiles; 33, 64
 * and 70 cross the chunks of 32 tokens the matmats take. */
static const int token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 64, 70};
enum { N_TOKEN_COUNTS = sizeof token_counts / sizeof token_counts[0] };
enum { N_ROWS = 13, MAX_TOKENS = 70, Y_STRIDE = N_ROWS + 3 };
static const float sentinel = -1234.5f;

/* What bounds a product's rounding, for each (token, row): the sum of the
 * magnitudes of every term any path adds. The paths split each weight into
 * a scaled integer d * sc * u and a correction (the minimum dmin * m of the
 * affine formats, the offset d * sc * offset of the symmetric ones) and
 * add both; |d * sc * u| <= |w| + |correction|, and the correction is at
 * most c = |dmin| * max_scale or |d| * (max_scale + 1) * (q_high + 1). */
static void magnitudes(const kformat *f, const tsr_quant_vtable *vt, const tsr_quant_vtable *act,
                       const uint8_t *w, size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
                       int64_t n_cols, double *mag)
{
    float *wf = malloc((size_t)n_cols * sizeof *wf), *xf = malloc((size_t)n_cols * sizeof *xf);
    for (int t = 0; t < MAX_TOKENS; t++) {
        act->dequantize(x + t * x_row_bytes, xf, n_cols);
        for (int r = 0; r < N_ROWS; r++) {
            const uint8_t *row = w + r * w_row_bytes;
            vt->dequantize(row, wf, n_cols);
            double sum = 0.0;
            for (int64_t c = 0; c < n_cols; c++) {
                const uint8_t *block = row + c / 256 * f->block_bytes;
                double corr = f->affine ? fabs(quant_half_at(block + f->dmin_offset)) * f->max_scale
                                        : fabs(quant_half_at(block + f->d_offset)) *
                                              (f->max_scale + 1) * (f->max_q + 1);
                sum += (fabs(wf[c]) + 2 * corr) * fabs(xf[c]);
            }
            mag[t * N_ROWS + r] = sum;
        }
    }
    free(wf);
    free(xf);
}

/* SIMD products against the scalar reference, every ISA level, the token
 * counts above, several row ranges, rows outside the range untouched.
 *
 * Tolerance: the paths compute exact integer sums per block (the reference
 * per block, the SIMD paths per lane), scale them by float factors and add
 * two terms per block in their own orders. Recursive summation puts each
 * result within (n_terms + 3) * u * M of the exact value (u = 2^-24, M the
 * magnitude above), n_terms = 2 per block plus the lanes' final sum; the
 * two paths differ by at most twice that. FLT_EPSILON = 2u stands in for u,
 * a factor of 2 to spare. */
static void check_products_match_reference(const char *name)
{
    static const int64_t col_counts[] = {256, 512, 1536, 2560};
    static const int64_t ranges[][2] = {{0, N_ROWS}, {3, 11}, {5, 6}, {12, 13}, {1, 10}};
    const kformat *f = kformat_of(name);
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_vtable *act = quant_activation_of(reg, vt);
    quant_rng rng = {0xc0ffee ^ vt->gguf_type};
    for (size_t k = 0; k < sizeof col_counts / sizeof col_counts[0]; k++) {
        int64_t n_cols = col_counts[k];
        size_t w_row_bytes = (size_t)(n_cols / 256) * vt->block_bytes;
        size_t x_row_bytes = (size_t)(n_cols / 256) * act->block_bytes;
        uint8_t *w = malloc(w_row_bytes * N_ROWS), *x = malloc(x_row_bytes * MAX_TOKENS);
        float *row = malloc((size_t)n_cols * sizeof *row);
        for (int r = 0; r < N_ROWS; r++) {
            float scale = 0.05f * (float)(1 + r % 5);
            for (int64_t c = 0; c < n_cols; c++)
                row[c] = quant_rng_normalish(&rng) * scale + (r % 3 == 0 ? scale : 0.0f);
            vt->quantize_reference(row, w + r * w_row_bytes, n_cols);
        }
        for (int t = 0; t < MAX_TOKENS; t++) {
            for (int64_t c = 0; c < n_cols; c++)
                row[c] = quant_rng_normalish(&rng) * (float)(1 + t);
            act->quantize_reference(row, x + t * x_row_bytes, n_cols);
        }
        float *y_ref = malloc(sizeof(float) * MAX_TOKENS * Y_STRIDE);
        float *y = malloc(sizeof(float) * MAX_TOKENS * Y_STRIDE);
        double *mag = malloc(sizeof(double) * MAX_TOKENS * N_ROWS);
        vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, Y_STRIDE, n_cols, MAX_TOKENS,
                             0, N_ROWS);
        magnitudes(f, vt, act, w, w_row_bytes, x, x_row_bytes, n_cols, mag);
        double n_terms = 2.0 * (double)(n_cols / 256) + 8;

        for (int level = 0; level < QUANT_N_LEVELS; level++) {
            quant_use_level(quant_isa_levels[level], vt, act);
            for (int k_tokens = 0; k_tokens < N_TOKEN_COUNTS; k_tokens++) {
                int n_tokens = token_counts[k_tokens];
                for (size_t g = 0; g < sizeof ranges / sizeof ranges[0]; g++) {
                    for (int i = 0; i < MAX_TOKENS * Y_STRIDE; i++)
                        y[i] = sentinel;
                    /* one token goes through matvec (and matmat, the next time round) */
                    bool via_matvec = n_tokens == 1 && g % 2 == 0;
                    if (via_matvec)
                        vt->matvec(w, w_row_bytes, x, y, n_cols, ranges[g][0], ranges[g][1]);
                    else
                        vt->matmat(w, w_row_bytes, x, x_row_bytes, y, Y_STRIDE, n_cols, n_tokens,
                                   ranges[g][0], ranges[g][1]);
                    for (int t = 0; t < MAX_TOKENS; t++)
                        for (int r = 0; r < Y_STRIDE; r++) {
                            float got = y[t * Y_STRIDE + r];
                            bool written = t < n_tokens && r >= ranges[g][0] && r < ranges[g][1];
                            if (!written) {
                                cr_assert_eq(quant_bits_of(got), quant_bits_of(sentinel),
                                             "%s %s: n_cols %lld, %d tokens, rows [%lld, %lld): "
                                             "wrote y[%d][%d], outside its range",
                                             name, vt->kernel_name(), (long long)n_cols, n_tokens,
                                             (long long)ranges[g][0], (long long)ranges[g][1], t,
                                             r);
                                continue;
                            }
                            float want = y_ref[t * Y_STRIDE + r];
                            double tol = 2.0 * (n_terms + 3) * FLT_EPSILON * mag[t * N_ROWS + r];
                            cr_assert(fabs((double)got - (double)want) <= tol + FLT_MIN,
                                      "%s %s at ISA level %s (%s): n_cols %lld, %d tokens, rows "
                                      "[%lld, %lld): y[%d][%d] = %.9g, the reference %.9g, apart "
                                      "by %.3g > %.3g",
                                      name, vt->kernel_name(), quant_isa_levels[level],
                                      via_matvec ? "matvec" : "matmat", (long long)n_cols,
                                      n_tokens, (long long)ranges[g][0], (long long)ranges[g][1],
                                      t, r, (double)got, (double)want,
                                      fabs((double)got - (double)want), tol);
                        }
                }
            }
        }
        free(w);
        free(x);
        free(row);
        free(y_ref);
        free(y);
        free(mag);
    }
}

Test(quant_k, q4_k_simd_products_match_scalar_reference) { check_products_match_reference("q4_k"); }
Test(quant_k, q6_k_simd_products_match_scalar_reference) { check_products_match_reference("q6_k"); }
Test(quant_k, q5_k_simd_products_match_scalar_reference) { check_products_match_reference("q5_k"); }
Test(quant_k, q3_k_simd_products_match_scalar_reference) { check_products_match_reference("q3_k"); }
Test(quant_k, q2_k_simd_products_match_scalar_reference) { check_products_match_reference("q2_k"); }

/* With d = 1, dmin a small integer and activation scales 1, every block's
 * terms and every partial sum are integers below 2^24, exact in float in
 * any order: the SIMD paths must then equal the reference bit for bit,
 * which checks the integer work itself (bit positions, scale unpacking,
 * signs, the corrections through bsums) with no tolerance to hide behind.
 * Every other byte of the weights is random. */
static void check_integer_products_exact(const char *name)
{
    const kformat *f = kformat_of(name);
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_vtable *act = quant_activation_of(reg, vt);
    enum { N_COLS = 512, N_BLOCKS = N_COLS / 256 };
    size_t w_row_bytes = N_BLOCKS * vt->block_bytes, x_row_bytes = N_BLOCKS * act->block_bytes;
    uint8_t *w = malloc(w_row_bytes * N_ROWS), *x = malloc(x_row_bytes * MAX_TOKENS);
    quant_rng rng = {0x1234567 + vt->gguf_type};
    static const uint16_t small_integers[] = {0x0000, 0x3c00, 0x4000, 0x4200}; /* 0, 1, 2, 3 */
    for (int b = 0; b < N_ROWS * N_BLOCKS; b++) {
        uint8_t *block = w + b * vt->block_bytes;
        for (uint32_t i = 0; i < vt->block_bytes; i++)
            block[i] = (uint8_t)quant_rng_next(&rng);
        quant_put_half(block + f->d_offset, 0x3c00);
        if (f->affine)
            quant_put_half(block + f->dmin_offset, small_integers[quant_rng_next(&rng) % 4]);
    }
    for (int b = 0; b < MAX_TOKENS * N_BLOCKS; b++) {
        uint8_t *block = x + b * act->block_bytes;
        float one = 1.0f;
        memcpy(block, &one, 4);
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                int8_t p = (int8_t)((int)(quant_rng_next(&rng) % 255) - 127);
                block[4 + 16 * g + i] = (uint8_t)p;
                sum += p;
            }
            int16_t s = (int16_t)sum;
            memcpy(block + 260 + 2 * g, &s, 2);
        }
    }
    float y_ref[MAX_TOKENS * Y_STRIDE], y[MAX_TOKENS * Y_STRIDE];
    vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, Y_STRIDE, N_COLS, MAX_TOKENS, 0,
                         N_ROWS);
    for (int i = 0; i < MAX_TOKENS * N_ROWS; i++)
        cr_assert(fabsf(y_ref[i / N_ROWS * Y_STRIDE + i % N_ROWS]) < 16777216.0f,
                  "%s: the data leave the exact range; pick another seed", name);
    for (int level = 0; level < QUANT_N_LEVELS; level++) {
        quant_use_level(quant_isa_levels[level], vt, act);
        for (int k_tokens = 0; k_tokens < N_TOKEN_COUNTS; k_tokens++) {
            int n_tokens = token_counts[k_tokens];
            vt->matmat(w, w_row_bytes, x, x_row_bytes, y, Y_STRIDE, N_COLS, n_tokens, 0, N_ROWS);
            for (int t = 0; t < n_tokens; t++)
                for (int r = 0; r < N_ROWS; r++)
                    cr_assert_eq(y[t * Y_STRIDE + r], y_ref[t * Y_STRIDE + r],
                                 "%s %s at ISA level %s: %d tokens: y[%d][%d] = %.1f, the "
                                 "reference %.1f",
                                 name, vt->kernel_name(), quant_isa_levels[level], n_tokens, t, r,
                                 (double)y[t * Y_STRIDE + r], (double)y_ref[t * Y_STRIDE + r]);
            if (n_tokens == 1) {
                vt->matvec(w, w_row_bytes, x, y, N_COLS, 0, N_ROWS);
                for (int r = 0; r < N_ROWS; r++)
                    cr_assert_eq(y[r], y_ref[r], "%s %s at ISA level %s: matvec y[%d]", name,
                                 vt->kernel_name(), quant_isa_levels[level], r);
            }
        }
    }
    free(w);
    free(x);
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
        const tsr_plugin *p = tsr_registry_find_quant(reg, kformats[i].gguf_type);
        cr_assert_not_null(p, "no plugin claims GGUF type %u", kformats[i].gguf_type);
        cr_assert_str_eq(p->name, kformats[i].name, "GGUF type %u", kformats[i].gguf_type);
        const tsr_quant_vtable *vt = tsr_plugin_quant(p);
        cr_assert_eq(vt->block_elems, 256, "%s", kformats[i].name);
        cr_assert_eq(vt->block_bytes, kformats[i].block_bytes, "%s", kformats[i].name);
        cr_assert_eq(vt->act_gguf_type, 15, "%s takes q8_K activations", kformats[i].name);
        cr_assert_not_null(vt->matvec);
        cr_assert_not_null(vt->quantize);
    }
    const tsr_plugin *q8_k = tsr_registry_find_quant(reg, 15);
    cr_assert_not_null(q8_k, "no plugin claims GGUF type 15 (q8_K)");
    cr_assert_str_eq(q8_k->name, "q8_k");
    const tsr_quant_vtable *vt = tsr_plugin_quant(q8_k);
    cr_assert(vt->flags & TSR_QUANT_ACTIVATION);
    cr_assert_null(vt->matvec, "q8_k is an activation form only");
    cr_assert_eq(vt->block_bytes, 292);
}

/* The best path each level allows, from the features it leaves. */
static const char *expected_path(uint32_t features, bool has_vnni_paths)
{
    const uint32_t avx2 = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C;
    const uint32_t avx512 = avx2 | TSR_CPU_AVX512F | TSR_CPU_AVX512BW | TSR_CPU_AVX512VL;
    if (has_vnni_paths &&
        (features & (avx512 | TSR_CPU_AVX512VNNI)) == (avx512 | TSR_CPU_AVX512VNNI))
        return "avx512vnni";
    if (has_vnni_paths && (features & (avx2 | TSR_CPU_AVXVNNI)) == (avx2 | TSR_CPU_AVXVNNI))
        return "avxvnni";
    if ((features & avx512) == avx512)
        return "avx512";
    if ((features & avx2) == avx2)
        return "avx2";
    return "scalar";
}

Test(quant_k, kernel_name_reports_the_best_path_each_isa_level_allows)
{
#if defined(__x86_64__)
    for (int level = 0; level < QUANT_N_LEVELS; level++) {
        for (int i = 0; i <= N_KFORMATS; i++) {
            const char *name = i < N_KFORMATS ? kformats[i].name : "q8_k";
            const tsr_quant_vtable *vt = quant(name);
            quant_use_level(quant_isa_levels[level], vt, NULL);
            const char *want = expected_path(tsr_cpu_features(), i < N_KFORMATS);
            cr_assert_str_eq(vt->kernel_name(), want, "%s at ISA level %s", name,
                             quant_isa_levels[level]);
        }
    }
#else
    cr_skip_test("the SIMD paths are x86-64's");
#endif
}
