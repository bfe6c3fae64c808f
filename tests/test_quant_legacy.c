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

static tsr_registry *reg;

static void open_registry(void)
{
    reg = quanttest_open_registry();
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

TestSuite(quant_legacy, .init = open_registry, .fini = close_registry);

static const tsr_quant_vtable *quant(const char *name)
{
    return quanttest_find(reg, name);
}

/* ---- (a) dequantizing, (b) quantizing --------------------------------- */

static void check_dequantize_matches_gguf(const char *name)
{
    const tsr_quant_vtable *vt = quant(name);
    quanttest_reference ref = quanttest_load_reference(name, vt);
    size_t n = (size_t)ref.n_dequant * ref.block_elems;
    float *out = malloc(n * sizeof *out);
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, NULL);
        memset(out, 0xa5, n * sizeof *out);
        vt->dequantize(ref.dequant_bytes, out, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            float want = quanttest_float_at(ref.dequant_floats + 4 * i);
            cr_assert_eq(quanttest_bits(out[i]), quanttest_bits(want),
                         "%s (%s path at ISA level %s): value %zu of block %zu is %a (0x%08x); "
                         "the gguf package says %a (0x%08x)",
                         name, vt->kernel_name(), quanttest_levels[level], i % ref.block_elems,
                         i / ref.block_elems, (double)out[i], quanttest_bits(out[i]),
                         (double)want, quanttest_bits(want));
        }
    }
    free(out);
    free(ref.file);
}

static void check_quantize_bytes(const char *name, const char *which, const char *level,
                                 const quanttest_reference *ref, const uint8_t *got)
{
    for (size_t i = 0; i < (size_t)ref->n_quant * ref->block_bytes; i++)
        cr_assert_eq(got[i], ref->quant_bytes[i],
                     "%s (%s at ISA level %s): byte %zu of block %zu is 0x%02x, the reference "
                     "says 0x%02x",
                     name, which, level, i % ref->block_bytes, i / ref->block_bytes, got[i],
                     ref->quant_bytes[i]);
}

static void check_quantize_matches_reference_bytes(const char *name)
{
    const tsr_quant_vtable *vt = quant(name);
    quanttest_reference ref = quanttest_load_reference(name, vt);
    cr_assert_not_null(vt->quantize, "%s cannot quantize", name);
    cr_assert_gt(ref.n_quant, 0, "%s: no blocks to quantize", name);
    size_t n_in = (size_t)ref.n_quant * ref.block_elems;
    size_t n_out = (size_t)ref.n_quant * ref.block_bytes;
    float *in = malloc(n_in * sizeof *in);
    memcpy(in, ref.quant_floats, n_in * sizeof *in);
    uint8_t *out = malloc(n_out);
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, NULL);
        memset(out, 0xa5, n_out);
        vt->quantize(in, out, (int64_t)n_in);
        check_quantize_bytes(name, vt->kernel_name(), quanttest_levels[level], &ref, out);
        memset(out, 0xa5, n_out);
        vt->quantize_reference(in, out, (int64_t)n_in);
        check_quantize_bytes(name, "quantize_reference", quanttest_levels[level], &ref, out);
    }
    free(in);
    free(out);
    free(ref.file);
}

Test(quant_legacy, q4_0_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("q4_0"); }
Test(quant_legacy, q5_0_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("q5_0"); }
Test(quant_legacy, q5_1_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("q5_1"); }
Test(quant_legacy, iq4_nl_dequantize_matches_gguf_package)
{
    check_dequantize_matches_gguf("iq4_nl");
}
Test(quant_legacy, iq4_xs_dequantize_matches_gguf_package)
{
    check_dequantize_matches_gguf("iq4_xs");
}

