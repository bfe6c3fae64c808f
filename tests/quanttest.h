/* What the tests of the quant plugins share (test_quant.c, test_quant_legacy.c,
 * test_quant_k.c, test_quant_iq3_xxs.c, test_quant_lowbit.c,
 * test_quant_invariance.c): the build
 * tree's plugins loaded through the registry as the core loads them, ISA
 * levels, reproducible random data and operands, the reference
 * files that tests/reference/quant*_ref.py write (tests/reference/quant/
 * FORMAT.bin, layout in quant_ref.py), and the checks every format gets:
 * dequantizing and quantizing against those files on every ISA level, and
 * every SIMD product against the plugin's scalar reference.
 *
 * Each test program includes this once; the registry is the suite's
 * (TestSuite(NAME, .init = quanttest_open, .fini = quanttest_close)). */
#ifndef TSR_TEST_QUANTTEST_H
#define TSR_TEST_QUANTTEST_H

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "testutil.h"

/* ---- the plugins -------------------------------------------------------- */

/* The ISA levels tsr_cpu_set_limit knows. On a machine without some of them
 * a level gives the best path it has, which then simply runs again. */
static const char *const quanttest_levels[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni"};
enum { QUANTTEST_N_LEVELS = sizeof quanttest_levels / sizeof quanttest_levels[0] };

static tsr_registry *quanttest_registry;

static inline void quanttest_open(void)
{
    const char *dir = test_path(test_builddir(), "plugins/.libs");
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(&dir, 1, &quanttest_registry, &err), TSR_OK, "%s",
                 err.message);
}

static inline void quanttest_close(void)
{
    tsr_registry_close(quanttest_registry);
    quanttest_registry = NULL;
}

static inline const tsr_quant_vtable *quanttest_find(const char *name)
{
    const tsr_plugin *p = tsr_registry_find(quanttest_registry, TSR_PLUGIN_QUANT, name);
    cr_assert_not_null(p, "quant plugin '%s' is not loaded", name);
    return tsr_plugin_quant(p);
}

/* The plugin that quantizes vt's activations. */
static inline const tsr_quant_vtable *quanttest_activation_of(const tsr_quant_vtable *vt)
{
    const tsr_plugin *p = tsr_registry_find_quant(quanttest_registry, vt->act_gguf_type);
    cr_assert_not_null(p, "no plugin claims activation type %u", vt->act_gguf_type);
    return tsr_plugin_quant(p);
}

/* Limits the CPU features to a level and lets the plugins choose again, as
 * the core does when it changes host->cpu_features. */
static inline void quanttest_use_level(const char *level, const tsr_quant_vtable *a,
                                       const tsr_quant_vtable *b)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_cpu_set_limit(level, &err), TSR_OK, "%s", err.message);
    const tsr_host *host = tsr_host_services();
    cr_assert_eq(a->init(host, &err), TSR_OK, "%s", err.message);
    if (b)
        cr_assert_eq(b->init(host, &err), TSR_OK, "%s", err.message);
}

/* The best path a plugin should choose with these features (on a machine
 * that is not x86-64 none are set: scalar). */
static inline const char *quanttest_expected_path(uint32_t features, bool has_vnni_paths)
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

/* Every format at every level reports the path quanttest_expected_path
 * gives; vnni[i] says whether format i has VNNI paths. */
static inline void quanttest_check_kernel_names(const char *const *names, const bool *vnni,
                                                size_t n)
{
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++)
        for (size_t i = 0; i < n; i++) {
            const tsr_quant_vtable *vt = quanttest_find(names[i]);
            quanttest_use_level(quanttest_levels[level], vt, NULL);
            const char *want = quanttest_expected_path(tsr_cpu_features(), vnni[i]);
            cr_assert_str_eq(vt->kernel_name(), want, "%s at ISA level %s", names[i],
                             quanttest_levels[level]);
        }
}

/* What a format must be to the registry: found by its GGUF type with ggml's
 * geometry, a weight format, its products against ggml's activation form
 * for it (ggml's vec_dot_type), and a quantizer or, for a format made only
 * with an importance matrix, none. */
typedef struct quanttest_format {
    const char *name;
    uint32_t gguf_type, block_elems, block_bytes;
    const char *activation;
    bool quantizes;
} quanttest_format;

