/* quant/iq2_s: ggml's 2-bit i-quant IQ2_S, byte-exact (the layout is
 * drawn in iq2_s.h; the grid is generated from the gguf package by
 * make_iq_grids.py). This file says how a sub-block reads; the SIMD
 * kernels are iq2_s_x86.c's, the plugin around them iq_grid_plugin.h's
 * (read only: ggml makes iq2_s with an importance matrix where it has
 * one, and searches its grid). */
#include "iq2_s.h"

/* Sub-block i: 4 grid points of 8 magnitudes, a sign bit per value, a
 * scale 2s + 1 per 16 values (w = d * (2s + 1) / 8 * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    uint32_t signs = iq2_s_sign_bits(block, i);
    for (int v = 0; v < 32; v++) {
        int magnitude = iq2_s_grid[iq2_s_index(block, i, v / 8)][v % 8];
        values[v] = (int8_t)(signs >> v & 1 ? -magnitude : magnitude);
    }
    iq_scales_per_16(block[IQ2_S_SCALES + i], scale_lo, scale_hi);
}

#define GRID_FORMAT iq2_s
#define GRID_NAME_STRING "iq2_s"
#define GRID_GGUF_TYPE IQ2_S_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ2_S_BLOCK_BYTES
#define GRID_FACTOR IQ2_S_FACTOR
#define GRID_SUMMARY                                                                               \
    "2-bit grid points with sign bits, a 4-bit scale per 16 under one per 256 "                    \
    "(GGUF IQ2_S, read only); products against q8_k"
#include "iq_grid_plugin.h"
