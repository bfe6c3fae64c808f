/* quant/iq2_xs: ggml's 2-bit i-quant IQ2_XS, byte-exact (the layout is
 * drawn in iq2_xs.h; the grid is generated from the gguf package by
 * make_iq_grids.py, the sign patterns from their definition in iq_grid.h).
 * This file says how a sub-block reads; the SIMD kernels are
 * iq2_xs_x86.c's, the plugin around them iq_grid_plugin.h's (read only:
 * ggml makes iq2_xs with an importance matrix). */
#include "iq2_xs.h"

/* Sub-block i: 4 grid points of 8 magnitudes, each with its sign pattern,
 * a scale 2s + 1 per 16 values (w = d * (2s + 1) / 8 * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    uint32_t signs = iq2_xs_sign_bits(block, i);
    for (int v = 0; v < 32; v++) {
        int magnitude = iq2_xs_grid[iq2_xs_q(block, i, v / 8) & 511][v % 8];
        values[v] = (int8_t)(signs >> v & 1 ? -magnitude : magnitude);
    }
    iq_scales_per_16(block[IQ2_XS_SCALES + i], scale_lo, scale_hi);
}

#define GRID_FORMAT iq2_xs
#define GRID_NAME_STRING "iq2_xs"
#define GRID_GGUF_TYPE IQ2_XS_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ2_XS_BLOCK_BYTES
#define GRID_FACTOR IQ2_XS_FACTOR
#define GRID_SUMMARY                                                                               \
    "2-bit grid points with sign patterns, a 4-bit scale per 16 under one per 256 "                \
    "(GGUF IQ2_XS, read only); products against q8_k"
#include "iq_grid_plugin.h"