static inline void quanttest_check_registry(const quanttest_format *formats, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const tsr_plugin *p = tsr_registry_find_quant(quanttest_registry, formats[i].gguf_type);
        cr_assert_not_null(p, "no plugin claims GGUF type %u", formats[i].gguf_type);
        cr_assert_str_eq(p->name, formats[i].name, "GGUF type %u", formats[i].gguf_type);
        const tsr_quant_vtable *vt = tsr_plugin_quant(p);
        cr_assert_eq(vt->block_elems, formats[i].block_elems, "%s", formats[i].name);
        cr_assert_eq(vt->block_bytes, formats[i].block_bytes, "%s", formats[i].name);
        cr_assert_eq(vt->flags, 0u, "%s is a weight format only", formats[i].name);
        const tsr_plugin *act = tsr_registry_find_quant(quanttest_registry, vt->act_gguf_type);
        cr_assert_not_null(act, "%s: no plugin claims its activation type %u", formats[i].name,
                           vt->act_gguf_type);
        cr_assert_str_eq(act->name, formats[i].activation, "%s's activations", formats[i].name);
        cr_assert_not_null(vt->matvec, "%s", formats[i].name);
        cr_assert_not_null(vt->matmat, "%s", formats[i].name);
        cr_assert_not_null(vt->matmat_reference, "%s", formats[i].name);
        if (formats[i].quantizes) {
            cr_assert_not_null(vt->quantize, "%s", formats[i].name);
            cr_assert_not_null(vt->quantize_reference, "%s", formats[i].name);
        } else {
            cr_assert_null(vt->quantize, "%s claims a quantizer", formats[i].name);
            cr_assert_null(vt->quantize_reference, "%s", formats[i].name);
        }
    }
}

/* Every format of the table at every level reports the path
 * quanttest_expected_path gives; all of them have VNNI paths. */
static inline void quanttest_check_format_kernel_names(const quanttest_format *formats, size_t n)
{
    const bool vnni = true;
    for (size_t i = 0; i < n; i++)
        quanttest_check_kernel_names(&formats[i].name, &vnni, 1);
}

/* ---- bytes and random data ---------------------------------------------- */

