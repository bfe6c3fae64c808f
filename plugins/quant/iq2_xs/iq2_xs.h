/* iq2_xs inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 74 bytes (GGUF type 17), 2.31 bits each: 8 sub-blocks of
 * 32, each 4 points of a fixed grid of 8-value magnitudes (iq2_xs_grid,
 * 512 points) with a sign pattern per 8 values, and a 4-bit scale per 16
 * values, under one f16 super-block scale:
 *
 *   byte 0     2                                          66             74
 *        +-----+------------------------------------------+--------------+
 *        |  d  | q[0] q[1] ...                      q[31] | scales[8]    |
 *        +-----+------------------------------------------+--------------+
 *         f16   u16 each: bits 0-8 a grid index, bits 9-15  scales[i]: bits 0-3
 *               the index of a sign pattern                 s of values 32i ..
 *               (iq_sign_patterns); q[4i + l] gives values  32i + 15, bits 4-7
 *               32i + 8l .. 32i + 8l + 7                    of 32i + 16 .. + 31
 *
 *   w[32i + 8l + j] = d * (0.5 + s) * 0.25 * grid[q[4i + l] & 511][j]
 *                     * (bit j of patterns[q[4i + l] >> 9] ? -1 : 1)
 *
 * with s the scale of the value's 16. Products take activations in q8_K
 * (kquant.h): with sc = 2s + 1, a block's dot product is
 *
 *   d * dx / 8 * sum over its 16s of sc * sum_v sign_v * grid_v * p_v
 *
 * (ggml's vec_dot_iq2_xs_q8_K computes the same integers). */
#ifndef TSR_QUANT_IQ2_XS_H
#define TSR_QUANT_IQ2_XS_H

#include "iq2_xs_tables.h"
#include "iq_grid.h"

enum {
    IQ2_XS_GGUF_TYPE = 17,
    IQ2_XS_BLOCK_BYTES = 74,
    IQ2_XS_QS = 2,      /* byte offset of q[] */
    IQ2_XS_SCALES = 66, /* byte offset of scales[] */
};

/* w = d * (2s + 1) / 8 * value: the scales' common factor. */
#define IQ2_XS_FACTOR 0.125f

/* q[4i + l], point l of sub-block i. */
static inline uint16_t iq2_xs_q(const uint8_t *block, int i, int l)
{
    return quant_load_u16(block + IQ2_XS_QS + 2 * (4 * i + l));
}

/* Grid point q & 511's 8 magnitudes, as one little-endian word. */
static inline uint64_t iq2_xs_point(uint16_t q)
{
    uint64_t point;
    memcpy(&point, iq2_xs_grid[q & 511], sizeof point);
    return point;
}

/* The 32 signs of sub-block i as bits: bit v set = value v negative. */
static inline uint32_t iq2_xs_sign_bits(const uint8_t *block, int i)
{
    uint32_t signs = 0;
    for (int l = 0; l < 4; l++)
        signs |= (uint32_t)iq_sign_patterns[iq2_xs_q(block, i, l) >> 9] << 8 * l;
    return signs;
}

#if QUANT_X86
extern const quant_kernels iq2_xs_kernels_avx2;
extern const quant_kernels iq2_xs_kernels_avxvnni;
extern const quant_kernels iq2_xs_kernels_avx512;
extern const quant_kernels iq2_xs_kernels_avx512vnni;
#endif

#endif
