/* quant/q2_k: 2-bit weights in 256-value super-blocks with 4-bit scales
 * and minimums per 16 (ggml's Q2_K, byte-exact; the layout is drawn in
 * q2_k.h). This file holds the scalar reference and the quantizer and
 * chooses among the SIMD kernels of q2_k_x86.c. */
#include "q2_k.h"
#include "kquant_quantize.h"

/* q[i] of a block, 0..3. */
static inline int q2_k_level(const uint8_t *block, int i)
{
    int h = i / 128, k = i % 128 / 32, l = i % 32;
    return (block[Q2_K_QS + 32 * h + l] >> 2 * k) & 3;
}

void q2_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q2_K_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block + Q2_K_D));
        float dmin = quant_fp16_to_fp32(quant_load_u16(block + Q2_K_D + 2));
        float *out = dst + b * KQ_BLOCK_ELEMS;
        for (int g = 0; g < KQ_GROUPS; g++) {
            /* (d * sc) * q is exact (11 + 4 + 2 bits), so only the
             * subtraction rounds, fused or not: the gguf package's floats */
            float scale = d * (float)(block[g] & 0x0f);
            float offset = dmin * (float)(block[g] >> 4);
            for (int l = 0; l < 16; l++)
                out[16 * g + l] = scale * (float)q2_k_level(block, 16 * g + l) - offset;
        }
    }
}

/* The least-squares grid search of kquant_quantize.h: levels 0..3, 4-bit
 * scales and minimums. */
static void q2_k_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q2_K_BLOCK_BYTES) {
        uint16_t d, dmin;
        uint8_t sc[KQ_GROUPS], m[KQ_GROUPS], L[KQ_BLOCK_ELEMS];
        kq_quantize_affine(src + b * KQ_BLOCK_ELEMS, 16, 16, 3, 15, &d, &dmin, sc, m, L);
        for (int g = 0; g < KQ_GROUPS; g++)
            block[g] = (uint8_t)(sc[g] | m[g] << 4);
        memset(block + Q2_K_QS, 0, 64);
        for (int i = 0; i < KQ_BLOCK_ELEMS; i++) {
            int h = i / 128, k = i % 128 / 32, l = i % 32;
            block[Q2_K_QS + 32 * h + l] |= (uint8_t)(L[i] << 2 * k);
        }
        quant_store_u16(block + Q2_K_D, d);
        quant_store_u16(block + Q2_K_D + 2, dmin);
    }
}

static void q2_k_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / KQ_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * Q2_K_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                int32_t dot = 0, mins = 0;
                for (int g = 0; g < KQ_GROUPS; g++) {
                    int32_t group = 0;
                    for (int l = 0; l < 16; l++)
                        group += q2_k_level(wb, 16 * g + l) * p[16 * g + l];
                    dot += (wb[g] & 0x0f) * group;
                    mins += (wb[g] >> 4) * kq_q8k_bsum(xb, g);
                }
                float d = quant_fp16_to_fp32(quant_load_u16(wb + Q2_K_D));
                float dmin = quant_fp16_to_fp32(quant_load_u16(wb + Q2_K_D + 2));
                float dx = kq_q8k_scale(xb);
                sum += (d * dx) * (float)dot - (dmin * dx) * (float)mins;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels q2_k_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q2_k_dequantize_scalar,
    .quantize = NULL,
    .matmat = q2_k_matmat_reference,
};

static const quant_kernels *const q2_k_candidates[] = {
#if QUANT_X86
    &q2_k_kernels_avx512vnni, &q2_k_kernels_avxvnni, &q2_k_kernels_avx512, &q2_k_kernels_avx2,
#endif
    &q2_k_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q2_k_active = &q2_k_kernels_scalar;

static tsr_status q2_k_init(const tsr_host *host, tsr_error *err)
{
    q2_k_active = quant_pick(q2_k_candidates, sizeof q2_k_candidates / sizeof q2_k_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q2_k_kernel_name(void)
{
    return q2_k_active->name;
}

static void q2_k_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q2_k_active->dequantize(src, dst, n_elems);
}

static void q2_k_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q2_k_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q2_k_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q2_k_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable q2_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q2_K,
    .block_elems = KQ_BLOCK_ELEMS,
    .block_bytes = Q2_K_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = q2_k_init,
    .kernel_name = q2_k_kernel_name,
    .dequantize = q2_k_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q2_k_quantize_reference,
    .matvec = q2_k_matvec,
    .matmat = q2_k_matmat,
    .matmat_reference = q2_k_matmat_reference,
    .quantize_reference = q2_k_quantize_reference,
};

static const tsr_plugin_desc q2_k_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q2_k",
    .version = "1.0.0",
    .summary = "2-bit weights, 4-bit scales and minimums per 16 in 256-value blocks (GGUF Q2_K); "
               "products against q8_k",
    .vtable = &q2_k_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q2_k_desc : NULL;
}
