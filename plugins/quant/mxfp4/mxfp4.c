/* quant/mxfp4: FP4 (E2M1) values under a power-of-two scale per 32, ggml's
 * MXFP4 byte for byte (layout in mxfp4.h). This file holds the scalar
 * reference and the quantizer, and chooses among the SIMD kernels of
 * mxfp4_x86.c. */
#include <math.h>

#include "mxfp4.h"

enum { MXFP4_ACT_BLOCK_BYTES = 34 }; /* q8_0 */

static void mxfp4_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / MXFP4_BLOCK_ELEMS; b++, block += MXFP4_BLOCK_BYTES) {
        float d = mxfp4_scale(block);
        float *out = dst + b * MXFP4_BLOCK_ELEMS;
        /* a power of two times a small integer: exact in float */
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)mxfp4_steps[block[MXFP4_QS + j] & 0x0f];
            out[j + 16] = d * (float)mxfp4_steps[block[MXFP4_QS + j] >> 4];
        }
    }
}

/* The code whose value d * step is nearest to v, the first of equals. */
static uint8_t mxfp4_nearest_code(float v, float d)
{
    uint8_t best = 0;
    float best_err = fabsf((float)mxfp4_steps[0] * d - v);
    for (uint8_t i = 1; i < 16; i++) {
        float err = fabsf((float)mxfp4_steps[i] * d - v);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return best;
}

/* ggml's quantize_row_mxfp4_ref: the exponent puts the block's largest
 * magnitude in [4, 8) times the scale, so that it lands on the top steps
 * 4 or 6 (E2M1's 2 and 3); every value then takes the nearest step. The
 * exponent is floor(log2f(amax)) as ggml computes it, log2f's rounding
 * included (just below a power of two log2f may round up), so the bytes
 * are ggml's. Below 2^-125 the biased exponent is negative and wraps
 * through int as ggml's cast does on x86; every value of such a block
 * still takes code 0 (zero is nearest whatever the scale). */
static void mxfp4_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / MXFP4_BLOCK_ELEMS; b++, block += MXFP4_BLOCK_BYTES) {
        const float *x = src + b * MXFP4_BLOCK_ELEMS;
        float amax = 0.0f;
        for (int j = 0; j < MXFP4_BLOCK_ELEMS; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        block[0] = amax > 0.0f ? (uint8_t)(int)(floorf(log2f(amax)) - 2 + 127) : 0;
        float d = mxfp4_scale(block);
        for (int j = 0; j < 16; j++)
            block[MXFP4_QS + j] =
                (uint8_t)(mxfp4_nearest_code(x[j], d) | mxfp4_nearest_code(x[j + 16], d) << 4);
    }
}

static void mxfp4_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                   size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                   int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / MXFP4_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * MXFP4_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * MXFP4_ACT_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + 2);
                int32_t dot = 0;
                for (int j = 0; j < 16; j++)
                    dot += mxfp4_steps[wb[MXFP4_QS + j] & 0x0f] * p[j] +
                           mxfp4_steps[wb[MXFP4_QS + j] >> 4] * p[j + 16];
                float dx = quant_fp16_to_fp32(quant_load_u16(xb));
                sum += (mxfp4_scale(wb) * dx) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

static const quant_kernels mxfp4_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = mxfp4_dequantize_scalar,
    .quantize = NULL,
    .matmat = mxfp4_matmat_reference,
};

static const quant_kernels *const mxfp4_candidates[] = {
#if QUANT_X86
    &mxfp4_kernels_avx512vnni, &mxfp4_kernels_avxvnni, &mxfp4_kernels_avx512, &mxfp4_kernels_avx2,
#endif
    &mxfp4_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *mxfp4_active = &mxfp4_kernels_scalar;

static tsr_status mxfp4_init(const tsr_host *host, tsr_error *err)
{
    (void)err;
    mxfp4_active = quant_pick(mxfp4_candidates, sizeof mxfp4_candidates / sizeof mxfp4_candidates[0],
                              host->cpu_features);
    return TSR_OK;
}

static const char *mxfp4_kernel_name(void)
{
    return mxfp4_active->name;
}

static void mxfp4_dequantize(const void *src, float *dst, int64_t n_elems)
{
    mxfp4_active->dequantize(src, dst, n_elems);
}

static void mxfp4_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                         int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    mxfp4_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void mxfp4_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                         float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                         int64_t row_begin, int64_t row_end)
{
    mxfp4_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                         row_end);
}

static const tsr_quant_vtable mxfp4_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = MXFP4_GGUF_TYPE,
    .block_elems = MXFP4_BLOCK_ELEMS,
    .block_bytes = MXFP4_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_0,
    .flags = 0,
    .init = mxfp4_init,
    .kernel_name = mxfp4_kernel_name,
    .dequantize = mxfp4_dequantize,
    /* at load time only: the scalar reference serves every tier */
    .quantize = mxfp4_quantize_reference,
    .matvec = mxfp4_matvec,
    .matmat = mxfp4_matmat,
    .matmat_reference = mxfp4_matmat_reference,
    .quantize_reference = mxfp4_quantize_reference,
};

static const tsr_plugin_desc mxfp4_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "mxfp4",
    .version = "1.0.0",
    .summary = "FP4 (E2M1) values under a power-of-two scale per 32 (GGUF MXFP4, OCP "
               "microscaling); products against q8_0",
    .vtable = &mxfp4_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &mxfp4_desc : NULL;
}
