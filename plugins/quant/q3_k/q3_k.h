/* q3_k inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 110 bytes (GGUF type 11), sixteen groups of 16:
 *
 *   byte 0              32                         96             108   110
 *        +--------------+--------------------------+--------------+-----+
 *        | hmask[32]    | qs[64]                   | scales[12]   |  d  |
 *        +--------------+--------------------------+--------------+-----+
 *         bit 2 of u     bits 0-1 of u              16 x 6 bits    f16
 *
 * The 3-bit u of value 128h + 32k + l (h = 0, 1; k = 0..3; l = 0..31):
 * bits 2k, 2k + 1 of qs[32h + l], and bit 4h + k of hmask[l] as bit 2.
 * Group g's scale: the low nibble of scales[g] (g < 8) or the high nibble
 * of scales[g - 8], with bits 2(g / 4), 2(g / 4) + 1 of scales[8 + g % 4]
 * as bits 4, 5; sc = that - 32:
 *
 *   w[i] = (d * sc[i / 16]) * (u[i] - 4)
 *
 * Products take q8_K activations (kquant.h); one block's dot product is
 *   dx * d * sum_g sc[g] * sum_{i in g} (u[i] - 4) p[i]
 * an exact integer (the SIMD paths take the 4 * sc[g] * bsums[g] part
 * through q8_K's bsums). */
#ifndef TSR_QUANT_Q3_K_H
#define TSR_QUANT_Q3_K_H

#include "kquant.h"

enum {
    Q3_K_BLOCK_BYTES = 110,
    Q3_K_QS = 32,      /* byte offset of qs[64] */
    Q3_K_SCALES = 96,  /* byte offset of scales[12] */
    Q3_K_D = 108,      /* byte offset of d */
};

/* The 16 scales of a block before the - 32, one byte each, 0..63: four
 * groups per 32-bit word, low nibbles with the two high bits on top. */
static inline void q3_k_scale_words(const uint8_t *packed, uint32_t words[4])
{
    uint32_t a, b, c;
    memcpy(&a, packed, 4);
    memcpy(&b, packed + 4, 4);
    memcpy(&c, packed + 8, 4);
    words[0] = (a & 0x0f0f0f0fu) | (c & 0x03030303u) << 4;
    words[1] = (b & 0x0f0f0f0fu) | ((c >> 2) & 0x03030303u) << 4;
    words[2] = ((a >> 4) & 0x0f0f0f0fu) | ((c >> 4) & 0x03030303u) << 4;
    words[3] = ((b >> 4) & 0x0f0f0f0fu) | ((c >> 6) & 0x03030303u) << 4;
}

/* The 16 signed scales of a block, sc[g] in -32..31. */
static inline void q3_k_unpack_scales(const uint8_t *packed, int8_t *sc)
{
    uint32_t words[4];
    q3_k_scale_words(packed, words);
    for (int g = 0; g < KQ_GROUPS; g++)
        sc[g] = (int8_t)((int)(uint8_t)(words[g / 4] >> 8 * (g % 4)) - 32);
}

#if QUANT_X86
extern const quant_kernels q3_k_kernels_avx2;
extern const quant_kernels q3_k_kernels_avxvnni;
extern const quant_kernels q3_k_kernels_avx512;
extern const quant_kernels q3_k_kernels_avx512vnni;
#endif

/* The scalar dequantizer, which every tier uses. */
void q3_k_dequantize_scalar(const void *src, float *dst, int64_t n_elems);

#endif
