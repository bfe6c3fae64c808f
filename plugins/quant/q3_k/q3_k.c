/* quant/q3_k: 3-bit weights in 256-value super-blocks with a 6-bit scale
 * per 16 (ggml's Q3_K, byte-exact; the layout is drawn in q3_k.h). This
 * file holds the scalar reference and the quantizer and chooses among the
 * SIMD kernels of q3_k_x86.c. */
#include "q3_k.h"
#include "kquant_quantize.h"

/* u[i] of a block, 0..7. */
static inline int q3_k_value(const uint8_t *block, int i)
{
    int h = i / 128, k = i % 128 / 32, l = i % 32;
    int low = (block[Q3_K_QS + 32 * h + l] >> 2 * k) & 3;
    int high = (block[l] >> (4 * h + k)) & 1;
    return low | high << 2;
}

void q3_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q3_K_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block + Q3_K_D));
        int8_t sc[KQ_GROUPS];
        q3_k_unpack_scales(block + Q3_K_SCALES, sc);
        float *out = dst + b * KQ_BLOCK_ELEMS;
        for (int g = 0; g < KQ_GROUPS; g++) {
            /* (d * sc) * (u - 4) is exact (11 + 6 + 3 bits): the gguf package's floats */
            float scale = d * (float)sc[g];
            for (int l = 0; l < 16; l++)
                out[16 * g + l] = scale * (float)(q3_k_value(block, 16 * g + l) - 4);
        }
    }
}

/* The symmetric least-squares grid search of kquant_quantize.h: levels
 * -4..3, 6-bit signed scales (kept within -31..31). */
static void q3_k_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q3_K_BLOCK_BYTES) {
        uint16_t d;
        int8_t sc[KQ_GROUPS], L[KQ_BLOCK_ELEMS];
        kq_quantize_symmetric(src + b * KQ_BLOCK_ELEMS, 3, 31, &d, sc, L);
        memset(block, 0, Q3_K_BLOCK_BYTES);
        for (int i = 0; i < KQ_BLOCK_ELEMS; i++) {
            int u = L[i] + 4;
            int h = i / 128, k = i % 128 / 32, l = i % 32;
            block[Q3_K_QS + 32 * h + l] |= (uint8_t)((u & 3) << 2 * k);
            block[l] |= (uint8_t)((u >> 2) << (4 * h + k));
        }
        for (int g = 0; g < KQ_GROUPS; g++) {
            int stored = sc[g] + 32;
            block[Q3_K_SCALES + g % 8] |= (uint8_t)((stored & 0x0f) << 4 * (g / 8));
            block[Q3_K_SCALES + 8 + g % 4] |= (uint8_t)((stored >> 4) << 2 * (g / 4));
        }
        quant_store_u16(block + Q3_K_D, d);
    }
}

static void q3_k_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
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
                const uint8_t *wb = w_row + b * Q3_K_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                int8_t sc[KQ_GROUPS];
                q3_k_unpack_scales(wb + Q3_K_SCALES, sc);
                int32_t dot = 0;
                for (int g = 0; g < KQ_GROUPS; g++) {
                    int32_t group = 0;
                    for (int l = 0; l < 16; l++)
                        group += (q3_k_value(wb, 16 * g + l) - 4) * p[16 * g + l];
                    dot += sc[g] * group;
                }
                float d = quant_fp16_to_fp32(quant_load_u16(wb + Q3_K_D));
                sum += (d * kq_q8k_scale(xb)) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels q3_k_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q3_k_dequantize_scalar,
    .quantize = NULL,
    .matmat = q3_k_matmat_reference,
};

static const quant_kernels *const q3_k_candidates[] = {
#if QUANT_X86
    &q3_k_kernels_avx512vnni, &q3_k_kernels_avxvnni, &q3_k_kernels_avx512, &q3_k_kernels_avx2,
#endif
    &q3_k_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q3_k_active = &q3_k_kernels_scalar;

static tsr_status q3_k_init(const tsr_host *host, tsr_error *err)
{
    q3_k_active = quant_pick(q3_k_candidates, sizeof q3_k_candidates / sizeof q3_k_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q3_k_kernel_name(void)
{
    return q3_k_active->name;
}

static void q3_k_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q3_k_active->dequantize(src, dst, n_elems);
}

static void q3_k_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q3_k_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q3_k_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q3_k_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable q3_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q3_K,
    .block_elems = KQ_BLOCK_ELEMS,
    .block_bytes = Q3_K_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = q3_k_init,
    .kernel_name = q3_k_kernel_name,
    .dequantize = q3_k_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q3_k_quantize_reference,
    .matvec = q3_k_matvec,
    .matmat = q3_k_matmat,
    .matmat_reference = q3_k_matmat_reference,
    .quantize_reference = q3_k_quantize_reference,
};

static const tsr_plugin_desc q3_k_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q3_k",
    .version = "1.0.0",
    .summary = "3-bit weights, a 6-bit scale per 16 in 256-value blocks (GGUF Q3_K); products "
               "against q8_k",
    .vtable = &q3_k_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q3_k_desc : NULL;
}