static inline float quanttest_float_at(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static inline uint32_t quanttest_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* An IEEE half (no NaN needed here) as a float. */
static inline float quanttest_half_at(const uint8_t *p)
{
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude = exponent == 0    ? ldexpf((float)mantissa, -24)
                      : exponent == 31 ? INFINITY
                                       : ldexpf((float)(mantissa | 0x400), exponent - 25);
    return h & 0x8000 ? -magnitude : magnitude;
}

static inline void quanttest_put_half(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* xorshift64*: the same random data on every run and machine. */
typedef struct quanttest_rng {
    uint64_t state;
} quanttest_rng;

static inline uint64_t quanttest_next(quanttest_rng *rng)
{
    rng->state ^= rng->state >> 12;
    rng->state ^= rng->state << 25;
    rng->state ^= rng->state >> 27;
    return rng->state * 0x2545f4914f6cdd1dull;
}

/* Roughly normal (a sum of four uniforms), centred on 0, spread about 0.6. */
static inline float quanttest_normalish(quanttest_rng *rng)
{
    float sum = 0.0f;
    for (int i = 0; i < 4; i++)
        sum += (float)(quanttest_next(rng) >> 40) / (float)(1u << 24) - 0.5f;
    return sum;
}

/* ---- reference files ------------------------------------------------------ */

typedef struct quanttest_reference {
    uint32_t gguf_type, block_elems, block_bytes;
    uint32_t n_dequant, n_quant;
    const uint8_t *dequant_bytes;  /* n_dequant * block_bytes */
    const uint8_t *dequant_floats; /* n_dequant * block_elems little-endian floats */
    const uint8_t *quant_floats;   /* n_quant * block_elems */
    const uint8_t *quant_bytes;    /* n_quant * block_bytes */
    uint8_t *file;                 /* owns all of the above: free(file) */
} quanttest_reference;

static inline const uint8_t *quanttest_take(const uint8_t **cursor, const uint8_t *end, size_t n,
                                            const char *what, const char *path)
{
    cr_assert(n <= (size_t)(end - *cursor), "%s: the file ends inside %s", path, what);
    const uint8_t *at = *cursor;
    *cursor += n;
    return at;
}

static inline uint32_t quanttest_take_u32(const uint8_t **cursor, const uint8_t *end,
                                          const char *what, const char *path)
{
    uint32_t v;
    memcpy(&v, quanttest_take(cursor, end, 4, what, path), 4);
    return v;
}

/* tests/reference/quant/NAME.bin, checked against the plugin's geometry. */
static inline quanttest_reference quanttest_load_reference(const char *name,
                                                           const tsr_quant_vtable *vt)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/reference/quant/%s.bin", name);
    const char *path = test_path(test_srcdir(), rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: cannot open (tests/reference/quant*_ref.py write it)", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
    quanttest_reference ref = {.file = malloc((size_t)size)};
    cr_assert(ref.file && fread(ref.file, 1, (size_t)size, f) == (size_t)size, "%s: read", path);
    fclose(f);
    const uint8_t *cursor = ref.file, *end = ref.file + size;
    cr_assert_eq(memcmp(quanttest_take(&cursor, end, 8, "the magic", path), "TSRQREF1", 8), 0,
                 "%s: not a quant reference file", path);
    ref.gguf_type = quanttest_take_u32(&cursor, end, "the header", path);
    ref.block_elems = quanttest_take_u32(&cursor, end, "the header", path);
    ref.block_bytes = quanttest_take_u32(&cursor, end, "the header", path);
    ref.n_dequant = quanttest_take_u32(&cursor, end, "the dequantize count", path);
    ref.dequant_bytes = quanttest_take(&cursor, end, (size_t)ref.n_dequant * ref.block_bytes,
                                       "the blocks", path);
    ref.dequant_floats = quanttest_take(
        &cursor, end, (size_t)ref.n_dequant * ref.block_elems * 4, "the floats", path);
    ref.n_quant = quanttest_take_u32(&cursor, end, "the quantize count", path);
    ref.quant_floats = quanttest_take(&cursor, end, (size_t)ref.n_quant * ref.block_elems * 4,
                                      "the inputs", path);
    ref.quant_bytes = quanttest_take(&cursor, end, (size_t)ref.n_quant * ref.block_bytes,
                                     "the bytes", path);
    cr_assert_eq(cursor, end, "%s: %ld bytes left over", path, (long)(end - cursor));
    cr_assert_eq(vt->gguf_type, ref.gguf_type, "%s: GGUF type id", name);
    cr_assert_eq(vt->block_elems, ref.block_elems, "%s: block_elems", name);
    cr_assert_eq(vt->block_bytes, ref.block_bytes, "%s: block_bytes", name);
    cr_assert_gt(ref.n_dequant, 0, "%s: no blocks to dequantize", name);
    return ref;
}

/* ---- dequantizing and quantizing against the reference files ------------ */

/* Dequantizing the file's blocks gives its floats bit for bit, every level. */
static inline void quanttest_check_dequantize(const char *name)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
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
                         "the reference says %a (0x%08x)",
                         name, vt->kernel_name(), quanttest_levels[level], i % ref.block_elems,
                         i / ref.block_elems, (double)out[i], quanttest_bits(out[i]),
                         (double)want, quanttest_bits(want));
        }
    }
    free(out);
    free(ref.file);
}

static inline void quanttest_check_bytes(const char *name, const char *which, const char *level,
                                         const quanttest_reference *ref, const uint8_t *got)
{
    for (size_t i = 0; i < (size_t)ref->n_quant * ref->block_bytes; i++)
        cr_assert_eq(got[i], ref->quant_bytes[i],
                     "%s (%s at ISA level %s): byte %zu of block %zu is 0x%02x, the reference "
                     "says 0x%02x",
                     name, which, level, i % ref->block_bytes, i / ref->block_bytes, got[i],
                     ref->quant_bytes[i]);
}

/* Quantizing the file's floats gives its bytes exactly, through quantize
 * and quantize_reference, every level. */
static inline void quanttest_check_quantize(const char *name)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
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
        quanttest_check_bytes(name, vt->kernel_name(), quanttest_levels[level], &ref, out);
        memset(out, 0xa5, n_out);
        vt->quantize_reference(in, out, (int64_t)n_in);
        quanttest_check_bytes(name, "quantize_reference", quanttest_levels[level], &ref, out);
    }
    free(in);
    free(out);
    free(ref.file);
}

/* ---- random operands ------------------------------------------------------ */

