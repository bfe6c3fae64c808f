/* quant/q4_k: 4-bit weights in 256-value super-blocks with 6-bit scales
 * and minimums per 32 (ggml's Q4_K, byte-exact; the layout is drawn in
 * q4_k.h). This file holds the scalar reference and the quantizer and
 * chooses among the SIMD kernels of q4_k_x86.c. */
#include "q4_k.h"
#include "kquant_quantize.h"

/* q[32j + l] of a block. */
static inline int q4_k_level(const uint8_t *block, int j, int l)
{
    uint8_t byte = block[Q4_K_QS + 32 * (j / 2) + l];
    return j % 2 ? byte >> 4 : byte & 0x0f;
}

void q4_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    kq_affine_dequantize(src, dst, n_elems, Q4_K_BLOCK_BYTES, Q4_K_SCALES, q4_k_level);
}

/* The least-squares grid search of kquant_quantize.h: levels 0..15, 6-bit
 * scales and minimums. */
static void q4_k_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q4_K_BLOCK_BYTES) {
        uint16_t d, dmin;
        uint8_t sc[8], m[8], L[KQ_BLOCK_ELEMS];
        kq_quantize_affine(src + b * KQ_BLOCK_ELEMS, 8, 32, 15, 63, &d, &dmin, sc, m, L);
        quant_store_u16(block, d);
        quant_store_u16(block + 2, dmin);
        kq_pack_6bit(sc, m, block + Q4_K_SCALES);
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
                block[Q4_K_QS + 32 * k + l] = (uint8_t)(L[64 * k + l] | L[64 * k + 32 + l] << 4);
    }
}

static void q4_k_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    kq_affine_matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                     row_end, Q4_K_BLOCK_BYTES, Q4_K_SCALES, q4_k_level);
}

static const quant_kernels q4_k_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q4_k_dequantize_scalar,
    .quantize = NULL,
    .matmat = q4_k_matmat_reference,
};

static const quant_kernels *const q4_k_candidates[] = {
#if QUANT_X86
    &q4_k_kernels_avx512vnni, &q4_k_kernels_avxvnni, &q4_k_kernels_avx512, &q4_k_kernels_avx2,
#endif
    &q4_k_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q4_k_active = &q4_k_kernels_scalar;

static tsr_status q4_k_init(const tsr_host *host, tsr_error *err)
{
    q4_k_active = quant_pick(q4_k_candidates, sizeof q4_k_candidates / sizeof q4_k_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q4_k_kernel_name(void)
{
    return q4_k_active->name;
}

static void q4_k_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q4_k_active->dequantize(src, dst, n_elems);
}

static void q4_k_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q4_k_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q4_k_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q4_k_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable q4_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q4_K,
    .block_elems = KQ_BLOCK_ELEMS,
    .block_bytes = Q4_K_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = q4_k_init,
    .kernel_name = q4_k_kernel_name,
    .dequantize = q4_k_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q4_k_quantize_reference,
    .matvec = q4_k_matvec,
    .matmat = q4_k_matmat,
    .matmat_reference = q4_k_matmat_reference,
    .quantize_reference = q4_k_quantize_reference,
};

static const tsr_plugin_desc q4_k_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q4_k",
    .version = "1.0.0",
    .summary = "4-bit weights, 6-bit scales and minimums per 32 in 256-value blocks (GGUF Q4_K); "
               "products against q8_k",
    .vtable = &q4_k_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q4_k_desc : NULL;
}
