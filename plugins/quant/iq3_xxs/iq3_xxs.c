/* quant/iq3_xxs: ggml's 3-bit i-quant IQ3_XXS, byte-exact (the layout is
 * drawn in iq3_xxs.h; the grid is generated from the gguf package by
 * make_iq_grids.py, the sign patterns from their definition in iq_grid.h).
 * This file says how a sub-block reads; the SIMD kernels are
 * iq3_xxs_x86.c's, the plugin around them iq_grid_plugin.h's (read
 * only: ggml makes iq3_xxs with an importance matrix). */
#include "iq3_xxs.h"

/* Sub-block i: 8 grid points of 4 magnitudes, signs from the 4 pattern
 * indices of aux, the scale 2s + 1 (w = d * (2s + 1) / 4 * value). */
static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32], int *scale_lo,
                            int *scale_hi)
{
    const uint8_t *qs = block + IQ3_XXS_QS + 8 * i;
    uint32_t aux = iq3_xxs_aux(block, i);
    uint32_t signs = iq_sign_bits(aux);
    for (int v = 0; v < 32; v++) {
        int magnitude = iq3_xxs_grid[qs[v / 4]][v % 4];
        values[v] = (int8_t)(signs >> v & 1 ? -magnitude : magnitude);
    }
    *scale_lo = *scale_hi = (int)(2 * (aux >> 28) + 1);
}

#define GRID_FORMAT iq3_xxs
#define GRID_NAME_STRING "iq3_xxs"
#define GRID_GGUF_TYPE IQ3_XXS_GGUF_TYPE
#define GRID_BLOCK_BYTES IQ3_XXS_BLOCK_BYTES
#define GRID_FACTOR IQ3_XXS_FACTOR
#define GRID_SUMMARY                                                                               \
    "3-bit grid points with sign patterns, a 4-bit scale per 32 under one per 256 "                \
    "(GGUF IQ3_XXS, read only); products against q8_k"
#include "iq_grid_plugin.h"