/* Sets the f16 d of a grid i-quant's block (vt: its plugin's vtable): at
 * byte 0, but in iq1_m (GGUF 29) bits 4j .. 4j + 3 of d are the top
 * nibble of its u16 scale word j at byte 48 + 2j (plugins/quant/iq1_m/
 * iq1_m.h), whose other bits stay. */
static inline void quanttest_put_grid_d(uint8_t *block, const tsr_quant_vtable *vt, uint16_t d)
{
    if (vt->gguf_type != 29) {
        quanttest_put_half(block, d);
        return;
    }
    for (int j = 0; j < 4; j++)
        block[49 + 2 * j] = (uint8_t)((block[49 + 2 * j] & 0x0f) | (d >> 4 * j & 15) << 4);
}

/* A random block of a grid i-quant (iq3_xxs, iq2_xxs, ...: 256 values
 * under an f16 d; ctx is its plugin's vtable, for the block size and
 * where d is): every byte random but d, a random scale of 0.001 to 0.01
 * (halves 0x1419 .. 0x211f), so that every index, sign and sub-block
 * scale occurs. */
static inline void quanttest_fill_grid_iquant(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    const tsr_quant_vtable *vt = ctx;
    for (uint32_t i = 0; i < vt->block_bytes; i++)
        block[i] = (uint8_t)quanttest_next(rng);
    quanttest_put_grid_d(block, vt,
                         (uint16_t)(0x1419 + quanttest_next(rng) % (0x211f - 0x1419)));
}

/* Fills one block of a format with bytes (random weights of a format that
 * cannot quantize, or blocks for quanttest_check_exact_products); ctx is
 * the caller's. */
typedef void quanttest_fill(uint8_t *block, quanttest_rng *rng, const void *ctx);

/* n_rows rows of n_cols weights of format `name`: blocks from random_w
 * (called with ctx) when it is given, else rows of roughly normal values,
 * row r of spread 0.05 (1 + r % 5) and every third offset from zero by as
 * much, quantized by the plugin's quantize_reference. */
static inline void quanttest_random_weights(const char *name, const tsr_quant_vtable *vt,
                                            quanttest_fill *random_w, const void *ctx,
                                            uint8_t *w, size_t w_row_bytes, int n_rows,
                                            int64_t n_cols, quanttest_rng *rng)
{
    float *row = malloc((size_t)n_cols * sizeof *row);
    for (int r = 0; r < n_rows; r++) {
        if (random_w) {
            for (int64_t b = 0; b < n_cols / vt->block_elems; b++)
                random_w(w + r * w_row_bytes + b * vt->block_bytes, rng, ctx);
            continue;
        }
        cr_assert_not_null(vt->quantize_reference, "%s cannot quantize: give random_w", name);
        float scale = 0.05f * (float)(1 + r % 5);
        for (int64_t c = 0; c < n_cols; c++)
            row[c] = quanttest_normalish(rng) * scale + (r % 3 == 0 ? scale : 0.0f);
        vt->quantize_reference(row, w + r * w_row_bytes, n_cols);
    }
    free(row);
}

/* n_tokens rows of n_cols activations in act's form: roughly normal values,
 * token t's of spread about 0.6 (1 + t), quantized by its quantize_reference. */
static inline void quanttest_random_activations(const tsr_quant_vtable *act, uint8_t *x,
                                                size_t x_row_bytes, int n_tokens,
                                                int64_t n_cols, quanttest_rng *rng)
{
    float *row = malloc((size_t)n_cols * sizeof *row);
    for (int t = 0; t < n_tokens; t++) {
        for (int64_t c = 0; c < n_cols; c++)
            row[c] = quanttest_normalish(rng) * (float)(1 + t);
        act->quantize_reference(row, x + t * x_row_bytes, n_cols);
    }
    free(row);
}

/* ---- products against the scalar reference ------------------------------ */

/* Token counts: 1 to 9 meet every remainder of the register tiles; 33, 64
 * and 70 cross the chunks the matmats take tokens in (32 or 64). */
static const int quanttest_token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 64, 70};
enum {
    QUANTTEST_N_TOKEN_COUNTS = sizeof quanttest_token_counts / sizeof quanttest_token_counts[0],
    QUANTTEST_ROWS = 13,
    QUANTTEST_MAX_TOKENS = 70,
    QUANTTEST_Y_STRIDE = QUANTTEST_ROWS + 3,
};

