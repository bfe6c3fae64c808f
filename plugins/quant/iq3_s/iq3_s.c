/* quant/iq3_s: ggml's 3-bit i-quant IQ3_S, byte-exact (the layout is
 * drawn in iq3_s.h; the grid is generated from the gguf package by
 * make_iq_grids.py). This file says how a sub-block reads; the SIMD
 * kernels are iq3_s_x86.c's, the plugin around them iq_grid_plugin.h's
 * (read only: ggml makes iq3_s with an importance matrix where it has
 * one, and searches its grid, which a load-time conversion could do but
 * this plugin does not yet). */
#include "iq3_s.h"

/* Sub-block i: 8 grid points of 4 magnitudes, a sign bit per value, the
 * scale 2s + 1 (w = d * (2s + 1) * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    uint32_t signs = iq3_s_sign_bits(block, i);
    for (int v = 0; v < 32; v++) {
        int magnitude = iq3_s_grid[iq3_s_index(block, i, v / 4)][v % 4];
        values[v] = (int8_t)(signs >> v & 1 ? -magnitude : magnitude);
    }
    *scale_lo = *scale_hi = iq3_s_scale(block, i);
}

#define GRID_FORMAT iq3_s
#define GRID_NAME_STRING "iq3_s"
#define GRID_GGUF_TYPE IQ3_S_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ3_S_BLOCK_BYTES
#define GRID_FACTOR IQ3_S_FACTOR
#define GRID_SUMMARY                                                                               \
    "3-bit grid points with sign bits, a 4-bit scale per 32 under one per 256 "                    \
    "(GGUF IQ3_S, read only); products against q8_k"
#include "iq_grid_plugin.h"
