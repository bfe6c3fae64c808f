/* capped: host memory under a budget. One device, "capped0", whose capacity
 * is the `limit` parameter (a profile sets it in devices.options), so the
 * planner fits a deployment into that budget or refuses it before anything
 * is allocated, and reserve enforces the same number at run time.
 *
 * A complete third-party allocator plugin: it includes <tessera/plugin.h>
 * alone, exports one symbol, and shows the parts of the alloc contract a
 * plugin author must keep: the shared refusal message, exact accounting
 * under a lock, struct_size-bounded writes into tsr_device_info, and an
 * optional member (map_file) simply left out (the core then reads the
 * weights into a reserved arena). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tessera/plugin.h>

/* The declared parameter: validated by tessera (a whole number of bytes in
 * [0, 2^50]) before open ever sees it. */
static const tsr_param_desc capped_params[] = {
    {.name = "limit", .type = TSR_PARAM_INT, .min = 0, .max = 1125899906842624.0,
     .default_number = 0,
     .doc = "bytes the device may hold (the planner's capacity); 0: the machine's memory"},
};

typedef struct capped_block {
    void *ptr;
    uint64_t bytes;
} capped_block;

typedef struct capped_state {
    const tsr_host *host;
    uint64_t limit;
    pthread_mutex_t lock;
    uint64_t in_use, peak;
    capped_block *blocks;
    size_t n_blocks, cap_blocks;
} capped_state;

static tsr_status capped_open(const tsr_host *host, const tsr_alloc_config *config, void **out,
                              tsr_error *err)
{
    /* A core older than ABI 1.1 hands no parameters: every one at its default. */
    int64_t limit = 0;
    if (config && TSR_COVERS(config->struct_size, tsr_alloc_config, n_params) &&
        config->n_params >= 1 && config->params)
        limit = config->params[0].integer;
    if (limit == 0)
        limit = (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE);
    capped_state *s = host->alloc(sizeof *s);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "capped: out of memory");
    memset(s, 0, sizeof *s);
    s->host = host;
    s->limit = (uint64_t)limit;
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return TSR_OK;
}

static void capped_close(void *state)
{
    capped_state *s = state;
    for (size_t i = 0; i < s->n_blocks; i++)
        free(s->blocks[i].ptr);
    free(s->blocks);
    pthread_mutex_destroy(&s->lock);
    s->host->free(s);
}

static uint32_t capped_device_count(void *state)
{
    (void)state;
    return 1;
}

static tsr_status no_device(capped_state *s, uint32_t device, tsr_error *err)
{
    return s->host->error_set(err, TSR_ERR_NOT_FOUND, "capped has one device (0), not %u",
                              device);
}

static tsr_status capped_device_info(void *state, uint32_t device, tsr_device_info *info,
                                     tsr_error *err)
{
    capped_state *s = state;
    if (device != 0)
        return no_device(s, device, err);
    /* The core set struct_size: write only what its struct has room for. */
    if (TSR_COVERS(info->struct_size, tsr_device_info, name))
        snprintf(info->name, sizeof info->name, "capped0");
    if (TSR_COVERS(info->struct_size, tsr_device_info, description))
        snprintf(info->description, sizeof info->description, "host memory, capped at %.1f MiB",
                 (double)s->limit / (1024.0 * 1024.0));
    pthread_mutex_lock(&s->lock);
    uint64_t in_use = s->in_use;
    pthread_mutex_unlock(&s->lock);
    if (TSR_COVERS(info->struct_size, tsr_device_info, capacity_bytes))
        info->capacity_bytes = s->limit;
    if (TSR_COVERS(info->struct_size, tsr_device_info, free_bytes))
        info->free_bytes = s->limit - in_use;
    if (TSR_COVERS(info->struct_size, tsr_device_info, overhead_bytes))
        info->overhead_bytes = 0;
    if (TSR_COVERS(info->struct_size, tsr_device_info, flags))
        info->flags = TSR_DEVICE_HOST_MEMORY;
    return TSR_OK;
}

static tsr_status capped_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                                 void **arena, tsr_error *err)
{
    capped_state *s = state;
    *arena = NULL;
    if (device != 0)
        return no_device(s, device, err);
    if (align == 0 || (align & (align - 1)))
        return s->host->error_set(err, TSR_ERR_INVALID,
                                  "capped0: alignment %" PRIu64 " is not a power of two", align);
    pthread_mutex_lock(&s->lock);
    if (bytes > s->limit || s->in_use > s->limit - bytes) {
        uint64_t in_use = s->in_use;
        pthread_mutex_unlock(&s->lock);
        /* The words every allocator uses, so messages read alike. */
        return s->host->error_set(err, TSR_ERR_NOMEM,
                                  "capped0: cannot reserve %" PRIu64 " bytes: %" PRIu64
                                  " of %" PRIu64 " bytes in use",
                                  bytes, in_use, s->limit);
    }
    void *ptr = NULL;
    size_t alignment = align < sizeof(void *) ? sizeof(void *) : (size_t)align;
    if (s->n_blocks == s->cap_blocks) {
        size_t cap = s->cap_blocks ? 2 * s->cap_blocks : 16;
        capped_block *bigger = realloc(s->blocks, cap * sizeof *bigger);
        if (bigger) {
            s->blocks = bigger;
            s->cap_blocks = cap;
        }
    }
    if (s->n_blocks == s->cap_blocks || posix_memalign(&ptr, alignment, bytes ? bytes : 1)) {
        pthread_mutex_unlock(&s->lock);
        return s->host->error_set(err, TSR_ERR_NOMEM,
                                  "capped0: the machine has no %" PRIu64 " bytes to give", bytes);
    }
    /* Not zero-filled: the contract does not ask for it. */
    s->blocks[s->n_blocks++] = (capped_block){ptr, bytes};
    s->in_use += bytes;
    if (s->in_use > s->peak)
        s->peak = s->in_use;
    pthread_mutex_unlock(&s->lock);
    *arena = ptr;
    return TSR_OK;
}

static void capped_release(void *state, uint32_t device, void *arena)
{
    capped_state *s = state;
    (void)device; /* there is one */
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_blocks; i++) {
        if (s->blocks[i].ptr != arena)
            continue;
        s->in_use -= s->blocks[i].bytes;
        free(arena);
        s->blocks[i] = s->blocks[--s->n_blocks];
        break;
    }
    pthread_mutex_unlock(&s->lock);
}

static uint64_t capped_bytes_in_use(void *state, uint32_t device)
{
    capped_state *s = state;
    pthread_mutex_lock(&s->lock);
    uint64_t n = device == 0 ? s->in_use : 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static uint64_t capped_peak_bytes(void *state, uint32_t device)
{
    capped_state *s = state;
    pthread_mutex_lock(&s->lock);
    uint64_t n = device == 0 ? s->peak : 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static const tsr_alloc_vtable capped_vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = capped_open,
    .close = capped_close,
    .device_count = capped_device_count,
    .device_info = capped_device_info,
    .reserve = capped_reserve,
    .release = capped_release,
    .bytes_in_use = capped_bytes_in_use,
    .peak_bytes = capped_peak_bytes,
    /* .map_file left out: optional. .flags 0: it takes no devices.sim. */
};

static const tsr_plugin_desc capped_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_ALLOC,
    .name = "capped",
    .version = "1.0.0",
    .summary = "host memory under a budget: devices.options {limit: BYTES}",
    .params = capped_params,
    .n_params = sizeof capped_params / sizeof capped_params[0],
    .vtable = &capped_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &capped_desc : NULL;
}
