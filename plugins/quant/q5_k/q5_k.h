/* q5_k inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 176 bytes (GGUF type 13), eight sub-blocks of 32:
 *
 *   byte 0      2      4                16             48                  176
 *        +------+------+----------------+--------------+-------------------+
 *        |  d   | dmin | scales[12]     | qh[32]       | qs[128]           |
 *        +------+------+----------------+--------------+-------------------+
 *         f16    f16    8 sc + 8 m,      bit j of qh[l] low 4 bits, as
 *                       6 bits each      is bit 4 of    q4_k's qs
 *                       (kquant.h)       q[32j + l]
 *
 *   w[32j + l] = (d * sc[j]) * q[32j + l] - dmin * m[j],  q in 0..31
 *
 * Products take q8_K activations (kquant.h); one block's dot product is
 *   dx * (d * sum_j sc[j] * sum_l q p  -  dmin * sum_j m[j] * (bsums[2j] + bsums[2j + 1])). */
#ifndef TSR_QUANT_Q5_K_H
#define TSR_QUANT_Q5_K_H

#include "kquant.h"

enum {
    Q5_K_BLOCK_BYTES = 176,
    Q5_K_SCALES = 4, /* byte offset of scales[12] */
    Q5_K_QH = 16,    /* byte offset of qh[32] */
    Q5_K_QS = 48,    /* byte offset of qs[128] */
};

#if QUANT_X86
extern const quant_kernels q5_k_kernels_avx2;
extern const quant_kernels q5_k_kernels_avxvnni;
extern const quant_kernels q5_k_kernels_avx512;
extern const quant_kernels q5_k_kernels_avx512vnni;
#endif

/* The scalar dequantizer, which every tier uses. */
void q5_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems);

#endif
