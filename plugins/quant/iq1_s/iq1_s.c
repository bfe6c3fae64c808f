/* quant/iq1_s: ggml's 1.56-bit i-quant IQ1_S, byte-exact (the layout is
 * drawn in iq1_s.h; the grid is generated from the gguf package by
 * make_iq_grids.py). This file says how a sub-block reads; the SIMD
 * kernels are iq1_s_x86.c's, the plugin around them iq_grid_plugin.h's
 * (read only: ggml makes iq1_s with an importance matrix only). */
#include "iq1_s.h"

/* Sub-block i: 4 grid points of 8 values g, each value 8 g +- 1 with the
 * sub-block's shift, the scale 2s + 1 (w = d * (2s + 1) / 8 * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    int shift = iq1_s_shift(block, i);
    for (int v = 0; v < 32; v++)
        values[v] = (int8_t)(8 * iq1_s_grid[iq1_s_index(block, i, v / 8)][v % 8] + shift);
    *scale_lo = *scale_hi = iq1_s_scale(block, i);
}

#define GRID_FORMAT iq1_s
#define GRID_NAME_STRING "iq1_s"
#define GRID_GGUF_TYPE IQ1_S_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ1_S_BLOCK_BYTES
#define GRID_FACTOR IQ1_S_FACTOR
#define GRID_SUMMARY                                                                               \
    "ternary grid points shifted by 1/8, a 3-bit scale per 32 under one per 256 "                  \
    "(GGUF IQ1_S, read only); products against q8_k"
#include "iq_grid_plugin.h"
