/* q4_k inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 144 bytes (GGUF type 12), eight sub-blocks of 32:
 *
 *   byte 0       2       4                  16                           144
 *        +-------+-------+------------------+----------------------------+
 *        |   d   | dmin  | scales[12]       | qs[128]                    |
 *        +-------+-------+------------------+----------------------------+
 *         f16     f16     8 sc + 8 m, 6 bits  4-bit q: byte 32k + l holds
 *                         each (kquant.h)     q[64k + l] (low nibble) and
 *                                             q[64k + 32 + l] (high nibble)
 *
 *   w[32j + l] = (d * sc[j]) * q[32j + l] - dmin * m[j]
 *
 * Products take q8_K activations (kquant.h); one block's dot product is
 *   dx * (d * sum_j sc[j] * sum_l q p  -  dmin * sum_j m[j] * (bsums[2j] + bsums[2j + 1]))
 * with both sums exact integers. */
#ifndef TSR_QUANT_Q4_K_H
#define TSR_QUANT_Q4_K_H

#include "kquant.h"

enum {
    Q4_K_BLOCK_BYTES = 144,
    Q4_K_SCALES = 4, /* byte offset of scales[12] */
    Q4_K_QS = 16,    /* byte offset of qs[128] */
};

#if QUANT_X86
extern const quant_kernels q4_k_kernels_avx2;
extern const quant_kernels q4_k_kernels_avxvnni;
extern const quant_kernels q4_k_kernels_avx512;
extern const quant_kernels q4_k_kernels_avx512vnni;
#endif

/* The scalar dequantizer, which every tier uses (it runs only where a
 * whole row is needed as floats: embeddings). */
void q4_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems);

#endif
