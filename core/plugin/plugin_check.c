/* tsr_plugin_check: one plugin object against the contract of
 * tessera/plugin.h, one verdict per check. The quant checks live in
 * plugin_check_quant.c; samplers, strategies and allocators here.
 *
 * Every check drives the plugin as the core would, with inputs chosen to
 * reach its edges (one candidate, -inf logits, a reservation past capacity)
 * and verifies what the header promises about the result, not the result's
 * exact value: that is the plugin's own tests' business. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "params.h"
#include "plugin_check.h"
#include "rng.h"

void tsr_check_report(tsr_checker *c, const tsr_plugin *p, bool ok, const char *check,
                      const char *fmt, ...)
{
    char detail[2 * WHY_BYTES] = "";
    if (!ok && fmt) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(detail, sizeof detail, fmt, args);
        va_end(args);
    }
    tsr_check_info info = {ok, false, p ? p->name : NULL, check, ok ? NULL : detail};
    if (!ok)
        c->n_failed++;
    if (c->cb)
        c->cb(&info, c->ctx);
}

void tsr_check_skip(tsr_checker *c, const tsr_plugin *p, const char *check, const char *why)
{
    tsr_check_info info = {true, true, p ? p->name : NULL, check, why};
    if (c->cb)
        c->cb(&info, c->ctx);
}

/* ---- samplers ----------------------------------------------------------- */

enum { CHECK_VOCAB = 64 };

typedef enum { CANDS_UNSORTED, CANDS_SORTED, CANDS_ONE, CANDS_EQUAL, CANDS_NEG_INF } cands_case;

static const char *const cands_case_name[] = {
    "an unsorted array", "a sorted array", "one candidate", "all logits equal",
    "half the logits -inf",
};

static void fill_candidates(const tsr_host *host, cands_case kind, tsr_rng *rng,
                            tsr_candidate *data, tsr_candidates *cands)
{
    for (int32_t i = 0; i < CHECK_VOCAB; i++) {
        double u = tsr_rng_uniform(rng);
        data[i] = (tsr_candidate){i, (float)(u * 10.0 - 5.0), 0.0f};
        if (kind == CANDS_EQUAL)
            data[i].logit = 1.0f;
        if (kind == CANDS_NEG_INF && i % 2 == 0)
            data[i].logit = -INFINITY;
    }
    *cands = (tsr_candidates){data, kind == CANDS_ONE ? 1 : CHECK_VOCAB, -1, false};
    if (kind == CANDS_SORTED)
        host->candidates_sort(cands);
}

/* What every sampler must leave behind (plugin.h): the same storage, a size
 * that only shrank and is not 0, distinct tokens of the vocabulary, no NaN,
 * a true `sorted` only over sorted logits, and a selected index exactly
 * when the sampler chooses. Returns NULL, or what is wrong. */
static const char *candidates_problem(const tsr_candidates *cands, const tsr_candidate *data,
                                      size_t size_before, bool chooses, char *why,
                                      size_t why_bytes)
{
    if (cands->data != data)
        return "it replaced data (samplers work in place)";
    if (cands->size == 0 || cands->size > size_before) {
        snprintf(why, why_bytes, "size went from %zu to %zu", size_before, cands->size);
        return why;
    }
    bool seen[CHECK_VOCAB] = {false};
    for (size_t i = 0; i < cands->size; i++) {
        int32_t t = data[i].token;
        if (t < 0 || t >= CHECK_VOCAB || seen[t]) {
            snprintf(why, why_bytes, "data[%zu] holds token %d: %s", i, (int)t,
                     t < 0 || t >= CHECK_VOCAB ? "outside the vocabulary" : "a second time");
            return why;
        }
        seen[t] = true;
        if (isnan(data[i].logit)) {
            snprintf(why, why_bytes, "data[%zu] has a NaN logit", i);
            return why;
        }
        if (cands->sorted && i > 0 && data[i].logit > data[i - 1].logit) {
            snprintf(why, why_bytes, "sorted is true, but data[%zu].logit %g > data[%zu].logit %g",
                     i, (double)data[i].logit, i - 1, (double)data[i - 1].logit);
            return why;
        }
    }
    if (chooses && (cands->selected < 0 || (size_t)cands->selected >= cands->size)) {
        snprintf(why, why_bytes, "it chooses, but selected is %" PRId64 " of %zu candidates",
                 cands->selected, cands->size);
        return why;
    }
    if (!chooses && cands->selected != -1) {
        snprintf(why, why_bytes, "it does not choose (no TSR_SAMPLER_CHOOSES), but set "
                 "selected to %" PRId64, cands->selected);
        return why;
    }
    if (chooses && isinf(data[cands->selected].logit) && data[cands->selected].logit < 0) {
        bool all_neg_inf = true;
        for (size_t i = 0; i < cands->size; i++)
            all_neg_inf = all_neg_inf && isinf(data[i].logit) && data[i].logit < 0;
        if (!all_neg_inf)
            return "it chose a token whose logit is -inf over finite ones";
    }
    return NULL;
}

