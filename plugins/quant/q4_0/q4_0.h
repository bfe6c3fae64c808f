/* q4_0 inside its plugin: the block layout and the kernel sets.
 *
 * 32 weights in 18 bytes, w[i] = d * (q[i] - 8), q[i] in 0..15 (GGUF type 2):
 *
 *   byte 0       2                                           18
 *        +-------+-------------------------------------------+
 *        |   d   | qs[0] qs[1] ...                    qs[15] |
 *        +-------+-------------------------------------------+
 *         f16     qs[j] = q[j] | q[j + 16] << 4
 *
 * Products take activations in q8_0 (GGUF type 8; the q8_0 plugin quantizes
 * them), 32 values in 34 bytes, x[i] = dx * p[i]:
 *
 *   byte 0       2                                                   34
 *        +-------+---------------------------------------------------+
 *        |  dx   | p[0] ... p[31]                             (int8) |
 *        +-------+---------------------------------------------------+
 *
 * so that one block's dot product is d*dx * (sum(q[i]*p[i]) - 8*sum(p[i])):
 * unsigned nibbles times signed bytes, less a term that depends on the
 * activations alone (ggml's vec_dot_q4_0_q8_0 computes the same sum). */
#ifndef TSR_QUANT_Q4_0_H
#define TSR_QUANT_Q4_0_H

#include "common.h"

enum {
    Q4_0_GGUF_TYPE = 2,
    Q4_0_BLOCK_ELEMS = 32,
    Q4_0_BLOCK_BYTES = 18,
    Q4_0_ACT_BLOCK_BYTES = 34, /* q8_0 */
};

#if QUANT_X86
extern const quant_kernels q4_0_kernels_avx2;
extern const quant_kernels q4_0_kernels_avxvnni;
extern const quant_kernels q4_0_kernels_avx512;
extern const quant_kernels q4_0_kernels_avx512vnni;
#endif

#endif
