/* q4_1 inside its plugin: the block layout and the kernel sets.
 *
 * 32 weights in 20 bytes, w[i] = d * q[i] + m, q[i] in 0..15 (GGUF type 3):
 *
 *   byte 0       2       4                                           20
 *        +-------+-------+-------------------------------------------+
 *        |   d   |   m   | qs[0] qs[1] ...                    qs[15] |
 *        +-------+-------+-------------------------------------------+
 *         f16     f16     qs[j] = q[j] | q[j + 16] << 4
 *
 * Products take activations in q8_1 (GGUF type 9; the q8_1 plugin quantizes
 * them), 32 values in 36 bytes, x[i] = dx * p[i]:
 *
 *   byte 0       2       4                                           36
 *        +-------+-------+-------------------------------------------+
 *        |  dx   |  sx   | p[0] ... p[31]                     (int8) |
 *        +-------+-------+-------------------------------------------+
 *         f16     f16 = dx * sum(p), rounded to f16
 *
 * so that one block's dot product is d*dx * sum(q[i]*p[i]) + m*sx: an
 * integer dot product of unsigned nibbles with signed bytes, and one term
 * for the minimum (ggml's vec_dot_q4_1_q8_1 computes the same). */
#ifndef TSR_QUANT_Q4_1_H
#define TSR_QUANT_Q4_1_H

#include "common.h"

enum {
    Q4_1_BLOCK_ELEMS = 32,
    Q4_1_BLOCK_BYTES = 20,
    Q8_1_BLOCK_BYTES = 36,
};

#if defined(__x86_64__)
extern const quant_kernels q4_1_kernels_avx2;
extern const quant_kernels q4_1_kernels_avxvnni;
extern const quant_kernels q4_1_kernels_avx512;
extern const quant_kernels q4_1_kernels_avx512vnni;
#endif

#endif
