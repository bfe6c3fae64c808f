/* Helpers for tests of quant plugins: the registry of the build tree's
 * plugins, ISA levels, reproducible random data, and the reference files
 * that tests/reference/quant_*.py write (layout in those scripts). */
#ifndef TSR_TEST_QUANTTEST_H
#define TSR_TEST_QUANTTEST_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "testutil.h"

/* The ISA levels tsr_cpu_set_limit knows. On a machine without some of them
 * a level gives the best path it has, which then simply runs again. */
static const char *const quanttest_levels[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni"};
enum { QUANTTEST_N_LEVELS = sizeof quanttest_levels / sizeof quanttest_levels[0] };

static inline tsr_registry *quanttest_open_registry(void)
{
    const char *dir = test_path(test_builddir(), "plugins/.libs");
    tsr_registry *reg = NULL;
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(&dir, 1, &reg, &err), TSR_OK, "%s", err.message);
    return reg;
}

static inline const tsr_quant_vtable *quanttest_find(const tsr_registry *reg, const char *name)
{
    const tsr_plugin *p = tsr_registry_find(reg, TSR_PLUGIN_QUANT, name);
    cr_assert_not_null(p, "quant plugin '%s' is not loaded", name);
    return tsr_plugin_quant(p);
}

/* The plugin that quantizes vt's activations. */
static inline const tsr_quant_vtable *quanttest_activation_of(const tsr_registry *reg,
                                                              const tsr_quant_vtable *vt)
{
    const tsr_plugin *p = tsr_registry_find_quant(reg, vt->act_gguf_type);
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

/* ---- reference files -------------------------------------------------- */

typedef struct quanttest_reference {
    uint32_t gguf_type, block_elems, block_bytes;
    uint32_t n_dequant, n_quant;
    const uint8_t *dequant_bytes;  /* n_dequant * block_bytes */
    const uint8_t *dequant_floats; /* n_dequant * block_elems little-endian floats */
    const uint8_t *quant_floats;   /* n_quant * block_elems */
    const uint8_t *quant_bytes;    /* n_quant * block_bytes */
    uint8_t *file;                 /* free() when done */
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
    cr_assert_not_null(f, "%s: cannot open (tests/reference/quant_*.py write it)", path);
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

#endif
