/* iq2_s inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 82 bytes (GGUF type 22), 2.56 bits each: 8 sub-blocks of
 * 32, each 4 points of a fixed grid of 8-value magnitudes (iq2_s_grid,
 * 1024 points: 8 bits in qs, two more in qh) with a sign bit per value,
 * and a 4-bit scale per 16 values, under one f16 super-block scale:
 *
 *   byte 0     2            34               66        74          82
 *        +-----+------------+----------------+---------+-----------+
 *        |  d  | qs[0..31]  | signs[0..31]   | qh[0..7]| scales[8] |
 *        +-----+------------+----------------+---------+-----------+
 *         f16   point k of   bit j of byte    bits 2k,  scales[i]: bits 0-3
 *               sub-block i: 4i + m: value    2k + 1:   s of values 0-15 of
 *               qs[4i + k]   8m + j of sub-   bits 8-9  sub-block i, bits 4-7
 *                            block i negative of point k of 16-31
 *
 *   w[32i + 8k + j] = d * (0.5 + s) * 0.25 * grid[qs[4i + k] | (qh[i] >> 2k & 3) << 8][j]
 *                     * (value negative ? -1 : 1)
 *
 * with s the scale of the value's 16. Products take activations in q8_K
 * (kquant.h): with sc = 2s + 1, a block's dot product is
 *
 *   d * dx / 8 * sum over its 16s of sc * sum_v sign_v * grid_v * p_v
 *
 * (ggml's vec_dot_iq2_s_q8_K computes the same integers). */
#ifndef TSR_QUANT_IQ2_S_H
#define TSR_QUANT_IQ2_S_H

#include "iq2_s_tables.h"
#include "iq_grid.h"

enum {
    IQ2_S_GGUF_TYPE = 22,
    IQ2_S_BLOCK_BYTES = 82,
    IQ2_S_QS = 2,      /* byte offsets of qs[], signs[], qh[], scales[] */
    IQ2_S_SIGNS = 34,
    IQ2_S_QH = 66,
    IQ2_S_SCALES = 74,
};

/* w = d * (2s + 1) / 8 * value: the scales' common factor. */
#define IQ2_S_FACTOR 0.125f

/* The grid index of point k of sub-block i. */
static inline int iq2_s_index(const uint8_t *block, int i, int k)
{
    return block[IQ2_S_QS + 4 * i + k] | (block[IQ2_S_QH + i] >> 2 * k & 3) << 8;
}

/* Grid point q's 8 magnitudes, as one little-endian word. */
static inline uint64_t iq2_s_point(int q)
{
    uint64_t point;
    memcpy(&point, iq2_s_grid[q], sizeof point);
    return point;
}

/* The 32 signs of sub-block i as bits: bit v set = value v negative. */
static inline uint32_t iq2_s_sign_bits(const uint8_t *block, int i)
{
    uint32_t signs;
    memcpy(&signs, block + IQ2_S_SIGNS + 4 * i, sizeof signs);
    return signs;
}

#if QUANT_X86
extern const quant_kernels iq2_s_kernels_avx2;
extern const quant_kernels iq2_s_kernels_avxvnni;
extern const quant_kernels iq2_s_kernels_avx512;
extern const quant_kernels iq2_s_kernels_avx512vnni;
#endif

#endif
