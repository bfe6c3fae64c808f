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
