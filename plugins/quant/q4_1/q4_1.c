/* quant/q4_1: 4-bit weights with a scale and a minimum per 32 (ggml's
 * Q4_1, byte-exact; the layout is drawn in q4_1.h). This file holds the
 * scalar reference and chooses among the SIMD kernels of q4_1_x86.c. */
#include <float.h>

#include "q4_1.h"

static void q4_1_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q4_1_BLOCK_ELEMS; b++, block += Q4_1_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        float m = quant_fp16_to_fp32(quant_load_u16(block + 2));
        float *out = dst + b * Q4_1_BLOCK_ELEMS;
        for (int j = 0; j < 16; j++) {
            /* d * q is exact in float (11 + 4 significant bits), so only
             * the + m rounds, fused or not: the gguf package's floats */
            float low = d * (float)(block[4 + j] & 0x0f);
            float high = d * (float)(block[4 + j] >> 4);
            out[j] = low + m;
            out[j + 16] = high + m;
        }
    }
}

/* ggml's quantize_row_q4_1_ref: the block's range split in 15 steps, each
 * value to the nearest step (with the +0.5 truncation ggml uses). */
static void q4_1_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q4_1_BLOCK_ELEMS; b++, block += Q4_1_BLOCK_BYTES) {
        const float *x = src + b * Q4_1_BLOCK_ELEMS;
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < Q4_1_BLOCK_ELEMS; j++) {
            if (x[j] < min)
                min = x[j];
            if (x[j] > max)
                max = x[j];
        }
        float d = (max - min) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_store_u16(block, quant_fp32_to_fp16(d));
        quant_store_u16(block + 2, quant_fp32_to_fp16(min));
        for (int j = 0; j < 16; j++) {
            /* separate statements: no compiler may fuse them into an fma */
            float low_steps = (x[j] - min) * id;
            float high_steps = (x[j + 16] - min) * id;
            int low = (int)(int8_t)(low_steps + 0.5f);
            int high = (int)(int8_t)(high_steps + 0.5f);
            low = low < 15 ? low : 15;
            high = high < 15 ? high : 15;
            block[4 + j] = (uint8_t)(low | high << 4);
        }
    }
}

static void q4_1_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / Q4_1_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * Q4_1_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_1_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + 4);
                int32_t dot = 0;
                for (int j = 0; j < 16; j++)
                    dot += (wb[4 + j] & 0x0f) * p[j] + (wb[4 + j] >> 4) * p[j + 16];
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                float m = quant_fp16_to_fp32(quant_load_u16(wb + 2));
                float dx = quant_fp16_to_fp32(quant_load_u16(xb));
                float sx = quant_fp16_to_fp32(quant_load_u16(xb + 2));
                sum += (d * dx) * (float)dot + m * sx;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels q4_1_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q4_1_dequantize_scalar,
    .quantize = NULL,
    .matmat = q4_1_matmat_reference,
};

static const quant_kernels *const q4_1_candidates[] = {
#if QUANT_X86
    &q4_1_kernels_avx512vnni, &q4_1_kernels_avxvnni, &q4_1_kernels_avx512, &q4_1_kernels_avx2,
#endif
    &q4_1_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q4_1_active = &q4_1_kernels_scalar;

static tsr_status q4_1_init(const tsr_host *host, tsr_error *err)
{
    q4_1_active = quant_pick(q4_1_candidates, sizeof q4_1_candidates / sizeof q4_1_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q4_1_kernel_name(void)
{
    return q4_1_active->name;
}

static void q4_1_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q4_1_active->dequantize(src, dst, n_elems);
}

static void q4_1_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q4_1_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q4_1_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q4_1_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

#ifdef QUANT_CUDA
/* q4_1_cuda.cu: the CUDA kernels, when built with --enable-cuda */
const tsr_quant_device_kernels *q4_1_device_kernels(uint32_t device_kind);
#endif

static const tsr_quant_vtable q4_1_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q4_1,
    .block_elems = Q4_1_BLOCK_ELEMS,
    .block_bytes = Q4_1_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_1,
    .flags = 0,
    .init = q4_1_init,
    .kernel_name = q4_1_kernel_name,
    .dequantize = q4_1_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q4_1_quantize_reference,
    .matvec = q4_1_matvec,
    .matmat = q4_1_matmat,
    .matmat_reference = q4_1_matmat_reference,
    .quantize_reference = q4_1_quantize_reference,
#ifdef QUANT_CUDA
    .device_kernels = q4_1_device_kernels,
#endif
};

static const tsr_plugin_desc q4_1_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q4_1",
    .version = "1.0.0",
    .summary = "4-bit weights, a scale and a minimum per 32 (GGUF Q4_1); products against q8_1",
    .vtable = &q4_1_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q4_1_desc : NULL;
}
