/* A test allocator: simulated devices (devices.sim) like alloc/sim, that
 * also writes every call that takes or gives memory to the file named by
 * $TSR_TEST_ALLOC_LOG, one line each ("open", "reserve DEVICE BYTES",
 * "map DEVICE BYTES", "release DEVICE"), so a test can see from outside a
 * process what it asked for: nothing, when the planner refused. */
#include <stdio.h>

#include "../../plugins/alloc/arena.h"

enum { MAX_DEVICES = 16 };

typedef struct counting_state {
    const tsr_host *host;
    uint32_t n_devices;
    arena_device devices[MAX_DEVICES];
} counting_state;

static void note(const char *fmt, ...) TSR_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
    const char *path = getenv("TSR_TEST_ALLOC_LOG");
    FILE *f = path && path[0] ? fopen(path, "a") : NULL;
    if (!f)
        return;
    va_list args;
    va_start(args, fmt);
    vfprintf(f, fmt, args);
    va_end(args);
    fputc('\n', f);
    fclose(f);
}

static tsr_status counting_open(const tsr_host *host, const tsr_alloc_config *config,
                                void **state, tsr_error *err)
{
    uint32_t n = config ? config->n_sim_capacities : 0;
    if (n == 0 || n > MAX_DEVICES)
        return host->error_set(err, TSR_ERR_INVALID, "counting: give 1 to %d devices.sim",
                               MAX_DEVICES);
    counting_state *s = host->alloc(sizeof *s);
    if (!s)
        return host->error_set(err, TSR_ERR_NOMEM, "counting: out of memory");
    memset(s, 0, sizeof *s);
    s->host = host;
    s->n_devices = n;
    for (uint32_t i = 0; i < n; i++) {
        arena_device *dev = &s->devices[i];
        arena_device_init(dev);
        dev->info.struct_size = sizeof dev->info;
        snprintf(dev->info.name, sizeof dev->info.name, "count%u", i);
        snprintf(dev->info.description, sizeof dev->info.description, "counted");
        dev->info.capacity_bytes = dev->info.free_bytes = config->sim_capacities[i];
        dev->info.flags = TSR_DEVICE_HOST_MEMORY;
    }
    note("open");
    *state = s;
    return TSR_OK;
}

static void counting_close(void *state)
{
    counting_state *s = state;
    for (uint32_t i = 0; i < s->n_devices; i++)
        arena_device_release_all(&s->devices[i]);
    note("close");
    s->host->free(s);
}

static uint32_t counting_device_count(void *state)
{
    return ((counting_state *)state)->n_devices;
}

static tsr_status counting_device_info(void *state, uint32_t device, tsr_device_info *info,
                                       tsr_error *err)
{
    counting_state *s = state;
    if (device >= s->n_devices)
        return s->host->error_set(err, TSR_ERR_NOT_FOUND, "counting: no device %u", device);
    *info = s->devices[device].info;
    return TSR_OK;
}

static tsr_status counting_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                                   void **arena, tsr_error *err)
{
    counting_state *s = state;
    note("reserve %u %" PRIu64, device, bytes);
    if (device >= s->n_devices)
        return s->host->error_set(err, TSR_ERR_NOT_FOUND, "counting: no device %u", device);
    return arena_reserve(s->host, &s->devices[device], bytes, align, arena, err);
}

static void counting_release(void *state, uint32_t device, void *arena)
{
    counting_state *s = state;
    note("release %u", device);
    if (device < s->n_devices)
        arena_release(&s->devices[device], arena);
}

static uint64_t counting_in_use(void *state, uint32_t device)
{
    counting_state *s = state;
    return device < s->n_devices ? arena_in_use(&s->devices[device]) : 0;
}

static uint64_t counting_peak(void *state, uint32_t device)
{
    counting_state *s = state;
    return device < s->n_devices ? arena_peak(&s->devices[device]) : 0;
}

static tsr_status counting_map_file(void *state, uint32_t device, int fd, uint64_t offset,
                                    uint64_t bytes, const void **arena, tsr_error *err)
{
    counting_state *s = state;
    note("map %u %" PRIu64, device, bytes);
    if (device >= s->n_devices)
        return s->host->error_set(err, TSR_ERR_NOT_FOUND, "counting: no device %u", device);
    return arena_map_file(s->host, &s->devices[device], fd, offset, bytes, arena, err);
}

static const tsr_alloc_vtable counting_vtable = {
    .abi = TSR_ABI_INIT(tsr_alloc_vtable),
    .open = counting_open,
    .close = counting_close,
    .device_count = counting_device_count,
    .device_info = counting_device_info,
    .reserve = counting_reserve,
    .release = counting_release,
    .bytes_in_use = counting_in_use,
    .peak_bytes = counting_peak,
    .map_file = counting_map_file,
    .flags = TSR_ALLOC_TAKES_SIM,
};

static const tsr_plugin_desc counting_desc = {
    .abi = TSR_ABI_INIT(tsr_plugin_desc),
    .kind = TSR_PLUGIN_ALLOC,
    .name = "counting",
    .version = "1.0.0",
    .summary = "test allocator: simulated devices that log every reservation",
    .vtable = &counting_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &counting_desc : NULL;
}
