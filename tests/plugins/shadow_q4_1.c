/* A stand-in for the installed q4_1, as a third party writes one: plain
 * scalar C, activations left as f32. Built twice for the search-path tests:
 * named "q4_1" (the installed plugin's kind, name and GGUF type) and, with
 * -DSHADOW_OTHER_NAME, "q4_1_naive" (the same GGUF type under another
 * name). Its kernel path is called "test-scalar" so a test can tell it ran.
 *
 * A q4_1 block holds 32 values in 20 bytes:
 *
 *   byte 0     2     4                   20
 *        +-----+-----+-------------------+
 *        |  d  |  m  | 16 bytes of 4-bit |   value i = d * q_i + m
 *        | f16 | f16 | q_i, q_(i+16)     |   low nibble: i, high: i + 16
 *        +-----+-----+-------------------+
 */
#include <string.h>

#include "tessera/plugin.h"

enum { BLOCK_ELEMS = 32, BLOCK_BYTES = 20, GGUF_Q4_1 = 3, GGUF_F32 = 0 };

/* IEEE binary16 to float: normal numbers move their exponent bias from 15
 * to 127; subnormals are mantissa x 2^-24, exactly. */
static float half_to_float(const uint8_t *p)
{
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float f;
    if (exponent == 0) {
        f = (float)mantissa * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    uint32_t bits = exponent == 31 ? sign | 0x7f800000u | mantissa << 13
                                   : sign | (exponent + 112) << 23 | mantissa << 13;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void dequantize_block(const uint8_t *block, float *out)
{
    float d = half_to_float(block), m = half_to_float(block + 2);
    for (int i = 0; i < BLOCK_ELEMS / 2; i++) {
        out[i] = d * (float)(block[4 + i] & 0x0f) + m;
        out[i + BLOCK_ELEMS / 2] = d * (float)(block[4 + i] >> 4) + m;
    }
}

static void dequantize(const void *src, float *dst, int64_t n_elems)
{
    for (int64_t b = 0; b < n_elems / BLOCK_ELEMS; b++)
        dequantize_block((const uint8_t *)src + b * BLOCK_BYTES, dst + b * BLOCK_ELEMS);
}

static float dot_row(const uint8_t *w_row, const float *x, int64_t n_cols)
{
    float sum = 0.0f, values[BLOCK_ELEMS];
    for (int64_t b = 0; b < n_cols / BLOCK_ELEMS; b++) {
        dequantize_block(w_row + b * BLOCK_BYTES, values);
        for (int i = 0; i < BLOCK_ELEMS; i++)
            sum += values[i] * x[b * BLOCK_ELEMS + i];
    }
    return sum;
}

static void matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                   float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens, int64_t row_begin,
                   int64_t row_end)
{
    for (int64_t t = 0; t < n_tokens; t++) {
        const float *x_row = (const float *)(const void *)((const uint8_t *)x + t * x_row_bytes);
        for (int64_t r = row_begin; r < row_end; r++)
            y[t * y_stride + r] = dot_row((const uint8_t *)w + r * w_row_bytes, x_row, n_cols);
    }
}

static void matvec(const void *w, size_t w_row_bytes, const void *x, float *y, int64_t n_cols,
                   int64_t row_begin, int64_t row_end)
{
    matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static const char *kernel_name(void)
{
    return "test-scalar";
}

static const tsr_quant_vtable vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = GGUF_Q4_1,
    .block_elems = BLOCK_ELEMS,
    .block_bytes = BLOCK_BYTES,
    .act_gguf_type = GGUF_F32,
    .kernel_name = kernel_name,
    .dequantize = dequantize,
    .matvec = matvec,
    .matmat = matmat,
    .matmat_reference = matmat,
};

static const tsr_plugin_desc desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
#ifdef SHADOW_OTHER_NAME
    .name = "q4_1_naive",
#else
    .name = "q4_1",
#endif
    .version = "0.0.1",
    .summary = "scalar q4_1 with f32 activations, for the search-path tests",
    .vtable = &vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
