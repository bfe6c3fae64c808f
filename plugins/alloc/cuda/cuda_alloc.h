/* alloc/cuda's logic, apart from the CUDA runtime: every runtime call it
 * makes goes through a cuda_runtime table, which cuda.c fills with the real
 * cudart calls (--enable-cuda) and tests/test_alloc_cuda.c with a fake of
 * host memory, so that the enumeration, the overhead, the accounting, the
 * refusals and the staged uploads are tested in every build, GPU or not. */
#ifndef TSR_ALLOC_CUDA_H
#define TSR_ALLOC_CUDA_H

#include "tessera/plugin.h"

/* cudaError_t values the logic tells apart (driver_types.h; stable). */
enum {
    CUDA_SUCCESS_STATUS = 0,
    CUDA_OUT_OF_MEMORY_STATUS = 2, /* cudaErrorMemoryAllocation */
};

/* The runtime calls, each returning the runtime's status (a cudaError_t:
 * 0 is success). Every device call acts on the device set_device chose. */
typedef struct cuda_runtime {
    int (*get_device_count)(int *count);
    int (*set_device)(int device);
    /* Creates the current device's context now (cudaFree(NULL)), so that
     * mem_get_info counts it. */
    int (*init_context)(void);
    int (*device_name)(int device, char *name, size_t bytes);
    int (*mem_get_info)(uint64_t *free_bytes, uint64_t *total_bytes);
    int (*malloc)(void **ptr, uint64_t bytes);
    int (*free)(void *ptr);
    /* Page-locked host memory (cudaMallocHost): what DMA copies from. */
    int (*malloc_host)(void **ptr, uint64_t bytes);
    int (*free_host)(void *ptr);
    /* Synchronous host-to-device copy (cudaMemcpy). */
    int (*copy_to_device)(void *dst, const void *src, uint64_t bytes);
    const char *(*error_name)(int status);   /* "cudaErrorInsufficientDriver" */
    const char *(*error_string)(int status); /* "CUDA driver version is insufficient ..." */
} cuda_runtime;

/* What the planner is told a device costs beyond the memory in use once
 * its context exists: room for what the first launches add later (lazy
 * module loading of each kernel image, the launch and printf heaps grown
 * on demand, cuBLAS's workspace), an estimate. */
#define CUDA_ALLOC_LATER_OVERHEAD_BYTES ((uint64_t)64 << 20)
/* The pinned buffer uploads go through: big enough that a copy runs at the
 * bus's speed, small next to the host memory of any machine with a GPU. */
#define CUDA_ALLOC_STAGING_BYTES ((uint64_t)32 << 20)
/* cudaMalloc's own alignment: larger ones are made by over-allocating. */
#define CUDA_ALLOC_NATIVE_ALIGN 256
enum { CUDA_ALLOC_MAX_DEVICES = 64 };

/* The vtable's members, with open taking the runtime to use. */
tsr_status cuda_alloc_open(const cuda_runtime *rt, const tsr_host *host,
                           const tsr_alloc_config *config, void **state, tsr_error *err);
void cuda_alloc_close(void *state);
uint32_t cuda_alloc_device_count(void *state);
tsr_status cuda_alloc_device_info(void *state, uint32_t device, tsr_device_info *info,
                                  tsr_error *err);
tsr_status cuda_alloc_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                              void **arena, tsr_error *err);
void cuda_alloc_release(void *state, uint32_t device, void *arena);
uint64_t cuda_alloc_bytes_in_use(void *state, uint32_t device);
uint64_t cuda_alloc_peak_bytes(void *state, uint32_t device);
tsr_status cuda_alloc_upload(void *state, uint32_t device, void *arena, uint64_t offset,
                             const void *src, uint64_t bytes, tsr_error *err);

#endif
