/* q5_1 inside its plugin: the block layout and the kernel sets.
 *
 * 32 weights in 24 bytes, w[i] = d * q[i] + m, q[i] in 0..31 (GGUF type 7):
 *
 *   byte 0       2       4               8                                   24
 *        +-------+-------+---------------+-----------------------------------+
 *        |   d   |   m   |      qh       | qs[0] qs[1] ...            qs[15] |
 *        +-------+-------+---------------+-----------------------------------+
 *         f16     f16     u32: bit i is   qs[j] = (q[j] & 15) | (q[j + 16] & 15) << 4
 *                         q[i] >> 4
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
 * integer dot product of unsigned 5-bit values with signed bytes, and one
 * term for the minimum (ggml's vec_dot_q5_1_q8_1 computes the same). */
#ifndef TSR_QUANT_Q5_1_H
#define TSR_QUANT_Q5_1_H

#include "common.h"

enum {
    Q5_1_GGUF_TYPE = 7,
    Q5_1_BLOCK_ELEMS = 32,
    Q5_1_BLOCK_BYTES = 24,
    Q5_1_ACT_BLOCK_BYTES = 36, /* q8_1 */
};

/* The high bits of a block, as a little-endian u32 (bit i for value i). */
static inline uint32_t q5_1_high_bits(const uint8_t *block)
{
    uint32_t qh;
    memcpy(&qh, block + 4, sizeof qh);
    return qh;
}

#if QUANT_X86
extern const quant_kernels q5_1_kernels_avx2;
extern const quant_kernels q5_1_kernels_avxvnni;
extern const quant_kernels q5_1_kernels_avx512;
extern const quant_kernels q5_1_kernels_avx512vnni;
#endif

#endif
