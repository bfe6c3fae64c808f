/* The host and sim allocators: capacity, accounting, the shared refusal. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <unistd.h>

#include "loader.h"
#include "testutil.h"

static tsr_registry *reg;

static void open_registry(void)
{
    const char *dirs[] = {test_path(test_builddir(), "plugins/.libs")};
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 1, &reg, &err), TSR_OK, "%s", err.message);
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

static const tsr_alloc_vtable *alloc_named(const char *name)
{
    const tsr_alloc_vtable *vt = tsr_plugin_alloc(tsr_registry_find(reg, TSR_PLUGIN_ALLOC, name));
    cr_assert_not_null(vt, "alloc/%s is built", name);
    return vt;
}

TestSuite(alloc, .init = open_registry, .fini = close_registry);

Test(alloc, sim_offers_the_configured_devices)
{
    const tsr_alloc_vtable *sim = alloc_named("sim");
    uint64_t caps[] = {24ull << 30, 12ull << 30};
    tsr_alloc_config config = {sizeof config, caps, 2};
    void *state;
    tsr_error err = {0};
    cr_assert_eq(sim->open(tsr_host_services(), &config, &state, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(sim->device_count(state), 2);
    tsr_device_info info = {.struct_size = sizeof info};
    cr_assert_eq(sim->device_info(state, 1, &info, &err), TSR_OK);
    cr_assert_str_eq(info.name, "sim1");
    cr_assert_eq(info.capacity_bytes, 12ull << 30);
    cr_assert_eq(sim->device_info(state, 2, &info, &err), TSR_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "no device 2"), "%s", err.message);
    sim->close(state);
}

Test(alloc, sim_refuses_beyond_capacity_like_a_gpu)
{
    const tsr_alloc_vtable *sim = alloc_named("sim");
    uint64_t caps[] = {1u << 20};
    tsr_alloc_config config = {sizeof config, caps, 1};
    void *state, *a, *b;
    tsr_error err = {0};
    cr_assert_eq(sim->open(tsr_host_services(), &config, &state, &err), TSR_OK);
    cr_assert_eq(sim->reserve(state, 0, 600 * 1024, 64, &a, &err), TSR_OK, "%s", err.message);
    cr_assert_eq((uintptr_t)a % 64, 0);
    cr_assert_eq(sim->reserve(state, 0, 600 * 1024, 64, &b, &err), TSR_ERR_NOMEM);
    cr_assert_str_eq(err.message,
                     "sim0: cannot reserve 614400 bytes: 614400 of 1048576 bytes in use");
    cr_assert_eq(sim->bytes_in_use(state, 0), 600 * 1024);
    sim->release(state, 0, a);
    cr_assert_eq(sim->bytes_in_use(state, 0), 0);
    cr_assert_eq(sim->peak_bytes(state, 0), 600 * 1024);
    cr_assert_eq(sim->reserve(state, 0, 600 * 1024, 4096, &b, &err), TSR_OK);
    cr_assert_eq((uintptr_t)b % 4096, 0);
    sim->close(state); /* releases b */
}

Test(alloc, sim_without_capacities_is_refused)
{
    const tsr_alloc_vtable *sim = alloc_named("sim");
    tsr_alloc_config config = {sizeof config, NULL, 0};
    void *state;
    tsr_error err = {0};
    cr_assert_eq(sim->open(tsr_host_services(), &config, &state, &err), TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "devices.sim"), "%s", err.message);
}

Test(alloc, host_counts_bytes_and_peak_and_zero_fills)
{
    const tsr_alloc_vtable *host = alloc_named("host");
    void *state, *a, *b;
    tsr_error err = {0};
    cr_assert_eq(host->open(tsr_host_services(), NULL, &state, &err), TSR_OK);
    cr_assert_eq(host->device_count(state), 1);
    tsr_device_info info = {.struct_size = sizeof info};
    cr_assert_eq(host->device_info(state, 0, &info, &err), TSR_OK);
    cr_assert_str_eq(info.name, "cpu");
    cr_assert(info.flags & TSR_DEVICE_HOST_MEMORY);
    cr_assert_gt(info.capacity_bytes, 0);
    cr_assert_eq(host->reserve(state, 0, 3000, 64, &a, &err), TSR_OK);
    cr_assert_eq(host->reserve(state, 0, 5000, 64, &b, &err), TSR_OK);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(((unsigned char *)b)[i], 0);
    cr_assert_eq(host->bytes_in_use(state, 0), 8000);
    host->release(state, 0, a);
    cr_assert_eq(host->bytes_in_use(state, 0), 5000);
    cr_assert_eq(host->peak_bytes(state, 0), 8000);
    cr_assert_eq(host->reserve(state, 0, 1, 3, &a, &err), TSR_ERR_INVALID, "alignment 3");
    host->release(state, 0, b);
    host->close(state);
}

Test(alloc, host_maps_a_file_region_without_copying)
{
    const tsr_alloc_vtable *host = alloc_named("host");
    char path[] = "/tmp/tsr-alloc-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    char data[10000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7);
    cr_assert_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
    void *state;
    const void *arena;
    tsr_error err = {0};
    cr_assert_eq(host->open(tsr_host_services(), NULL, &state, &err), TSR_OK);
    cr_assert_eq(host->map_file(state, 0, fd, 4100, 5000, &arena, &err), TSR_OK, "%s",
                 err.message);
    cr_assert_eq(memcmp(arena, data + 4100, 5000), 0);
    cr_assert_eq(host->bytes_in_use(state, 0), 5000);
    host->release(state, 0, (void *)arena);
    cr_assert_eq(host->bytes_in_use(state, 0), 0);
    host->close(state);
    close(fd);
    unlink(path);
}
