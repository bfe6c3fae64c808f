/* quant/iq4_nl: 4-bit indices into a fixed non-linear table of 16 steps,
 * with a scale per 32 (ggml's IQ4_NL, byte-exact; the layout is drawn in
 * iq4_nl.h). This file holds the scalar reference and chooses among the
 * SIMD kernels of iq4_nl_x86.c. */
#include "iq4_nl.h"
#include "iq4_search.h"

static void iq4_nl_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / IQ4_NL_BLOCK_ELEMS; b++, block += IQ4_NL_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        float *out = dst + b * IQ4_NL_BLOCK_ELEMS;
        /* d * step is exact in float (11 + 7 significant bits) */
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)iq4_nl_values[block[2 + j] & 0x0f];
            out[j + 16] = d * (float)iq4_nl_values[block[2 + j] >> 4];
        }
    }
}

/* ggml's quantize_iq4_nl without an importance matrix (what llama.cpp's
 * quantizer writes): the scale search of iq4_search.h with 7 extra starting
 * points, the scale rounded to f16, each value to the step nearest x / d
 * (d before rounding, as ggml does). */
static void iq4_nl_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / IQ4_NL_BLOCK_ELEMS; b++, block += IQ4_NL_BLOCK_BYTES) {
        const float *x = src + b * IQ4_NL_BLOCK_ELEMS;
        float d = iq4_search_scale(x, 7);
        quant_store_u16(block, quant_fp32_to_fp16(d));
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; j++) {
            float low = id * x[j], high = id * x[j + 16];
            block[2 + j] = (uint8_t)(iq4_nearest_index(low) | iq4_nearest_index(high) << 4);
        }
    }
}

static void iq4_nl_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / IQ4_NL_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * IQ4_NL_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * IQ4_NL_ACT_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + 2);
                int32_t dot = 0;
                for (int j = 0; j < 16; j++)
                    dot += iq4_nl_values[wb[2 + j] & 0x0f] * p[j] +
                           iq4_nl_values[wb[2 + j] >> 4] * p[j + 16];
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                float dx = quant_fp16_to_fp32(quant_load_u16(xb));
                sum += (d * dx) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels iq4_nl_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = iq4_nl_dequantize_scalar,
    .quantize = NULL,
    .matmat = iq4_nl_matmat_reference,
};

static const quant_kernels *const iq4_nl_candidates[] = {
#if QUANT_X86
    &iq4_nl_kernels_avx512vnni, &iq4_nl_kernels_avxvnni, &iq4_nl_kernels_avx512, &iq4_nl_kernels_avx2,
#endif
    &iq4_nl_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *iq4_nl_active = &iq4_nl_kernels_scalar;

static tsr_status iq4_nl_init(const tsr_host *host, tsr_error *err)
{
    (void)err;
    iq4_nl_active = quant_pick(iq4_nl_candidates, sizeof iq4_nl_candidates / sizeof iq4_nl_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *iq4_nl_kernel_name(void)
{
    return iq4_nl_active->name;
}

static void iq4_nl_dequantize(const void *src, float *dst, int64_t n_elems)
{
    iq4_nl_active->dequantize(src, dst, n_elems);
}

static void iq4_nl_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    iq4_nl_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void iq4_nl_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    iq4_nl_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable iq4_nl_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = IQ4_NL_GGUF_TYPE,
    .block_elems = IQ4_NL_BLOCK_ELEMS,
    .block_bytes = IQ4_NL_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_0,
    .flags = 0,
    .init = iq4_nl_init,
    .kernel_name = iq4_nl_kernel_name,
    .dequantize = iq4_nl_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = iq4_nl_quantize_reference,
    .matvec = iq4_nl_matvec,
    .matmat = iq4_nl_matmat,
    .matmat_reference = iq4_nl_matmat_reference,
    .quantize_reference = iq4_nl_quantize_reference,
};

static const tsr_plugin_desc iq4_nl_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "iq4_nl",
    .version = "1.0.0",
    .summary = "4-bit indices into a non-linear table, a scale per 32 (GGUF IQ4_NL); "
               "products against q8_0",
    .vtable = &iq4_nl_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &iq4_nl_desc : NULL;
}