/* How a format's products are tested (quanttest_check_products): how they
 * may round. Both paths compute the same
 * per-block terms (exact integer dot products times float scales, a few
 * roundings each) and add them in their own orders; recursive summation
 * puts each result within (n_terms + 3) * u * M of the exact value
 * (u = 2^-24), so the two differ by at most twice that. n_terms is
 * n_cols / term_elems + extra_terms (term_elems 0: the block size). M, the
 * magnitude of every term any path adds, is sum_i (|w_i| + a) |x_i| over
 * the dequantized values plus c per weight block, where terms() gives the
 * block's a (what a path may add apart from the dequantized weight: a
 * minimum, an offset) and c (a correction term of its own, such as
 * m * s); NULL: both 0. ctx is passed to terms. */
typedef struct quanttest_products {
    int64_t term_elems;
    double extra_terms;
    void (*terms)(const uint8_t *w_block, const uint8_t *x_block, const void *ctx, double *a,
                  double *c);
    const void *ctx;
    /* Weights of a format that cannot quantize (no quantize_reference):
     * random blocks from this, row by row, called with ctx. */
    quanttest_fill *random_w;
} quanttest_products;

static inline void quanttest_magnitudes(const tsr_quant_vtable *vt, const tsr_quant_vtable *act,
                                        const quanttest_products *spec, const uint8_t *w,
                                        size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
                                        int64_t n_cols, double *mag)
{
    float *wf = malloc((size_t)n_cols * sizeof *wf), *xf = malloc((size_t)n_cols * sizeof *xf);
    for (int t = 0; t < QUANTTEST_MAX_TOKENS; t++) {
        act->dequantize(x + t * x_row_bytes, xf, n_cols);
        for (int r = 0; r < QUANTTEST_ROWS; r++) {
            vt->dequantize(w + r * w_row_bytes, wf, n_cols);
            double sum = 0.0, a = 0.0, c = 0.0;
            for (int64_t col = 0; col < n_cols; col++) {
                if (spec->terms && col % vt->block_elems == 0) {
                    spec->terms(w + r * w_row_bytes + col / vt->block_elems * vt->block_bytes,
                                    x + t * x_row_bytes + col / act->block_elems * act->block_bytes,
                                    spec->ctx, &a, &c);
                    sum += c;
                }
                sum += (fabs(wf[col]) + a) * fabs(xf[col]);
            }
            mag[t * QUANTTEST_ROWS + r] = sum;
        }
    }
    free(wf);
    free(xf);
}

/* Fills y with a sentinel, runs one product (one token through matvec on
 * alternate ranges, else matmat) and checks every written value against
 * y_ref within tol (NULL: exactly) and every other value untouched. */
static inline void quanttest_run_and_compare(const char *name, const char *level,
                                             const tsr_quant_vtable *vt, const uint8_t *w,
                                             size_t w_row_bytes, const uint8_t *x,
                                             size_t x_row_bytes, int64_t n_cols, int n_tokens,
                                             int64_t r0, int64_t r1, bool via_matvec,
                                             const float *y_ref, const double *tol, float *y)
{
    static const float sentinel = -1234.5f;
    for (int i = 0; i < QUANTTEST_MAX_TOKENS * QUANTTEST_Y_STRIDE; i++)
        y[i] = sentinel;
    if (via_matvec)
        vt->matvec(w, w_row_bytes, x, y, n_cols, r0, r1);
    else
        vt->matmat(w, w_row_bytes, x, x_row_bytes, y, QUANTTEST_Y_STRIDE, n_cols, n_tokens, r0,
                   r1);
    for (int t = 0; t < QUANTTEST_MAX_TOKENS; t++)
        for (int r = 0; r < QUANTTEST_Y_STRIDE; r++) {
            float got = y[t * QUANTTEST_Y_STRIDE + r];
            if (!(t < n_tokens && r >= r0 && r < r1)) {
                cr_assert_eq(quanttest_bits(got), quanttest_bits(sentinel),
                             "%s %s: n_cols %lld, %d tokens, rows [%lld, %lld): wrote y[%d][%d], "
                             "outside its range",
                             name, vt->kernel_name(), (long long)n_cols, n_tokens, (long long)r0,
                             (long long)r1, t, r);
                continue;
            }
            float want = y_ref[t * QUANTTEST_Y_STRIDE + r];
            double allowed = tol ? tol[t * QUANTTEST_ROWS + r] + FLT_MIN : 0.0;
            cr_assert(fabs((double)got - (double)want) <= allowed,
                      "%s %s at ISA level %s (%s): n_cols %lld, %d tokens, rows [%lld, %lld): "
                      "y[%d][%d] = %.9g, the reference %.9g, apart by %.3g > %.3g",
                      name, vt->kernel_name(), level, via_matvec ? "matvec" : "matmat",
                      (long long)n_cols, n_tokens, (long long)r0, (long long)r1, t, r,
                      (double)got, (double)want, fabs((double)got - (double)want), allowed);
        }
}

