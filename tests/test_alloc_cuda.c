/* alloc/cuda's logic (plugins/alloc/cuda/cuda_alloc.c) over a fake CUDA
 * runtime of host memory, in every build: no GPU, driver or nvcc needed.
 * The fake keeps a GPU's books (total, what others hold, each context,
 * what cudaMalloc handed out) and records every call, so the tests check
 * what the plugin asks of the runtime as well as what it answers: devices
 * enumerated with their contexts created before memory is measured, the
 * overhead, one cudaMalloc per reservation on the right device, refusals
 * in plugin.h's words with the GPU's free bytes, uploads staged through
 * one pinned buffer, and the driver-missing error as cudart words it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_alloc.h"
#include "tessera/tessera.h"

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

enum { FAKE_DEVICES = 4, FAKE_BLOCKS = 64 };

/* cudaError_t values the fake returns. */
enum { NO_DEVICE = 100, INSUFFICIENT_DRIVER = 35, INVALID_VALUE = 1, LAUNCH_FAILURE = 719 };

typedef struct fake_block {
    void *ptr;
    uint64_t bytes;
    int device;
} fake_block;

static struct fake {
    int count_status, count;
    uint64_t total[FAKE_DEVICES], others[FAKE_DEVICES], context_bytes;
    bool context[FAKE_DEVICES];
    int current;
    int info_status[FAKE_DEVICES]; /* cudaMemGetInfo's answer per device */
    int malloc_status, host_status, copy_status; /* forced failures, 0: none */
    fake_block blocks[FAKE_BLOCKS];
    size_t n_blocks;
    size_t n_mallocs, n_frees, n_bad_frees, n_host_allocs, n_host_frees, n_copies;
    size_t n_unstaged_copies;    /* copies whose source was not the pinned buffer */
    size_t n_info_before_context;
    void *pinned;
    uint64_t pinned_bytes;
    int malloc_device[FAKE_BLOCKS];
} fake;

static uint64_t allocated(int device)
{
    uint64_t n = 0;
    for (size_t i = 0; i < fake.n_blocks; i++)
        n += fake.blocks[i].device == device ? fake.blocks[i].bytes : 0;
    return n;
}

static uint64_t free_on(int d)
{
    uint64_t used = fake.others[d] + (fake.context[d] ? fake.context_bytes : 0) + allocated(d);
    return used < fake.total[d] ? fake.total[d] - used : 0;
}

static int f_get_device_count(int *count)
{
    *count = fake.count_status ? 0 : fake.count;
    return fake.count_status;
}

static int f_set_device(int device)
{
    if (device < 0 || device >= fake.count)
        return INVALID_VALUE;
    fake.current = device;
    return 0;
}

static int f_init_context(void)
{
    fake.context[fake.current] = true;
    return 0;
}

static int f_device_name(int device, char *name, size_t bytes)
{
    snprintf(name, bytes, "Fake GPU %d", device);
    return 0;
}

static int f_mem_get_info(uint64_t *free_bytes, uint64_t *total_bytes)
{
    int d = fake.current;
    fake.n_info_before_context += !fake.context[d];
    if (fake.info_status[d])
        return fake.info_status[d];
    *free_bytes = free_on(d);
    *total_bytes = fake.total[d];
    return 0;
}

static int f_malloc(void **ptr, uint64_t bytes)
{
    int d = fake.current;
    if (fake.malloc_status)
        return fake.malloc_status;
    if (bytes > free_on(d) || fake.n_blocks == FAKE_BLOCKS)
        return CUDA_OUT_OF_MEMORY_STATUS;
    void *p = malloc(bytes);
    cr_assert_not_null(p);
    fake.malloc_device[fake.n_mallocs++ % FAKE_BLOCKS] = d;
    fake.blocks[fake.n_blocks++] = (fake_block){p, bytes, d};
    *ptr = p;
    return 0;
}

static int f_free(void *ptr)
{
    for (size_t i = 0; i < fake.n_blocks; i++) {
        if (fake.blocks[i].ptr != ptr)
            continue;
        if (fake.blocks[i].device != fake.current)
            fake.n_bad_frees++; /* freed with another device current */
        free(ptr);
        fake.blocks[i] = fake.blocks[--fake.n_blocks];
        fake.n_frees++;
        return 0;
    }
    fake.n_bad_frees++;
    return INVALID_VALUE;
}

static int f_malloc_host(void **ptr, uint64_t bytes)
{
    fake.n_host_allocs++;
    if (fake.host_status)
        return fake.host_status;
    fake.pinned = malloc(bytes);
    fake.pinned_bytes = bytes;
    *ptr = fake.pinned;
    return fake.pinned ? 0 : CUDA_OUT_OF_MEMORY_STATUS;
}

