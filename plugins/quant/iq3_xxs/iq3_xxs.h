/* iq3_xxs inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 98 bytes (GGUF type 18), 3.06 bits each: 8 sub-blocks of
 * 32, each 8 points of a fixed grid of 4-value magnitudes (iq3_xxs_grid,
 * 256 points, one byte indexes one) with a sign pattern per 8 values and a
 * 4-bit scale, under one f16 super-block scale:
 *
 *   byte 0     2                                  66                      98
 *        +-----+----------------------------------+-----------------------+
 *        |  d  | qs[0] ...                 qs[63] | aux[0] ...    aux[7]  |
 *        +-----+----------------------------------+-----------------------+
 *         f16   grid indices: sub-block i, values  u32 per sub-block i:
 *               8i + 4h + 0..3 of group l come      bits 7l .. 7l + 6: the sign
 *               from point qs[8i + 2l + h]          pattern of group l (values
 *               (l = 0..3, h = 0..1)                8l .. 8l + 7 of the sub-block),
 *                                                   iq_sign_patterns[] of it;
 *                                                   bits 28-31: the scale s
 *
 *   w[32i + 8l + 4h + j] = d * (0.5 + s_i) * 0.5 * grid[qs[8i + 2l + h]][j]
 *                          * (bit 4h + j of signs[l] ? -1 : 1)
 *
 * Products take activations in q8_K (GGUF type 15, the q8_k plugin; layout
 * in kquant.h). With sc_i = 2 s_i + 1, one block's dot product is
 *
 *   d * dx / 4 * sum_i sc_i * sum_v sign_v * grid_v * p[32i + v]
 *
 * all integer but the scales: |sum| <= 8 * 31 * 32 * 62 * 127, well inside
 * int32. (ggml's vec_dot_iq3_xxs_q8_K computes the same integers.) */
#ifndef TSR_QUANT_IQ3_XXS_H
#define TSR_QUANT_IQ3_XXS_H

#include "iq3_xxs_tables.h"
#include "iq_grid.h"

enum {
    IQ3_XXS_GGUF_TYPE = 18,
    IQ3_XXS_BLOCK_ELEMS = 256,
    IQ3_XXS_BLOCK_BYTES = 98,
    IQ3_XXS_SUB_BLOCKS = 8,
    IQ3_XXS_QS = 2,   /* byte offset of qs[] */
    IQ3_XXS_AUX = 66, /* byte offset of aux[] */
};

/* w = d * (2s + 1) / 4 * value: the scales' common factor. */
#define IQ3_XXS_FACTOR 0.25f

/* aux of sub-block i: its scale in bits 28-31, sign pattern indices below. */
static inline uint32_t iq3_xxs_aux(const uint8_t *block, int i)
{
    uint32_t aux;
    memcpy(&aux, block + IQ3_XXS_AUX + 4 * i, sizeof aux);
    return aux;
}

/* Grid point q's 4 magnitudes, as one little-endian word. */
static inline uint32_t iq3_xxs_point(uint8_t q)
{
    uint32_t point;
    memcpy(&point, iq3_xxs_grid[q], sizeof point);
    return point;
}

#if QUANT_X86
extern const quant_kernels iq3_xxs_kernels_avx2;
extern const quant_kernels iq3_xxs_kernels_avxvnni;
extern const quant_kernels iq3_xxs_kernels_avx512;
extern const quant_kernels iq3_xxs_kernels_avx512vnni;
#endif

#endif
