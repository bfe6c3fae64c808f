/* iq1_s inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 50 bytes (GGUF type 19), 1.56 bits each: 8 sub-blocks of
 * 32, each 4 points of a fixed grid of 8 values in {-1, 0, 1} (iq1_s_grid,
 * 2048 points: 8 bits of the index in qs, 3 in qh), shifted by +-1/8 and
 * scaled by a 3-bit scale per sub-block, under one f16 super-block scale:
 *
 *   byte 0     2                        34                            50
 *        +-----+------------------------+-----------------------------+
 *        |  d  | qs[0] ... qs[31]       | qh[0] ... qh[7]             |
 *        +-----+------------------------+-----------------------------+
 *         f16   point k of sub-block i:  u16 per sub-block i: bits 3k .. 3k + 2
 *               qs[4i + k], values       the index's bits 8-10 for point k;
 *               32i + 8k .. 32i + 8k + 7 bits 12-14 the scale s; bit 15 the
 *                                        shift's sign (set: -1/8)
 *
 *   w[32i + 8k + j] = d * (2s + 1) * (grid[qs[4i + k] | (qh[i] >> 3k & 7) << 8][j] +- 1/8)
 *                   = d * (2s + 1) / 8 * (8 grid + -1)
 *
 * so that, as an integer 8 g +- 1 in {-9, -7, -1, 1, 7, 9}, every value
 * is a magnitude and a sign as in the other grid i-quants. Products take
 * activations in q8_K (kquant.h): a block's dot product is
 *
 *   d * dx / 8 * sum_i (2 s_i + 1) * sum_v (8 g_v +- 1) * p[32i + v]
 *
 * (ggml's vec_dot_iq1_s_q8_K adds 8 sum(g p) and +-sum(p) from the bsums
 * in float instead; the same sum, rounded otherwise). */
#ifndef TSR_QUANT_IQ1_S_H
#define TSR_QUANT_IQ1_S_H

#include "iq1_s_tables.h"
#include "iq_grid.h"

enum {
    IQ1_S_GGUF_TYPE = 19,
    IQ1_S_BLOCK_BYTES = 50,
    IQ1_S_QS = 2, /* byte offsets of qs[] and qh[] */
    IQ1_S_QH = 34,
};

/* w = d * (2s + 1) / 8 * (8 g +- 1): the scales' common factor. */
#define IQ1_S_FACTOR 0.125f

static inline uint16_t iq1_s_qh(const uint8_t *block, int i)
{
    return quant_load_u16(block + IQ1_S_QH + 2 * i);
}

/* The grid index of point k of sub-block i. */
static inline int iq1_s_index(const uint8_t *block, int i, int k)
{
    return block[IQ1_S_QS + 4 * i + k] | (iq1_s_qh(block, i) >> 3 * k & 7) << 8;
}

/* Grid point q's 8 values, as one little-endian word of int8. */
static inline uint64_t iq1_s_point(int q)
{
    uint64_t point;
    memcpy(&point, iq1_s_grid[q], sizeof point);
    return point;
}

/* Sub-block i's shift, in eighths: +1 or -1. */
static inline int iq1_s_shift(const uint8_t *block, int i)
{
    return iq1_s_qh(block, i) & 0x8000 ? -1 : 1;
}

/* The integer scale 2s + 1 of sub-block i. */
static inline int iq1_s_scale(const uint8_t *block, int i)
{
    return 2 * (iq1_s_qh(block, i) >> 12 & 7) + 1;
}

#if QUANT_X86
extern const quant_kernels iq1_s_kernels_avx2;
extern const quant_kernels iq1_s_kernels_avxvnni;
extern const quant_kernels iq1_s_kernels_avx512;
extern const quant_kernels iq1_s_kernels_avx512vnni;
#endif

#endif
