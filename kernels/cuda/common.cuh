/* What every .cu source of the tree includes first: the CUDA runtime under
 * nvcc, the emulator (emu/cuda_emu.h) under a host C++ compiler with
 * TSR_CUDA_EMU defined, so that one source serves the GPU and the tests
 * without one; then the warp and block reductions the kernels share.
 *
 * Kernels launch with TSR_LAUNCH(kernel, grid, block, stream, args...),
 * never <<< >>>, and read halves through tsr_half_to_float. */
#ifndef TSR_KERNELS_CUDA_COMMON_CUH
#define TSR_KERNELS_CUDA_COMMON_CUH

#include <math.h>
#include <stdint.h>

#ifdef TSR_CUDA_EMU
#include "emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
#endif
/* What follows is device code: for nvcc and the emulator. A host compiler
 * (a test of the device build) sees the runtime API above only. */
#if defined(__CUDACC__) || defined(TSR_CUDA_EMU)
#ifdef __CUDACC__
#include <cuda_fp16.h>
#define TSR_LAUNCH(kernel, grid, block, stream, ...) \
    kernel<<<(grid), (block), 0, (cudaStream_t)(stream)>>>(__VA_ARGS__)
#endif

/* Visible to the other objects of the library or plugin, not exported. */
#define TSR_CUDA_HIDDEN __attribute__((visibility("hidden")))

enum { TSR_FULL_WARP = 0xffffffffu };

/* IEEE half (the bits as stored in a cache or block) -> float, exact. */
__device__ __forceinline__ float tsr_half_to_float(uint16_t bits)
{
#ifdef TSR_CUDA_EMU
    uint32_t sign = (uint32_t)(bits & 0x8000) << 16, exponent = bits >> 10 & 0x1f,
             mantissa = bits & 0x3ff;
    if (exponent == 0x1f)
        return __uint_as_float(sign | 0x7f800000u | mantissa << 13);
    if (exponent == 0) {
        /* zero or subnormal: mantissa * 2^-24, exact in float */
        float magnitude = (float)mantissa * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    }
    return __uint_as_float(sign | (exponent + 112) << 23 | mantissa << 13);
#else
    return __half2float(__ushort_as_half(bits));
#endif
}

/* The sum and the maximum over a whole warp, in every lane. */
__device__ __forceinline__ float tsr_warp_sum(float v)
{
    for (int offset = warpSize / 2; offset > 0; offset /= 2)
        v += __shfl_xor_sync(TSR_FULL_WARP, v, offset);
    return v;
}

__device__ __forceinline__ float tsr_warp_max(float v)
{
    for (int offset = warpSize / 2; offset > 0; offset /= 2)
        v = fmaxf(v, __shfl_xor_sync(TSR_FULL_WARP, v, offset));
    return v;
}

/* A reduction over a whole block (blockDim.x a multiple of 32, at most
 * 1024, y = z = 1), in every thread: each warp reduces its lanes, then one
 * warp reduces the warps' results. Warp is tsr_sum_warp or tsr_max_warp.
 * scratch: 32 floats of shared memory, free again when this returns. */
struct tsr_sum_warp {
    static constexpr float identity = 0.0f;
    __device__ static float reduce(float v) { return tsr_warp_sum(v); }
};

struct tsr_max_warp {
    static constexpr float identity = -INFINITY;
    __device__ static float reduce(float v) { return tsr_warp_max(v); }
};

template <typename Warp> __device__ __forceinline__ float tsr_block_reduce(float v, float *scratch)
{
    unsigned warp = threadIdx.x / warpSize, lane = threadIdx.x % warpSize;
    v = Warp::reduce(v);
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    v = lane < blockDim.x / warpSize ? scratch[lane] : Warp::identity;
    v = Warp::reduce(v);
    __syncthreads();
    return v;
}

/* The status of the launch just made, as the tables' members return it. */
static inline int32_t tsr_cuda_launched(void)
{
    return (int32_t)cudaGetLastError();
}

#endif /* __CUDACC__ || TSR_CUDA_EMU */
#endif
