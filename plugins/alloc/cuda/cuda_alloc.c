/* alloc/cuda: NVIDIA GPUs as devices cuda0, cuda1, ... through the CUDA
 * runtime (cuda_alloc.h's table; never the driver API).
 *
 * Open creates each device's context and then asks cudaMemGetInfo: the
 * capacity is the device's total memory, and the overhead the planner
 * counts is what is in use once the context exists (the context itself,
 * and whatever other processes hold) plus CUDA_ALLOC_LATER_OVERHEAD_BYTES.
 * So the plan is made against the memory that is really there.
 *
 * Each reserve is one cudaMalloc, sized by the plan: the core reserves
 * what the plan says and nothing else, so the arenas are the plan. A
 * reservation past the capacity is refused in the shared words before the
 * runtime is asked; one the runtime refuses (another process took the
 * memory since) says how much the GPU had free.
 *
 * Uploads copy through one pinned buffer (CUDA_ALLOC_STAGING_BYTES, made at
 * the first upload), chunk by chunk: pageable memory would be staged by the
 * driver anyway, through a buffer of its own choosing.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cuda_alloc.h"

typedef struct cuda_arena {
    void *raw;      /* what cudaMalloc returned */
    char *ptr;      /* what reserve returned: raw aligned up */
    uint64_t bytes; /* what was asked: the accounting unit */
} cuda_arena;

typedef struct cuda_device {
    tsr_device_info info;
    uint64_t free_at_open;
    pthread_mutex_t lock;
    uint64_t in_use, peak;
    cuda_arena *arenas;
    size_t n_arenas, cap_arenas;
} cuda_device;

typedef struct cuda_state {
    const tsr_host *host;
    const cuda_runtime *rt;
    pthread_mutex_t staging_lock;
    void *staging; /* pinned, CUDA_ALLOC_STAGING_BYTES; NULL until the first upload */
    uint32_t n_devices;
    cuda_device devices[];
} cuda_state;

/* "CUDA driver version is insufficient for CUDA runtime version
 * (cudaErrorInsufficientDriver, 35)": the runtime's words for a status. */
static const char *status_text(const cuda_runtime *rt, int status, char *buf, size_t bytes)
{
    const char *words = rt->error_string ? rt->error_string(status) : NULL;
    const char *name = rt->error_name ? rt->error_name(status) : NULL;
    snprintf(buf, bytes, "%s (%s, %d)", words ? words : "unknown error",
             name ? name : "cudaError", status);
    return buf;
}

static tsr_status runtime_error(const cuda_state *s, tsr_error *err, tsr_status code,
                                const char *where, const char *call, int status)
{
    char text[256];
    return s->host->error_set(err, code, "alloc/cuda: %s%s%s failed: %s", where,
                              where[0] ? ": " : "", call,
                              status_text(s->rt, status, text, sizeof text));
}

static void free_state(cuda_state *s, uint32_t n_initialized)
{
    for (uint32_t i = 0; i < n_initialized; i++)
        pthread_mutex_destroy(&s->devices[i].lock);
    pthread_mutex_destroy(&s->staging_lock);
    s->host->free(s);
}