static int f_free_host(void *ptr)
{
    fake.n_host_frees += ptr == fake.pinned;
    free(ptr);
    fake.pinned = NULL;
    return 0;
}

static int f_copy_to_device(void *dst, const void *src, uint64_t bytes)
{
    const char *s = src, *pinned = fake.pinned;
    if (!pinned || s < pinned || s + bytes > pinned + fake.pinned_bytes)
        fake.n_unstaged_copies++;
    fake.n_copies++;
    if (fake.copy_status)
        return fake.copy_status;
    memcpy(dst, src, bytes);
    return 0;
}

static const char *f_error_name(int status)
{
    switch (status) {
    case CUDA_OUT_OF_MEMORY_STATUS: return "cudaErrorMemoryAllocation";
    case INSUFFICIENT_DRIVER: return "cudaErrorInsufficientDriver";
    case LAUNCH_FAILURE: return "cudaErrorLaunchFailure";
    case NO_DEVICE: return "cudaErrorNoDevice";
    default: return "cudaErrorInvalidValue";
    }
}

static const char *f_error_string(int status)
{
    switch (status) {
    case CUDA_OUT_OF_MEMORY_STATUS: return "out of memory";
    case INSUFFICIENT_DRIVER: return "CUDA driver version is insufficient for CUDA runtime version";
    case LAUNCH_FAILURE: return "unspecified launch failure";
    case NO_DEVICE: return "no CUDA-capable device is detected";
    default: return "invalid argument";
    }
}

static const cuda_runtime fake_rt = {
    .get_device_count = f_get_device_count,
    .set_device = f_set_device,
    .init_context = f_init_context,
    .device_name = f_device_name,
    .mem_get_info = f_mem_get_info,
    .malloc = f_malloc,
    .free = f_free,
    .malloc_host = f_malloc_host,
    .free_host = f_free_host,
    .copy_to_device = f_copy_to_device,
    .error_name = f_error_name,
    .error_string = f_error_string,
};

/* Two GPUs: 80 MiB and 48 MiB, 3 and 5 MiB held by others, 2 MiB a context. */
static void two_gpus(void)
{
    memset(&fake, 0, sizeof fake);
    fake.count = 2;
    fake.total[0] = 80 * MIB;
    fake.total[1] = 48 * MIB;
    fake.others[0] = 3 * MIB;
    fake.others[1] = 5 * MIB;
    fake.context_bytes = 2 * MIB;
}

static void *open_fake(void)
{
    void *state = NULL;
    tsr_error err = {0};
    cr_assert_eq(cuda_alloc_open(&fake_rt, tsr_host_services(), NULL, &state, &err), TSR_OK,
                 "%s", err.message);
    return state;
}

static void info_of(void *state, uint32_t d, tsr_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    tsr_error err = {0};
    cr_assert_eq(cuda_alloc_device_info(state, d, info, &err), TSR_OK, "%s", err.message);
}

TestSuite(alloc_cuda, .init = two_gpus);

Test(alloc_cuda, enumerates_each_gpu_with_its_name_total_and_free_memory)
{
    void *state = open_fake();
    cr_assert_eq(cuda_alloc_device_count(state), 2);
    tsr_device_info info;
    info_of(state, 0, &info);
    cr_expect_str_eq(info.name, "cuda0");
    cr_expect_str_eq(info.description, "Fake GPU 0");
    cr_expect_eq(info.capacity_bytes, 80 * MIB);
    cr_expect_eq(info.free_bytes, 80 * MIB - 3 * MIB - 2 * MIB);
    cr_expect_eq(info.device_kind, TSR_DEVICE_KIND_CUDA);
    cr_expect_eq(info.flags & TSR_DEVICE_HOST_MEMORY, 0, "device memory is not host memory");
    info_of(state, 1, &info);
    cr_expect_str_eq(info.name, "cuda1");
    cr_expect_str_eq(info.description, "Fake GPU 1");
    cr_expect_eq(info.capacity_bytes, 48 * MIB);
    /* Memory is measured only once each device's context exists. */
    cr_expect(fake.context[0] && fake.context[1]);
    cr_expect_eq(fake.n_info_before_context, 0);
    tsr_error err = {0};
    cr_expect_eq(cuda_alloc_device_info(state, 2, &info, &err), TSR_ERR_NOT_FOUND);
    cuda_alloc_close(state);
}

