/* q5_0 inside its plugin: the block layout and the kernel sets.
 *
 * 32 weights in 22 bytes, w[i] = d * (q[i] - 16), q[i] in 0..31 (GGUF type 6):
 *
 *   byte 0       2               6                                           22
 *        +-------+---------------+-------------------------------------------+
 *        |   d   |      qh       | qs[0] qs[1] ...                    qs[15] |
 *        +-------+---------------+-------------------------------------------+
 *         f16     u32: bit i is   qs[j] = (q[j] & 15) | (q[j + 16] & 15) << 4
 *                 q[i] >> 4
 *
 * Products take activations in q8_0 (GGUF type 8; the q8_0 plugin quantizes
 * them), 32 values in 34 bytes, x[i] = dx * p[i]:
 *
 *   byte 0       2                                                   34
 *        +-------+---------------------------------------------------+
 *        |  dx   | p[0] ... p[31]                             (int8) |
 *        +-------+---------------------------------------------------+
 *
 * so that one block's dot product is d*dx * (sum(q[i]*p[i]) - 16*sum(p[i])):
 * unsigned 5-bit values times signed bytes, less a term that depends on the
 * activations alone (ggml's vec_dot_q5_0_q8_0 computes the same sum). */
#ifndef TSR_QUANT_Q5_0_H
#define TSR_QUANT_Q5_0_H

#include "common.h"

enum {
    Q5_0_GGUF_TYPE = 6,
    Q5_0_BLOCK_ELEMS = 32,
    Q5_0_BLOCK_BYTES = 22,
    Q5_0_ACT_BLOCK_BYTES = 34, /* q8_0 */
};

/* The high bits of a block, as a little-endian u32 (bit i for value i). */
static inline uint32_t q5_0_high_bits(const uint8_t *block)
{
    uint32_t qh;
    memcpy(&qh, block + 2, sizeof qh);
    return qh;
}

#if QUANT_X86
extern const quant_kernels q5_0_kernels_avx2;
extern const quant_kernels q5_0_kernels_avxvnni;
extern const quant_kernels q5_0_kernels_avx512;
extern const quant_kernels q5_0_kernels_avx512vnni;
#endif

#endif
