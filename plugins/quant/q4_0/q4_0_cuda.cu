/* quant/q4_0 on CUDA devices: the decode product against float
 * activations and the row lookup (the layout is drawn in q4_0.h: d, then
 * 16 bytes of nibble pairs, w = d * (q - 8)). The same source runs on the
 * emulator in the tests. */
#include "quant_cuda.cuh"

#include "q4_0.h"

struct q4_0_block {
    /* 18-byte blocks: halves are the widest aligned loads */
    enum { BYTES = Q4_0_BLOCK_BYTES, ALIGN = 2 };

    __device__ static float dot(const uint8_t *block, const float *x)
    {
        float d = tsr_half_to_float(quant_cuda_u16(block));
        float sum = 0.0f;
        for (int j = 0; j < 16; j += 2) {
            uint16_t pair = quant_cuda_u16(block + 2 + j);
            for (int k = 0; k < 2; k++) {
                unsigned byte = pair >> (8 * k) & 0xff;
                sum += (float)((int)(byte & 0x0f) - 8) * d * x[j + k];
                sum += (float)((int)(byte >> 4) - 8) * d * x[j + k + 16];
            }
        }
        return sum;
    }

    /* (q - 8) * d is exact in float: the CPU's values bit for bit. */
    __device__ static void dequantize(const uint8_t *block, float *out)
    {
        float d = tsr_half_to_float(quant_cuda_u16(block));
        for (int j = 0; j < 16; j++) {
            out[j] = (float)((block[2 + j] & 0x0f) - 8) * d;
            out[j + 16] = (float)((block[2 + j] >> 4) - 8) * d;
        }
    }
};

extern "C" TSR_CUDA_HIDDEN const tsr_quant_device_kernels *q4_0_device_kernels(uint32_t kind)
{
    return quant_cuda_table<q4_0_block>::lookup(kind);
}