/* Creates device d's context and describes it. */
static tsr_status open_device(cuda_state *s, uint32_t d, tsr_error *err)
{
    const cuda_runtime *rt = s->rt;
    cuda_device *dev = &s->devices[d];
    tsr_device_info *info = &dev->info;
    char where[32];
    snprintf(where, sizeof where, "cuda%u", d);
    int status = rt->set_device((int)d);
    if (status != CUDA_SUCCESS_STATUS)
        return runtime_error(s, err, TSR_ERR_IO, where, "cudaSetDevice", status);
    if ((status = rt->init_context()) != CUDA_SUCCESS_STATUS)
        return runtime_error(s, err, TSR_ERR_IO, where, "creating its context (cudaFree(0))",
                             status);
    uint64_t free_bytes = 0, total_bytes = 0;
    if ((status = rt->mem_get_info(&free_bytes, &total_bytes)) != CUDA_SUCCESS_STATUS)
        return runtime_error(s, err, TSR_ERR_IO, where, "cudaMemGetInfo", status);
    info->struct_size = sizeof *info;
    snprintf(info->name, sizeof info->name, "cuda%u", d);
    if ((status = rt->device_name((int)d, info->description, sizeof info->description)) !=
        CUDA_SUCCESS_STATUS)
        return runtime_error(s, err, TSR_ERR_IO, where, "cudaGetDeviceProperties", status);
    info->description[sizeof info->description - 1] = '\0';
    info->capacity_bytes = total_bytes;
    info->free_bytes = free_bytes;
    uint64_t used = total_bytes > free_bytes ? total_bytes - free_bytes : 0;
    info->overhead_bytes = used + CUDA_ALLOC_LATER_OVERHEAD_BYTES;
    info->flags = 0; /* device memory: the CPU cannot address it */
    info->device_kind = TSR_DEVICE_KIND_CUDA;
    dev->free_at_open = free_bytes;
    return TSR_OK;
}

tsr_status cuda_alloc_open(const cuda_runtime *rt, const tsr_host *host,
                           const tsr_alloc_config *config, void **state, tsr_error *err)
{
    (void)config; /* no parameters */
    *state = NULL;
    int count = 0;
    int status = rt->get_device_count(&count);
    char text[256];
    /* No driver, no GPU: TSR_ERR_NOT_FOUND, the hardware is not here. */
    if (status != CUDA_SUCCESS_STATUS)
        return host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/cuda: cudaGetDeviceCount failed: "
                               "%s", status_text(rt, status, text, sizeof text));
    if (count <= 0)
        return host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/cuda: cudaGetDeviceCount found no "
                               "CUDA device");
    uint32_t n = count > CUDA_ALLOC_MAX_DEVICES ? CUDA_ALLOC_MAX_DEVICES : (uint32_t)count;
    cuda_state *s = host->alloc(sizeof *s + n * sizeof s->devices[0]);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "alloc/cuda: out of memory");
    memset(s, 0, sizeof *s + n * sizeof s->devices[0]);
    s->host = host;
    s->rt = rt;
    s->n_devices = n;
    pthread_mutex_init(&s->staging_lock, NULL);
    for (uint32_t d = 0; d < n; d++) {
        pthread_mutex_init(&s->devices[d].lock, NULL);
        tsr_status st = open_device(s, d, err);
        if (st != TSR_OK) {
            free_state(s, d + 1);
            return st;
        }
    }
    *state = s;
    return TSR_OK;
}

void cuda_alloc_close(void *state)
{
    cuda_state *s = state;
    if (!s)
        return;
    for (uint32_t d = 0; d < s->n_devices; d++) {
        cuda_device *dev = &s->devices[d];
        if (dev->n_arenas)
            s->rt->set_device((int)d);
        for (size_t i = 0; i < dev->n_arenas; i++)
            s->rt->free(dev->arenas[i].raw);
        s->host->free(dev->arenas);
    }
    if (s->staging)
        s->rt->free_host(s->staging);
    free_state(s, s->n_devices);
}

uint32_t cuda_alloc_device_count(void *state)
{
    return ((cuda_state *)state)->n_devices;
}

static cuda_device *find_device(cuda_state *s, uint32_t device, tsr_error *err)
{
    if (device < s->n_devices)
        return &s->devices[device];
    if (err)
        s->host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/cuda has %u devices; there is no "
                           "device %u", s->n_devices, device);
    return NULL;
}

tsr_status cuda_alloc_device_info(void *state, uint32_t device, tsr_device_info *info,
                                  tsr_error *err)
{
    cuda_state *s = state;
    cuda_device *dev = find_device(s, device, err);
    if (!dev)
        return TSR_ERR_NOT_FOUND;
    /* As far as the core's struct_size covers (plugin.h), struct_size left. */
    size_t head = sizeof info->struct_size;
    size_t size = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    pthread_mutex_lock(&dev->lock);
    tsr_device_info now = dev->info;
    now.free_bytes = dev->free_at_open > dev->in_use ? dev->free_at_open - dev->in_use : 0;
    pthread_mutex_unlock(&dev->lock);
    if (size > head)
        memcpy((char *)info + head, (const char *)&now + head, size - head);
    return TSR_OK;
}

