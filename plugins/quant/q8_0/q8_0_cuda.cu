/* quant/q8_0 on CUDA devices: the decode product against float
 * activations and the row lookup (the layout is drawn in q8_0.h: d, then
 * 32 int8, w = d * q). The same source runs on the emulator in the tests. */
#include "quant_cuda.cuh"

#include "q8_0.h"

struct q8_0_block {
    /* 34-byte blocks: halves are the widest aligned loads */
    enum { BYTES = Q8_0_BLOCK_BYTES, ALIGN = 2 };

    __device__ static float dot(const uint8_t *block, const float *x)
    {
        float d = tsr_half_to_float(quant_cuda_u16(block));
        float sum = 0.0f;
        for (int j = 0; j < 32; j += 2) {
            uint16_t pair = quant_cuda_u16(block + 2 + j);
            sum += d * (float)(int8_t)(pair & 0xff) * x[j];
            sum += d * (float)(int8_t)(pair >> 8) * x[j + 1];
        }
        return sum;
    }

    /* d * q is exact in float: the CPU's values bit for bit. */
    __device__ static void dequantize(const uint8_t *block, float *out)
    {
        float d = tsr_half_to_float(quant_cuda_u16(block));
        for (int j = 0; j < 32; j++)
            out[j] = d * (float)(int8_t)block[2 + j];
    }
};

extern "C" TSR_CUDA_HIDDEN const tsr_quant_device_kernels *q8_0_device_kernels(uint32_t kind)
{
    return quant_cuda_table<q8_0_block>::lookup(kind);
}
