/* quant/iq1_m: ggml's 1.75-bit i-quant IQ1_M, byte-exact (the layout is
 * drawn in iq1_m.h; the grid is IQ1_S's). This file says how a sub-block
 * reads; the SIMD kernels are iq1_m_x86.c's, the plugin around them
 * iq_grid_plugin.h's (read only: ggml makes iq1_m from an importance
 * matrix, as it does the other 1- and 2-bit i-quants). */
#include "iq1_m.h"

/* Sub-block i: 4 grid points of 8 values g, each value 8 g +- 1 with its
 * point's shift, a scale 2s + 1 per 16 values (w = d * (2s + 1) / 8 *
 * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    for (int v = 0; v < 32; v++)
        values[v] = (int8_t)(8 * iq1_s_grid[iq1_m_index(block, i, v / 8)][v % 8] +
                             iq1_m_shift(block, i, v / 8));
    *scale_lo = iq1_m_scale(block, i, 0);
    *scale_hi = iq1_m_scale(block, i, 1);
}

#define GRID_FORMAT iq1_m
#define GRID_NAME_STRING "iq1_m"
#define GRID_GGUF_TYPE IQ1_M_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ1_M_BLOCK_BYTES
#define GRID_FACTOR IQ1_M_FACTOR
#define GRID_D_HALF(block) iq1_m_d_half(block)
#define GRID_SUMMARY                                                                               \
    "ternary grid points shifted by 1/8 each, a 3-bit scale per 16 under one per 256 "             \
    "(GGUF IQ1_M, read only); products against q8_k"
#include "iq_grid_plugin.h"
