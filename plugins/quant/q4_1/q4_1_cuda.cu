/* quant/q4_1 on CUDA devices: the decode product against float
 * activations and the row lookup (the layout is drawn in q4_1.h: d, m,
 * then 16 bytes of nibble pairs, w = d * q + m). The same source runs on
 * the emulator in the tests. */
#include "quant_cuda.cuh"

#include "q4_1.h"

struct q4_1_block {
    enum { BYTES = Q4_1_BLOCK_BYTES, ALIGN = 4 };

    __device__ static float dot(const uint8_t *block, const float *x)
    {
        uint32_t dm = quant_cuda_u32(block);
        float d = tsr_half_to_float((uint16_t)dm), m = tsr_half_to_float((uint16_t)(dm >> 16));
        float sum = 0.0f;
        for (int word = 0; word < 4; word++) {
            uint32_t qs = quant_cuda_u32(block + 4 + 4 * word);
            for (int j = 0; j < 4; j++) {
                int at = 4 * word + j;
                sum += (d * (float)(qs >> (8 * j) & 0x0f) + m) * x[at];
                sum += (d * (float)(qs >> (8 * j + 4) & 0x0f) + m) * x[at + 16];
            }
        }
        return sum;
    }

    /* d * q is exact in float, so the values equal the CPU's bit for bit,
     * fused into an fma or not. */
    __device__ static void dequantize(const uint8_t *block, float *out)
    {
        float d = tsr_half_to_float(quant_cuda_u16(block));
        float m = tsr_half_to_float(quant_cuda_u16(block + 2));
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)(block[4 + j] & 0x0f) + m;
            out[j + 16] = d * (float)(block[4 + j] >> 4) + m;
        }
    }
};

extern "C" TSR_CUDA_HIDDEN const tsr_quant_device_kernels *q4_1_device_kernels(uint32_t kind)
{
    return quant_cuda_table<q4_1_block>::lookup(kind);
}
