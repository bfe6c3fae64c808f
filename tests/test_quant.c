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
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>

#include "loader.h"
#include "testutil.h"

/* The ISA levels tsr_cpu_set_limit knows. On a machine without some of them
 * a level gives the best path it has, which then simply runs again. */
static const char *const isa_levels[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni"};
enum { N_LEVELS = sizeof isa_levels / sizeof isa_levels[0] };

static tsr_registry *reg;

static void open_registry(void)
{
    const char *dir = test_path(test_builddir(), "plugins/.libs");
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(&dir, 1, &reg, &err), TSR_OK, "%s", err.message);
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

TestSuite(quant, .init = open_registry, .fini = close_registry);

static const tsr_quant_vtable *quant(const char *name)
{
    const tsr_plugin *p = tsr_registry_find(reg, TSR_PLUGIN_QUANT, name);
    cr_assert_not_null(p, "quant plugin '%s' is not loaded", name);
    return tsr_plugin_quant(p);
}

/* The plugin that quantizes vt's activations. */
static const tsr_quant_vtable *activation_of(const tsr_quant_vtable *vt)
{
    const tsr_plugin *p = tsr_registry_find_quant(reg, vt->act_gguf_type);
    cr_assert_not_null(p, "no plugin claims activation type %u", vt->act_gguf_type);
    return tsr_plugin_quant(p);
}

/* Limits the CPU features to a level and lets the plugins choose again, as
 * the core does when it changes host->cpu_features. */
static void use_level(const char *level, const tsr_quant_vtable *a, const tsr_quant_vtable *b)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_cpu_set_limit(level, &err), TSR_OK, "%s", err.message);
    const tsr_host *host = tsr_host_services();
    cr_assert_eq(a->init(host, &err), TSR_OK, "%s", err.message);
    if (b)
        cr_assert_eq(b->init(host, &err), TSR_OK, "%s", err.message);
}