static tsr_status refuse(cuda_state *s, const cuda_device *dev, uint64_t bytes, uint64_t in_use,
                         const char *why, tsr_error *err)
{
    return s->host->error_set(err, TSR_ERR_NOMEM,
                              "%s: cannot reserve %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64
                              " bytes in use%s",
                              dev->info.name, bytes, in_use, dev->info.capacity_bytes, why);
}

tsr_status cuda_alloc_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                              void **arena, tsr_error *err)
{
    cuda_state *s = state;
    *arena = NULL;
    cuda_device *dev = find_device(s, device, err);
    if (!dev)
        return TSR_ERR_NOT_FOUND;
    if (align == 0 || (align & (align - 1)))
        return s->host->error_set(err, TSR_ERR_INVALID, "%s: alignment %" PRIu64 " is not a "
                                  "power of two", dev->info.name, align);
    pthread_mutex_lock(&dev->lock);
    uint64_t in_use = dev->in_use;
    if (bytes > dev->info.capacity_bytes || in_use > dev->info.capacity_bytes - bytes) {
        pthread_mutex_unlock(&dev->lock);
        return refuse(s, dev, bytes, in_use, "", err);
    }
    if (dev->n_arenas == dev->cap_arenas) {
        size_t cap = dev->cap_arenas ? dev->cap_arenas * 2 : 8;
        cuda_arena *bigger = s->host->alloc(cap * sizeof *bigger);
        if (!bigger) {
            pthread_mutex_unlock(&dev->lock);
            return s->host->error_set(err, TSR_ERR_NOMEM, "%s: out of host memory for "
                                      "bookkeeping", dev->info.name);
        }
        if (dev->n_arenas)
            memcpy(bigger, dev->arenas, dev->n_arenas * sizeof *bigger);
        s->host->free(dev->arenas);
        dev->arenas = bigger;
        dev->cap_arenas = cap;
    }
    uint64_t extra = align > CUDA_ALLOC_NATIVE_ALIGN ? align - 1 : 0;
    void *raw = NULL;
    int status = s->rt->set_device((int)device);
    if (status == CUDA_SUCCESS_STATUS)
        status = s->rt->malloc(&raw, (bytes ? bytes : 1) + extra);
    if (status != CUDA_SUCCESS_STATUS) {
        pthread_mutex_unlock(&dev->lock);
        char text[256], why[400];
        status_text(s->rt, status, text, sizeof text);
        if (status != CUDA_OUT_OF_MEMORY_STATUS)
            return s->host->error_set(err, TSR_ERR_IO, "%s: cudaMalloc of %" PRIu64 " bytes "
                                      "failed: %s", dev->info.name, bytes, text);
        /* Someone else took the memory since the plan was made. */
        uint64_t free_bytes = 0, total_bytes = 0;
        if (s->rt->mem_get_info(&free_bytes, &total_bytes) == CUDA_SUCCESS_STATUS)
            snprintf(why, sizeof why, ", %" PRIu64 " bytes free on the GPU (cudaMalloc: %s)",
                     free_bytes, text);
        else
            snprintf(why, sizeof why, " (cudaMalloc: %s)", text);
        return refuse(s, dev, bytes, in_use, why, err);
    }
    uintptr_t aligned = ((uintptr_t)raw + (align - 1)) & ~(uintptr_t)(align - 1);
    dev->arenas[dev->n_arenas++] = (cuda_arena){raw, (char *)aligned, bytes};
    dev->in_use += bytes;
    if (dev->in_use > dev->peak)
        dev->peak = dev->in_use;
    pthread_mutex_unlock(&dev->lock);
    *arena = (void *)aligned;
    return TSR_OK;
}

