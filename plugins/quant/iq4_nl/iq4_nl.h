/* iq4_nl inside its plugin: the block layout, the value table and the
 * kernel sets.
 *
 * 32 weights in 18 bytes, w[i] = d * kvalues[q[i]], q[i] in 0..15 (GGUF
 * type 20): q4_0's layout, with the 16 steps spaced non-linearly (closer
 * together near zero, where trained weights cluster):
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
 * so that one block's dot product is d*dx * sum(kvalues[q[i]] * p[i]), a
 * signed-by-signed byte dot product once a table lookup (vpshufb) has
 * turned the nibbles into values (ggml's vec_dot_iq4_nl_q8_0 computes the
 * same sum). */
#ifndef TSR_QUANT_IQ4_NL_H
#define TSR_QUANT_IQ4_NL_H

#include "common.h"

enum {
    IQ4_NL_GGUF_TYPE = 20,
    IQ4_NL_BLOCK_ELEMS = 32,
    IQ4_NL_BLOCK_BYTES = 18,
    IQ4_NL_ACT_BLOCK_BYTES = 34, /* q8_0 */
};

/* The 16 steps, ggml's kvalues_iq4nl: part of the format, as a file's
 * bytes mean nothing without them. */
static const int8_t iq4_nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                         1,    13,   25,  38,  53,  69,  89,  113};

#if QUANT_X86
extern const quant_kernels iq4_nl_kernels_avx2;
extern const quant_kernels iq4_nl_kernels_avxvnni;
extern const quant_kernels iq4_nl_kernels_avx512;
extern const quant_kernels iq4_nl_kernels_avx512vnni;
#endif

#endif
