/* quant/q4_0: 4-bit weights with a scale per 32, centred on 8 (ggml's Q4_0,
 * byte-exact; the layout is drawn in q4_0.h). This file holds the scalar
 * reference and chooses among the SIMD kernels of q4_0_x86.c. */
#include "q4_0.h"

static void q4_0_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q4_0_BLOCK_ELEMS; b++, block += Q4_0_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        float *out = dst + b * Q4_0_BLOCK_ELEMS;
        /* (q - 8) * d is exact in float (11 + 4 significant bits): the gguf
         * package's floats, whatever the order of operations */
        for (int j = 0; j < 16; j++) {
            out[j] = (float)((block[2 + j] & 0x0f) - 8) * d;
            out[j + 16] = (float)((block[2 + j] >> 4) - 8) * d;
        }
    }
}

/* ggml's quantize_row_q4_0_ref: the value of largest magnitude (with its
 * sign) becomes -8 steps, d = max / -8, and each value goes to the nearest
 * step by truncating x/d + 8.5 (ggml's rounding, kept for byte-exact files). */
static void q4_0_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q4_0_BLOCK_ELEMS; b++, block += Q4_0_BLOCK_BYTES) {
        const float *x = src + b * Q4_0_BLOCK_ELEMS;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < Q4_0_BLOCK_ELEMS; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            if (amax < a) {
                amax = a;
                max = x[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_store_u16(block, quant_fp32_to_fp16(d));
        for (int j = 0; j < 16; j++) {
            /* separate statements: no compiler may fuse them into an fma */
            float low_steps = x[j] * id;
            float high_steps = x[j + 16] * id;
            int low = (int)(int8_t)(low_steps + 8.5f);
            int high = (int)(int8_t)(high_steps + 8.5f);
            low = low < 15 ? low : 15;
            high = high < 15 ? high : 15;
            block[2 + j] = (uint8_t)(low | high << 4);
        }
    }
}

static void q4_0_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / Q4_0_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * Q4_0_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q4_0_ACT_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + 2);
                int32_t dot = 0;
                for (int j = 0; j < 16; j++)
                    dot += ((wb[2 + j] & 0x0f) - 8) * p[j] + ((wb[2 + j] >> 4) - 8) * p[j + 16];
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                float dx = quant_fp16_to_fp32(quant_load_u16(xb));
                sum += (d * dx) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels q4_0_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = q4_0_dequantize_scalar,
    .quantize = NULL,
    .matmat = q4_0_matmat_reference,
};

static const quant_kernels *const q4_0_candidates[] = {
#if QUANT_X86
    &q4_0_kernels_avx512vnni, &q4_0_kernels_avxvnni, &q4_0_kernels_avx512, &q4_0_kernels_avx2,
#endif
    &q4_0_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q4_0_active = &q4_0_kernels_scalar;

static tsr_status q4_0_init(const tsr_host *host, tsr_error *err)
{
    (void)err;
    q4_0_active = quant_pick(q4_0_candidates, sizeof q4_0_candidates / sizeof q4_0_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q4_0_kernel_name(void)
{
    return q4_0_active->name;
}

static void q4_0_dequantize(const void *src, float *dst, int64_t n_elems)
{
    q4_0_active->dequantize(src, dst, n_elems);
}

static void q4_0_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    q4_0_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void q4_0_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    q4_0_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

#ifdef QUANT_CUDA
/* q4_0_cuda.cu: the CUDA kernels, when built with --enable-cuda */
const tsr_quant_device_kernels *q4_0_device_kernels(uint32_t device_kind);
#endif

static const tsr_quant_vtable q4_0_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = Q4_0_GGUF_TYPE,
    .block_elems = Q4_0_BLOCK_ELEMS,
    .block_bytes = Q4_0_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_0,
    .flags = 0,
    .init = q4_0_init,
    .kernel_name = q4_0_kernel_name,
    .dequantize = q4_0_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = q4_0_quantize_reference,
    .matvec = q4_0_matvec,
    .matmat = q4_0_matmat,
    .matmat_reference = q4_0_matmat_reference,
    .quantize_reference = q4_0_quantize_reference,
#ifdef QUANT_CUDA
    .device_kernels = q4_0_device_kernels,
#endif
};

static const tsr_plugin_desc q4_0_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q4_0",
    .version = "1.0.0",
    .summary = "4-bit weights with a scale per 32, centred on 8 (GGUF Q4_0); products against q8_0",
    .vtable = &q4_0_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q4_0_desc : NULL;
}