Test(alloc_cuda, overhead_is_the_memory_in_use_with_the_context_plus_64_mib)
{
    void *state = open_fake();
    tsr_device_info info;
    info_of(state, 0, &info);
    cr_expect_eq(info.overhead_bytes, 3 * MIB + 2 * MIB + 64 * MIB);
    info_of(state, 1, &info);
    cr_expect_eq(info.overhead_bytes, 5 * MIB + 2 * MIB + 64 * MIB);
    cuda_alloc_close(state);
}

Test(alloc_cuda, a_core_older_than_abi_1_2_gets_no_kind_written)
{
    void *state = open_fake();
    tsr_device_info info;
    memset(&info, 0xab, sizeof info);
    info.struct_size = (uint32_t)offsetof(tsr_device_info, device_kind);
    tsr_error err = {0};
    cr_assert_eq(cuda_alloc_device_info(state, 0, &info, &err), TSR_OK);
    cr_expect_eq(info.struct_size, offsetof(tsr_device_info, device_kind));
    cr_expect_eq(info.capacity_bytes, 80 * MIB);
    cr_expect_eq(info.device_kind, 0xabababab, "a member past struct_size was written");
    cuda_alloc_close(state);
}

Test(alloc_cuda, each_reservation_is_one_cuda_malloc_on_its_device_counted_until_released)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 1, 10 * MIB, 256, &a, &err), TSR_OK, "%s",
                 err.message);
    cr_assert_eq(cuda_alloc_reserve(state, 0, 7 * MIB, 64, &b, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(cuda_alloc_reserve(state, 1, 5 * MIB, 256, &c, &err), TSR_OK, "%s", err.message);
    cr_expect_eq(fake.n_mallocs, 3);
    cr_expect_eq(fake.malloc_device[0], 1);
    cr_expect_eq(fake.malloc_device[1], 0);
    cr_expect_eq(fake.malloc_device[2], 1);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 1), 15 * MIB);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 0), 7 * MIB);
    cuda_alloc_release(state, 1, a);
    cr_expect_eq(fake.n_frees, 1);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 1), 5 * MIB);
    cr_expect_eq(cuda_alloc_peak_bytes(state, 1), 15 * MIB);
    /* What the plan took shows in free_bytes. */
    tsr_device_info info;
    info_of(state, 1, &info);
    cr_expect_eq(info.free_bytes, 48 * MIB - 7 * MIB - 5 * MIB);
    /* Close gives back what is still reserved, each on its own device. */
    cuda_alloc_close(state);
    cr_expect_eq(fake.n_frees, 3);
    cr_expect_eq(fake.n_blocks, 0);
    cr_expect_eq(fake.n_bad_frees, 0);
}

Test(alloc_cuda, alignment_beyond_cuda_malloc_s_is_made_and_a_bad_one_refused)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *a = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 0, 1000, 1 << 16, &a, &err), TSR_OK, "%s",
                 err.message);
    cr_expect_eq((uintptr_t)a % (1 << 16), 0);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 0), 1000, "the plan's bytes are the unit");
    cuda_alloc_release(state, 0, a);
    cr_expect_eq(fake.n_blocks, 0, "the aligned pointer's block was not freed");
    cr_expect_eq(cuda_alloc_reserve(state, 0, 64, 3, &a, &err), TSR_ERR_INVALID);
    cr_expect_null(a);
    cuda_alloc_close(state);
}

Test(alloc_cuda, past_capacity_is_refused_in_the_shared_words_without_asking_cuda)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *held = NULL, *none = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 0, 4096, 64, &held, &err), TSR_OK);
    size_t mallocs = fake.n_mallocs;
    cr_expect_eq(cuda_alloc_reserve(state, 0, 80 * MIB, 64, &none, &err), TSR_ERR_NOMEM);
    cr_expect_str_eq(err.message, "cuda0: cannot reserve 83886080 bytes: 4096 of 83886080 "
                                  "bytes in use");
    cr_expect_eq(fake.n_mallocs, mallocs);
    cr_expect_null(none);
    cuda_alloc_close(state);
}

Test(alloc_cuda, memory_taken_by_others_since_the_plan_is_refused_naming_what_is_free)
{
    void *state = open_fake();
    fake.others[1] += 30 * MIB; /* another process, after the plan was made */
    tsr_error err = {0};
    void *a = NULL;
    cr_expect_eq(cuda_alloc_reserve(state, 1, 20 * MIB, 256, &a, &err), TSR_ERR_NOMEM);
    char want[512];
    snprintf(want, sizeof want, "cuda1: cannot reserve %llu bytes: 0 of %llu bytes in use, "
             "%llu bytes free on the GPU (cudaMalloc: out of memory "
             "(cudaErrorMemoryAllocation, 2))",
             (unsigned long long)(20 * MIB), (unsigned long long)(48 * MIB),
             (unsigned long long)(48 * MIB - 35 * MIB - 2 * MIB));
    cr_expect_str_eq(err.message, want);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 1), 0);
    cuda_alloc_close(state);
}

