/* quant/q6_k: 6-bit weights in 256-value super-blocks with an 8-bit scale
 * per 16 (ggml's Q6_K, byte-exact; the layout is drawn in q6_k.h). This
 * file holds the scalar reference and the quantizer and chooses among the
 * SIMD kernels of q6_k_x86.c. */
#include "q6_k.h"
#include "kquant_quantize.h"

/* v[i] of a block, 0..63. */
static inline int q6_k_value(const uint8_t *block, int i)
{
    int h = i / 128, k = i % 128 / 32, l = i % 32;
    uint8_t low = block[64 * h + 32 * (k % 2) + l];
    uint8_t high = block[Q6_K_QH + 32 * h + l];
    return (k < 2 ? low & 0x0f : low >> 4) | ((high >> 2 * k) & 3) << 4;
}

void q6_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q6_K_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block + Q6_K_D));
        float *out = dst + b * KQ_BLOCK_ELEMS;
        for (int g = 0; g < KQ_GROUPS; g++) {
            /* d * sc is exact; times (v - 32) rounds once: the gguf package's floats */
            float scale = d * (float)(int8_t)block[Q6_K_SCALES + g];
            for (int l = 0; l < 16; l++)
                out[16 * g + l] = scale * (float)(q6_k_value(block, 16 * g + l) - 32);
        }
    }
}

/* The symmetric least-squares grid search of kquant_quantize.h: levels
 * -32..31, 8-bit signed scales. */
static void q6_k_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += Q6_K_BLOCK_BYTES) {
        uint16_t d;
        int8_t sc[KQ_GROUPS], L[KQ_BLOCK_ELEMS];
        kq_quantize_symmetric(src + b * KQ_BLOCK_ELEMS, 31, 127, &d, sc, L);
        memset(block, 0, Q6_K_BLOCK_BYTES);
        for (int i = 0; i < KQ_BLOCK_ELEMS; i++) {
            int v = L[i] + 32;
            int h = i / 128, k = i % 128 / 32, l = i % 32;
            block[64 * h + 32 * (k % 2) + l] |= (uint8_t)(k < 2 ? v & 0x0f : (v & 0x0f) << 4);
            block[Q6_K_QH + 32 * h + l] |= (uint8_t)((v >> 4) << 2 * k);
        }
        memcpy(block + Q6_K_SCALES, sc, KQ_GROUPS);
        quant_store_u16(block + Q6_K_D, d);
    }
}

static void q6_k_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
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
                const uint8_t *wb = w_row + b * Q6_K_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                int32_t dot = 0;
                for (int g = 0; g < KQ_GROUPS; g++) {
                    int32_t group = 0;
                    for (int l = 0; l < 16; l++)
                        group += (q6_k_value(wb, 16 * g + l) - 32) * p[16 * g + l];
                    dot += (int8_t)wb[Q6_K_SCALES + g] * group;
                }
                float d = quant_fp16_to_fp32(quant_load_u16(wb + Q6_K_D));
                sum += (d * kq_q8k_scale(xb)) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels q6_k_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q6_k_dequantize_scalar,
    .quantize = NULL,
    .matmat = q6_k_matmat_reference,
};

static const quant_kernels *const q6_k_candidates[] = {
#if QUANT_X86
    &q6_k_kernels_avx512vnni, &q6_k_kernels_avxvnni, &q6_k_kernels_avx512, &q6_k_kernels_avx2,
#endif
    &q6_k_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q6_k_active = &q6_k_kernels_scalar;

static tsr_status q6_k_init(const tsr_host *host, tsr_error *err)
{
    q6_k_active = quant_pick(q6_k_candidates, sizeof q6_k_candidates / sizeof q6_k_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q6_k_kernel_name(void)
{
    return q6_k_active->name;
}

static void q6_k_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q6_k_active->dequantize(src, dst, n_elems);
}

static void q6_k_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q6_k_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q6_k_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q6_k_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable q6_k_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q6_K,
    .block_elems = KQ_BLOCK_ELEMS,
    .block_bytes = Q6_K_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = q6_k_init,
    .kernel_name = q6_k_kernel_name,
    .dequantize = q6_k_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q6_k_quantize_reference,
    .matvec = q6_k_matvec,
    .matmat = q6_k_matmat,
    .matmat_reference = q6_k_matmat_reference,
    .quantize_reference = q6_k_quantize_reference,
};

static const tsr_plugin_desc q6_k_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q6_k",
    .version = "1.0.0",
    .summary = "6-bit weights, an 8-bit scale per 16 in 256-value blocks (GGUF Q6_K); products "
               "against q8_k",
    .vtable = &q6_k_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q6_k_desc : NULL;
}