static void check_sampler(tsr_checker *c, const tsr_plugin *p)
{
    const tsr_sampler_vtable *vt = tsr_plugin_sampler(p);
    const tsr_host *host = tsr_host_services();
    tsr_param_set params;
    tsr_error err = {0};
    if (tsr_param_set_init(&params, p, &err) != TSR_OK) {
        c->out_of_memory = true;
        return;
    }
    tsr_rng rng;
    tsr_rng_seed(&rng, 42);
    tsr_sampler_init init = {sizeof init, CHECK_VOCAB, 42, &rng, NULL, 256};
    void *state = NULL;
    tsr_status s = vt->create(host, params.values, &init, &state, &err);
    if (s != TSR_OK) {
        tsr_check_report(c, p, err.message[0] != '\0',
                         "create with its default parameters and no model",
                         "it failed (%s) without a message", tsr_status_name(s));
        if (err.message[0])
            tsr_check_skip(c, p, "apply", "create refused to work without a model");
        tsr_param_set_free(&params);
        return;
    }
    vt->destroy(state);
    tsr_check_report(c, p, true, "create with its default parameters and no model", NULL);

    bool chooses = (vt->flags & TSR_SAMPLER_CHOOSES) != 0;
    tsr_candidate data[CHECK_VOCAB];
    for (int kind = CANDS_UNSORTED; kind <= CANDS_NEG_INF; kind++) {
        char check[96], why[WHY_BYTES];
        snprintf(check, sizeof check, "apply on %s leaves a valid array",
                 cands_case_name[kind]);
        state = NULL;
        if (vt->create(host, params.values, &init, &state, &err) != TSR_OK) {
            tsr_check_report(c, p, false, check, "create failed the second time: %s",
                             err.message);
            continue;
        }
        const char *problem = NULL;
        /* Twice, as two decoding steps: state carried over must not break it. */
        for (int step = 0; step < 2 && !problem; step++) {
            tsr_candidates cands;
            fill_candidates(host, (cands_case)kind, &rng, data, &cands);
            size_t before = cands.size;
            tsr_candidate past[CHECK_VOCAB];
            memcpy(past, data, sizeof past);
            s = vt->apply(state, &cands, &err);
            if (s == TSR_OK && memcmp(past + before, data + before,
                                      (CHECK_VOCAB - before) * sizeof *data) != 0) {
                snprintf(why, sizeof why, "it wrote past the %zu candidates it was given",
                         before);
                problem = why;
                break;
            }
            if (s != TSR_OK) {
                snprintf(why, sizeof why, "apply failed (%s): %s", tsr_status_name(s),
                         err.message);
                problem = why;
                break;
            }
            problem = candidates_problem(&cands, data, before, chooses, why, sizeof why);
            if (!problem && vt->accept)
                vt->accept(state, data[chooses ? cands.selected : 0].token);
        }
        if (!problem && vt->reset)
            vt->reset(state);
        vt->destroy(state);
        tsr_check_report(c, p, !problem, check, "%s", problem ? problem : "");
    }
    tsr_param_set_free(&params);
}

/* ---- speculative strategies --------------------------------------------- */

