/* What the host and sim allocators share: per-device accounting of arenas,
 * and anonymous mappings as their memory (zero-filled, committed page by
 * page as it is touched, so a reservation costs nothing until used).
 * Header-only: each allocator plugin is its own .so and links nothing else. */
#ifndef TSR_ALLOC_ARENA_H
#define TSR_ALLOC_ARENA_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tessera/plugin.h"

typedef struct arena_block {
    void *ptr;          /* what reserve returned */
    void *base;         /* what mmap returned */
    uint64_t bytes;     /* what was asked for: the accounting unit */
    uint64_t mapped;    /* what was mapped */
} arena_block;

typedef struct arena_device {
    tsr_device_info info;
    pthread_mutex_t lock;
    uint64_t in_use, peak;
    arena_block *blocks;
    size_t n_blocks, cap_blocks;
} arena_device;

static void arena_device_init(arena_device *dev)
{
    pthread_mutex_init(&dev->lock, NULL);
    dev->in_use = dev->peak = 0;
    dev->blocks = NULL;
    dev->n_blocks = dev->cap_blocks = 0;
}

static void arena_device_release_all(arena_device *dev)
{
    for (size_t i = 0; i < dev->n_blocks; i++)
        munmap(dev->blocks[i].base, dev->blocks[i].mapped);
    free(dev->blocks);
    dev->blocks = NULL;
    dev->n_blocks = dev->cap_blocks = 0;
    dev->in_use = 0;
    pthread_mutex_destroy(&dev->lock);
}

/* Copies a device's description into the core's struct, as far as the
 * struct_size the core set covers (plugin.h), and leaves struct_size. */
static void arena_info_copy(tsr_device_info *to, const tsr_device_info *from)
{
    size_t head = sizeof to->struct_size;
    size_t size = to->struct_size < sizeof *to ? to->struct_size : sizeof *to;
    if (size > head)
        memcpy((char *)to + head, (const char *)from + head, size - head);
}

/* Maps bytes aligned to align, unless that would take the device past its
 * capacity: then TSR_ERR_NOMEM, in the words every allocator uses. */
