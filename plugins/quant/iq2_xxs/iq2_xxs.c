/* quant/iq2_xxs: ggml's 2-bit i-quant IQ2_XXS, byte-exact (the layout is
 * drawn in iq2_xxs.h; the grid is generated from the gguf package by
 * make_iq_grids.py, the sign patterns from their definition in iq_grid.h).
 * This file says how a sub-block reads; the SIMD kernels are
 * iq2_xxs_x86.c's, the plugin around them iq_grid_plugin.h's (read
 * only: ggml makes iq2_xxs with an importance matrix). */
#include "iq2_xxs.h"

/* Sub-block i: 4 grid points of 8 magnitudes, signs from the 4 pattern
 * indices of aux, the scale 2s + 1 (w = d * (2s + 1) / 8 * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    const uint8_t *q = iq2_xxs_indices(block, i);
    uint32_t aux = iq2_xxs_aux(block, i);
    uint32_t signs = iq_sign_bits(aux);
    for (int v = 0; v < 32; v++) {
        int magnitude = iq2_xxs_grid[q[v / 8]][v % 8];
        values[v] = (int8_t)(signs >> v & 1 ? -magnitude : magnitude);
    }
    *scale_lo = *scale_hi = (int)(2 * (aux >> 28) + 1);
}

#define GRID_FORMAT iq2_xxs
#define GRID_NAME_STRING "iq2_xxs"
#define GRID_GGUF_TYPE IQ2_XXS_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ2_XXS_BLOCK_BYTES
#define GRID_FACTOR IQ2_XXS_FACTOR
#define GRID_SUMMARY                                                                               \
    "2-bit grid points with sign patterns, a 4-bit scale per 32 under one per 256 "                \
    "(GGUF IQ2_XXS, read only); products against q8_k"
#include "iq_grid_plugin.h"