static void check_spec(tsr_checker *c, const tsr_plugin *p)
{
    const tsr_spec_vtable *vt = tsr_plugin_spec(p);
    if (vt->flags & TSR_SPEC_NEEDS_DRAFT) {
        tsr_check_skip(c, p, "propose", "it needs a draft model, which the checker has none of");
        return;
    }
    tsr_param_set params;
    tsr_error err = {0};
    if (tsr_param_set_init(&params, p, &err) != TSR_OK) {
        c->out_of_memory = true;
        return;
    }
    tsr_spec_init init = {sizeof init, 4, CHECK_VOCAB, NULL, NULL, 1024};
    void *state = NULL;
    tsr_status s = vt->create(tsr_host_services(), params.values, &init, &state, &err);
    if (s != TSR_OK) {
        tsr_check_report(c, p, err.message[0] != '\0', "create with its default parameters",
                         "it failed (%s) without a message", tsr_status_name(s));
        tsr_param_set_free(&params);
        return;
    }
    const int32_t history[] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2};
    int32_t out[8];
    char why[WHY_BYTES] = "";
    for (int round = 0; round < 3 && !why[0]; round++) {
        size_t n_out = 99;
        for (size_t i = 0; i < 8; i++)
            out[i] = -7;
        s = vt->propose(state, history, sizeof history / sizeof history[0] - (size_t)round, out,
                        4, &n_out, &err);
        if (s != TSR_OK) {
            snprintf(why, sizeof why, "propose failed (%s): %s", tsr_status_name(s), err.message);
        } else if (n_out > 4) {
            snprintf(why, sizeof why, "proposed %zu tokens where at most 4 were asked for",
                     n_out);
        } else {
            for (size_t i = 0; i < n_out && !why[0]; i++)
                if (out[i] < 0 || out[i] >= CHECK_VOCAB)
                    snprintf(why, sizeof why, "proposed token %d, outside the vocabulary of %d",
                             (int)out[i], CHECK_VOCAB);
            for (size_t i = n_out; i < 8 && !why[0]; i++)
                if (out[i] != -7)
                    snprintf(why, sizeof why, "wrote out[%zu] past the %zu it proposed", i,
                             n_out);
            if (!why[0] && vt->accepted)
                vt->accepted(state, n_out, n_out / 2);
        }
    }
    if (vt->reset)
        vt->reset(state);
    vt->destroy(state);
    tsr_check_report(c, p, !why[0], "propose stays within max_out and the vocabulary", "%s",
                     why);
    tsr_param_set_free(&params);
}

/* ---- allocators ---------------------------------------------------------- */

/* The refusal every allocator words alike (plugin.h). */
static bool refusal_matches(const char *message, const char *device, uint64_t bytes,
                            uint64_t in_use, uint64_t capacity, char *expected, size_t n)
{
    snprintf(expected, n, "%s: cannot reserve %" PRIu64 " bytes: %" PRIu64 " of %" PRIu64
             " bytes in use", device, bytes, in_use, capacity);
    return strcmp(message, expected) == 0;
}

/* map_file (optional): bytes of a file from an offset that is not
 * page-aligned, the arena pointing at the byte at offset, counted as reserve
 * counts, outliving the descriptor. */
static void check_map_file(tsr_checker *c, const tsr_plugin *p, const tsr_alloc_vtable *vt,
                           void *state, uint32_t device, const char *name)
{
    char check[160], why[WHY_BYTES] = "";
    snprintf(check, sizeof check, "%s: map_file maps bytes from an unaligned offset", name);
    enum { FILE_BYTES = 3 * 4096, OFFSET = 100, BYTES = 5000 };
    unsigned char pattern[FILE_BYTES];
    for (size_t i = 0; i < FILE_BYTES; i++)
        pattern[i] = (unsigned char)(i * 7 + 3);
    FILE *f = tmpfile();
    if (!f || fwrite(pattern, 1, FILE_BYTES, f) != FILE_BYTES || fflush(f) != 0) {
        if (f)
            fclose(f);
        tsr_check_skip(c, p, check, "no temporary file to map");
        return;
    }
    uint64_t base = vt->bytes_in_use(state, device);
    const void *arena = NULL;
    tsr_error err = {0};
    tsr_status s = vt->map_file(state, device, fileno(f), OFFSET, BYTES, &arena, &err);
    fclose(f); /* the core closes the file once the weights are in */
    if (s == TSR_ERR_UNSUPPORTED) {
        tsr_check_skip(c, p, check, "it answered TSR_ERR_UNSUPPORTED");
        return;
    }
    if (s != TSR_OK)
        snprintf(why, sizeof why, "map_file failed: %s", err.message);
    else if (!arena || memcmp(arena, pattern + OFFSET, BYTES) != 0)
        snprintf(why, sizeof why, "the arena does not hold the file's bytes from offset %d",
                 OFFSET);
    else if (vt->bytes_in_use(state, device) != base + BYTES)
        snprintf(why, sizeof why, "bytes_in_use is %" PRIu64 " after mapping %d bytes on top "
                 "of %" PRIu64, vt->bytes_in_use(state, device), BYTES, base);
    if (s == TSR_OK && arena) {
        vt->release(state, device, (void *)arena);
        if (!why[0] && vt->bytes_in_use(state, device) != base)
            snprintf(why, sizeof why, "bytes_in_use is %" PRIu64 " after release, not %" PRIu64,
                     vt->bytes_in_use(state, device), base);
    }
    tsr_check_report(c, p, !why[0], check, "%s", why);
}

