/* q6_k inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 210 bytes (GGUF type 14), sixteen groups of 16:
 *
 *   byte 0                         128               192          208   210
 *        +-------------------------+-----------------+------------+-----+
 *        | ql[128]                 | qh[64]          | scales[16] |  d  |
 *        +-------------------------+-----------------+------------+-----+
 *         low 4 bits of v           high 2 bits of v  int8 sc[g]   f16
 *
 * The 6-bit v of value 128h + 32k + l (h = 0, 1; k = 0..3; l = 0..31):
 * the low nibble of ql[64h + 32(k % 2) + l] for k < 2, its high nibble for
 * k >= 2, and bits 2k, 2k + 1 of qh[32h + l] on top:
 *
 *   w[i] = (d * sc[i / 16]) * (v[i] - 32)
 *
 * Products take q8_K activations (kquant.h); one block's dot product is
 *   dx * d * sum_g sc[g] * sum_{i in g} (v[i] - 32) p[i]
 * an exact integer (the SIMD paths take the 32 * sc[g] * bsums[g] part
 * through q8_K's bsums). */
#ifndef TSR_QUANT_Q6_K_H
#define TSR_QUANT_Q6_K_H

#include "kquant.h"

enum {
    Q6_K_BLOCK_BYTES = 210,
    Q6_K_QH = 128,     /* byte offset of qh[64] */
    Q6_K_SCALES = 192, /* byte offset of scales[16] */
    Q6_K_D = 208,      /* byte offset of d */
};

#if QUANT_X86
extern const quant_kernels q6_k_kernels_avx2;
extern const quant_kernels q6_k_kernels_avxvnni;
extern const quant_kernels q6_k_kernels_avx512;
extern const quant_kernels q6_k_kernels_avx512vnni;
#endif

/* The scalar dequantizer, which every tier uses. */
void q6_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems);

#endif
