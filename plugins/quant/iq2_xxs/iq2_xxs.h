/* iq2_xxs inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 66 bytes (GGUF type 16), 2.06 bits each: 8 sub-blocks of
 * 32, each 4 points of a fixed grid of 8-value magnitudes (iq2_xxs_grid,
 * 256 points, one byte indexes one) with a sign pattern per 8 values and a
 * 4-bit scale, under one f16 super-block scale:
 *
 *   byte 0     2          6          10                        58         66
 *        +-----+----------+----------+----  ...  ----+----------+---------+
 *        |  d  | q[0..3]  |  aux[0]  |               | q[28..31]| aux[7]  |
 *        +-----+----------+----------+----  ...  ----+----------+---------+
 *         f16   sub-block i: 4 grid    u32: bits 7l .. 7l + 6 index the
 *               indices, point l gives sign pattern of values 8l .. 8l + 7
 *               values 8l .. 8l + 7    (iq_sign_patterns); bits 28-31: the
 *                                      scale s
 *
 *   w[32i + 8l + j] = d * (0.5 + s_i) * 0.25 * grid[q[4i + l]][j]
 *                     * (bit j of signs[l] ? -1 : 1)
 *
 * Products take activations in q8_K (GGUF type 15, the q8_k plugin; layout
 * in kquant.h). With sc_i = 2 s_i + 1, one block's dot product is
 *
 *   d * dx / 8 * sum_i sc_i * sum_v sign_v * grid_v * p[32i + v]
 *
 * all integer but the scales. (ggml's vec_dot_iq2_xxs_q8_K computes the
 * same integers.) */
#ifndef TSR_QUANT_IQ2_XXS_H
#define TSR_QUANT_IQ2_XXS_H

#include "iq2_xxs_tables.h"
#include "iq_grid.h"

enum {
    IQ2_XXS_GGUF_TYPE = 16,
    IQ2_XXS_BLOCK_ELEMS = 256,
    IQ2_XXS_BLOCK_BYTES = 66,
    IQ2_XXS_SUB_BLOCKS = 8,
    IQ2_XXS_SUB_BYTES = 8, /* 4 indices and aux, from byte 2 */
};

/* w = d * (2s + 1) / 8 * value: the scales' common factor. */
#define IQ2_XXS_FACTOR 0.125f

/* Sub-block i's 4 grid indices. */
static inline const uint8_t *iq2_xxs_indices(const uint8_t *block, int i)
{
    return block + 2 + IQ2_XXS_SUB_BYTES * i;
}

/* aux of sub-block i: its scale in bits 28-31, sign pattern indices below. */
static inline uint32_t iq2_xxs_aux(const uint8_t *block, int i)
{
    uint32_t aux;
    memcpy(&aux, block + 2 + IQ2_XXS_SUB_BYTES * i + 4, sizeof aux);
    return aux;
}

/* Grid point q's 8 magnitudes, as one little-endian word. */
static inline uint64_t iq2_xxs_point(uint8_t q)
{
    uint64_t point;
    memcpy(&point, iq2_xxs_grid[q], sizeof point);
    return point;
}

#if QUANT_X86
extern const quant_kernels iq2_xxs_kernels_avx2;
extern const quant_kernels iq2_xxs_kernels_avxvnni;
extern const quant_kernels iq2_xxs_kernels_avx512;
extern const quant_kernels iq2_xxs_kernels_avx512vnni;
#endif

#endif