static float float_at(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* An IEEE half (no NaN needed here) as a float. */
static float half_at(const uint8_t *p)
{
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude = exponent == 0    ? ldexpf((float)mantissa, -24)
                      : exponent == 31 ? INFINITY
                                       : ldexpf((float)(mantissa | 0x400), exponent - 25);
    return h & 0x8000 ? -magnitude : magnitude;
}

/* xorshift64*: the same random data on every run and machine. */
typedef struct { uint64_t state; } test_rng;

static uint64_t rng_next(test_rng *rng)
{
    rng->state ^= rng->state >> 12;
    rng->state ^= rng->state << 25;
    rng->state ^= rng->state >> 27;
    return rng->state * 0x2545f4914f6cdd1dull;
}

/* Roughly normal (a sum of four uniforms), centred on 0, spread about 0.6. */
static float rng_normalish(test_rng *rng)
{
    float sum = 0.0f;
    for (int i = 0; i < 4; i++)
        sum += (float)(rng_next(rng) >> 40) / (float)(1u << 24) - 0.5f;
    return sum;
}

/* ---- reference files -------------------------------------------------- */

typedef struct reference {
    uint32_t gguf_type, block_elems, block_bytes;
    uint32_t n_dequant, n_quant;
    const uint8_t *dequant_bytes;  /* n_dequant * block_bytes */
    const uint8_t *dequant_floats; /* n_dequant * block_elems little-endian floats */
    const uint8_t *quant_floats;   /* n_quant * block_elems */
    const uint8_t *quant_bytes;    /* n_quant * block_bytes */
    uint8_t *file;
} reference;

static const uint8_t *take(const uint8_t **cursor, const uint8_t *end, size_t n, const char *what,
                           const char *path)
{
    cr_assert(n <= (size_t)(end - *cursor), "%s: the file ends inside %s", path, what);
    const uint8_t *at = *cursor;
    *cursor += n;
    return at;
}

static uint32_t take_u32(const uint8_t **cursor, const uint8_t *end, const char *what,
                         const char *path)
{
    uint32_t v;
    memcpy(&v, take(cursor, end, 4, what, path), 4);
    return v;
}

static reference load_reference(const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/reference/quant/%s.bin", name);
    const char *path = test_path(test_srcdir(), rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: cannot open (tests/reference/quant_ref.py writes it)", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
    reference ref = {.file = malloc((size_t)size)};
    cr_assert(ref.file && fread(ref.file, 1, (size_t)size, f) == (size_t)size, "%s: read", path);
    fclose(f);
    const uint8_t *cursor = ref.file, *end = ref.file + size;
    cr_assert_eq(memcmp(take(&cursor, end, 8, "the magic", path), "TSRQREF1", 8), 0,
                 "%s: not a quant reference file", path);
    ref.gguf_type = take_u32(&cursor, end, "the header", path);
    ref.block_elems = take_u32(&cursor, end, "the header", path);
    ref.block_bytes = take_u32(&cursor, end, "the header", path);
    ref.n_dequant = take_u32(&cursor, end, "the dequantize count", path);
    ref.dequant_bytes =
        take(&cursor, end, (size_t)ref.n_dequant * ref.block_bytes, "the blocks", path);
    ref.dequant_floats =
        take(&cursor, end, (size_t)ref.n_dequant * ref.block_elems * 4, "the floats", path);
    ref.n_quant = take_u32(&cursor, end, "the quantize count", path);
    ref.quant_floats =
        take(&cursor, end, (size_t)ref.n_quant * ref.block_elems * 4, "the inputs", path);
    ref.quant_bytes = take(&cursor, end, (size_t)ref.n_quant * ref.block_bytes, "the bytes", path);
    cr_assert_eq(cursor, end, "%s: %ld bytes left over", path, (long)(end - cursor));
    return ref;
}

/* ---- (a) dequantizing, (b) quantizing --------------------------------- */

static reference load_checked(const char *name, const tsr_quant_vtable *vt)
{
    reference ref = load_reference(name);
    cr_assert_eq(vt->gguf_type, ref.gguf_type, "%s: GGUF type id", name);
    cr_assert_eq(vt->block_elems, ref.block_elems, "%s: block_elems", name);
    cr_assert_eq(vt->block_bytes, ref.block_bytes, "%s: block_bytes", name);
    cr_assert_gt(ref.n_dequant, 0, "%s: no blocks to dequantize", name);
    return ref;
}

static void check_dequantize_matches_gguf(const char *name)
{
    const tsr_quant_vtable *vt = quant(name);
    reference ref = load_checked(name, vt);
    size_t n = (size_t)ref.n_dequant * ref.block_elems;
    float *out = malloc(n * sizeof *out);
    for (int level = 0; level < N_LEVELS; level++) {
        use_level(isa_levels[level], vt, NULL);
        memset(out, 0xa5, n * sizeof *out);
        vt->dequantize(ref.dequant_bytes, out, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            float want = float_at(ref.dequant_floats + 4 * i);
            cr_assert_eq(bits_of(out[i]), bits_of(want),
                         "%s (%s path at ISA level %s): value %zu of block %zu is %a (0x%08x); "
                         "the gguf package says %a (0x%08x)",
                         name, vt->kernel_name(), isa_levels[level], i % ref.block_elems,
                         i / ref.block_elems, (double)out[i], bits_of(out[i]), (double)want,
                         bits_of(want));
        }
    }
    free(out);
    free(ref.file);
}

static void check_quantize_bytes(const char *name, const char *which, const char *level,
                                 const reference *ref, const uint8_t *got)
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
    reference ref = load_checked(name, vt);
    cr_assert_not_null(vt->quantize, "%s cannot quantize", name);
    cr_assert_gt(ref.n_quant, 0, "%s: no blocks to quantize", name);
    size_t n_in = (size_t)ref.n_quant * ref.block_elems;
    size_t n_out = (size_t)ref.n_quant * ref.block_bytes;
    float *in = malloc(n_in * sizeof *in);
    memcpy(in, ref.quant_floats, n_in * sizeof *in);
    uint8_t *out = malloc(n_out);
    for (int level = 0; level < N_LEVELS; level++) {
        use_level(isa_levels[level], vt, NULL);
        memset(out, 0xa5, n_out);
        vt->quantize(in, out, (int64_t)n_in);
        check_quantize_bytes(name, vt->kernel_name(), isa_levels[level], &ref, out);
        memset(out, 0xa5, n_out);
        vt->quantize_reference(in, out, (int64_t)n_in);
        check_quantize_bytes(name, "quantize_reference", isa_levels[level], &ref, out);
    }
    free(in);
    free(out);
    free(ref.file);
}

Test(quant, f32_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("f32"); }
Test(quant, f16_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("f16"); }
Test(quant, bf16_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("bf16"); }
Test(quant, q8_0_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("q8_0"); }
Test(quant, q4_1_dequantize_matches_gguf_package) { check_dequantize_matches_gguf("q4_1"); }
/* the package has no q8_1: the script computes d * q from ggml-common.h's layout */
Test(quant, q8_1_dequantize_matches_its_layout) { check_dequantize_matches_gguf("q8_1"); }

Test(quant, f32_quantize_matches_gguf_package) { check_quantize_matches_reference_bytes("f32"); }
Test(quant, f16_quantize_matches_gguf_package) { check_quantize_matches_reference_bytes("f16"); }
Test(quant, bf16_quantize_matches_gguf_package) { check_quantize_matches_reference_bytes("bf16"); }
Test(quant, q8_0_quantize_matches_gguf_package) { check_quantize_matches_reference_bytes("q8_0"); }
Test(quant, q4_1_quantize_matches_gguf_package) { check_quantize_matches_reference_bytes("q4_1"); }
Test(quant, q8_1_quantize_matches_ggml_reference) { check_quantize_matches_reference_bytes("q8_1"); }

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
    const tsr_quant_vtable *vt = quant(name);
    enum { N_BLOCKS = 64 };
    int64_t n = (int64_t)N_BLOCKS * vt->block_elems;
    float *x = malloc((size_t)n * sizeof *x), *back = malloc((size_t)n * sizeof *back);
    uint8_t *q = malloc((size_t)N_BLOCKS * vt->block_bytes);
    test_rng rng = {0x5eed5eed5eedull};
    for (int b = 0; b < N_BLOCKS; b++) {
        float scale = powf(10.0f, (float)(b % 6) - 2.0f); /* 0.01 .. 1000 */
        float offset = has_min && b % 2 ? 2.5f * scale : 0.0f;
        for (uint32_t j = 0; j < vt->block_elems; j++)
            x[b * vt->block_elems + j] = rng_normalish(&rng) * scale + offset;
    }
    for (int level = 0; level < N_LEVELS; level++) {
        use_level(isa_levels[level], vt, NULL);
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
                          name, isa_levels[level], b, j, (double)xb[j],
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
    const tsr_quant_vtable *vt = quant("q8_1");
    float x[64];
    uint8_t q[72];
    test_rng rng = {77};
    for (int i = 0; i < 64; i++)
        x[i] = rng_normalish(&rng) + (i < 32 ? 0.3f : -0.1f);
    for (int level = 0; level < N_LEVELS; level++) {
        use_level(isa_levels[level], vt, NULL);
        vt->quantize(x, q, 64);
        for (int b = 0; b < 2; b++) {
            const uint8_t *block = q + 36 * b;
            int sum = 0;
            for (int j = 0; j < 32; j++)
                sum += (int8_t)block[4 + j];
            float want = half_at(block) * (float)sum, got = half_at(block + 2);
            cr_assert(fabsf(got - want) <= fabsf(want) / 1024,
                      "q8_1 (ISA level %s): block %d has s = %g, d * sum(q) = %g",
                      isa_levels[level], b, (double)got, (double)want);
        }
    }
}

/* ---- (c) products ----------------------------------------------------- */

enum { N_ROWS = 13, MAX_TOKENS = 9, Y_STRIDE = N_ROWS + 3 };
static const float sentinel = -1234.5f;

/* What bounds a product's rounding: for each (token, row), the sum over
 * blocks of the magnitudes of the terms a path adds, at most
 * sum_i |w_i| |x_i| over dequantized values; q4_1 adds its m * s terms
 * apart from the d * dx * dot ones, so those may be as large as
 * sum_i (|w_i| + |m|) |x_i| + |m * s| when they cancel. */
static void magnitudes(const char *name, const tsr_quant_vtable *vt, const tsr_quant_vtable *act,
                       const uint8_t *w, size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
                       int64_t n_cols, double *mag)
{
    float *wf = malloc((size_t)n_cols * sizeof *wf), *xf = malloc((size_t)n_cols * sizeof *xf);
    bool has_min = strcmp(name, "q4_1") == 0;
    for (int t = 0; t < MAX_TOKENS; t++) {
        act->dequantize(x + t * x_row_bytes, xf, n_cols);
        for (int r = 0; r < N_ROWS; r++) {
            vt->dequantize(w + r * w_row_bytes, wf, n_cols);
            double sum = 0.0;
            for (int64_t c = 0; c < n_cols; c++) {
                double m = 0.0;
                if (has_min)
                    m = fabs(half_at(w + r * w_row_bytes + c / 32 * 20 + 2));
                sum += (fabs(wf[c]) + m) * fabs(xf[c]);
                if (has_min && c % 32 == 0)
                    sum += m * fabs(half_at(x + t * x_row_bytes + c / 32 * 36 + 2));
            }
            mag[t * N_ROWS + r] = sum;
        }
    }
    free(wf);
    free(xf);
}

/* SIMD products against the scalar reference, every ISA level, n_tokens
 * 1..9, several row ranges, rows outside the range untouched.
 *
 * Tolerance: both paths compute the same per-block terms (an exact integer
 * dot product times float scales, a few roundings each) and add n_terms of
 * them (n_cols / block_elems) in their own orders. The classic bound for
 * recursive summation puts each result within (n_terms + 3) * u * M of the
 * exact value (u = 2^-24, M the magnitude above), so the two differ by at
 * most 2 * (n_terms + 3) * u * M; FLT_EPSILON = 2u stands in for u, a
 * factor of 2 to spare. */
static void check_products_match_reference(const char *name, const int64_t *col_counts,
                                           size_t n_col_counts)
{
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_vtable *act = activation_of(vt);
    static const int64_t ranges[][2] = {{0, N_ROWS}, {3, 11}, {5, 6}, {12, 13}, {1, 9}};
    test_rng rng = {0xc0ffee ^ vt->gguf_type};
    for (size_t k = 0; k < n_col_counts; k++) {
        int64_t n_cols = col_counts[k];
        size_t w_row_bytes = (size_t)(n_cols / vt->block_elems) * vt->block_bytes;
        size_t x_row_bytes = (size_t)(n_cols / act->block_elems) * act->block_bytes;
        uint8_t *w = malloc(w_row_bytes * N_ROWS), *x = malloc(x_row_bytes * MAX_TOKENS);
        float *row = malloc((size_t)n_cols * sizeof *row);
        for (int r = 0; r < N_ROWS; r++) {
            float scale = 0.05f * (float)(1 + r % 5);
            for (int64_t c = 0; c < n_cols; c++)
                row[c] = rng_normalish(&rng) * scale + (r % 3 == 0 ? scale : 0.0f);
            vt->quantize_reference(row, w + r * w_row_bytes, n_cols);
        }
        for (int t = 0; t < MAX_TOKENS; t++) {
            for (int64_t c = 0; c < n_cols; c++)
                row[c] = rng_normalish(&rng) * (float)(1 + t);
            act->quantize_reference(row, x + t * x_row_bytes, n_cols);
        }
        float y_ref[MAX_TOKENS * Y_STRIDE], y[MAX_TOKENS * Y_STRIDE];
        double mag[MAX_TOKENS * N_ROWS];
        vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, Y_STRIDE, n_cols, MAX_TOKENS,
                             0, N_ROWS);
        magnitudes(name, vt, act, w, w_row_bytes, x, x_row_bytes, n_cols, mag);
        double n_terms = (double)(n_cols / vt->block_elems);

        for (int level = 0; level < N_LEVELS; level++) {
            use_level(isa_levels[level], vt, act);
            for (int n_tokens = 1; n_tokens <= MAX_TOKENS; n_tokens++) {
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
                                cr_assert_eq(bits_of(got), bits_of(sentinel),
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
                                      name, vt->kernel_name(), isa_levels[level],
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
    }
}

static const int64_t block32_cols[] = {32, 96, 576, 1056};
static const int64_t float_cols[] = {1, 7, 8, 37, 576};

Test(quant, q4_1_simd_products_match_scalar_reference)
{
    check_products_match_reference("q4_1", block32_cols, 4);
}
Test(quant, q8_0_simd_products_match_scalar_reference)
{
    check_products_match_reference("q8_0", block32_cols, 4);
}
Test(quant, f32_simd_products_match_scalar_reference)
{
    check_products_match_reference("f32", float_cols, 5);
}
Test(quant, f16_simd_products_match_scalar_reference)
{
    check_products_match_reference("f16", float_cols, 5);
}
Test(quant, bf16_simd_products_match_scalar_reference)
{
    check_products_match_reference("bf16", float_cols, 5);
}

/* With every scale 1 and every minimum and sum an integer, each block's term
 * and every partial sum is an integer below 2^24, exact in float in any
 * order: the SIMD paths must then equal the reference bit for bit, which
 * checks the integer dot products themselves (nibble order, signs, the
 * unsigned-by-signed tricks) with no tolerance to hide behind. */
static void check_integer_products_exact(const char *name, uint32_t w_block_bytes,
                                         uint32_t x_block_bytes, void (*fill_w)(uint8_t *, test_rng *),
                                         void (*fill_x)(uint8_t *, test_rng *))
{
    const tsr_quant_vtable *vt = quant(name);
    const tsr_quant_vtable *act = activation_of(vt);
    cr_assert_eq(vt->block_bytes, w_block_bytes);
    cr_assert_eq(act->block_bytes, x_block_bytes);
    enum { N_COLS = 1024, N_BLOCKS = N_COLS / 32 };
    size_t w_row_bytes = N_BLOCKS * w_block_bytes, x_row_bytes = N_BLOCKS * x_block_bytes;
    uint8_t *w = malloc(w_row_bytes * N_ROWS), *x = malloc(x_row_bytes * MAX_TOKENS);
    test_rng rng = {0x1234567 + vt->gguf_type};
    for (int b = 0; b < N_ROWS * N_BLOCKS; b++)
        fill_w(w + b * w_block_bytes, &rng);
    for (int b = 0; b < MAX_TOKENS * N_BLOCKS; b++)
        fill_x(x + b * x_block_bytes, &rng);
    float y_ref[MAX_TOKENS * Y_STRIDE], y[MAX_TOKENS * Y_STRIDE];
    vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, Y_STRIDE, N_COLS, MAX_TOKENS, 0,
                         N_ROWS);
    for (int level = 0; level < N_LEVELS; level++) {
        use_level(isa_levels[level], vt, act);
        for (int n_tokens = 1; n_tokens <= MAX_TOKENS; n_tokens++) {
            vt->matmat(w, w_row_bytes, x, x_row_bytes, y, Y_STRIDE, N_COLS, n_tokens, 0, N_ROWS);
            for (int t = 0; t < n_tokens; t++)
                for (int r = 0; r < N_ROWS; r++)
                    cr_assert_eq(y[t * Y_STRIDE + r], y_ref[t * Y_STRIDE + r],
                                 "%s %s at ISA level %s: %d tokens: y[%d][%d] = %.1f, the "
                                 "reference %.1f",
                                 name, vt->kernel_name(), isa_levels[level], n_tokens, t, r,
                                 (double)y[t * Y_STRIDE + r], (double)y_ref[t * Y_STRIDE + r]);
            if (n_tokens == 1) {
                vt->matvec(w, w_row_bytes, x, y, N_COLS, 0, N_ROWS);
                for (int r = 0; r < N_ROWS; r++)
                    cr_assert_eq(y[r], y_ref[r], "%s %s at ISA level %s: matvec y[%d]", name,
                                 vt->kernel_name(), isa_levels[level], r);
            }
        }
    }
    free(w);
    free(x);
}

static void put_half(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* q4_1: d = 1, m in {-2, 0, 3}, every nibble random. */
static void fill_q4_1_integer(uint8_t *block, test_rng *rng)
{
    static const uint16_t minimums[] = {0xc000, 0x0000, 0x4200};
    put_half(block, 0x3c00);
    put_half(block + 2, minimums[rng_next(rng) % 3]);
    for (int j = 0; j < 16; j++)
        block[4 + j] = (uint8_t)rng_next(rng);
}

/* q8_1: d = 1, s one of a few integers (the products take it as given),
 * q anywhere in [-127, 127]. */
static void fill_q8_1_integer(uint8_t *block, test_rng *rng)
{
    static const uint16_t sums[] = {0x3c00, 0xc500, 0x5640};
    put_half(block, 0x3c00);
    put_half(block + 2, sums[rng_next(rng) % 3]);
    for (int j = 0; j < 32; j++)
        block[4 + j] = (uint8_t)(int8_t)((int)(rng_next(rng) % 255) - 127);
}

/* q8_0: d = 1, q anywhere in [-127, 127]. */
static void fill_q8_0_integer(uint8_t *block, test_rng *rng)
{
    put_half(block, 0x3c00);
    for (int j = 0; j < 32; j++)
        block[2 + j] = (uint8_t)(int8_t)((int)(rng_next(rng) % 255) - 127);
}

Test(quant, q4_1_integer_products_are_exact_on_every_isa)
{
    check_integer_products_exact("q4_1", 20, 36, fill_q4_1_integer, fill_q8_1_integer);
}

Test(quant, q8_0_integer_products_are_exact_on_every_isa)
{
    check_integer_products_exact("q8_0", 34, 34, fill_q8_0_integer, fill_q8_0_integer);
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
        const tsr_plugin *p = tsr_registry_find_quant(reg, formats[i].gguf_type);
        cr_assert_not_null(p, "no plugin claims GGUF type %u", formats[i].gguf_type);
        cr_assert_str_eq(p->name, formats[i].name, "GGUF type %u", formats[i].gguf_type);
        cr_assert_eq(p->kind, TSR_PLUGIN_QUANT);
    }
    cr_assert_null(tsr_registry_find_quant(reg, 9999), "nothing claims an unknown type");
}

Test(quant, product_formats_name_a_loaded_activation_form)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const tsr_quant_vtable *vt = quant(formats[i].name);
        if (vt->flags & TSR_QUANT_ACTIVATION) {
            cr_assert_null(vt->matvec, "%s is an activation form only", formats[i].name);
            continue;
        }
        const tsr_quant_vtable *act = activation_of(vt);
        cr_assert_not_null(act->quantize, "%s's activation form cannot quantize",
                           formats[i].name);
        cr_assert_eq(vt->block_elems % act->block_elems, 0, "%s: blocks do not line up",
                     formats[i].name);
    }
    cr_assert(quant("q8_1")->flags & TSR_QUANT_ACTIVATION);
    cr_assert(quant("f16")->flags & TSR_QUANT_KV_CACHE);
    cr_assert(quant("q8_0")->flags & TSR_QUANT_KV_CACHE);
    cr_assert(quant("f32")->flags & TSR_QUANT_KV_CACHE);
}

