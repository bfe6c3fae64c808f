/* alloc/host: the machine's own memory as one device, "cpu". */
#include <stdio.h>

#include "../arena.h"

typedef struct host_state {
    const tsr_host *host;
    arena_device cpu;
} host_state;

/* MemAvailable from /proc/meminfo, or the physical size when unreadable. */
static uint64_t available_bytes(uint64_t physical)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return physical;
    char line[256];
    uint64_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1)
            break;
    fclose(f);
    return kib ? kib * 1024 : physical;
}

static tsr_status host_open(const tsr_host *host, const tsr_alloc_config *config, void **state,
                            tsr_error *err)
{
    host_state *s = host->alloc(sizeof *s);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "alloc/host: out of memory");
    memset(s, 0, sizeof *s);
    s->host = host;
    arena_device_init(&s->cpu);
    uint64_t physical = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    tsr_device_info *info = &s->cpu.info;
    info->struct_size = sizeof *info;
    snprintf(info->name, sizeof info->name, "cpu");
    snprintf(info->description, sizeof info->description, "host memory");
    info->capacity_bytes = physical;
    info->free_bytes = available_bytes(physical);
    info->overhead_bytes = 0;
    info->flags = TSR_DEVICE_HOST_MEMORY;
    info->device_kind = TSR_DEVICE_KIND_CPU;
    *state = s;
    return TSR_OK;
}

static void host_close(void *state)
{
    host_state *s = state;
    if (!s)
        return;
    arena_device_release_all(&s->cpu);
    s->host->free(s);
}

static uint32_t host_device_count(void *state)
{
    return 1;
}

static tsr_status host_device_info(void *state, uint32_t device, tsr_device_info *info,
                                   tsr_error *err)
{
    host_state *s = state;
    if (device != 0)
        return s->host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/host has one device (0), not %u",
                                  device);
    arena_info_copy(info, &s->cpu.info);
    if (TSR_COVERS(info->struct_size, tsr_device_info, free_bytes))
        info->free_bytes = available_bytes(s->cpu.info.capacity_bytes);
    return TSR_OK;
}

static tsr_status host_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                               void **arena, tsr_error *err)
{
    host_state *s = state;
    if (device != 0)
        return s->host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/host has one device (0), not %u",
                                  device);
    return arena_reserve(s->host, &s->cpu, bytes, align, arena, err);
}

static void host_release(void *state, uint32_t device, void *arena)
{
    host_state *s = state;
    if (device == 0)
        arena_release(&s->cpu, arena);
}

static uint64_t host_bytes_in_use(void *state, uint32_t device)
{
    host_state *s = state;
    return device == 0 ? arena_in_use(&s->cpu) : 0;
}

static uint64_t host_peak_bytes(void *state, uint32_t device)
{
    host_state *s = state;
    return device == 0 ? arena_peak(&s->cpu) : 0;
}


static tsr_status host_map_file(void *state, uint32_t device, int fd, uint64_t offset,
                                uint64_t bytes, const void **arena, tsr_error *err)
{
    host_state *s = state;
    if (device != 0)
        return s->host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/host has one device (0), not %u",
                                  device);
    return arena_map_file(s->host, &s->cpu, fd, offset, bytes, arena, err);
}

static const tsr_alloc_vtable host_vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = host_open,
    .close = host_close,
    .device_count = host_device_count,
    .device_info = host_device_info,
    .reserve = host_reserve,
    .release = host_release,
    .bytes_in_use = host_bytes_in_use,
    .peak_bytes = host_peak_bytes,
    .map_file = host_map_file,
};

static const tsr_plugin_desc host_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_ALLOC,
    .name = "host",
    .version = "1.0.0",
    .summary = "the machine's own memory as one device, with bytes in use and peak",
    .vtable = &host_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &host_desc : NULL;
}
