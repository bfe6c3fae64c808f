/* The plugin around a grid i-quant (iq_grid.h): its scalar reference, the
 * choice among the x86 tiers (iq_grid_x86.h) at init, the vtable and the
 * entry point, the same for every grid i-quant. FORMAT.c defines how a
 * sub-block reads,
 *
 *   static void grid_sub_scalar(const uint8_t *block, int i, int8_t values[32],
 *                               int *scale_lo, int *scale_hi)
 *       sub-block i's 32 signed magnitudes in value order and the integer
 *       scales of values 0-15 and 16-31 (the same where one covers all 32)
 *
 * then GRID_FORMAT (its prefix, e.g. iq2_xxs, whose FORMAT.h declares the
 * x86 sets FORMAT_kernels_TIER), GRID_NAME_STRING, GRID_GGUF_TYPE,
 * GRID_BLOCK_BYTES, GRID_FACTOR (as iq_grid_tier.h's: w = d * scale *
 * GRID_FACTOR * value) and GRID_SUMMARY, and optionally GRID_D_HALF(block)
 * (the bits of the block's f16 d, where a format keeps it elsewhere than
 * at byte 0, as iq1_m does), and includes this file last.
 *
 * These formats are read only: ggml's quantizers search the grid with an
 * importance matrix (and refuse to run without one for some), which a
 * load-time conversion does not have, so the vtable has no quantize member
 * (plugin.h: NULL when the format cannot be produced from floats). */

#ifndef GRID_D_HALF
#define GRID_D_HALF(block) quant_load_u16(block)
#endif

/* d * scale * GRID_FACTOR (at most 11 + 5 significant bits) and then times
 * the value (+ 6) are exact in float: the gguf package's floats, whatever
 * the order it multiplies in. */
static void grid_dequantize_scalar(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / 256; b++, block += GRID_BLOCK_BYTES) {
        float d = quant_fp16_to_fp32(GRID_D_HALF(block));
        for (int i = 0; i < 8; i++) {
            int8_t values[32];
            int scale[2];
            grid_sub_scalar(block, i, values, &scale[0], &scale[1]);
            float *out = dst + b * 256 + 32 * i;
            for (int v = 0; v < 32; v++)
                out[v] = d * (float)scale[v / 16] * GRID_FACTOR * (float)values[v];
        }
    }
}

/* Per block, the integer sum over its sub-blocks of scale times the dot
 * product of values and q8_K's p (ggml's vec_dot_FORMAT_q8_K computes the
 * same integers), then times d * dx * GRID_FACTOR in float. */
static void grid_matmat_reference(const void *w, size_t w_row_bytes, const void *x,
                                  size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                  int64_t n_tokens, int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / 256;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * GRID_BLOCK_BYTES;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                int32_t dot = 0;
                for (int i = 0; i < 8; i++) {
                    int8_t values[32];
                    int scale[2];
                    grid_sub_scalar(wb, i, values, &scale[0], &scale[1]);
                    for (int h = 0; h < 2; h++) {
                        int32_t half = 0;
                        for (int v = 16 * h; v < 16 * h + 16; v++)
                            half += values[v] * p[32 * i + v];
                        dot += scale[h] * half;
                    }
                }
                float d = quant_fp16_to_fp32(GRID_D_HALF(wb));
                sum += (d * kq_q8k_scale(xb) * GRID_FACTOR) * (float)dot;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

#define GRID_PASTE(format, name, tier) format##_##name##_##tier
#define GRID_NAME(format, name, tier) GRID_PASTE(format, name, tier)

static const quant_kernels grid_kernels_scalar = {
    .name = "scalar",
    .isa = QUANT_ISA_SCALAR,
    .dequantize = grid_dequantize_scalar,
    .quantize = NULL,
    .matmat = grid_matmat_reference,
};

static const quant_kernels *const grid_candidates[] = {
#if QUANT_X86
    &GRID_NAME(GRID_FORMAT, kernels, avx512vnni), &GRID_NAME(GRID_FORMAT, kernels, avxvnni),
    &GRID_NAME(GRID_FORMAT, kernels, avx512),     &GRID_NAME(GRID_FORMAT, kernels, avx2),
#endif
    &grid_kernels_scalar,
};

/* Read by the hot members, written only by init (a setup call). */
static const quant_kernels *grid_active = &grid_kernels_scalar;

static tsr_status grid_init(const tsr_host *host, tsr_error *err)
{
    (void)err;
    grid_active = quant_pick(grid_candidates, sizeof grid_candidates / sizeof grid_candidates[0],
                             host->cpu_features);
    return TSR_OK;
}

static const char *grid_kernel_name(void)
{
    return grid_active->name;
}

static void grid_dequantize(const void *src, float *dst, int64_t n_elems)
{
    grid_active->dequantize(src, dst, n_elems);
}

static void grid_matvec(const void *w, size_t w_row_bytes, const void *x, float *y,
                        int64_t n_cols, int64_t row_begin, int64_t row_end)
{
    grid_active->matmat(w, w_row_bytes, x, 0, y, 0, n_cols, 1, row_begin, row_end);
}

static void grid_matmat(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                        float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                        int64_t row_begin, int64_t row_end)
{
    grid_active->matmat(w, w_row_bytes, x, x_row_bytes, y, y_stride, n_cols, n_tokens, row_begin,
                        row_end);
}

static const tsr_quant_vtable grid_vtable = {
    .abi = TSR_ABI_INIT(tsr_quant_vtable),
    .gguf_type = GRID_GGUF_TYPE,
    .block_elems = 256,
    .block_bytes = GRID_BLOCK_BYTES,
    .act_gguf_type = QUANT_GGUF_Q8_K,
    .flags = 0,
    .init = grid_init,
    .kernel_name = grid_kernel_name,
    .dequantize = grid_dequantize,
    .quantize = NULL, /* reads only: see the top of this file */
    .matvec = grid_matvec,
    .matmat = grid_matmat,
    .matmat_reference = grid_matmat_reference,
    .quantize_reference = NULL,
};

static const tsr_plugin_desc grid_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_QUANT,
    .name = GRID_NAME_STRING,
    .version = "1.0.0",
    .summary = GRID_SUMMARY,
    .vtable = &grid_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &grid_desc : NULL;
}
