/* iq1_m inside its plugin: the block layout and the kernel sets.
 *
 * 256 weights in 56 bytes (GGUF type 29), 1.75 bits each: 8 sub-blocks of
 * 32, each 4 points of IQ1_S's grid of 8 values in {-1, 0, 1} (2048
 * points: 8 bits of the index in qs, 3 in qh), each point shifted by its
 * own +-1/8, a 3-bit scale per 16 values, and one f16 super-block scale d
 * whose 16 bits are the top nibbles of the four scale words:
 *
 *   byte 0                    32                   48                 56
 *        +--------------------+--------------------+------------------+
 *        | qs[0] ... qs[31]   | qh[0] ... qh[15]   | sc[0] ... sc[3]  |
 *        +--------------------+--------------------+------------------+
 *         point k of          nibble k % 2 (low    u16 j: bits 0-2 and
 *         sub-block i:        first) of qh[2i +    3-5 the scales s of
 *         qs[4i + k], values  k / 2] for point k:  values 0-15 and 16-31
 *         32i + 8k ..         bits 0-2 the index's of sub-block 2j, 6-8
 *         32i + 8k + 7        bits 8-10, bit 3 the and 9-11 of 2j + 1;
 *                             shift's sign (set:   bits 12-15 bits 4j ..
 *                             -1/8)                4j + 3 of d
 *
 *   w[32i + 8k + j] = d * (2s + 1) * (grid[qs[4i + k] | index bits << 8][j] +- 1/8)
 *                   = d * (2s + 1) / 8 * (8 grid +- 1)
 *
 * with s the scale of the 16 values point k is in. As in iq1_s.h, the
 * integer 8 g +- 1 in {-9, -7, -1, 1, 7, 9} is a magnitude and a sign.
 * Products take activations in q8_K (kquant.h): a block's dot product is
 *
 *   d * dx / 8 * sum_i sum_h (2 s_ih + 1) * sum_v (8 g_v +- 1) * p[32i + 16h + v]
 *
 * (ggml's vec_dot_iq1_m_q8_K adds the shifts' sum in float instead, with
 * IQ1M_DELTA: the same sum, rounded otherwise). */
#ifndef TSR_QUANT_IQ1_M_H
#define TSR_QUANT_IQ1_M_H

/* IQ1_M's grid is IQ1_S's, point for point (the gguf package's IQ1_M
 * takes IQ1_S.grid_hex): one generated table for both. */
#include "iq1_s/iq1_s_tables.h"
#include "iq_grid.h"

enum {
    IQ1_M_GGUF_TYPE = 29,
    IQ1_M_BLOCK_BYTES = 56,
    IQ1_M_QH = 32, /* byte offsets of qh[] and the scale words */
    IQ1_M_SCALES = 48,
};

/* w = d * (2s + 1) / 8 * (8 g +- 1): the scales' common factor. */
#define IQ1_M_FACTOR 0.125f

static inline uint16_t iq1_m_scale_word(const uint8_t *block, int j)
{
    return quant_load_u16(block + IQ1_M_SCALES + 2 * j);
}

/* The bits of d: nibble j is the top nibble of scale word j. */
static inline uint16_t iq1_m_d_half(const uint8_t *block)
{
    return (uint16_t)(iq1_m_scale_word(block, 0) >> 12 |
                      (iq1_m_scale_word(block, 1) >> 8 & 0x00f0) |
                      (iq1_m_scale_word(block, 2) >> 4 & 0x0f00) |
                      (iq1_m_scale_word(block, 3) & 0xf000));
}

/* Point k's nibble of qh: the index's bits 8-10, then the shift's sign. */
static inline int iq1_m_nibble(const uint8_t *block, int i, int k)
{
    return block[IQ1_M_QH + 2 * i + k / 2] >> 4 * (k % 2) & 15;
}

/* The grid index of point k of sub-block i. */
static inline int iq1_m_index(const uint8_t *block, int i, int k)
{
    return block[4 * i + k] | (iq1_m_nibble(block, i, k) & 7) << 8;
}

/* Point k's shift, in eighths: +1 or -1. */
static inline int iq1_m_shift(const uint8_t *block, int i, int k)
{
    return iq1_m_nibble(block, i, k) & 8 ? -1 : 1;
}

/* The integer scale 2s + 1 of values 16h .. 16h + 15 of sub-block i. */
static inline int iq1_m_scale(const uint8_t *block, int i, int h)
{
    return 2 * (iq1_m_scale_word(block, i / 2) >> (6 * (i % 2) + 3 * h) & 7) + 1;
}

/* Grid point q's 8 values, as one little-endian word of int8. */
static inline uint64_t iq1_m_point(int q)
{
    uint64_t point;
    memcpy(&point, iq1_s_grid[q], sizeof point);
    return point;
}

#if QUANT_X86
extern const quant_kernels iq1_m_kernels_avx2;
extern const quant_kernels iq1_m_kernels_avxvnni;
extern const quant_kernels iq1_m_kernels_avx512;
extern const quant_kernels iq1_m_kernels_avx512vnni;
#endif

#endif