/* upload (optional, ABI 1.3): a range of an arena is filled, one past its
 * end and an arena never handed out are TSR_ERR_INVALID. What the bytes
 * became is the device's to show (tests/test_alloc_cuda reads them back
 * through its fake; a GPU through make check-gpu). */
static void check_upload(tsr_checker *c, const tsr_plugin *p, const tsr_alloc_vtable *vt,
                         void *state, uint32_t device, const char *name)
{
    char check[160], why[WHY_BYTES] = "";
    snprintf(check, sizeof check, "%s: upload fills an arena and refuses a range past its end",
             name);
    enum { BYTES = 3 * 4096 + 100, OFFSET = 100 };
    static unsigned char src[BYTES];
    for (size_t i = 0; i < BYTES; i++)
        src[i] = (unsigned char)(i * 7 + 3);
    tsr_error err = {0};
    void *arena = NULL;
    tsr_status s = vt->reserve(state, device, BYTES, 256, &arena, &err);
    if (s != TSR_OK) {
        snprintf(why, sizeof why, "reserve of %d bytes failed: %s", BYTES, err.message);
    } else if ((s = vt->upload(state, device, arena, OFFSET, src, BYTES - OFFSET, &err)) !=
               TSR_OK) {
        snprintf(why, sizeof why, "an upload of %d bytes at offset %d failed: %s",
                 BYTES - OFFSET, OFFSET, err.message);
    } else if ((s = vt->upload(state, device, arena, 0, src, 0, &err)) != TSR_OK) {
        snprintf(why, sizeof why, "an upload of 0 bytes failed: %s", err.message);
    } else if ((s = vt->upload(state, device, arena, OFFSET, src, BYTES - OFFSET + 1, &err)) !=
               TSR_ERR_INVALID) {
        snprintf(why, sizeof why, "an upload one byte past the arena's end returned %s, not "
                 "TSR_ERR_INVALID", tsr_status_name(s));
    } else if ((s = vt->upload(state, device, src, 0, src, 1, &err)) != TSR_ERR_INVALID) {
        snprintf(why, sizeof why, "an upload to memory reserve never returned returned %s, "
                 "not TSR_ERR_INVALID", tsr_status_name(s));
    }
    if (arena)
        vt->release(state, device, arena);
    tsr_check_report(c, p, !why[0], check, "%s", why);
}

