/* The plugins of the low-bit formats big models ship in: mxfp4 (OCP
 * MXFP4, gpt-oss's experts) and ggml's 1- to 3-bit i-quants (iq3_xxs has
 * its own test_quant_iq3_xxs.c), loaded through the registry as the core
 * loads them:
 *   (a) dequantizing gives, bit for bit, the gguf package's floats for the
 *       same bytes, on every ISA level: blocks ggml's own quantizer made
 *       from the default model's weights and seeded random blocks
 *       (tests/reference/quant_lowbit_ref.py, which also checks the
 *       package against ggml's dequantizers);
 *   (b) mxfp4 quantizes to ggml's bytes (quantize_row_mxfp4_ref); the
 *       i-quants claim no quantizer (ggml makes them with an importance
 *       matrix; checked with the registry in (d));
 *   (c) every SIMD product equals the scalar reference on random blocks:
 *       bit for bit where every sum is an exact integer, within a rounding
 *       bound otherwise, n_tokens 1..9 and across the token chunks, odd
 *       row ranges;
 *   (d) the registry finds each by its GGUF type with ggml's geometry and
 *       activation form, and each level runs the path it should.
 * (Their model files, the default model with these formats in its ffn_down
 * tensors, are in test_quant_models; batch invariance in
 * test_quant_invariance.) */
#include "quanttest.h"

TestSuite(quant_lowbit, .init = quanttest_open, .fini = quanttest_close);

static const quanttest_format formats[] = {
    {"mxfp4", 39, 32, 17, "q8_0", true},
    {"iq2_xxs", 16, 256, 66, "q8_k", false},
    {"iq2_xs", 17, 256, 74, "q8_k", false},
    {"iq2_s", 22, 256, 82, "q8_k", false},
    {"iq3_s", 21, 256, 110, "q8_k", false},
    {"iq1_s", 19, 256, 50, "q8_k", false},
    {"iq1_m", 29, 256, 56, "q8_k", false},
};
enum { N_FORMATS = sizeof formats / sizeof formats[0] };

/* ---- (a) dequantizing, (b) quantizing ------------------------------------ */

Test(quant_lowbit, mxfp4_dequantize_matches_gguf_package) { quanttest_check_dequantize("mxfp4"); }

Test(quant_lowbit, mxfp4_quantize_matches_ggml) { quanttest_check_quantize("mxfp4"); }

/* The reference blocks meet the E8M0 bytes at the edges: the subnormal
 * scales 0 and 1, the first normal 2, and 255, whose larger steps overflow
 * to infinity. */
Test(quant_lowbit, mxfp4_reference_blocks_meet_the_edge_exponents)
{
    const tsr_quant_vtable *vt = quanttest_find("mxfp4");
    quanttest_reference ref = quanttest_load_reference("mxfp4", vt);
    bool seen[256] = {0};
    for (uint32_t b = 0; b < ref.n_dequant; b++)
        seen[ref.dequant_bytes[(size_t)b * ref.block_bytes]] = true;
    static const int edges[] = {0, 1, 2, 127, 128, 254, 255};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        cr_assert(seen[edges[i]], "no reference block has exponent byte %d", edges[i]);
    free(ref.file);
}

Test(quant_lowbit, iq2_xxs_dequantize_matches_gguf_package)
{
    quanttest_check_dequantize("iq2_xxs");
}
Test(quant_lowbit, iq2_xs_dequantize_matches_gguf_package) { quanttest_check_dequantize("iq2_xs"); }
Test(quant_lowbit, iq2_s_dequantize_matches_gguf_package) { quanttest_check_dequantize("iq2_s"); }
Test(quant_lowbit, iq3_s_dequantize_matches_gguf_package) { quanttest_check_dequantize("iq3_s"); }
Test(quant_lowbit, iq1_s_dequantize_matches_gguf_package) { quanttest_check_dequantize("iq1_s"); }
Test(quant_lowbit, iq1_m_dequantize_matches_gguf_package) { quanttest_check_dequantize("iq1_m"); }

/* The reference blocks of a grid i-quant use every grid point and every
 * sign pattern, so that (a) checks the whole generated grid and the sign
 * patterns' definition. point(block, k) is the k-th of n_indices grid
 * indices of a block, pattern(block, k) the k-th of n_patterns sign
 * pattern indices (NULL: the format stores its signs as plain bits). */
static void check_reference_covers(const char *name, int n_points, int n_indices,
                                   int (*point)(const uint8_t *, int), int n_patterns,
                                   int (*pattern)(const uint8_t *, int))
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    quanttest_reference ref = quanttest_load_reference(name, vt);
    bool *seen_point = calloc((size_t)n_points, 1), seen_pattern[128] = {0};
    for (uint32_t b = 0; b < ref.n_dequant; b++) {
        const uint8_t *block = ref.dequant_bytes + (size_t)b * ref.block_bytes;
        for (int k = 0; k < n_indices; k++)
            seen_point[point(block, k)] = true;
        for (int k = 0; pattern && k < n_patterns; k++)
            seen_pattern[pattern(block, k)] = true;
    }
    for (int i = 0; i < n_points; i++)
        cr_assert(seen_point[i], "%s: no reference block uses grid point %d", name, i);
    for (int i = 0; pattern && i < 128; i++)
        cr_assert(seen_pattern[i], "%s: no reference block uses sign pattern %d", name, i);
    free(seen_point);
    free(ref.file);
}