Test(quant_legacy, q4_0_quantize_matches_gguf_package)
{
    check_quantize_matches_reference_bytes("q4_0");
}
Test(quant_legacy, q5_0_quantize_matches_gguf_package)
{
    check_quantize_matches_reference_bytes("q5_0");
}
Test(quant_legacy, q5_1_quantize_matches_gguf_package)
{
    check_quantize_matches_reference_bytes("q5_1");
}
/* the package cannot quantize iq4_nl: the bytes are ggml's quantize_iq4_nl's */
Test(quant_legacy, iq4_nl_quantize_matches_ggml)
{
    check_quantize_matches_reference_bytes("iq4_nl");
}
Test(quant_legacy, iq4_xs_quantize_matches_ggml)
{
    check_quantize_matches_reference_bytes("iq4_xs");
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
    const tsr_quant_vtable *vt = quant(name);
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
    const tsr_quant_vtable *vt = quant(name);
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

/* Token counts: 1 to 9 meet every remainder of the register tiles; 33, 64
 * and 70 cross the chunks the matmats take tokens in. */
static const int token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 64, 70};
enum { N_TOKEN_COUNTS = sizeof token_counts / sizeof token_counts[0] };
enum { N_ROWS = 13, MAX_TOKENS = 70, Y_STRIDE = N_ROWS + 3 };
static const float sentinel = -1234.5f;

/* Where a format keeps its minimum m (a half), or -1; its activations (q8_1)
 * then keep sx = dx * sum(p) at byte 2. */
static int min_offset(const char *name)
{
    return strcmp(name, "q5_1") == 0 ? 2 : -1;
}

/* What bounds a product's rounding: for each (token, row), the sum of the
 * magnitudes of the terms a path adds, at most sum_i |w_i| |x_i| over the
 * dequantized values; a format with a minimum adds its m * sx terms apart
 * from the d * dx * dot ones, so those may be as large as
 * sum_i (|w_i| + |m|) |x_i| + |m * sx| when they cancel. */
