/* What the quant plugins' device kernels share (FORMAT/FORMAT_cuda.cu):
 * the decode product and the row lookup of tsr_quant_device_kernels,
 * written once over a block type that knows its format's layout:
 *
 *   struct FORMAT_block {
 *       enum { BYTES = ..., ALIGN = ... }; // bytes per block; the alignment
 *                                          // its loads need (rows and W)
 *       // dot(block, x[0..32)), and the block's 32 values
 *       __device__ static float dot(const uint8_t *block, const float *x);
 *       __device__ static void dequantize(const uint8_t *block, float *out);
 *   };
 *
 * Every format has 32 values per block here (the legacy formats; the
 * K-quants' 256 would need another split of the row).
 *
 * The product gives each row a warp: lane l takes blocks l, l + 32, ... of
 * the row, so a warp reads 32 consecutive blocks at a time (one coalesced
 * stretch of weights), and the warp's partial sums meet in a shuffle
 * reduction. x stays in L1/L2: every row reads all of it. */
#ifndef TSR_QUANT_CUDA_CUH
#define TSR_QUANT_CUDA_CUH

#include "cuda/common.cuh"
#include "tessera/plugin.h"

enum { QUANT_CUDA_BLOCK_ELEMS = 32, QUANT_CUDA_ROWS_PER_BLOCK = 4 };

/* Little-endian fields of a block; the callers guarantee the alignment. */
__device__ __forceinline__ uint16_t quant_cuda_u16(const uint8_t *p)
{
#ifdef TSR_CUDA_EMU
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return *(const uint16_t *)p;
#endif
}

__device__ __forceinline__ uint32_t quant_cuda_u32(const uint8_t *p)
{
#ifdef TSR_CUDA_EMU
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return *(const uint32_t *)p;
#endif
}

template <typename Block>
__global__ void quant_cuda_matvec_kernel(const uint8_t *w, size_t w_row_bytes, const float *x,
                                         float *y, int64_t n_blocks, int64_t n_rows)
{
    int64_t row = (int64_t)blockIdx.x * QUANT_CUDA_ROWS_PER_BLOCK + threadIdx.x / warpSize;
    unsigned lane = threadIdx.x % warpSize;
    if (row >= n_rows)
        return; /* the whole warp: no lane of it meets another */
    const uint8_t *w_row = w + (size_t)row * w_row_bytes;
    float sum = 0.0f;
    for (int64_t b = lane; b < n_blocks; b += warpSize)
        sum += Block::dot(w_row + b * Block::BYTES, x + b * QUANT_CUDA_BLOCK_ELEMS);
    sum = tsr_warp_sum(sum);
    if (lane == 0)
        y[row] = sum;
}

/* One CUDA block per output row, its threads over the row's blocks. */
template <typename Block>
__global__ void quant_cuda_get_rows_kernel(const uint8_t *w, size_t w_row_bytes, int64_t n_rows,
                                           const int32_t *rows, float *out, int64_t n_blocks)
{
    int32_t row = rows[blockIdx.x];
    float *dst = out + (int64_t)blockIdx.x * n_blocks * QUANT_CUDA_BLOCK_ELEMS;
    for (int64_t b = threadIdx.x; b < n_blocks; b += blockDim.x) {
        float *values = dst + b * QUANT_CUDA_BLOCK_ELEMS;
        if (row < 0 || row >= n_rows) {
            for (int j = 0; j < QUANT_CUDA_BLOCK_ELEMS; j++)
                values[j] = NAN;
        } else {
            Block::dequantize(w + (size_t)row * w_row_bytes + b * Block::BYTES, values);
        }
    }
}

template <typename Block> bool quant_cuda_bad_rows(const void *w, size_t w_row_bytes,
                                                   int64_t n_cols)
{
    return !w || n_cols <= 0 || n_cols % QUANT_CUDA_BLOCK_ELEMS ||
           w_row_bytes < (size_t)(n_cols / QUANT_CUDA_BLOCK_ELEMS) * Block::BYTES ||
           w_row_bytes % Block::ALIGN || (uintptr_t)w % Block::ALIGN;
}

template <typename Block>
int32_t quant_cuda_matvec(const void *w, size_t w_row_bytes, const float *x, float *y,
                          int64_t n_cols, int64_t n_rows, void *stream)
{
    if (quant_cuda_bad_rows<Block>(w, w_row_bytes, n_cols) || !x || !y || n_rows <= 0 ||
        n_rows > INT32_MAX)
        return cudaErrorInvalidValue;
    unsigned grid = (unsigned)((n_rows + QUANT_CUDA_ROWS_PER_BLOCK - 1) / QUANT_CUDA_ROWS_PER_BLOCK);
    TSR_LAUNCH(quant_cuda_matvec_kernel<Block>, grid, QUANT_CUDA_ROWS_PER_BLOCK * 32, stream,
               (const uint8_t *)w, w_row_bytes, x, y, n_cols / QUANT_CUDA_BLOCK_ELEMS, n_rows);
    return tsr_cuda_launched();
}

template <typename Block>
int32_t quant_cuda_get_rows(const void *w, size_t w_row_bytes, int64_t n_rows,
                            const int32_t *rows, int64_t n_out, float *out, int64_t n_cols,
                            void *stream)
{
    if (quant_cuda_bad_rows<Block>(w, w_row_bytes, n_cols) || !rows || !out || n_rows <= 0 ||
        n_out <= 0 || n_out > INT32_MAX)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(quant_cuda_get_rows_kernel<Block>, (unsigned)n_out, 128, stream,
               (const uint8_t *)w, w_row_bytes, n_rows, rows, out,
               n_cols / QUANT_CUDA_BLOCK_ELEMS);
    return tsr_cuda_launched();
}

static inline const char *quant_cuda_error_name(int32_t status)
{
    return cudaGetErrorName((cudaError_t)status);
}

/* The table of a format whose block type is Block. */
template <typename Block> struct quant_cuda_table {
    static constexpr tsr_quant_device_kernels kernels = {
        TSR_ABI_INIT(tsr_quant_device_kernels), TSR_DEVICE_KIND_CUDA,
        quant_cuda_matvec<Block>, quant_cuda_get_rows<Block>, quant_cuda_error_name,
    };
    static const tsr_quant_device_kernels *lookup(uint32_t device_kind)
    {
        return device_kind == TSR_DEVICE_KIND_CUDA ? &kernels : nullptr;
    }
};

#endif