void cuda_alloc_release(void *state, uint32_t device, void *arena)
{
    cuda_state *s = state;
    cuda_device *dev = find_device(s, device, NULL);
    if (!dev || !arena)
        return;
    pthread_mutex_lock(&dev->lock);
    for (size_t i = 0; i < dev->n_arenas; i++) {
        if (dev->arenas[i].ptr != arena)
            continue;
        s->rt->set_device((int)device);
        s->rt->free(dev->arenas[i].raw);
        dev->in_use -= dev->arenas[i].bytes;
        dev->arenas[i] = dev->arenas[--dev->n_arenas];
        break;
    }
    pthread_mutex_unlock(&dev->lock);
}

uint64_t cuda_alloc_bytes_in_use(void *state, uint32_t device)
{
    cuda_device *dev = find_device(state, device, NULL);
    if (!dev)
        return 0;
    pthread_mutex_lock(&dev->lock);
    uint64_t bytes = dev->in_use;
    pthread_mutex_unlock(&dev->lock);
    return bytes;
}

uint64_t cuda_alloc_peak_bytes(void *state, uint32_t device)
{
    cuda_device *dev = find_device(state, device, NULL);
    if (!dev)
        return 0;
    pthread_mutex_lock(&dev->lock);
    uint64_t bytes = dev->peak;
    pthread_mutex_unlock(&dev->lock);
    return bytes;
}

/* The arena reserve returned as arena, or NULL. */
static const cuda_arena *arena_of(const cuda_device *dev, const void *arena)
{
    for (size_t i = 0; i < dev->n_arenas; i++)
        if (dev->arenas[i].ptr == arena)
            return &dev->arenas[i];
    return NULL;
}

tsr_status cuda_alloc_upload(void *state, uint32_t device, void *arena, uint64_t offset,
                             const void *src, uint64_t bytes, tsr_error *err)
{
    cuda_state *s = state;
    cuda_device *dev = find_device(s, device, err);
    if (!dev)
        return TSR_ERR_NOT_FOUND;
    pthread_mutex_lock(&dev->lock);
    const cuda_arena *a = arena_of(dev, arena);
    bool known = a != NULL;
    uint64_t arena_bytes = known ? a->bytes : 0;
    pthread_mutex_unlock(&dev->lock);
    if (!known)
        return s->host->error_set(err, TSR_ERR_INVALID, "%s: upload to %p, which is no arena "
                                  "reserve handed out on this device", dev->info.name, arena);
    if (offset > arena_bytes || bytes > arena_bytes - offset)
        return s->host->error_set(err, TSR_ERR_INVALID, "%s: upload of %" PRIu64 " bytes at "
                                  "offset %" PRIu64 " runs past the end of its %" PRIu64
                                  "-byte arena", dev->info.name, bytes, offset, arena_bytes);
    if (bytes == 0)
        return TSR_OK;
    pthread_mutex_lock(&s->staging_lock);
    int status = CUDA_SUCCESS_STATUS;
    if (!s->staging && (status = s->rt->malloc_host(&s->staging, CUDA_ALLOC_STAGING_BYTES)) !=
                           CUDA_SUCCESS_STATUS) {
        s->staging = NULL;
        pthread_mutex_unlock(&s->staging_lock);
        return runtime_error(s, err, TSR_ERR_NOMEM, dev->info.name,
                             "cudaMallocHost of the 32 MiB staging buffer", status);
    }
    status = s->rt->set_device((int)device);
    char *to = (char *)arena + offset;
    const char *from = src;
    for (uint64_t done = 0; status == CUDA_SUCCESS_STATUS && done < bytes;) {
        uint64_t n = bytes - done < CUDA_ALLOC_STAGING_BYTES ? bytes - done
                                                             : CUDA_ALLOC_STAGING_BYTES;
        memcpy(s->staging, from + done, n);
        status = s->rt->copy_to_device(to + done, s->staging, n);
        done += n;
    }
    pthread_mutex_unlock(&s->staging_lock);
    if (status != CUDA_SUCCESS_STATUS)
        return runtime_error(s, err, TSR_ERR_IO, dev->info.name, "cudaMemcpy to the device",
                             status);
    return TSR_OK;
}
