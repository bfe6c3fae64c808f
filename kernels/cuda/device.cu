// The CUDA side's first entry point: how many devices the runtime sees.
// Later kernels (matmul per quant format, attention) live beside it.
#include <cuda_runtime.h>

extern "C" __attribute__((visibility("hidden"))) int tsr_cuda_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess)
        return 0;
    return count;
}
