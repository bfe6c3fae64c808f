/* A plugin as ABI 1.0 built it: descriptor and vtables declare minor 0 and
 * the sizes 1.0 froze, so every member appended since (the allocator's
 * flags, ...) lies past what it declares. A 1.1 core must load it and read
 * those members as 0; an ABI 1.0 allocator, which cannot say whether it
 * simulates devices, still gets devices.sim. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tessera/plugin.h"

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define ABI_1_0(size) {1, 0, (uint32_t)(size)}

enum { MAX_DEVICES = 8 };
static struct {
    uint32_t n_devices;
    uint64_t capacity[MAX_DEVICES];
} state_of_one;

static tsr_status old_open(const tsr_host *host, const tsr_alloc_config *config, void **state,
                           tsr_error *err)
{
    uint32_t n = config ? config->n_sim_capacities : 0;
    if (n == 0 || n > MAX_DEVICES)
        return host->error_set(err, TSR_ERR_INVALID, "abi10_alloc: give 1 to %d devices.sim",
                               MAX_DEVICES);
    state_of_one.n_devices = n;
    memcpy(state_of_one.capacity, config->sim_capacities, n * sizeof(uint64_t));
    *state = &state_of_one;
    return TSR_OK;
}
static void old_close(void *state) {}
static uint32_t old_device_count(void *state)
{
    return state_of_one.n_devices;
}
static tsr_status old_device_info(void *state, uint32_t device, tsr_device_info *info,
                                  tsr_error *err)
{
    snprintf(info->name, sizeof info->name, "old%u", device);
    info->capacity_bytes = info->free_bytes = state_of_one.capacity[device];
    return TSR_OK;
}
static tsr_status old_reserve(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                              void **arena, tsr_error *err)
{
    return TSR_ERR_NOMEM;
}
static void old_release(void *state, uint32_t device, void *arena) {}
static uint64_t old_bytes(void *state, uint32_t device)
{
    return 0;
}

/* Only the 1.0 members are set, and the declared size ends with them. */
static const tsr_alloc_vtable old_vtable = {
    .abi = ABI_1_0(END_OF(tsr_alloc_vtable, map_file)),
    .open = old_open,
    .close = old_close,
    .device_count = old_device_count,
    .device_info = old_device_info,
    .reserve = old_reserve,
    .release = old_release,
    .bytes_in_use = old_bytes,
    .peak_bytes = old_bytes,
};

static const tsr_plugin_desc old_desc = {
    .abi = ABI_1_0(END_OF(tsr_plugin_desc, vtable)),
    .kind = TSR_PLUGIN_ALLOC,
    .name = "abi10_alloc",
    .version = "1.0.0",
    .summary = "an allocator built for plugin ABI 1.0",
    .vtable = &old_vtable,
};

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &old_desc : NULL;
}