/* SIMD products against the scalar reference on random data (weights and
 * activations quantized by the plugins' quantize_reference, or weights
 * from spec's random_w), every ISA level, the token counts above, several
 * row ranges, rows outside the range untouched, within spec's rounding
 * bound (FLT_EPSILON = 2u stands in for u, a factor of 2 to spare). */
static inline void quanttest_check_products(const char *name, const int64_t *col_counts,
                                            size_t n_col_counts,
                                            const quanttest_products *spec)
{
    static const int64_t ranges[][2] = {{0, QUANTTEST_ROWS}, {3, 11}, {5, 6}, {12, 13},
                                        {1, 9},              {2, 7},  {1, 10}};
    const tsr_quant_vtable *vt = quanttest_find(name);
    const tsr_quant_vtable *act = quanttest_activation_of(vt);
    quanttest_rng rng = {0xc0ffee ^ vt->gguf_type};
    enum { N_Y = QUANTTEST_MAX_TOKENS * QUANTTEST_Y_STRIDE };
    for (size_t k = 0; k < n_col_counts; k++) {
        int64_t n_cols = col_counts[k];
        size_t w_row_bytes = (size_t)(n_cols / vt->block_elems) * vt->block_bytes;
        size_t x_row_bytes = (size_t)(n_cols / act->block_elems) * act->block_bytes;
        uint8_t *w = malloc(w_row_bytes * QUANTTEST_ROWS);
        uint8_t *x = malloc(x_row_bytes * QUANTTEST_MAX_TOKENS);
        quanttest_random_weights(name, vt, spec->random_w, spec->ctx, w, w_row_bytes,
                                 QUANTTEST_ROWS, n_cols, &rng);
        quanttest_random_activations(act, x, x_row_bytes, QUANTTEST_MAX_TOKENS, n_cols, &rng);
        float *y_ref = malloc(sizeof(float) * N_Y), *y = malloc(sizeof(float) * N_Y);
        double *tol = malloc(sizeof(double) * QUANTTEST_MAX_TOKENS * QUANTTEST_ROWS);
        vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, QUANTTEST_Y_STRIDE, n_cols,
                             QUANTTEST_MAX_TOKENS, 0, QUANTTEST_ROWS);
        quanttest_magnitudes(vt, act, spec, w, w_row_bytes, x, x_row_bytes, n_cols, tol);
        int64_t term_elems = spec->term_elems ? spec->term_elems : vt->block_elems;
        double n_terms = (double)(n_cols / term_elems) + spec->extra_terms;
        for (int i = 0; i < QUANTTEST_MAX_TOKENS * QUANTTEST_ROWS; i++)
            tol[i] *= 2.0 * (n_terms + 3) * FLT_EPSILON;

        for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
            quanttest_use_level(quanttest_levels[level], vt, act);
            for (int kt = 0; kt < QUANTTEST_N_TOKEN_COUNTS; kt++)
                for (size_t g = 0; g < sizeof ranges / sizeof ranges[0]; g++) {
                    int n_tokens = quanttest_token_counts[kt];
                    /* one token goes through matvec (and matmat, the next time round) */
                    quanttest_run_and_compare(name, quanttest_levels[level], vt, w, w_row_bytes, x,
                                              x_row_bytes, n_cols, n_tokens, ranges[g][0],
                                              ranges[g][1], n_tokens == 1 && g % 2 == 0, y_ref,
                                              tol, y);
                }
        }
        free(w);
        free(x);
        free(y_ref);
        free(y);
        free(tol);
    }
}

