/* quant/q8_1: the 8-bit activation form of the formats with a minimum
 * (q4_1, later q5_1): ggml's Q8_1, byte-exact. An activation form only: the
 * core quantizes each activation row with it before a product; it has no
 * products of its own.
 *
 * 32 values in 36 bytes, x[i] = d * q[i] (GGUF type 9):
 *
 *   byte 0       2       4                                           36
 *        +-------+-------+-------------------------------------------+
 *        |   d   |   s   | q[0] q[1] ...                      q[31] |
 *        +-------+-------+-------------------------------------------+
 *         f16     f16     int8, |q| <= 127
 *
 * d = max|x| / 127 and s = d * sum(q), both rounded to f16: s lets a
 * weight format with a minimum m add m * sum(x) without touching q again.
 * (The gguf package lists Q8_1 as 40 bytes, from before ggml halved d and s;
 * ggml-common.h's static_assert says 36.) */
#include "common.h"

enum { Q8_1_BLOCK_ELEMS = 32, Q8_1_BLOCK_BYTES = 36 };

static void q8_1_dequantize(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q8_1_BLOCK_ELEMS; b++, block += Q8_1_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        const int8_t *q = (const int8_t *)(block + 4);
        for (int j = 0; j < Q8_1_BLOCK_ELEMS; j++)
            dst[b * Q8_1_BLOCK_ELEMS + j] = d * (float)q[j];
    }
}

/* ggml's quantize_row_q8_1_ref. Non-finite input gives unspecified bytes. */
static void q8_1_quantize_reference(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q8_1_BLOCK_ELEMS; b++, block += Q8_1_BLOCK_BYTES) {
        const float *x = src + b * Q8_1_BLOCK_ELEMS;
        float amax = 0.0f;
        for (int j = 0; j < Q8_1_BLOCK_ELEMS; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int8_t *q = (int8_t *)(block + 4);
        int sum = 0;
        for (int j = 0; j < Q8_1_BLOCK_ELEMS; j++) {
            q[j] = (int8_t)quant_round_half_away(x[j] * id);
            sum += q[j];
        }
        quant_store_u16(block, quant_fp32_to_fp16(d));
        quant_store_u16(block + 2, quant_fp32_to_fp16((float)sum * d));
    }
}

#if defined(__x86_64__)
static QUANT_TARGET_AVX2 void q8_1_quantize_avx2(const float *src, void *dst, int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q8_1_BLOCK_ELEMS; b++, block += Q8_1_BLOCK_BYTES) {
        int sum;
        float d = quant_q8_block_avx2(src + b * Q8_1_BLOCK_ELEMS, (int8_t *)(block + 4), &sum);
        quant_store_u16(block, quant_fp32_to_fp16(d));
        quant_store_u16(block + 2, quant_fp32_to_fp16((float)sum * d));
    }
}

static QUANT_TARGET_AVX512 void q8_1_quantize_avx512(const float *src, void *dst,
                                                     int64_t n_elems)
{
    uint8_t *block = dst;
    for (int64_t b = 0; b < n_elems / Q8_1_BLOCK_ELEMS; b++, block += Q8_1_BLOCK_BYTES) {
        int sum;
        float d = quant_q8_block_avx512(src + b * Q8_1_BLOCK_ELEMS, (int8_t *)(block + 4), &sum);
        quant_store_u16(block, quant_fp32_to_fp16(d));
        quant_store_u16(block + 2, quant_fp32_to_fp16((float)sum * d));
    }
}

static const quant_kernels q8_1_kernels_avx2 = {"avx2", QUANT_ISA_AVX2, q8_1_dequantize,
                                                q8_1_quantize_avx2, NULL};
static const quant_kernels q8_1_kernels_avx512 = {"avx512", QUANT_ISA_AVX512, q8_1_dequantize,
                                                  q8_1_quantize_avx512, NULL};
#endif

static const quant_kernels q8_1_kernels_scalar = {"scalar", QUANT_ISA_SCALAR, q8_1_dequantize,
                                                  q8_1_quantize_reference, NULL};

static const quant_kernels *const q8_1_candidates[] = {
#if defined(__x86_64__)
    &q8_1_kernels_avx512, &q8_1_kernels_avx2,
#endif
    &q8_1_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *q8_1_active = &q8_1_kernels_scalar;

static tsr_status q8_1_init(const tsr_host *host, tsr_error *err)
{
    q8_1_active = quant_pick(q8_1_candidates, sizeof q8_1_candidates / sizeof q8_1_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *q8_1_kernel_name(void)
{
    return q8_1_active->name;
}

static void q8_1_quantize(const float *src, void *dst, int64_t n_elems)
{
    q8_1_active->quantize(src, dst, n_elems);
}

static const tsr_quant_vtable q8_1_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = QUANT_GGUF_Q8_1,
    .block_elems = Q8_1_BLOCK_ELEMS,
    .block_bytes = Q8_1_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_1,
    .flags = TSR_QUANT_ACTIVATION,
    .init = q8_1_init,
    .kernel_name = q8_1_kernel_name,
    .dequantize = q8_1_dequantize,
    .quantize = q8_1_quantize,
    .quantize_reference = q8_1_quantize_reference,
};

static const tsr_plugin_desc q8_1_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = "q8_1",
    .version = "1.0.0",
    .summary = "8-bit activations with a scale and their sum per 32 (GGUF Q8_1), for q4_1",
    .vtable = &q8_1_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &q8_1_desc : NULL;
}
