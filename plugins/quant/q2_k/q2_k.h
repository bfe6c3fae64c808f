/* q2_k inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 84 bytes (GGUF type 10), sixteen groups of 16:
 *
 *   byte 0                16                             80      82      84
 *        +----------------+------------------------------+-------+-------+
 *        | scales[16]     | qs[64]                       |   d   | dmin  |
 *        +----------------+------------------------------+-------+-------+
 *         sc[g] | m[g]<<4  2-bit q                        f16     f16
 *
 * q of value 128h + 32k + l (h = 0, 1; k = 0..3; l = 0..31) is bits 2k,
 * 2k + 1 of qs[32h + l]:
 *
 *   w[i] = (d * sc[g]) * q[i] - dmin * m[g],  g = i / 16
 *
 * Products take q8_K activations (kquant.h); one block's dot product is
 *   dx * (d * sum_g sc[g] * sum_{i in g} q p  -  dmin * sum_g m[g] * bsums[g]). */
#ifndef TSR_QUANT_Q2_K_H
#define TSR_QUANT_Q2_K_H

#include "kquant.h"

enum {
    Q2_K_BLOCK_BYTES = 84,
    Q2_K_QS = 16, /* byte offset of qs[64] */
    Q2_K_D = 80,  /* byte offset of d, then dmin */
};

#if QUANT_X86
extern const quant_kernels q2_k_kernels_avx2;
extern const quant_kernels q2_k_kernels_avxvnni;
extern const quant_kernels q2_k_kernels_avx512;
extern const quant_kernels q2_k_kernels_avx512vnni;
#endif

/* The scalar dequantizer, which every tier uses. */
void q2_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems);

#endif
