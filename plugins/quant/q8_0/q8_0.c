/* quant/q8_0: 8-bit values with a scale per 32 (ggml's Q8_0, byte-exact; the
 * layout is drawn in q8_0.h): weights, the KV cache, and its own products'
 * activation form. This file holds the scalar reference and chooses among
 * the SIMD kernels of q8_0_x86.c. */
#include "q8_0.h"

static void q8_0_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q8_0_BLOCK_ELEMS; b++, block += Q8_0_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        const int8_t *q = (const int8_t *)(block + 2);
        for (int j = 0; j < Q8_0_BLOCK_ELEMS; j++)
            dst[b * Q8_0_BLOCK_ELEMS + j] = d * (float)q[j];
    }
}

/* ggml's quantize_row_q8_0_ref. Non-finite input gives unspecified bytes. */
static void q8_0_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q8_0_BLOCK_ELEMS; b++, block += Q8_0_BLOCK_BYTES) {
        const float *x = src + b * Q8_0_BLOCK_ELEMS;
        float amax = 0.0f;
        for (int j = 0; j < Q8_0_BLOCK_ELEMS; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_store_u16(block, quant_fp32_to_fp16(d));
        int8_t *q = (int8_t *)(block + 2);
        for (int j = 0; j < Q8_0_BLOCK_ELEMS; j++)
            q[j] = (int8_t)quant_round_half_away(x[j] * id);
    }
}

static void q8_0_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / Q8_0_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * Q8_0_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_0_BLOCK_BYTES;
                const int8_t *q = (const int8_t *)(wb + 2), *p = (const int8_t *)(xb + 2);
                int32_t dot = 0;
                for (int j = 0; j < Q8_0_BLOCK_ELEMS; j++)
                    dot += q[j] * p[j];
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                float dx = quant_fp16_to_fp32(quant_load_u16(xb));
                sum += (d * dx) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels q8_0_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q8_0_dequantize_scalar,
    .quantize = q8_0_quantize_reference,
    .matmat = q8_0_matmat_reference,
};

static const quant_kernels *const q8_0_candidates[] = {
#if QUANT_X86
    &q8_0_kernels_avx512vnni, &q8_0_kernels_avxvnni, &q8_0_kernels_avx512, &q8_0_kernels_avx2,
#endif
    &q8_0_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q8_0_active = &q8_0_kernels_scalar;

static tsr_status q8_0_init(const tsr_host *host, tsr_error *err)
{
    q8_0_active = quant_pick(q8_0_candidates, sizeof q8_0_candidates / sizeof q8_0_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q8_0_kernel_name(void)
{
    return q8_0_active->name;
}

static void q8_0_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q8_0_active->dequantize(src, dst, n_elems);
}

static void q8_0_quantize(const float *src, void *dst, int64_t n_elems)
{
    q8_0_active->quantize(src, dst, n_elems);
}

static void q8_0_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q8_0_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q8_0_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q8_0_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

#ifdef QUANT_CUDA
/* q8_0_cuda.cu: the CUDA kernels, when built with --enable-cuda */
const tsr_quant_device_kernels *q8_0_device_kernels(uint32_t device_kind);
#endif

static const tsr_quant_vtable q8_0_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q8_0,
    .block_elems = Q8_0_BLOCK_ELEMS,
    .block_bytes = Q8_0_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_0,
    .flags = TSR_QUANT_KV_CACHE,
    .init = q8_0_init,
    .kernel_name = q8_0_kernel_name,
    .dequantize = q8_0_dequantize,
    .quantize = q8_0_quantize,
    .matvec = q8_0_matvec,
    .matmat = q8_0_matmat,
    .matmat_reference = q8_0_matmat_reference,
    .quantize_reference = q8_0_quantize_reference,
#ifdef QUANT_CUDA
    .device_kernels = q8_0_device_kernels,
#endif
};

static const tsr_plugin_desc q8_0_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q8_0",
    .version = "1.0.0",
    .summary = "8-bit values with a scale per 32 (GGUF Q8_0); weights, KV cache, activations",
    .vtable = &q8_0_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q8_0_desc : NULL;
}
