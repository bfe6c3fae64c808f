/* q8_0 inside its plugin: the block layout and the kernel sets.
 *
 * 32 values in 34 bytes, x[i] = d * q[i] (GGUF type 8):
 *
 *   byte 0       2                                                   34
 *        +-------+---------------------------------------------------+
 *        |   d   | q[0] q[1] ...                              q[31] |
 *        +-------+---------------------------------------------------+
 *         f16     int8 (ggml's quantizer writes |q| <= 127)
 *
 * d = max|x| / 127, rounded to f16. Products take activations in q8_0 as
 * well (this plugin quantizes them), so one block's dot product is
 * d*dx * sum(q[i]*p[i]): a signed-by-signed byte dot product. */
#ifndef TSR_QUANT_Q8_0_H
#define TSR_QUANT_Q8_0_H

#include "common.h"

enum {
    Q8_0_BLOCK_ELEMS = 32,
    Q8_0_BLOCK_BYTES = 34,
};

#if defined(__x86_64__)
extern const quant_kernels q8_0_kernels_avx2;
extern const quant_kernels q8_0_kernels_avxvnni;
extern const quant_kernels q8_0_kernels_avx512;
extern const quant_kernels q8_0_kernels_avx512vnni;
#endif

#endif
