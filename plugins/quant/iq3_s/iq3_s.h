/* iq3_s inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 110 bytes (GGUF type 21), 3.44 bits each: 8 sub-blocks of
 * 32, each 8 points of a fixed grid of 4-value magnitudes (iq3_s_grid, 512
 * points: 8 bits in qs, the ninth in qh) with a sign bit per value, and a
 * 4-bit scale per sub-block, under one f16 super-block scale:
 *
 *   byte 0     2               66        74                  106       110
 *        +-----+---------------+---------+-------------------+---------+
 *        |  d  | qs[0..63]     | qh[0..7]| signs[0..31]      |scales[4]|
 *        +-----+---------------+---------+-------------------+---------+
 *         f16   point k of      bit k:    bit j of byte 4i+m: s of sub-block
 *               sub-block i:    bit 8 of  value 8m + j of     i: nibble i % 2
 *               qs[8i + k]      point k   sub-block i         of scales[i / 2]
 *                               of sub-block i negative
 *
 *   w[32i + 4k + j] = d * (1 + 2 s_i) * grid[qs[8i + k] | (qh[i] >> k & 1) << 8][j]
 *                     * (value negative ? -1 : 1)
 *
 * Products take activations in q8_K (kquant.h): a block's dot product is
 *
 *   d * dx * sum_i (2 s_i + 1) * sum_v sign_v * grid_v * p[32i + v]
 *
 * (ggml's vec_dot_iq3_s_q8_K computes the same integers). */
#ifndef TSR_QUANT_IQ3_S_H
#define TSR_QUANT_IQ3_S_H

#include "iq3_s_tables.h"
#include "iq_grid.h"

enum {
    IQ3_S_GGUF_TYPE = 21,
    IQ3_S_BLOCK_BYTES = 110,
    IQ3_S_QS = 2,       /* byte offsets of qs[], qh[], signs[], scales[] */
    IQ3_S_QH = 66,
    IQ3_S_SIGNS = 74,
    IQ3_S_SCALES = 106,
};

/* w = d * (2s + 1) * value: the scales' common factor. */
#define IQ3_S_FACTOR 1.0f

/* The grid index of point k of sub-block i. */
static inline int iq3_s_index(const uint8_t *block, int i, int k)
{
    return block[IQ3_S_QS + 8 * i + k] | (block[IQ3_S_QH + i] >> k & 1) << 8;
}

/* Grid point q's 4 magnitudes, as one little-endian word. */
static inline uint32_t iq3_s_point(int q)
{
    uint32_t point;
    memcpy(&point, iq3_s_grid[q], sizeof point);
    return point;
}

/* The 32 signs of sub-block i as bits: bit v set = value v negative. */
static inline uint32_t iq3_s_sign_bits(const uint8_t *block, int i)
{
    uint32_t signs;
    memcpy(&signs, block + IQ3_S_SIGNS + 4 * i, sizeof signs);
    return signs;
}

/* The integer scale 2s + 1 of sub-block i. */
static inline int iq3_s_scale(const uint8_t *block, int i)
{
    return 2 * (block[IQ3_S_SCALES + i / 2] >> 4 * (i % 2) & 15) + 1;
}

#if QUANT_X86
extern const quant_kernels iq3_s_kernels_avx2;
extern const quant_kernels iq3_s_kernels_avxvnni;
extern const quant_kernels iq3_s_kernels_avx512;
extern const quant_kernels iq3_s_kernels_avx512vnni;
#endif

#endif