static void magnitudes(const char *name, const tsr_quant_vtable *vt, const tsr_quant_vtable *act,
                       const uint8_t *w, size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
                       int64_t n_cols, double *mag)
{
    float *wf = malloc((size_t)n_cols * sizeof *wf), *xf = malloc((size_t)n_cols * sizeof *xf);
    int m_at = min_offset(name);
    for (int t = 0; t < MAX_TOKENS; t++) {
        act->dequantize(x + t * x_row_bytes, xf, n_cols);
        for (int r = 0; r < N_ROWS; r++) {
            vt->dequantize(w + r * w_row_bytes, wf, n_cols);
            double sum = 0.0;
            for (int64_t c = 0; c < n_cols; c++) {
                int64_t b = c / vt->block_elems;
                double m = m_at < 0 ? 0.0
                                    : fabs(quanttest_half_at(w + r * w_row_bytes +
                                                             b * vt->block_bytes + m_at));
                sum += (fabs(wf[c]) + m) * fabs(xf[c]);
                if (m_at >= 0 && c % vt->block_elems == 0)
                    sum += m * fabs(quanttest_half_at(x + t * x_row_bytes +
                                                      b * act->block_bytes + 2));
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
 * Tolerance: both paths compute the same per-block terms (an exact integer
 * dot product times float scales, a few roundings each) and add n_terms of
 * them in their own orders. The classic bound for recursive summation puts
 * each result within (n_terms + 3) * u * M of the exact value (u = 2^-24,
 * M the magnitude above), so the two differ by at most
 * 2 * (n_terms + 3) * u * M; FLT_EPSILON = 2u stands in for u, a factor of
 * 2 to spare. */
static void check_products_match_reference(const char *name, const int64_t *col_counts,
                                           size_t n_col_counts)
{
    static const int64_t ranges[][2] = {{0, N_ROWS}, {3, 11}, {5, 6}, {12, 13}, {1, 9}, {2, 7}};
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_vtable *act = quanttest_activation_of(reg, vt);
    quanttest_rng rng = {0xc0ffee ^ vt->gguf_type};
    for (size_t k = 0; k < n_col_counts; k++) {
        int64_t n_cols = col_counts[k];
        size_t w_row_bytes = (size_t)(n_cols / vt->block_elems) * vt->block_bytes;
        size_t x_row_bytes = (size_t)(n_cols / act->block_elems) * act->block_bytes;
        uint8_t *w = malloc(w_row_bytes * N_ROWS), *x = malloc(x_row_bytes * MAX_TOKENS);
        float *row = malloc((size_t)n_cols * sizeof *row);
        for (int r = 0; r < N_ROWS; r++) {
            float scale = 0.05f * (float)(1 + r % 5);
            for (int64_t c = 0; c < n_cols; c++)
                row[c] = quanttest_normalish(&rng) * scale + (r % 3 == 0 ? scale : 0.0f);
            vt->quantize_reference(row, w + r * w_row_bytes, n_cols);
        }
        for (int t = 0; t < MAX_TOKENS; t++) {
            for (int64_t c = 0; c < n_cols; c++)
                row[c] = quanttest_normalish(&rng) * (float)(1 + t);
            act->quantize_reference(row, x + t * x_row_bytes, n_cols);
        }
        float *y_ref = malloc(sizeof(float) * MAX_TOKENS * Y_STRIDE);
        float *y = malloc(sizeof(float) * MAX_TOKENS * Y_STRIDE);
        double *mag = malloc(sizeof(double) * MAX_TOKENS * N_ROWS);
        vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, Y_STRIDE, n_cols, MAX_TOKENS,
                             0, N_ROWS);
        magnitudes(name, vt, act, w, w_row_bytes, x, x_row_bytes, n_cols, mag);
        double n_terms = (double)(n_cols / 32);

        for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
            quanttest_use_level(quanttest_levels[level], vt, act);
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
                                cr_assert_eq(quanttest_bits(got), quanttest_bits(sentinel),
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
                                      name, vt->kernel_name(), quanttest_levels[level],
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

static const int64_t block32_cols[] = {32, 96, 576, 1056};
static const int64_t block256_cols[] = {256, 768, 1536};

Test(quant_legacy, q4_0_simd_products_match_scalar_reference)
{
    check_products_match_reference("q4_0", block32_cols, 4);
}
Test(quant_legacy, q5_0_simd_products_match_scalar_reference)
{
    check_products_match_reference("q5_0", block32_cols, 4);
}
Test(quant_legacy, q5_1_simd_products_match_scalar_reference)
{
    check_products_match_reference("q5_1", block32_cols, 4);
}
Test(quant_legacy, iq4_nl_simd_products_match_scalar_reference)
{
    check_products_match_reference("iq4_nl", block32_cols, 4);
}
Test(quant_legacy, iq4_xs_simd_products_match_scalar_reference)
{
    check_products_match_reference("iq4_xs", block256_cols, 3);
}

/* With every scale 1 and every minimum and sum an integer, each block's term
 * and every partial sum is an integer below 2^24, exact in float in any
 * order: the SIMD paths must then equal the reference bit for bit, which
 * checks the integer dot products themselves (nibble order, the fifth bits,
 * the table, signs, the unsigned-by-signed tricks, iq4_xs's sub-block
 * scales and bsums) with no tolerance to hide behind. Every byte of the
 * weights but their d is random, so every index, bit and scale occurs. */
static void check_integer_products_exact(const char *name, void (*fill_w)(uint8_t *, quanttest_rng *),
                                         void (*fill_x)(uint8_t *, quanttest_rng *))
{
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_vtable *act = quanttest_activation_of(reg, vt);
    enum { N_COLS = 1024 };
    int64_t n_blocks = N_COLS / vt->block_elems;
    size_t w_row_bytes = (size_t)n_blocks * vt->block_bytes;
    size_t x_row_bytes = (size_t)n_blocks * act->block_bytes;
    uint8_t *w = malloc(w_row_bytes * N_ROWS), *x = malloc(x_row_bytes * MAX_TOKENS);
    quanttest_rng rng = {0x1234567 + vt->gguf_type};
    for (int64_t b = 0; b < N_ROWS * n_blocks; b++)
        fill_w(w + b * vt->block_bytes, &rng);
    for (int64_t b = 0; b < MAX_TOKENS * n_blocks; b++)
        fill_x(x + b * act->block_bytes, &rng);
    float *y_ref = malloc(sizeof(float) * MAX_TOKENS * Y_STRIDE);
    float *y = malloc(sizeof(float) * MAX_TOKENS * Y_STRIDE);
    vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, Y_STRIDE, N_COLS, MAX_TOKENS, 0,
                         N_ROWS);
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, act);
        for (int k_tokens = 0; k_tokens < N_TOKEN_COUNTS; k_tokens++) {
            int n_tokens = token_counts[k_tokens];
            vt->matmat(w, w_row_bytes, x, x_row_bytes, y, Y_STRIDE, N_COLS, n_tokens, 0, N_ROWS);
            for (int t = 0; t < n_tokens; t++)
                for (int r = 0; r < N_ROWS; r++)
                    cr_assert_eq(y[t * Y_STRIDE + r], y_ref[t * Y_STRIDE + r],
                                 "%s %s at ISA level %s: %d tokens: y[%d][%d] = %.1f, the "
                                 "reference %.1f",
                                 name, vt->kernel_name(), quanttest_levels[level], n_tokens, t, r,
                                 (double)y[t * Y_STRIDE + r], (double)y_ref[t * Y_STRIDE + r]);
            if (n_tokens == 1) {
                vt->matvec(w, w_row_bytes, x, y, N_COLS, 0, N_ROWS);
                for (int r = 0; r < N_ROWS; r++)
                    cr_assert_eq(y[r], y_ref[r], "%s %s at ISA level %s: matvec y[%d]", name,
                                 vt->kernel_name(), quanttest_levels[level], r);
            }
        }
    }
    free(w);
    free(x);
    free(y_ref);
    free(y);
}

/* Weights: d = 1 (and m in {-2, 0, 3}), every other byte random. */
static void fill_random_bytes(uint8_t *p, size_t n, quanttest_rng *rng)
{
    for (size_t j = 0; j < n; j++)
        p[j] = (uint8_t)quanttest_next(rng);
}

static void fill_q4_0_integer(uint8_t *block, quanttest_rng *rng)
{
    quanttest_put_half(block, 0x3c00);
    fill_random_bytes(block + 2, 16, rng);
}

static void fill_q5_0_integer(uint8_t *block, quanttest_rng *rng)
{
    quanttest_put_half(block, 0x3c00);
    fill_random_bytes(block + 2, 20, rng);
}

static void fill_q5_1_integer(uint8_t *block, quanttest_rng *rng)
{
    static const uint16_t minimums[] = {0xc000, 0x0000, 0x4200};
    quanttest_put_half(block, 0x3c00);
    quanttest_put_half(block + 2, minimums[quanttest_next(rng) % 3]);
    fill_random_bytes(block + 4, 20, rng);
}

/* Activations: d = 1, q anywhere in [-127, 127] (q8_1: s one of a few
 * integers; the products take it as given). */
static void fill_q8_0_integer(uint8_t *block, quanttest_rng *rng)
{
    quanttest_put_half(block, 0x3c00);
    for (int j = 0; j < 32; j++)
        block[2 + j] = (uint8_t)(int8_t)((int)(quanttest_next(rng) % 255) - 127);
}

static void fill_q8_1_integer(uint8_t *block, quanttest_rng *rng)
{
    static const uint16_t sums[] = {0x3c00, 0xc500, 0x5640};
    quanttest_put_half(block, 0x3c00);
    quanttest_put_half(block + 2, sums[quanttest_next(rng) % 3]);
    for (int j = 0; j < 32; j++)
        block[4 + j] = (uint8_t)(int8_t)((int)(quanttest_next(rng) % 255) - 127);
}

/* iq4_xs: d = 1, every scale, index and so every sub-block scale random. */
static void fill_iq4_xs_integer(uint8_t *block, quanttest_rng *rng)
{
    quanttest_put_half(block, 0x3c00);
    fill_random_bytes(block + 2, 134, rng);
}

/* q8_K: dx = 1, p in [-3, 3] (so that a block's sum, up to
 * 8 * 32 * 32 * 127 * 3, and four blocks' stay exact in float), and the
 * bsums the quantizer would write. */
static void fill_q8_k_integer(uint8_t *block, quanttest_rng *rng)
{
    float one = 1.0f;
    memcpy(block, &one, sizeof one);
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            int p = (int)(quanttest_next(rng) % 7) - 3;
            block[4 + 16 * g + j] = (uint8_t)(int8_t)p;
            sum += p;
        }
        block[260 + 2 * g] = (uint8_t)(sum & 0xff);
        block[261 + 2 * g] = (uint8_t)((sum >> 8) & 0xff);
    }
}

Test(quant_legacy, q4_0_integer_products_are_exact_on_every_isa)
{
    check_integer_products_exact("q4_0", fill_q4_0_integer, fill_q8_0_integer);
}
Test(quant_legacy, q5_0_integer_products_are_exact_on_every_isa)
{
    check_integer_products_exact("q5_0", fill_q5_0_integer, fill_q8_0_integer);
}
Test(quant_legacy, q5_1_integer_products_are_exact_on_every_isa)
{
    check_integer_products_exact("q5_1", fill_q5_1_integer, fill_q8_1_integer);
}
Test(quant_legacy, iq4_nl_integer_products_are_exact_on_every_isa)
{
    /* iq4_nl's block is q4_0's: a half and 16 bytes of nibbles */
    check_integer_products_exact("iq4_nl", fill_q4_0_integer, fill_q8_0_integer);
}
Test(quant_legacy, iq4_xs_integer_products_are_exact_on_every_isa)
{
    check_integer_products_exact("iq4_xs", fill_iq4_xs_integer, fill_q8_k_integer);
}

/* ---- (d) the registry, and which path runs ---------------------------- */

static const struct {
    const char *name;
    uint32_t gguf_type, block_elems, block_bytes;
    const char *activation; /* ggml's vec_dot_type for the format */
} formats[] = {
    {"q4_0", 2, 32, 18, "q8_0"},
    {"q5_0", 6, 32, 22, "q8_0"},
    {"q5_1", 7, 32, 24, "q8_1"},
    {"iq4_nl", 20, 32, 18, "q8_0"},
    {"iq4_xs", 23, 256, 136, "q8_k"},
};

Test(quant_legacy, registry_finds_each_format_by_its_gguf_type_with_ggml_geometry)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const tsr_plugin *p = tsr_registry_find_quant(reg, formats[i].gguf_type);
        cr_assert_not_null(p, "no plugin claims GGUF type %u", formats[i].gguf_type);
        cr_assert_str_eq(p->name, formats[i].name, "GGUF type %u", formats[i].gguf_type);
        const tsr_quant_vtable *vt = tsr_plugin_quant(p);
        cr_assert_eq(vt->block_elems, formats[i].block_elems, "%s", formats[i].name);
        cr_assert_eq(vt->block_bytes, formats[i].block_bytes, "%s", formats[i].name);
        cr_assert_eq(vt->flags, 0u, "%s is a weight format only", formats[i].name);
        const tsr_plugin *act = tsr_registry_find_quant(reg, vt->act_gguf_type);
        cr_assert_not_null(act, "%s: no plugin claims its activation type %u", formats[i].name,
                           vt->act_gguf_type);
        cr_assert_str_eq(act->name, formats[i].activation, "%s's activations", formats[i].name);
        cr_assert_not_null(vt->matvec);
        cr_assert_not_null(vt->matmat);
        cr_assert_not_null(vt->quantize);
    }
}