/* A format whose products at ISA level `level` compute each (row, token)
 * as its scalar reference does, term by term in block order, equals the
 * reference bit for bit: on 1 to 40 rows (every remainder of 16-row groups
 * and 4-row passes), the rows split into ranges as the core's threads split
 * them (1, 2, 3 and 5 uneven ranges), 1 to 9, 33 and 70 tokens, 32 to 1056
 * columns. On a CPU without that level's path the best one it has is left
 * to quanttest_check_products. */
static inline void quanttest_check_tier_equals_reference(const char *name, const char *level)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    const tsr_quant_vtable *act = quanttest_activation_of(vt);
    quanttest_use_level(level, vt, act);
    if (strcmp(vt->kernel_name(), level) != 0) {
        cr_assert_str_neq(quanttest_expected_path(tsr_cpu_features(), true), level);
        return;
    }
    enum { MAX_ROWS = 40, MAX_T = 70 };
    static const int64_t cols[] = {32, 64, 96, 1056};
    static const int token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 70};
    static const int n_splits[] = {1, 2, 3, 5};
    quanttest_rng rng = {0x40f0a512 ^ vt->gguf_type};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        int64_t n = cols[k];
        size_t w_row_bytes = (size_t)(n / vt->block_elems) * vt->block_bytes;
        size_t x_row_bytes = (size_t)(n / act->block_elems) * act->block_bytes;
        uint8_t *w = malloc(w_row_bytes * MAX_ROWS), *x = malloc(x_row_bytes * MAX_T);
        float *y = malloc(sizeof(float) * MAX_ROWS * MAX_T);
        float *y_ref = malloc(sizeof(float) * MAX_ROWS * MAX_T);
        quanttest_random_weights(name, vt, NULL, NULL, w, w_row_bytes, MAX_ROWS, n, &rng);
        quanttest_random_activations(act, x, x_row_bytes, MAX_T, n, &rng);
        vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, MAX_ROWS, n, MAX_T, 0,
                             MAX_ROWS);
        for (int rows = 1; rows <= MAX_ROWS; rows++)
            for (size_t kt = 0; kt < sizeof token_counts / sizeof token_counts[0]; kt++)
                for (size_t ks = 0; ks < sizeof n_splits / sizeof n_splits[0]; ks++) {
                    int n_t = token_counts[kt], parts = n_splits[ks];
                    for (int i = 0; i < MAX_ROWS * MAX_T; i++)
                        y[i] = -1234.5f;
                    /* uneven ranges: part p ends at rows * (p + 1)^2 / parts^2 */
                    int begin = 0;
                    for (int part = 0; part < parts; part++) {
                        int end = part + 1 == parts ? rows : rows * (part + 1) * (part + 1) /
                                                                 (parts * parts);
                        if (n_t == 1)
                            vt->matvec(w, w_row_bytes, x, y, n, begin, end);
                        else
                            vt->matmat(w, w_row_bytes, x, x_row_bytes, y, MAX_ROWS, n, n_t,
                                       begin, end);
                        begin = end;
                    }
                    for (int t = 0; t < MAX_T; t++)
                        for (int r = 0; r < MAX_ROWS; r++) {
                            float got = y[t * MAX_ROWS + r];
                            float want =
                                t < n_t && r < rows ? y_ref[t * MAX_ROWS + r] : -1234.5f;
                            cr_assert_eq(quanttest_bits(got), quanttest_bits(want),
                                         "%s: %lld columns, %d rows in %d ranges, %d tokens: "
                                         "y[%d][%d] = %a, want %a",
                                         name, (long long)n, rows, parts, n_t, t, r, (double)got,
                                         (double)want);
                        }
                }
        free(w), free(x), free(y), free(y_ref);
    }
}

/* With data whose every block term and partial sum is an integer below 2^24
 * (scales 1, integer minimums and sums), sums are exact in float in any
 * order: the SIMD paths must then equal the reference bit for bit, which
 * checks the integer work itself (bit and nibble order, tables, signs, the
 * unsigned-by-signed tricks, scale unpacking, corrections through sums)
 * with no tolerance to hide behind. fill_w and fill_x make such blocks. */