/* iq2_xxs: sub-block i (8 bytes from byte 2) is 4 indices, then aux with
 * 4 pattern indices of 7 bits. */
static int iq2_xxs_point(const uint8_t *block, int k)
{
    return block[2 + 8 * (k / 4) + k % 4];
}

static int iq2_xxs_pattern(const uint8_t *block, int k)
{
    uint32_t aux;
    memcpy(&aux, block + 2 + 8 * (k / 4) + 4, sizeof aux);
    return (int)(aux >> 7 * (k % 4) & 127);
}

Test(quant_lowbit, iq2_xxs_reference_blocks_meet_every_grid_point_and_sign_pattern)
{
    check_reference_covers("iq2_xxs", 256, 32, iq2_xxs_point, 32, iq2_xxs_pattern);
}

/* iq2_xs: point k is the low 9 bits of u16 k from byte 2, its sign
 * pattern the top 7. */
static int iq2_xs_q(const uint8_t *block, int k)
{
    return block[2 + 2 * k] | block[3 + 2 * k] << 8;
}

static int iq2_xs_point(const uint8_t *block, int k)
{
    return iq2_xs_q(block, k) & 511;
}

static int iq2_xs_pattern(const uint8_t *block, int k)
{
    return iq2_xs_q(block, k) >> 9;
}

Test(quant_lowbit, iq2_xs_reference_blocks_meet_every_grid_point_and_sign_pattern)
{
    check_reference_covers("iq2_xs", 512, 32, iq2_xs_point, 32, iq2_xs_pattern);
}

/* iq2_s: point k is qs[k] from byte 2 and bits 2(k % 4) + 0..1 of qh[k / 4]
 * at byte 66; its signs are plain bits. */
static int iq2_s_point(const uint8_t *block, int k)
{
    return block[2 + k] | (block[66 + k / 4] >> 2 * (k % 4) & 3) << 8;
}

Test(quant_lowbit, iq2_s_reference_blocks_meet_every_grid_point)
{
    check_reference_covers("iq2_s", 1024, 32, iq2_s_point, 0, NULL);
}

/* iq3_s: point k is qs[k] from byte 2 and bit k % 8 of qh[k / 8] at byte
 * 66. */
static int iq3_s_point(const uint8_t *block, int k)
{
    return block[2 + k] | (block[66 + k / 8] >> k % 8 & 1) << 8;
}

Test(quant_lowbit, iq3_s_reference_blocks_meet_every_grid_point)
{
    check_reference_covers("iq3_s", 512, 64, iq3_s_point, 0, NULL);
}

/* iq1_s: point k is qs[k] from byte 2 and bits 3(k % 4) + 0..2 of u16
 * qh[k / 4] at byte 34. */
static int iq1_s_point(const uint8_t *block, int k)
{
    int qh = block[34 + 2 * (k / 4)] | block[35 + 2 * (k / 4)] << 8;
    return block[2 + k] | (qh >> 3 * (k % 4) & 7) << 8;
}

Test(quant_lowbit, iq1_s_reference_blocks_meet_every_grid_point)
{
    check_reference_covers("iq1_s", 2048, 32, iq1_s_point, 0, NULL);
}

/* iq1_m: point k is qs[k] from byte 0 and the low 3 bits of nibble k % 2
 * (low first) of qh[k / 2] at byte 32. */
static int iq1_m_point(const uint8_t *block, int k)
{
    return block[k] | (block[32 + k / 2] >> 4 * (k % 2) & 7) << 8;
}

Test(quant_lowbit, iq1_m_reference_blocks_meet_every_grid_point)
{
    check_reference_covers("iq1_m", 2048, 32, iq1_m_point, 0, NULL);
}

/* iq1_m keeps d in the top nibbles of its scale words, and a shift and a
 * scale per point and per 16 values: the reference blocks meet every d
 * nibble in every word, both shifts of every point and every scale of
 * every half sub-block, so that (a) checks where each is read from. */