static tsr_status arena_reserve(const tsr_host *host, arena_device *dev, uint64_t bytes,
                                uint64_t align, void **arena, tsr_error *err)
{
    *arena = NULL;
    if (align == 0 || (align & (align - 1)))
        return host->error_set(err, TSR_ERR_INVALID, "%s: alignment %" PRIu64
                               " is not a power of two", dev->info.name, align);
    pthread_mutex_lock(&dev->lock);
    if (bytes > dev->info.capacity_bytes || dev->in_use > dev->info.capacity_bytes - bytes) {
        uint64_t in_use = dev->in_use;
        pthread_mutex_unlock(&dev->lock);
        return host->error_set(err, TSR_ERR_NOMEM,
                               "%s: cannot reserve %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64
                               " bytes in use",
                               dev->info.name, bytes, in_use, dev->info.capacity_bytes);
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t extra = align > page ? align : 0;
    uint64_t mapped = ((bytes ? bytes : 1) + extra + page - 1) / page * page;
    if (dev->n_blocks == dev->cap_blocks) {
        size_t cap = dev->cap_blocks ? dev->cap_blocks * 2 : 8;
        arena_block *bigger = realloc(dev->blocks, cap * sizeof *bigger);
        if (!bigger) {
            pthread_mutex_unlock(&dev->lock);
            return host->error_set(err, TSR_ERR_NOMEM, "%s: out of host memory for bookkeeping",
                                   dev->info.name);
        }
        dev->blocks = bigger;
        dev->cap_blocks = cap;
    }
    void *base = mmap(NULL, mapped, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        uint64_t in_use = dev->in_use;
        pthread_mutex_unlock(&dev->lock);
        return host->error_set(err, TSR_ERR_NOMEM,
                               "%s: cannot reserve %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64
                               " bytes in use (the system refused the mapping)",
                               dev->info.name, bytes, in_use, dev->info.capacity_bytes);
    }
    uintptr_t aligned = ((uintptr_t)base + (align - 1)) & ~(uintptr_t)(align - 1);
    dev->blocks[dev->n_blocks++] = (arena_block){(void *)aligned, base, bytes, mapped};
    dev->in_use += bytes;
    if (dev->in_use > dev->peak)
        dev->peak = dev->in_use;
    pthread_mutex_unlock(&dev->lock);
    *arena = (void *)aligned;
    return TSR_OK;
}

/* Maps bytes of fd from offset read-only, counted like a reservation. */
static tsr_status arena_map_file(const tsr_host *host, arena_device *dev, int fd,
                                 uint64_t offset, uint64_t bytes, const void **arena,
                                 tsr_error *err)
{
    *arena = NULL;
    pthread_mutex_lock(&dev->lock);
    if (bytes > dev->info.capacity_bytes || dev->in_use > dev->info.capacity_bytes - bytes) {
        uint64_t in_use = dev->in_use;
        pthread_mutex_unlock(&dev->lock);
        return host->error_set(err, TSR_ERR_NOMEM,
                               "%s: cannot reserve %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64
                               " bytes in use",
                               dev->info.name, bytes, in_use, dev->info.capacity_bytes);
    }
    if (dev->n_blocks == dev->cap_blocks) {
        size_t cap = dev->cap_blocks ? dev->cap_blocks * 2 : 8;
        arena_block *bigger = realloc(dev->blocks, cap * sizeof *bigger);
        if (!bigger) {
            pthread_mutex_unlock(&dev->lock);
            return host->error_set(err, TSR_ERR_NOMEM, "%s: out of host memory for bookkeeping",
                                   dev->info.name);
        }
        dev->blocks = bigger;
        dev->cap_blocks = cap;
    }
    /* mmap wants a page-aligned file offset: map from the page holding offset. */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = offset / page * page;
    uint64_t mapped = offset - start + (bytes ? bytes : 1);
    void *base = mmap(NULL, mapped, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
    if (base == MAP_FAILED) {
        int errnum = errno;
        pthread_mutex_unlock(&dev->lock);
        /* Under a memory limit mmap fails with ENOMEM: say so, not blame the file. */
        return host->error_set(err, errnum == ENOMEM ? TSR_ERR_NOMEM : TSR_ERR_IO,
                               "%s%s: cannot map %" PRIu64 " bytes of the model file at offset "
                               "%" PRIu64 ": %s", errnum == ENOMEM ? "out of memory: " : "",
                               dev->info.name, bytes, offset, strerror(errnum));
    }
    void *ptr = (char *)base + (offset - start);
    dev->blocks[dev->n_blocks++] = (arena_block){ptr, base, bytes, mapped};
    dev->in_use += bytes;
    if (dev->in_use > dev->peak)
        dev->peak = dev->in_use;
    pthread_mutex_unlock(&dev->lock);
    *arena = ptr;
    return TSR_OK;
}

static void arena_release(arena_device *dev, void *arena)
{
    if (!arena)
        return;
    pthread_mutex_lock(&dev->lock);
    for (size_t i = 0; i < dev->n_blocks; i++) {
        if (dev->blocks[i].ptr != arena)
            continue;
        munmap(dev->blocks[i].base, dev->blocks[i].mapped);
        dev->in_use -= dev->blocks[i].bytes;
        dev->blocks[i] = dev->blocks[--dev->n_blocks];
        break;
    }
    pthread_mutex_unlock(&dev->lock);
}

static uint64_t arena_in_use(arena_device *dev)
{
    pthread_mutex_lock(&dev->lock);
    uint64_t bytes = dev->in_use;
    pthread_mutex_unlock(&dev->lock);
    return bytes;
}

static uint64_t arena_peak(arena_device *dev)
{
    pthread_mutex_lock(&dev->lock);
    uint64_t bytes = dev->peak;
    pthread_mutex_unlock(&dev->lock);
    return bytes;
}

#endif