Test(quant_legacy, kernel_name_reports_the_best_path_each_isa_level_allows)
{
#if defined(__x86_64__)
    const uint32_t avx2 = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C;
    const uint32_t avx512 = avx2 | TSR_CPU_AVX512F | TSR_CPU_AVX512BW | TSR_CPU_AVX512VL;
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
            const tsr_quant_vtable *vt = quant(formats[i].name);
            quanttest_use_level(quanttest_levels[level], vt, NULL);
            uint32_t f = tsr_cpu_features();
            const char *want =
                (f & (avx512 | TSR_CPU_AVX512VNNI)) == (avx512 | TSR_CPU_AVX512VNNI) ? "avx512vnni"
                : (f & (avx2 | TSR_CPU_AVXVNNI)) == (avx2 | TSR_CPU_AVXVNNI)         ? "avxvnni"
                : (f & avx512) == avx512                                             ? "avx512"
                : (f & avx2) == avx2                                                 ? "avx2"
                                                                                     : "scalar";
            cr_assert_str_eq(vt->kernel_name(), want, "%s at ISA level %s", formats[i].name,
                             quanttest_levels[level]);
        }
    }
    quanttest_use_level("native", quant("q4_0"), NULL);
#else
    cr_skip_test("the SIMD paths are x86-64's");
#endif
}