Test(quant_lowbit, iq1_m_reference_blocks_meet_every_d_nibble_shift_and_scale)
{
    const tsr_quant_vtable *vt = quanttest_find("iq1_m");
    quanttest_reference ref = quanttest_load_reference("iq1_m", vt);
    bool nibble[4][16] = {{0}}, shift[32][2] = {{0}}, scale[16][8] = {{0}};
    for (uint32_t b = 0; b < ref.n_dequant; b++) {
        const uint8_t *block = ref.dequant_bytes + (size_t)b * ref.block_bytes;
        for (int j = 0; j < 4; j++) {
            int word = block[48 + 2 * j] | block[49 + 2 * j] << 8;
            nibble[j][word >> 12] = true;
            for (int h = 0; h < 4; h++)
                scale[4 * j + h][word >> 3 * h & 7] = true;
        }
        for (int k = 0; k < 32; k++)
            shift[k][block[32 + k / 2] >> (4 * (k % 2) + 3) & 1] = true;
    }
    for (int j = 0; j < 4; j++)
        for (int v = 0; v < 16; v++)
            cr_assert(nibble[j][v], "no reference block has %d in d's nibble %d", v, j);
    for (int k = 0; k < 32; k++)
        cr_assert(shift[k][0] && shift[k][1], "point %d lacks a shift sign", k);
    for (int q = 0; q < 16; q++)
        for (int v = 0; v < 8; v++)
            cr_assert(scale[q][v], "no reference block has scale %d in place %d", v, q);
    free(ref.file);
}

/* ---- (c) products ----------------------------------------------------------- */

static const int64_t block32_cols[] = {32, 96, 576, 1056};
static const quanttest_products per_block = {0};

Test(quant_lowbit, mxfp4_simd_products_match_scalar_reference)
{
    quanttest_check_products("mxfp4", block32_cols, 4, &per_block);
}

/* mxfp4: e = 128 (a scale of 1), every code random. */
static void fill_mxfp4_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    (void)ctx;
    block[0] = 128;
    for (int j = 1; j < 17; j++)
        block[j] = (uint8_t)quanttest_next(rng);
}

Test(quant_lowbit, mxfp4_integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("mxfp4", 1024, fill_mxfp4_exact, quanttest_fill_q8_0_exact,
                                   NULL);
}

static const int64_t block256_cols[] = {256, 768, 1536};

/* The grid i-quants cannot quantize: random blocks, a term per sub-block
 * of 32. */
static void check_grid_products(const char *name)
{
    quanttest_products spec = {.term_elems = 32,
                               .random_w = quanttest_fill_grid_iquant,
                               .ctx = quanttest_find(name)};
    quanttest_check_products(name, block256_cols, 3, &spec);
}

/* Exact products (quanttest_check_exact_products): d = 1, every other byte
 * random; then each block's sum is a small fraction (1/8 at the least) of
 * an integer and, with q8_K's p in [-3, 3], every partial sum stays exact
 * in float. */
static void fill_grid_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    quanttest_fill_grid_iquant(block, rng, ctx);
    quanttest_put_grid_d(block, ctx, 0x3c00);
}

static void check_grid_exact_products(const char *name)
{
    quanttest_check_exact_products(name, 1024, fill_grid_exact, quanttest_fill_q8_k_exact,
                                   quanttest_find(name));
}

Test(quant_lowbit, iq2_xxs_simd_products_match_scalar_reference) { check_grid_products("iq2_xxs"); }

Test(quant_lowbit, iq2_xxs_integer_products_are_exact_on_every_isa)
{
    check_grid_exact_products("iq2_xxs");
}

Test(quant_lowbit, iq2_xs_simd_products_match_scalar_reference) { check_grid_products("iq2_xs"); }
Test(quant_lowbit, iq2_xs_integer_products_are_exact_on_every_isa)
{
    check_grid_exact_products("iq2_xs");
}
Test(quant_lowbit, iq2_s_simd_products_match_scalar_reference) { check_grid_products("iq2_s"); }
Test(quant_lowbit, iq2_s_integer_products_are_exact_on_every_isa)
{
    check_grid_exact_products("iq2_s");
}
Test(quant_lowbit, iq3_s_simd_products_match_scalar_reference) { check_grid_products("iq3_s"); }
Test(quant_lowbit, iq3_s_integer_products_are_exact_on_every_isa)
{
    check_grid_exact_products("iq3_s");
}
Test(quant_lowbit, iq1_s_simd_products_match_scalar_reference) { check_grid_products("iq1_s"); }
Test(quant_lowbit, iq1_s_integer_products_are_exact_on_every_isa)
{
    check_grid_exact_products("iq1_s");
}
Test(quant_lowbit, iq1_m_simd_products_match_scalar_reference) { check_grid_products("iq1_m"); }
Test(quant_lowbit, iq1_m_integer_products_are_exact_on_every_isa)
{
    check_grid_exact_products("iq1_m");
}

/* ---- (d) the registry, and which path runs ---------------------------------- */

Test(quant_lowbit, registry_finds_each_format_by_its_gguf_type_with_ggml_geometry)
{
    quanttest_check_registry(formats, N_FORMATS);
}

Test(quant_lowbit, kernel_name_reports_the_best_path_each_isa_level_allows)
{
    quanttest_check_format_kernel_names(formats, N_FORMATS);
    quanttest_use_level("native", quanttest_find("mxfp4"), NULL);
}