static void check_device(tsr_checker *c, const tsr_plugin *p, const tsr_alloc_vtable *vt,
                         void *state, uint32_t device)
{
    char check[160], why[WHY_BYTES] = "";
    tsr_error err = {0};
    tsr_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    tsr_status s = vt->device_info(state, device, &info, &err);
    char name[sizeof info.name + 1];
    memcpy(name, info.name, sizeof info.name);
    name[sizeof info.name] = '\0';
    snprintf(check, sizeof check, "device %u (%s) is described", device, name);
    if (s != TSR_OK)
        snprintf(why, sizeof why, "device_info failed: %s", err.message);
    else if (info.struct_size != sizeof info)
        snprintf(why, sizeof why, "device_info changed struct_size from %zu to %u (the core "
                 "sets it)", sizeof info, info.struct_size);
    else if (!memchr(info.name, '\0', sizeof info.name) || !info.name[0])
        snprintf(why, sizeof why, "its name is empty or not NUL-terminated");
    else if (info.capacity_bytes == 0)
        snprintf(why, sizeof why, "its capacity is 0 bytes");
    tsr_check_report(c, p, !why[0], check, "%s", why);
    if (why[0])
        return;

    /* Accounting: what reserve takes, bytes_in_use shows, release gives
     * back; the peak remembers. */
    snprintf(check, sizeof check, "%s: reserve and release are counted", info.name);
    uint64_t base = vt->bytes_in_use(state, device);
    uint64_t bytes = 3 * 4096 + 100, align = 4096;
    void *arena = NULL;
    s = vt->reserve(state, device, bytes, align, &arena, &err);
    if (s != TSR_OK) {
        snprintf(why, sizeof why, "reserve of %" PRIu64 " bytes failed: %s", bytes,
                 err.message);
    } else if (!arena || (uintptr_t)arena % align) {
        snprintf(why, sizeof why, "reserve returned %p, not aligned to %" PRIu64, arena, align);
    } else if (vt->bytes_in_use(state, device) != base + bytes) {
        snprintf(why, sizeof why, "bytes_in_use is %" PRIu64 " after reserving %" PRIu64
                 " bytes on top of %" PRIu64, vt->bytes_in_use(state, device), bytes, base);
    } else if (vt->peak_bytes(state, device) < base + bytes) {
        snprintf(why, sizeof why, "peak_bytes %" PRIu64 " is below bytes in use %" PRIu64,
                 vt->peak_bytes(state, device), base + bytes);
    }
    if (s == TSR_OK && arena && (info.flags & TSR_DEVICE_HOST_MEMORY))
        memset(arena, 0x5a, bytes); /* host memory: every byte is the caller's */
    if (s == TSR_OK && arena) {
        vt->release(state, device, arena);
        if (!why[0] && vt->bytes_in_use(state, device) != base)
            snprintf(why, sizeof why, "bytes_in_use is %" PRIu64 " after release, not %" PRIu64,
                     vt->bytes_in_use(state, device), base);
        if (!why[0] && vt->peak_bytes(state, device) < base + bytes)
            snprintf(why, sizeof why, "peak_bytes forgot the reservation after release");
    }
    tsr_check_report(c, p, !why[0], check, "%s", why);

    /* A reservation past capacity, with something already in use. */
    snprintf(check, sizeof check, "%s: a reservation past capacity is refused in the shared "
             "words", info.name);
    why[0] = '\0';
    void *held = NULL;
    err.message[0] = '\0';
    if (vt->reserve(state, device, 4096, 64, &held, &err) != TSR_OK) {
        snprintf(why, sizeof why, "a 4096-byte reserve failed: %s", err.message);
    } else {
        uint64_t in_use = vt->bytes_in_use(state, device);
        uint64_t too_many = info.capacity_bytes;
        void *none = NULL;
        char expected[256];
        err.message[0] = '\0';
        s = vt->reserve(state, device, too_many, 64, &none, &err);
        if (s == TSR_OK) {
            vt->release(state, device, none);
            snprintf(why, sizeof why, "reserving the whole capacity %" PRIu64 " with %" PRIu64
                     " bytes in use succeeded", too_many, in_use);
        } else if (s != TSR_ERR_NOMEM) {
            snprintf(why, sizeof why, "it failed with %s, not TSR_ERR_NOMEM: %s",
                     tsr_status_name(s), err.message);
        } else if (!refusal_matches(err.message, info.name, too_many, in_use,
                                    info.capacity_bytes, expected, sizeof expected)) {
            snprintf(why, sizeof why, "its message is \"%s\", not \"%s\"", err.message,
                     expected);
        }
        vt->release(state, device, held);
    }
    tsr_check_report(c, p, !why[0], check, "%s", why);

    if (vt->map_file && (info.flags & TSR_DEVICE_HOST_MEMORY))
        check_map_file(c, p, vt, state, device, info.name);
    if (TSR_COVERS(vt->abi.struct_size, tsr_alloc_vtable, upload) && vt->upload)
        check_upload(c, p, vt, state, device, info.name);
    else if (!(info.flags & TSR_DEVICE_HOST_MEMORY) && info.device_kind != TSR_DEVICE_KIND_CPU)
        tsr_check_report(c, p, false, "its device memory can be filled",
                         "%s is no host memory, and the allocator has no upload", info.name);

    snprintf(check, sizeof check, "%s: an alignment that is not a power of two is refused",
             info.name);
    why[0] = '\0';
    void *odd = NULL;
    s = vt->reserve(state, device, 64, 3, &odd, &err);
    if (s == TSR_OK) {
        vt->release(state, device, odd);
        snprintf(why, sizeof why, "reserve with align 3 succeeded");
    } else if (s != TSR_ERR_INVALID) {
        snprintf(why, sizeof why, "it failed with %s, not TSR_ERR_INVALID", tsr_status_name(s));
    }
    tsr_check_report(c, p, !why[0], check, "%s", why);
}

