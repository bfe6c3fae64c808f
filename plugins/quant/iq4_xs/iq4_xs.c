/* quant/iq4_xs: iq4_nl's non-linear 4-bit steps in 256-value super-blocks,
 * with a 6-bit scale per 32 (ggml's IQ4_XS, byte-exact; the layout is drawn
 * in iq4_xs.h). This file holds the scalar reference and chooses among the
 * SIMD kernels of iq4_xs_x86.c. */
#include "iq4_xs.h"
#include "iq4_nl/iq4_search.h"

static void iq4_xs_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / IQ4_XS_BLOCK_ELEMS; b++, block += IQ4_XS_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        for (int i = 0; i < IQ4_XS_SUB_BLOCKS; i++) {
            /* d * scale (11 + 6 significant bits) and then * step (+ 7)
             * are exact in float: the gguf package's floats */
            float dl = d * (float)iq4_xs_scale(block, i);
            const uint8_t *qs = block + IQ4_XS_QS + 16 * i;
            float *out = dst + b * IQ4_XS_BLOCK_ELEMS + 32 * i;
            for (int j = 0; j < 16; j++) {
                out[j] = dl * (float)iq4_nl_values[qs[j] & 0x0f];
                out[j + 16] = dl * (float)iq4_nl_values[qs[j] >> 4];
            }
        }
    }
}

/* ggml's quantize_iq4_xs without an importance matrix (what llama.cpp's
 * quantizer writes): each sub-block's best float scale by the search of
 * iq4_search.h (7 extra starting points); the one of largest magnitude, m,
 * sets d = -m / 32, so every sub-block scale becomes an integer l in
 * [-32, 31] (nearest, ties to even) times d; each value goes to the step
 * nearest x / (d * l), with d before it is rounded to f16, as ggml does. */
static void iq4_xs_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / IQ4_XS_BLOCK_ELEMS; b++, block += IQ4_XS_BLOCK_BYTES) {
        const float *x = src + b * IQ4_XS_BLOCK_ELEMS;
        float scales[IQ4_XS_SUB_BLOCKS];
        float max_scale = 0.0f, amax_scale = 0.0f;
        for (int i = 0; i < IQ4_XS_SUB_BLOCKS; i++) {
            scales[i] = iq4_search_scale(x + 32 * i, 7);
            float a = scales[i] < 0 ? -scales[i] : scales[i];
            if (a > amax_scale) {
                amax_scale = a;
                max_scale = scales[i];
            }
        }
        float d = -max_scale / 32.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_store_u16(block, quant_fp32_to_fp16(d));
        uint16_t scales_h = 0;
        for (int i = 0; i < IQ4_XS_SUB_BLOCKS; i++) {
            float scaled = id * scales[i];
            int l = kq_nearest_int(scaled);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            float dl = d * (float)l;
            float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
            const float *xb = x + 32 * i;
            uint8_t *qs = block + IQ4_XS_QS + 16 * i;
            for (int j = 0; j < 16; j++) {
                float low = idl * xb[j], high = idl * xb[j + 16];
                qs[j] = (uint8_t)(iq4_nearest_index(low) | iq4_nearest_index(high) << 4);
            }
            unsigned biased = (unsigned)(l + 32);
            if (i % 2 == 0)
                block[4 + i / 2] = (uint8_t)(biased & 0x0f);
            else
                block[4 + i / 2] |= (uint8_t)((biased & 0x0f) << 4);
            scales_h |= (uint16_t)((biased >> 4) << 2 * i);
        }
        quant_store_u16(block + 2, scales_h);
    }
}

static void iq4_xs_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                    size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                    int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / IQ4_XS_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * IQ4_XS_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                /* |dot| <= 256 * 127 * 127 * 32: well inside int32 */
                int32_t dot = 0;
                for (int i = 0; i < IQ4_XS_SUB_BLOCKS; i++) {
                    const uint8_t *qs = wb + IQ4_XS_QS + 16 * i;
                    int32_t sub = 0;
                    for (int j = 0; j < 16; j++)
                        sub += iq4_nl_values[qs[j] & 0x0f] * p[32 * i + j] +
                               iq4_nl_values[qs[j] >> 4] * p[32 * i + 16 + j];
                    dot += iq4_xs_scale(wb, i) * sub;
                }
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                sum += (d * kq_q8k_scale(xb)) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels iq4_xs_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = iq4_xs_dequantize_scalar,
    .quantize = NULL,
    .matmat = iq4_xs_matmat_reference,
};

static const quant_kernels *const iq4_xs_candidates[] = {
#if QUANT_X86
    &iq4_xs_kernels_avx512vnni, &iq4_xs_kernels_avxvnni, &iq4_xs_kernels_avx512,
    &iq4_xs_kernels_avx2,
#endif
    &iq4_xs_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *iq4_xs_active = &iq4_xs_kernels_scalar;

static tsr_status iq4_xs_init(const tsr_host *host, tsr_error *err)
{
    (void)err;
    iq4_xs_active = quant_pick(iq4_xs_candidates,
                               sizeof iq4_xs_candidates / sizeof iq4_xs_candidates[0],
                               host->cpu_features);
    return TSR_OK;
}

static const char *iq4_xs_kernel_name(void)
{
    return iq4_xs_active->name;
}

static void iq4_xs_dequantize(const void *src, float *dst, int64_t n_elems)
{
    iq4_xs_active->dequantize(src, dst, n_elems);
}

static void iq4_xs_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                          int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    iq4_xs_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void iq4_xs_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                          float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                          int64_t row_begin, int64_t row_end)
{
    iq4_xs_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens,
                          row_begin, row_end);
}

static const tsr_quant_vtable iq4_xs_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = IQ4_XS_GGUF_TYPE,
    .block_elems = IQ4_XS_BLOCK_ELEMS,
    .block_bytes = IQ4_XS_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = iq4_xs_init,
    .kernel_name = iq4_xs_kernel_name,
    .dequantize = iq4_xs_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = iq4_xs_quantize_reference,
    .matvec = iq4_xs_matvec,
    .matmat = iq4_xs_matmat,
    .matmat_reference = iq4_xs_matmat_reference,
    .quantize_reference = iq4_xs_quantize_reference,
};

static const tsr_plugin_desc iq4_xs_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "iq4_xs",
    .version = "1.0.0",
    .summary = "iq4_nl's non-linear 4-bit steps, a 6-bit scale per 32 under one per 256 "
               "(GGUF IQ4_XS); products against q8_k",
    .vtable = &iq4_xs_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &iq4_xs_desc : NULL;
}