/* The best path each level allows, from the features it leaves. */
static const char *expected_path(uint32_t features, bool has_vnni_paths)
{
    const uint32_t avx2 = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C;
    const uint32_t avx512 = avx2 | TSR_CPU_AVX512F | TSR_CPU_AVX512BW | TSR_CPU_AVX512VL;
    if (has_vnni_paths && (features & (avx512 | TSR_CPU_AVX512VNNI)) == (avx512 | TSR_CPU_AVX512VNNI))
        return "avx512vnni";
    if (has_vnni_paths && (features & (avx2 | TSR_CPU_AVXVNNI)) == (avx2 | TSR_CPU_AVXVNNI))
        return "avxvnni";
    if ((features & avx512) == avx512)
        return "avx512";
    if ((features & avx2) == avx2)
        return "avx2";
    return "scalar";
}

Test(quant, kernel_name_reports_the_best_path_each_isa_level_allows)
{
#if defined(__x86_64__)
    for (int level = 0; level < N_LEVELS; level++) {
        for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
            const tsr_quant_vtable *vt = quant(formats[i].name);
            use_level(isa_levels[level], vt, NULL);
            bool vnni = strcmp(formats[i].name, "q4_1") == 0 || strcmp(formats[i].name, "q8_0") == 0;
            const char *want = expected_path(tsr_cpu_features(), vnni);
            cr_assert_str_eq(vt->kernel_name(), want, "%s at ISA level %s", formats[i].name,
                             isa_levels[level]);
        }
    }
    use_level("scalar", quant("q4_1"), NULL);
    cr_assert_str_eq(quant("q4_1")->kernel_name(), "scalar");
#else
    cr_skip_test("the SIMD paths are x86-64's");
#endif
}
