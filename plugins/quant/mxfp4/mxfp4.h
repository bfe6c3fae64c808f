/* mxfp4 inside its plugin: the block layout, the value table and the kernel
 * sets.
 *
 * The OCP Microscaling format MXFP4 as ggml stores it (GGUF type 39, the
 * format gpt-oss ships its experts in): 32 weights in 17 bytes, each an
 * FP4 E2M1 value (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives) under
 * one shared E8M0 scale, a bare power-of-two exponent byte:
 *
 *   byte 0    1                                               17
 *        +----+-----------------------------------------------+
 *        | e  | qs[0] qs[1] ...                        qs[15] |
 *        +----+-----------------------------------------------+
 *         E8M0  qs[j] = q[j] | q[j + 16] << 4
 *
 *   w[i] = 2^(e - 127) * e2m1(q[i]) = 2^(e - 128) * steps[q[i]]
 *
 * ggml keeps the E2M1 values doubled so that they are integers (steps
 * below, |step| <= 12) and halves the scale instead; 2^(e - 128) is a
 * float for every byte e (a subnormal for e = 0 and 1, 2^127 for 255).
 *
 * Products take activations in q8_0 (GGUF type 8), as ggml pairs MXFP4,
 * 32 values in 34 bytes, x[i] = dx * p[i] (layout in iq4_nl.h): one
 * block's dot product is 2^(e - 128) * dx * sum(steps[q[i]] * p[i]),
 * iq4_nl's with another table and scale, so the two share their x86 tier
 * (iq4_nl_tier.h). */
#ifndef TSR_QUANT_MXFP4_H
#define TSR_QUANT_MXFP4_H

#include "common.h"

enum {
    MXFP4_GGUF_TYPE = 39,
    MXFP4_BLOCK_ELEMS = 32,
    MXFP4_BLOCK_BYTES = 17,
    MXFP4_QS = 1, /* byte offset of qs[] */
};

/* E2M1's 16 codes, doubled (ggml's kvalues_mxfp4): sign bit 3, then
 * 0, 0.5, 1, 1.5, 2, 3, 4, 6. Code 8 is E2M1's negative zero. */
static const int8_t mxfp4_steps[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* 2^(e - 128), built from its bits: the subnormals 2^-128 and 2^-127 for
 * e = 0 and 1, else the biased exponent e - 1. */
static inline float mxfp4_scale(const uint8_t *block)
{
    uint8_t e = block[0];
    return quant_bits_float(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

#if QUANT_X86
extern const quant_kernels mxfp4_kernels_avx2;
extern const quant_kernels mxfp4_kernels_avxvnni;
extern const quant_kernels mxfp4_kernels_avx512;
extern const quant_kernels mxfp4_kernels_avx512vnni;
#endif

#endif
