/* alloc/sim: N simulated devices of given capacities, for planning hardware
 * you do not have. It enforces each capacity exactly as a GPU allocator
 * would (same error), while the memory itself is lazily committed host
 * memory, so a deployment planned for sim devices also runs on the CPU.
 *
 * devices.options: {kind: cuda} makes them CUDA devices to the planner
 * (tsr_device_info.device_kind): it then refuses formats without CUDA
 * kernels there, as it would on real GPUs, and counts a CUDA context on
 * each. What runs is still the CPU path on host memory. */
#include <stdio.h>
#include <string.h>

#include "../arena.h"

enum { SIM_MAX_DEVICES = 64 };

/* The overhead a simulated CUDA device reports: an estimate of the CUDA
 * runtime's context on a device of sm_80 to sm_90 (the context itself with
 * its module images, the stack and printf heaps, cuBLAS's workspace), which
 * commonly measures 300 to 500 MiB with CUDA 12 and 13; alloc/cuda measures
 * the real one. devices.overhead replaces it. */
#define SIM_CUDA_OVERHEAD_BYTES ((uint64_t)512 << 20)

static const char *const sim_kinds[] = {"cpu", "cuda", NULL};

static const tsr_param_desc sim_params[] = {
    {.name = "kind", .type = TSR_PARAM_STRING, .default_string = "cpu", .choices = sim_kinds,
     .doc = "what the simulated devices are to the planner: cpu, or cuda (GPUs: formats "
            "without CUDA kernels are refused and each device counts a 512 MiB context)"},
};

/* devices.options' kind, as TSR_DEVICE_KIND_*. */
static uint32_t sim_kind(const tsr_alloc_config *config)
{
    if (!config || !TSR_COVERS(config->struct_size, tsr_alloc_config, n_params) ||
        !config->params || config->n_params < 1 || !config->params[0].string)
        return TSR_DEVICE_KIND_CPU;
    return strcmp(config->params[0].string, "cuda") == 0 ? TSR_DEVICE_KIND_CUDA
                                                          : TSR_DEVICE_KIND_CPU;
}

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
    uint32_t kind = sim_kind(config);
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
        snprintf(info->description, sizeof info->description, "simulated %s%.1f GiB",
                 kind == TSR_DEVICE_KIND_CUDA ? "CUDA device, " : "",
                 (double)config->sim_capacities[i] / (1024.0 * 1024.0 * 1024.0));
        info->capacity_bytes = config->sim_capacities[i];
        info->free_bytes = config->sim_capacities[i];
        /* A simulated CPU has no runtime; devices.overhead models one. */
        info->overhead_bytes = kind == TSR_DEVICE_KIND_CUDA ? SIM_CUDA_OVERHEAD_BYTES : 0;
        info->flags = TSR_DEVICE_HOST_MEMORY;
        info->device_kind = kind;
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
    .params = sim_params,
    .n_params = sizeof sim_params / sizeof sim_params[0],
    .vtable = &sim_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &sim_desc : NULL;
}
