/* alloc/sim: N simulated devices of given capacities, for planning hardware
 * you do not have. It enforces each capacity exactly as a GPU allocator
 * would (same error), while the memory itself is lazily committed host
 * memory, so a deployment planned for sim devices also runs on the CPU. */
#include <stdio.h>

#include "../arena.h"

enum { SIM_MAX_DEVICES = 64 };

typedef struct sim_state {
    const tsr_host *host;
    uint32_t n_devices;
    arena_device devices[];
} sim_state;

static tsr_status sim_open(const tsr_host *host, const tsr_alloc_config *config, void **state,
                           tsr_error *err)
{
    uint32_t n = config ? config->n_sim_capacities : 0;
    if (n == 0)
        return host->error_set(err, TSR_ERR_INVALID,
                               "alloc/sim needs the capacity of each simulated device "
                               "(devices.sim: [24GiB, 24GiB])");
    if (n > SIM_MAX_DEVICES)
        return host->error_set(err, TSR_ERR_INVALID,
                               "alloc/sim simulates at most %d devices, not %u", SIM_MAX_DEVICES,
                               n);
    sim_state *s = host->alloc(sizeof *s + n * sizeof s->devices[0]);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "alloc/sim: out of memory");
    s->host = host;
    s->n_devices = n;
    for (uint32_t i = 0; i < n; i++) {
        arena_device *dev = &s->devices[i];
        memset(dev, 0, sizeof *dev);
        arena_device_init(dev);
        tsr_device_info *info = &dev->info;
        info->struct_size = sizeof *info;
        snprintf(info->name, sizeof info->name, "sim%u", i);
        snprintf(info->description, sizeof info->description, "simulated %.1f GiB",
                 (double)config->sim_capacities[i] / (1024.0 * 1024.0 * 1024.0));
        info->capacity_bytes = config->sim_capacities[i];
        info->free_bytes = config->sim_capacities[i];
        info->overhead_bytes = 0; /* a simulation has no runtime; devices.overhead models one */
        info->flags = TSR_DEVICE_HOST_MEMORY;
    }
    *state = s;
    return TSR_OK;
}

static void sim_close(void *state)
{
    sim_state *s = state;
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n_devices; i++)
        arena_device_release_all(&s->devices[i]);
    s->host->free(s);
}

static uint32_t sim_device_count(void *state)
{
    return ((sim_state *)state)->n_devices;
}

static arena_device *sim_device(sim_state *s, uint32_t device, tsr_error *err)
{
    if (device < s->n_devices)
        return &s->devices[device];
    s->host->error_set(err, TSR_ERR_NOT_FOUND, "alloc/sim has %u devices; there is no device %u",
                       s->n_devices, device);
    return NULL;
}

static tsr_status sim_device_info(void *state, uint32_t device, tsr_device_info *info,
                                  tsr_error *err)
{
    arena_device *dev = sim_device(state, device, err);
    if (!dev)
        return TSR_ERR_NOT_FOUND;
    arena_info_copy(info, &dev->info);
    if (TSR_COVERS(info->struct_size, tsr_device_info, free_bytes))
        info->free_bytes = dev->info.capacity_bytes - arena_in_use(dev);
    return TSR_OK;
}

static tsr_status sim_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                              void **arena, tsr_error *err)
{
    sim_state *s = state;
    arena_device *dev = sim_device(s, device, err);
    if (!dev)
        return TSR_ERR_NOT_FOUND;
    return arena_reserve(s->host, dev, bytes, align, arena, err);
}

static void sim_release(void *state, uint32_t device, void *arena)
{
    arena_device *dev = sim_device(state, device, NULL);
    if (dev)
        arena_release(dev, arena);
}

static uint64_t sim_bytes_in_use(void *state, uint32_t device)
{
    arena_device *dev = sim_device(state, device, NULL);
    return dev ? arena_in_use(dev) : 0;
}

static uint64_t sim_peak_bytes(void *state, uint32_t device)
{
    arena_device *dev = sim_device(state, device, NULL);
    return dev ? arena_peak(dev) : 0;
}


static tsr_status sim_map_file(void *state, uint32_t device, int fd, uint64_t offset,
                               uint64_t bytes, const void **arena, tsr_error *err)
{
    sim_state *s = state;
    arena_device *dev = sim_device(s, device, err);
    if (!dev)
        return TSR_ERR_NOT_FOUND;
    return arena_map_file(s->host, dev, fd, offset, bytes, arena, err);
}

static const tsr_alloc_vtable sim_vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = sim_open,
    .close = sim_close,
    .device_count = sim_device_count,
    .device_info = sim_device_info,
    .reserve = sim_reserve,
    .release = sim_release,
    .bytes_in_use = sim_bytes_in_use,
    .peak_bytes = sim_peak_bytes,
    .map_file = sim_map_file,
    .flags = TSR_ALLOC_TAKES_SIM,
};

static const tsr_plugin_desc sim_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_ALLOC,
    .name = "sim",
    .version = "1.0.0",
    .summary = "simulated devices of given capacities (devices.sim), for planning",
    .vtable = &sim_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &sim_desc : NULL;
}
