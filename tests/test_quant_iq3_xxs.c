/* The iq3_xxs plugin (plugins/quant/iq3_xxs), loaded through the registry
 * as the core loads them:
 *   (a) dequantizing gives, bit for bit, the gguf package's floats for the
 *       same bytes, on every ISA level: blocks ggml's own quantizer made
 *       from the default model's weights and seeded random blocks
 *       (tests/reference/quant_iq3_xxs_ref.py), which between them meet
 *       every grid point and sign pattern, so the generated tables are
 *       checked as well;
 *   (b) every SIMD product equals the scalar reference on random blocks:
 *       bit for bit where every sum is an exact integer, within a rounding
 *       bound otherwise, n_tokens 1..9 and across the token chunks, odd
 *       row ranges;
 *   (c) the registry finds it by its GGUF type with ggml's geometry and
 *       q8_K activations, it claims no quantizer, and each level runs the
 *       path it should.
 * (Its model file, the default model with iq3_xxs ffn_down tensors, is in
 * test_quant_models.) */
#include "quanttest.h"

TestSuite(quant_iq3_xxs, .init = quanttest_open, .fini = quanttest_close);

/* ---- (a) dequantizing ----------------------------------------------------- */

Test(quant_iq3_xxs, dequantize_matches_gguf_package) { quanttest_check_dequantize("iq3_xxs"); }

/* The reference blocks use every grid point and every sign pattern, so
 * that (a) checks all of both tables. */
Test(quant_iq3_xxs, reference_blocks_meet_every_grid_point_and_sign_pattern)
{
    const tsr_quant_vtable *vt = quanttest_find("iq3_xxs");
    quanttest_reference ref = quanttest_load_reference("iq3_xxs", vt);
    bool point[256] = {0}, pattern[128] = {0};
    for (uint32_t b = 0; b < ref.n_dequant; b++) {
        const uint8_t *block = ref.dequant_bytes + (size_t)b * ref.block_bytes;
        for (int i = 0; i < 64; i++)
            point[block[2 + i]] = true;
        for (int i = 0; i < 8; i++) {
            uint32_t aux;
            memcpy(&aux, block + 66 + 4 * i, sizeof aux);
            for (int l = 0; l < 4; l++)
                pattern[aux >> 7 * l & 127] = true;
        }
    }
    for (int i = 0; i < 256; i++)
        cr_assert(point[i], "no reference block uses grid point %d", i);
    for (int i = 0; i < 128; i++)
        cr_assert(pattern[i], "no reference block uses sign pattern %d", i);
    free(ref.file);
}

/* ---- (b) products ----------------------------------------------------------- */

static const int64_t block256_cols[] = {256, 768, 1536};

Test(quant_iq3_xxs, simd_products_match_scalar_reference)
{
    /* random blocks (it cannot quantize), a term per sub-block of 32 */
    quanttest_products spec = {.term_elems = 32,
                               .random_w = quanttest_fill_grid_iquant,
                               .ctx = quanttest_find("iq3_xxs")};
    quanttest_check_products("iq3_xxs", block256_cols, 3, &spec);
}

/* Exact products (quanttest_check_exact_products): d = 1, every other byte
 * random; then each block's sum is 1/4 of an integer and, with q8_K's
 * p in [-3, 3], every partial sum stays exact in float. */
static void fill_exact(uint8_t *block, quanttest_rng *rng, const void *ctx)
{
    quanttest_fill_grid_iquant(block, rng, ctx);
    quanttest_put_half(block, 0x3c00);
}

Test(quant_iq3_xxs, integer_products_are_exact_on_every_isa)
{
    quanttest_check_exact_products("iq3_xxs", 1024, fill_exact, quanttest_fill_q8_k_exact,
                                   quanttest_find("iq3_xxs"));
}

/* ---- (c) the registry, and which path runs ---------------------------------- */

Test(quant_iq3_xxs, registry_finds_it_by_gguf_type_with_ggml_geometry)
{
    const tsr_plugin *p = tsr_registry_find_quant(quanttest_registry, 18);
    cr_assert_not_null(p, "no plugin claims GGUF type 18 (IQ3_XXS)");
    cr_assert_str_eq(p->name, "iq3_xxs");
    const tsr_quant_vtable *vt = tsr_plugin_quant(p);
    cr_assert_eq(vt->block_elems, 256);
    cr_assert_eq(vt->block_bytes, 98);
    cr_assert_eq(vt->flags, 0u, "a weight format only");
    const tsr_plugin *act = tsr_registry_find_quant(quanttest_registry, vt->act_gguf_type);
    cr_assert_not_null(act);
    cr_assert_str_eq(act->name, "q8_k", "ggml pairs IQ3_XXS with q8_K");
    cr_assert_not_null(vt->matvec);
    cr_assert_not_null(vt->matmat);
    cr_assert_not_null(vt->matmat_reference);
}

/* ggml makes iq3_xxs with an importance matrix; the plugin only reads it,
 * and says so by having no quantizer. */
Test(quant_iq3_xxs, claims_no_quantizer)
{
    const tsr_quant_vtable *vt = quanttest_find("iq3_xxs");
    cr_assert_null(vt->quantize);
    cr_assert_null(vt->quantize_reference);
}

Test(quant_iq3_xxs, kernel_name_reports_the_best_path_each_isa_level_allows)
{
    const char *names[] = {"iq3_xxs"};
    const bool vnni[] = {true};
    quanttest_check_kernel_names(names, vnni, 1);
}
