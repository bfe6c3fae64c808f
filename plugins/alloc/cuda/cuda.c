/* alloc/cuda, the plugin: cuda_alloc.c's logic over the CUDA runtime
 * (libcudart; never libcuda, without which a binary would not even start
 * on a machine that has no driver). Built with --enable-cuda only, and
 * linked -z nodelete: the runtime keeps state for the whole process, so
 * this object is never unloaded (plugin.h: device plugins are never
 * dlclosed). */
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "cuda_alloc.h"

static int rt_get_device_count(int *count)
{
    return (int)cudaGetDeviceCount(count);
}

static int rt_set_device(int device)
{
    return (int)cudaSetDevice(device);
}

static int rt_init_context(void)
{
    return (int)cudaFree(NULL);
}

static int rt_device_name(int device, char *name, size_t bytes)
{
    struct cudaDeviceProp prop;
    cudaError_t status = cudaGetDeviceProperties(&prop, device);
    if (status == cudaSuccess)
        snprintf(name, bytes, "%s", prop.name);
    return (int)status;
}

static int rt_mem_get_info(uint64_t *free_bytes, uint64_t *total_bytes)
{
    size_t free_now = 0, total = 0;
    cudaError_t status = cudaMemGetInfo(&free_now, &total);
    *free_bytes = free_now;
    *total_bytes = total;
    return (int)status;
}

static int rt_malloc(void **ptr, uint64_t bytes)
{
    return (int)cudaMalloc(ptr, (size_t)bytes);
}

static int rt_free(void *ptr)
{
    return (int)cudaFree(ptr);
}

static int rt_malloc_host(void **ptr, uint64_t bytes)
{
    return (int)cudaMallocHost(ptr, (size_t)bytes);
}

static int rt_free_host(void *ptr)
{
    return (int)cudaFreeHost(ptr);
}

static int rt_copy_to_device(void *dst, const void *src, uint64_t bytes)
{
    return (int)cudaMemcpy(dst, src, (size_t)bytes, cudaMemcpyHostToDevice);
}

static const char *rt_error_name(int status)
{
    return cudaGetErrorName((cudaError_t)status);
}

static const char *rt_error_string(int status)
{
    return cudaGetErrorString((cudaError_t)status);
}

static const cuda_runtime cudart = {
    .get_device_count = rt_get_device_count,
    .set_device = rt_set_device,
    .init_context = rt_init_context,
    .device_name = rt_device_name,
    .mem_get_info = rt_mem_get_info,
    .malloc = rt_malloc,
    .free = rt_free,
    .malloc_host = rt_malloc_host,
    .free_host = rt_free_host,
    .copy_to_device = rt_copy_to_device,
    .error_name = rt_error_name,
    .error_string = rt_error_string,
};

static tsr_status cuda_open(const tsr_host *host, const tsr_alloc_config *config, void **state,
                            tsr_error *err)
{
    return cuda_alloc_open(&cudart, host, config, state, err);
}

static const tsr_alloc_vtable cuda_vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = cuda_open,
    .close = cuda_alloc_close,
    .device_count = cuda_alloc_device_count,
    .device_info = cuda_alloc_device_info,
    .reserve = cuda_alloc_reserve,
    .release = cuda_alloc_release,
    .bytes_in_use = cuda_alloc_bytes_in_use,
    .peak_bytes = cuda_alloc_peak_bytes,
    .upload = cuda_alloc_upload,
};

static const tsr_plugin_desc cuda_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_ALLOC,
    .name = "cuda",
    .version = "1.0.0",
    .summary = "NVIDIA GPUs through the CUDA runtime: one cudaMalloc arena per reservation, "
               "pinned staging for uploads",
    .vtable = &cuda_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &cuda_desc : NULL;
}
