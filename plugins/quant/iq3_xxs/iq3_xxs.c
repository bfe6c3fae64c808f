/* quant/iq3_xxs: ggml's 3-bit i-quant IQ3_XXS, byte-exact (the layout is
 * drawn in iq3_xxs.h; the grid and sign tables are generated from the gguf
 * package by make_tables.py). This file holds the scalar reference and
 * chooses among the SIMD kernels of iq3_xxs_x86.c.
 *
 * The plugin reads iq3_xxs; it does not make it: ggml's quantizer searches
 * the grid with an importance matrix, which a load-time conversion does not
 * have, so the vtable has no quantize member (plugin.h: NULL when the
 * format cannot be produced from floats). */
#include "iq3_xxs.h"

static void iq3_xxs_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / IQ3_XXS_BLOCK_ELEMS; b++, block += IQ3_XXS_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        const uint8_t *qs = block + IQ3_XXS_QS;
        for (int i = 0; i < IQ3_XXS_SUB_BLOCKS; i++) {
            uint32_t aux = iq3_xxs_aux(block, i);
            uint32_t signs = iq3_xxs_sign_bits(aux);
            /* d * (0.5 + s) * 0.5 (11 + 5 significant bits) and then
             * * magnitude (+ 6) are exact in float: the gguf package's
             * floats, whatever the order */
            float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            float *out = dst + b * IQ3_XXS_BLOCK_ELEMS + 32 * i;
            for (int v = 0; v < 32; v++) {
                int magnitude = iq3_xxs_grid[qs[8 * i + v / 4]][v % 4];
                out[v] = db * (float)(signs >> v & 1 ? -magnitude : magnitude);
            }
        }
    }
}

static void iq3_xxs_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                     size_t x_row_bytes, float *y, size_t y_stride,
                                     int64_t n_cols, int64_t n_tokens, int64_t row_begin,
                                     int64_t row_end)
{
    int64_t n_blocks = n_cols / IQ3_XXS_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * IQ3_XXS_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                const uint8_t *qs = wb + IQ3_XXS_QS;
                int32_t dot = 0;
                for (int i = 0; i < IQ3_XXS_SUB_BLOCKS; i++) {
                    uint32_t aux = iq3_xxs_aux(wb, i);
                    uint32_t signs = iq3_xxs_sign_bits(aux);
                    int32_t sub = 0;
                    for (int v = 0; v < 32; v++) {
                        int magnitude = iq3_xxs_grid[qs[8 * i + v / 4]][v % 4];
                        sub += (signs >> v & 1 ? -magnitude : magnitude) * p[32 * i + v];
                    }
                    dot += (int32_t)(2 * (aux >> 28) + 1) * sub;
                }
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                sum += (d * kq_q8k_scale(xb) * 0.25f) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels iq3_xxs_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = iq3_xxs_dequantize_scalar,
    .quantize = NULL,
    .matmat = iq3_xxs_matmat_reference,
};

static const quant_kernels *const iq3_xxs_candidates[] = {
#if QUANT_X86
    &iq3_xxs_kernels_avx512vnni, &iq3_xxs_kernels_avxvnni, &iq3_xxs_kernels_avx512,
    &iq3_xxs_kernels_avx2,
#endif
    &iq3_xxs_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *iq3_xxs_active = &iq3_xxs_kernels_scalar;

static tsr_status iq3_xxs_init(const tsr_host *host, tsr_error *err)
{
    (void)err;
    iq3_xxs_active = quant_pick(iq3_xxs_candidates,
                                sizeof iq3_xxs_candidates / sizeof iq3_xxs_candidates[0],
                                host->cpu_features);
    return TSR_OK;
}

static const char *iq3_xxs_kernel_name(void)
{
    return iq3_xxs_active->name;
}

static void iq3_xxs_dequantize(const void *src, float *dst, int64_t n_elems)
{
    iq3_xxs_active->dequantize(src, dst, n_elems);
}

static void iq3_xxs_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                           int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    iq3_xxs_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void iq3_xxs_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                           float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                           int64_t row_begin, int64_t row_end)
{
    iq3_xxs_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens,
                           row_begin, row_end);
}

static const tsr_quant_vtable iq3_xxs_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = IQ3_XXS_GGUF_TYPE,
    .block_elems = IQ3_XXS_BLOCK_ELEMS,
    .block_bytes = IQ3_XXS_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = iq3_xxs_init,
    .kernel_name = iq3_xxs_kernel_name,
    .dequantize = iq3_xxs_dequantize,
    .quantize = NULL, /* reads only: see the top of this file */
    .matvec = iq3_xxs_matvec,
    .matmat = iq3_xxs_matmat,
    .matmat_reference = iq3_xxs_matmat_reference,
    .quantize_reference = NULL,
};

static const tsr_plugin_desc iq3_xxs_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "iq3_xxs",
    .version = "1.0.0",
    .summary = "3-bit grid points with sign patterns, a 4-bit scale per 32 under one per 256 "
               "(GGUF IQ3_XXS, read only); products against q8_k",
    .vtable = &iq3_xxs_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &iq3_xxs_desc : NULL;
}