static void check_alloc(tsr_checker *c, const tsr_plugin *p)
{
    const tsr_alloc_vtable *vt = tsr_plugin_alloc(p);
    tsr_param_set params;
    tsr_error err = {0};
    if (tsr_param_set_init(&params, p, &err) != TSR_OK) {
        c->out_of_memory = true;
        return;
    }
    /* Two small simulated devices for an allocator that takes them. */
    static const uint64_t sim[] = {(uint64_t)1 << 30, (uint64_t)2 << 30};
    bool takes_sim = !TSR_COVERS(vt->abi.struct_size, tsr_alloc_vtable, flags) ||
                     (vt->flags & TSR_ALLOC_TAKES_SIM);
    tsr_alloc_config config = {
        .struct_size = sizeof config,
        .sim_capacities = takes_sim ? sim : NULL,
        .n_sim_capacities = takes_sim ? 2 : 0,
        .params = p->n_params ? params.values : NULL,
        .n_params = p->n_params,
    };
    void *state = NULL;
    tsr_status s = vt->open(tsr_host_services(), &config, &state, &err);
    /* TSR_ERR_NOT_FOUND: the hardware is not here (alloc/cuda on a machine
     * without a GPU or driver). Nothing else can be checked: a skip, which
     * says why, not a failure. */
    if (s == TSR_ERR_NOT_FOUND)
        tsr_check_skip(c, p, "open with its default parameters (and every device check)",
                       err.message);
    else
        tsr_check_report(c, p, s == TSR_OK, "open with its default parameters", "%s: %s",
                         tsr_status_name(s), err.message);
    if (s != TSR_OK) {
        tsr_param_set_free(&params);
        return;
    }
    uint32_t n = vt->device_count(state);
    tsr_check_report(c, p, n > 0 && n <= 4096, "it offers devices", "device_count is %u", n);
    for (uint32_t d = 0; d < n && d < 16; d++)
        check_device(c, p, vt, state, d);
    tsr_device_info info = {.struct_size = sizeof info};
    s = vt->device_info(state, n, &info, &err);
    tsr_check_report(c, p, s == TSR_ERR_NOT_FOUND, "a device past the last is not found",
                     "device_info(%u) returned %s", n, tsr_status_name(s));
    vt->close(state);
    tsr_param_set_free(&params);
}

/* ---- the driver ------------------------------------------------------------ */

tsr_status tsr_plugin_check(const char *path, const tsr_registry *installed, tsr_check_cb cb,
                            void *ctx, size_t *n_failed, tsr_error *err)
{
    tsr_checker c = {.cb = cb, .ctx = ctx, .installed = installed};
    *n_failed = 0;
    tsr_registry *own = NULL;
    tsr_status s = tsr_registry_open_file(path, &own, err);
    if (s == TSR_ERR_NOMEM)
        return s;
    if (s != TSR_OK) {
        tsr_check_report(&c, NULL, false, "the file loads", "%s", err ? err->message : path);
        *n_failed = c.n_failed;
        return TSR_OK;
    }
    c.own = own;
    for (size_t i = 0; i < tsr_registry_refusal_count(own); i++)
        tsr_check_report(&c, NULL, false, "the file loads", "%s",
                         tsr_registry_refusal(own, i)->reason);
    if (tsr_registry_count(own) > 0 || tsr_registry_refusal_count(own) == 0)
        tsr_check_report(&c, NULL, tsr_registry_count(own) > 0, "it carries plugins this core "
                         "loads", "none");
    for (size_t i = 0; i < tsr_registry_count(own) && !c.out_of_memory; i++) {
        const tsr_plugin *p = tsr_registry_get(own, i);
        switch (p->kind) {
        case TSR_PLUGIN_QUANT: tsr_check_quant(&c, p); break;
        case TSR_PLUGIN_SAMPLER: check_sampler(&c, p); break;
        case TSR_PLUGIN_SPEC: check_spec(&c, p); break;
        case TSR_PLUGIN_ALLOC: check_alloc(&c, p); break;
        }
    }
    tsr_registry_close(own);
    *n_failed = c.n_failed;
    if (c.out_of_memory)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while checking %s", path);
    return TSR_OK;
}