static inline void quanttest_check_exact_products(const char *name, int64_t n_cols,
                                                  quanttest_fill *fill_w, quanttest_fill *fill_x,
                                                  const void *ctx)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    const tsr_quant_vtable *act = quanttest_activation_of(vt);
    enum { N_Y = QUANTTEST_MAX_TOKENS * QUANTTEST_Y_STRIDE };
    int64_t w_blocks = n_cols / vt->block_elems, x_blocks = n_cols / act->block_elems;
    size_t w_row_bytes = (size_t)w_blocks * vt->block_bytes;
    size_t x_row_bytes = (size_t)x_blocks * act->block_bytes;
    uint8_t *w = malloc(w_row_bytes * QUANTTEST_ROWS);
    uint8_t *x = malloc(x_row_bytes * QUANTTEST_MAX_TOKENS);
    quanttest_rng rng = {0x1234567 + vt->gguf_type};
    for (int64_t b = 0; b < QUANTTEST_ROWS * w_blocks; b++)
        fill_w(w + b * vt->block_bytes, &rng, ctx);
    for (int64_t b = 0; b < QUANTTEST_MAX_TOKENS * x_blocks; b++)
        fill_x(x + b * act->block_bytes, &rng, ctx);
    float *y_ref = malloc(sizeof(float) * N_Y), *y = malloc(sizeof(float) * N_Y);
    vt->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, QUANTTEST_Y_STRIDE, n_cols,
                         QUANTTEST_MAX_TOKENS, 0, QUANTTEST_ROWS);
    for (int t = 0; t < QUANTTEST_MAX_TOKENS; t++)
        for (int r = 0; r < QUANTTEST_ROWS; r++)
            cr_assert(fabsf(y_ref[t * QUANTTEST_Y_STRIDE + r]) < 16777216.0f,
                      "%s: the data leave the exact range; pick another seed", name);
    for (int level = 0; level < QUANTTEST_N_LEVELS; level++) {
        quanttest_use_level(quanttest_levels[level], vt, act);
        for (int kt = 0; kt < QUANTTEST_N_TOKEN_COUNTS; kt++) {
            int n_tokens = quanttest_token_counts[kt];
            quanttest_run_and_compare(name, quanttest_levels[level], vt, w, w_row_bytes, x,
                                      x_row_bytes, n_cols, n_tokens, 0, QUANTTEST_ROWS, false,
                                      y_ref, NULL, y);
            if (n_tokens == 1)
                quanttest_run_and_compare(name, quanttest_levels[level], vt, w, w_row_bytes, x,
                                          x_row_bytes, n_cols, 1, 0, QUANTTEST_ROWS, true, y_ref,
                                          NULL, y);
        }
    }
    free(w);
    free(x);
    free(y_ref);
    free(y);
}

/* Activation blocks for exact products: scale 1 and integers. */

/* q8_0: d = 1, q anywhere in [-127, 127]. */
static inline void quanttest_fill_q8_0_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_put_half(block, 0x3c00);
    for (int j = 0; j < 32; j++)
        block[2 + j] = (uint8_t)(int8_t)((int)(quanttest_next(rng) % 255) - 127);
}

/* q8_1: d = 1, s one of a few integers (the products take it as given),
 * q anywhere in [-127, 127]. */
static inline void quanttest_fill_q8_1_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    static const uint16_t sums[] = {0x3c00, 0xc500, 0x5640};
    quanttest_put_half(block, 0x3c00);
    quanttest_put_half(block + 2, sums[quanttest_next(rng) % 3]);
    for (int j = 0; j < 32; j++)
        block[4 + j] = (uint8_t)(int8_t)((int)(quanttest_next(rng) % 255) - 127);
}

/* q8_K: dx = 1, p in [-max_p, max_p], and the bsums its quantizer writes. */
static inline void quanttest_fill_q8_k(uint8_t *block, quanttest_rng *rng, int max_p)
{
    float one = 1.0f;
    memcpy(block, &one, sizeof one);
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) {
            int p = (int)(quanttest_next(rng) % (uint64_t)(2 * max_p + 1)) - max_p;
            block[4 + 16 * g + j] = (uint8_t)(int8_t)p;
            sum += p;
        }
        int16_t s = (int16_t)sum;
        memcpy(block + 260 + 2 * g, &s, sizeof s);
    }
}

/* q8_K for the products of 256-value formats: p in [-3, 3], so that a
 * block's sum and a few blocks' stay exact in float. */
static inline void quanttest_fill_q8_k_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    quanttest_fill_q8_k(block, rng, 3);
}

#endif
