/* quant/q5_k: 5-bit weights in 256-value super-blocks with 6-bit scales
 * and minimums per 32 (ggml's Q5_K, byte-exact; the layout is drawn in
 * q5_k.h). This file holds the scalar reference and the quantizer and
 * chooses among the SIMD kernels of q5_k_x86.c. */
#include "q5_k.h"
#include "kquant_quantize.h"

/* q[32j + l] of a block, 0..31. */
static inline int q5_k_level(const uint8_t *block, int j, int l)
{
    uint8_t byte = block[Q5_K_QS + 32 * (j / 2) + l];
    int high = (block[Q5_K_QH + l] >> j) & 1;
    return (j % 2 ? byte >> 4 : byte & 0x0f) | high << 4;
}

void q5_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    kq_affine_dequantize(src, dst, n_elems, Q5_K_BLOCK_BYTES, Q5_K_SCALES, q5_k_level);
}

/* The least-squares grid search of kquant_quantize.h: levels 0..31, 6-bit
 * scales and minimums. */
static void q5_k_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q5_K_BLOCK_BYTES) {
        uint16_t d, dmin;
        uint8_t sc[8], m[8], L[KQ_BLOCK_ELEMS];
        kq_quantize_affine(src + b * KQ_BLOCK_ELEMS, 8, 32, 31, 63, &d, &dmin, sc, m, L);
        quant_store_u16(block, d);
        quant_store_u16(block + 2, dmin);
        kq_pack_6bit(sc, m, block + Q5_K_SCALES);
        memset(block + Q5_K_QH, 0, 32);
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
                block[Q5_K_QS + 32 * k + l] =
                    (uint8_t)((L[64 * k + l] & 0x0f) | (L[64 * k + 32 + l] & 0x0f) << 4);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++)
                block[Q5_K_QH + l] |= (uint8_t)((L[32 * j + l] >> 4) << j);
    }
}

static void q5_k_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    kq_affine_matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                     row_end, Q5_K_BLOCK_BYTES, Q5_K_SCALES, q5_k_level);
}

static const quant_kernels q5_k_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q5_k_dequantize_scalar,
    .quantize = NULL,
    .matmat = q5_k_matmat_reference,
};

static const quant_kernels *const q5_k_candidates[] = {
#if QUANT_X86
    &q5_k_kernels_avx512vnni, &q5_k_kernels_avxvnni, &q5_k_kernels_avx512, &q5_k_kernels_avx2,
#endif
    &q5_k_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q5_k_active = &q5_k_kernels_scalar;

static tsr_status q5_k_init(const tsr_host *host, tsr_error *err)
{
    q5_k_active = quant_pick(q5_k_candidates, sizeof q5_k_candidates / sizeof q5_k_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q5_k_kernel_name(void)
{
    return q5_k_active->name;
}

static void q5_k_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q5_k_active->dequantize(src, dst, n_elems);
}

static void q5_k_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q5_k_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q5_k_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q5_k_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable q5_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q5_K,
    .block_elems = KQ_BLOCK_ELEMS,
    .block_bytes = Q5_K_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = q5_k_init,
    .kernel_name = q5_k_kernel_name,
    .dequantize = q5_k_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q5_k_quantize_reference,
    .matvec = q5_k_matvec,
    .matmat = q5_k_matmat,
    .matmat_reference = q5_k_matmat_reference,
    .quantize_reference = q5_k_quantize_reference,
};

static const tsr_plugin_desc q5_k_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q5_k",
    .version = "1.0.0",
    .summary = "5-bit weights, 6-bit scales and minimums per 32 in 256-value blocks (GGUF Q5_K); "
               "products against q8_k",
    .vtable = &q5_k_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q5_k_desc : NULL;
}