static unsigned char *pattern(uint64_t bytes, unsigned seed)
{
    unsigned char *p = malloc(bytes);
    cr_assert_not_null(p);
    for (uint64_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)(i * 131 + seed + (i >> 13));
    return p;
}

Test(alloc_cuda, uploads_go_through_one_pinned_32_mib_buffer_chunk_by_chunk)
{
    void *state = open_fake();
    tsr_error err = {0};
    uint64_t bytes = 70 * MIB + 3;
    void *arena = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 0, bytes + 100, 256, &arena, &err), TSR_OK, "%s",
                 err.message);
    unsigned char *src = pattern(bytes, 7);
    cr_assert_eq(cuda_alloc_upload(state, 0, arena, 100, src, bytes, &err), TSR_OK, "%s",
                 err.message);
    /* The fake's device memory is host memory: read it back. */
    cr_expect_eq(memcmp((char *)arena + 100, src, bytes), 0);
    cr_expect_eq(fake.n_host_allocs, 1);
    cr_expect_eq(fake.pinned_bytes, 32 * MIB);
    cr_expect_eq(fake.n_copies, 3, "70 MiB in 32 MiB chunks: %zu copies", fake.n_copies);
    cr_expect_eq(fake.n_unstaged_copies, 0, "a copy came from pageable memory");
    /* The buffer is kept for the next upload, and freed at close. */
    cr_assert_eq(cuda_alloc_upload(state, 0, arena, 0, src, 100, &err), TSR_OK);
    cr_expect_eq(memcmp(arena, src, 100), 0);
    cr_expect_eq(fake.n_host_allocs, 1);
    free(src);
    cuda_alloc_close(state);
    cr_expect_eq(fake.n_host_frees, 1);
}

Test(alloc_cuda, an_upload_past_its_arena_or_to_no_arena_is_invalid)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *arena = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 0, 4096, 256, &arena, &err), TSR_OK);
    char src[64] = {0};
    cr_expect_eq(cuda_alloc_upload(state, 0, arena, 4090, src, 7, &err), TSR_ERR_INVALID);
    cr_expect_str_eq(err.message, "cuda0: upload of 7 bytes at offset 4090 runs past the end "
                                  "of its 4096-byte arena");
    cr_expect_eq(cuda_alloc_upload(state, 0, arena, UINT64_MAX, src, 7, &err), TSR_ERR_INVALID);
    /* The arena is device 0's, not device 1's. */
    cr_expect_eq(cuda_alloc_upload(state, 1, arena, 0, src, 7, &err), TSR_ERR_INVALID);
    cr_expect(strstr(err.message, "cuda1: upload to"), "%s", err.message);
    cr_expect_eq(fake.n_copies, 0);
    cuda_alloc_close(state);
}

Test(alloc_cuda, without_a_driver_open_fails_with_cudart_s_words)
{
    fake.count_status = INSUFFICIENT_DRIVER;
    void *state = (void *)1;
    tsr_error err = {0};
    cr_expect_eq(cuda_alloc_open(&fake_rt, tsr_host_services(), NULL, &state, &err),
                 TSR_ERR_NOT_FOUND);
    cr_expect_null(state);
    cr_expect_str_eq(err.message, "alloc/cuda: cudaGetDeviceCount failed: CUDA driver version "
                                  "is insufficient for CUDA runtime version "
                                  "(cudaErrorInsufficientDriver, 35)");
}

Test(alloc_cuda, without_a_gpu_open_says_there_is_none)
{
    fake.count = 0;
    void *state = NULL;
    tsr_error err = {0};
    cr_expect_eq(cuda_alloc_open(&fake_rt, tsr_host_services(), NULL, &state, &err),
                 TSR_ERR_NOT_FOUND);
    cr_expect_str_eq(err.message, "alloc/cuda: cudaGetDeviceCount found no CUDA device");
    fake.count_status = NO_DEVICE;
    cr_expect_eq(cuda_alloc_open(&fake_rt, tsr_host_services(), NULL, &state, &err),
                 TSR_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "no CUDA-capable device is detected (cudaErrorNoDevice, 100)"),
              "%s", err.message);
}

