/* iq4_xs inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 136 bytes (GGUF type 23): iq4_nl's steps (iq4_nl.h), in 8
 * sub-blocks of 32 with a 6-bit scale each, under one f16 super-block scale:
 * w[32i + j] = d * (ls[i] - 32) * iq4_nl_values[q[32i + j]].
 *
 *   byte 0       2          4                8                            136
 *        +-------+----------+----------------+----------------------------+
 *        |   d   | scales_h | scales_l[0..3] | qs[0] ...           qs[127] |
 *        +-------+----------+----------------+----------------------------+
 *         f16     u16        ls[i] = (scales_l[i / 2] >> 4 * (i % 2)) & 15
 *                                    | ((scales_h >> 2 * i) & 3) << 4
 *                            qs[16i + j] = q[32i + j] | q[32i + 16 + j] << 4
 *
 * Products take activations in q8_K (GGUF type 15, the q8_k plugin; layout
 * in kquant.h), 256 values in 292 bytes: dx (f32), p[256] (int8), bsums[16]
 * (int16 sums of 16 p each). One block's dot product is
 *
 *   d * dx * sum_i (ls[i] - 32) * sum_j iq4_nl_values[q[32i + j]] * p[32i + j]
 *
 * all integer but the two scales (ggml's vec_dot_iq4_xs_q8_K computes the
 * same sum, sub-block by sub-block in float). */
#ifndef TSR_QUANT_IQ4_XS_H
#define TSR_QUANT_IQ4_XS_H

#include "iq4_nl/iq4_nl.h"
#include "kquant.h"

enum {
    IQ4_XS_GGUF_TYPE = 23,
    IQ4_XS_BLOCK_ELEMS = 256,
    IQ4_XS_BLOCK_BYTES = 136,
    IQ4_XS_SUB_BLOCKS = 8,
    IQ4_XS_QS = 8, /* byte offset of qs[] */
};

/* ls[i] - 32, the signed scale of sub-block i, for i in 0..7. */
static inline int iq4_xs_scale(const uint8_t *block, int i)
{
    unsigned high = quant_load_u16(block + 2);
    unsigned low = block[4 + i / 2] >> 4 * (i % 2) & 0x0fu;
    return (int)(low | (high >> 2 * i & 3u) << 4) - 32;
}

#if QUANT_X86
extern const quant_kernels iq4_xs_kernels_avx2;
extern const quant_kernels iq4_xs_kernels_avxvnni;
extern const quant_kernels iq4_xs_kernels_avx512;
extern const quant_kernels iq4_xs_kernels_avx512vnni;
#endif

#endif