Test(alloc_cuda, a_device_that_cannot_be_measured_fails_open_naming_it)
{
    fake.info_status[1] = INVALID_VALUE;
    void *state = NULL;
    tsr_error err = {0};
    cr_expect_eq(cuda_alloc_open(&fake_rt, tsr_host_services(), NULL, &state, &err), TSR_ERR_IO);
    cr_expect_null(state);
    cr_expect_str_eq(err.message, "alloc/cuda: cuda1: cudaMemGetInfo failed: invalid argument "
                                  "(cudaErrorInvalidValue, 1)");
}

Test(alloc_cuda, a_cuda_malloc_failing_otherwise_is_an_io_error_naming_device_and_bytes)
{
    void *state = open_fake();
    fake.malloc_status = LAUNCH_FAILURE;
    tsr_error err = {0};
    void *a = (void *)1;
    cr_expect_eq(cuda_alloc_reserve(state, 1, 4096, 256, &a, &err), TSR_ERR_IO);
    cr_expect_null(a);
    cr_expect_str_eq(err.message, "cuda1: cudaMalloc of 4096 bytes failed: unspecified launch "
                                  "failure (cudaErrorLaunchFailure, 719)");
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 1), 0);
    cr_expect_eq(cuda_alloc_peak_bytes(state, 1), 0);
    /* The runtime recovers: the next reservation is counted as usual. */
    fake.malloc_status = 0;
    cr_expect_eq(cuda_alloc_reserve(state, 1, 4096, 256, &a, &err), TSR_OK, "%s", err.message);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 1), 4096);
    cuda_alloc_close(state);
    cr_expect_eq(fake.n_blocks, 0);
}

Test(alloc_cuda, no_pinned_staging_is_nomem_and_the_next_upload_tries_again)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *arena = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 0, 4096, 256, &arena, &err), TSR_OK);
    char src[100] = "weights";
    fake.host_status = CUDA_OUT_OF_MEMORY_STATUS;
    cr_expect_eq(cuda_alloc_upload(state, 0, arena, 0, src, sizeof src, &err), TSR_ERR_NOMEM);
    cr_expect_str_eq(err.message, "alloc/cuda: cuda0: cudaMallocHost of the 32 MiB staging "
                                  "buffer failed: out of memory (cudaErrorMemoryAllocation, 2)");
    cr_expect_eq(fake.n_copies, 0);
    fake.host_status = 0;
    cr_expect_eq(cuda_alloc_upload(state, 0, arena, 0, src, sizeof src, &err), TSR_OK, "%s",
                 err.message);
    cr_expect_eq(memcmp(arena, src, sizeof src), 0);
    cr_expect_eq(fake.n_host_allocs, 2);
    cuda_alloc_close(state);
    cr_expect_eq(fake.n_host_frees, 1);
}

Test(alloc_cuda, a_failed_copy_is_an_io_error_naming_the_device)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *arena = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 1, 4096, 256, &arena, &err), TSR_OK);
    char src[64] = {0};
    fake.copy_status = LAUNCH_FAILURE;
    cr_expect_eq(cuda_alloc_upload(state, 1, arena, 0, src, sizeof src, &err), TSR_ERR_IO);
    cr_expect_str_eq(err.message, "alloc/cuda: cuda1: cudaMemcpy to the device failed: "
                                  "unspecified launch failure (cudaErrorLaunchFailure, 719)");
    cr_expect_eq(fake.current, 1, "the copy was not made with its device current");
    cuda_alloc_close(state);
}

Test(alloc_cuda, an_empty_reservation_or_upload_works_and_an_unknown_release_is_ignored)
{
    void *state = open_fake();
    tsr_error err = {0};
    void *arena = NULL;
    cr_assert_eq(cuda_alloc_reserve(state, 0, 0, 64, &arena, &err), TSR_OK, "%s", err.message);
    cr_expect_not_null(arena);
    cr_expect_eq(cuda_alloc_bytes_in_use(state, 0), 0);
    cr_expect_eq(cuda_alloc_upload(state, 0, arena, 0, "", 0, &err), TSR_OK, "%s", err.message);
    cr_expect_eq(fake.n_host_allocs, 0, "an empty upload staged nothing");
    int not_an_arena;
    cuda_alloc_release(state, 0, &not_an_arena);
    cuda_alloc_release(state, 7, arena);
    cuda_alloc_release(state, 0, NULL);
    cr_expect_eq(fake.n_frees, 0);
    cr_expect_eq(fake.n_bad_frees, 0);
    cuda_alloc_release(state, 0, arena);
    cr_expect_eq(fake.n_frees, 1);
    cr_expect_eq(cuda_alloc_reserve(state, 9, 64, 64, &arena, &err), TSR_ERR_NOT_FOUND);
    cr_expect_str_eq(err.message, "alloc/cuda has 2 devices; there is no device 9");
    cuda_alloc_close(state);
}
