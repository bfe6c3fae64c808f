/* The handshake of a job across hosts: every rank's build, model and
 * settings, compared with rank 0's before anything loads, and the layers
 * each rank gets.
 *
 * Open MPI only promises to work between identical builds, and a pipeline
 * is only exact when every stage computes as one process would: the same
 * tessera, wire protocol, plugins, CPU kernels and model file everywhere.
 * Every rank gathers every record, so every rank reaches the same verdict;
 * rank 0 says why, the others that it failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "model_identity.h"
#include "net.h"
#include "pipeline.h"

enum { NAME_BYTES = 64, TEXT_BYTES = 512 };

/* One rank's record, fixed size: all ranks run the same build (or are
 * refused for the version field, which comes first). */
typedef struct rank_record {
    char version[NAME_BYTES];
    uint32_t wire, abi_major, abi_minor;
    char cpu[TEXT_BYTES];
    uint64_t plugins_hash;
    char plugins[TEXT_BYTES];
    char model_path[TEXT_BYTES];
    uint64_t fingerprint, file_bytes;
    uint32_t n_layer, n_embd, n_vocab, n_head, n_head_kv, n_ff;
    char cache_type[NAME_BYTES], quantize[NAME_BYTES];
    uint32_t n_batch, n_sequences, max_seq_len, n_outputs;
    uint32_t in_flight, activations_f16, n_ranges;
    uint64_t timeout_ms, ranges_hash;
    char host[64];
    uint32_t n_devices, reserved;
    tsr_plan_device_spec devices[TSR_PIPELINE_MAX_DEVICES];
} rank_record;

static uint64_t fnv1a(uint64_t hash, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        hash = (hash ^ p[i]) * 1099511628211ull;
    return hash;
}

/* "quant:q4_1 sampler:greedy ..." (cut to fit) and a hash of all of it. */
static void describe_plugins(const tsr_registry *registry, rank_record *r)
{
    uint64_t hash = 14695981039346656037ull;
    size_t used = 0;
    for (size_t i = 0; i < tsr_registry_count(registry); i++) {
        const tsr_plugin *p = tsr_registry_get(registry, i);
        char one[160];
        int n = snprintf(one, sizeof one, "%s%s:%s %u.%u", i ? " " : "",
                         tsr_plugin_kind_name(p->kind), p->name, p->abi_major, p->abi_minor);
        hash = fnv1a(hash, one, (size_t)n);
        if (used + (size_t)n < sizeof r->plugins)
            used += (size_t)snprintf(r->plugins + used, sizeof r->plugins - used, "%s", one);
    }
    r->plugins_hash = hash;
}

static tsr_status fill_record(const tsr_pipeline_setup *s, rank_record *r, tsr_error *err)
{
    memset(r, 0, sizeof *r);
    /* Tests fake another build on one rank: TSR_TEST_DIST_FAKE_VERSION=RANK. */
    const char *fake = getenv("TSR_TEST_DIST_FAKE_VERSION");
    bool faked = fake && *fake && (uint32_t)atoi(fake) == tsr_net_rank();
    snprintf(r->version, sizeof r->version, "%s", faked ? "0.0.0-fake" : tsr_version());
    r->wire = TSR_WIRE_VERSION;
    r->abi_major = TSR_ABI_MAJOR;
    r->abi_minor = TSR_ABI_MINOR;
    tsr_cpu_describe(tsr_cpu_features(), r->cpu, sizeof r->cpu);
    describe_plugins(s->registry, r);
    snprintf(r->model_path, sizeof r->model_path, "%s", s->model_path);
    tsr_status st = tsr_gguf_header_fingerprint(s->gguf, &r->fingerprint, err);
    if (st != TSR_OK)
        return st;
    r->file_bytes = tsr_gguf_file_size(s->gguf);
    tsr_llama_config c;
    if ((st = tsr_llama_config_read(s->gguf, &c, err)) != TSR_OK)
        return st;
    r->n_layer = c.n_layer;
    r->n_embd = c.n_embd;
    r->n_vocab = c.n_vocab;
    r->n_head = c.n_head;
    r->n_head_kv = c.n_head_kv;
    r->n_ff = c.n_ff;
    snprintf(r->cache_type, sizeof r->cache_type, "%s", s->cache_type ? s->cache_type : "");
    snprintf(r->quantize, sizeof r->quantize, "%s", s->quantize ? s->quantize : "");
    r->n_batch = s->n_batch;
    r->n_sequences = s->n_sequences;
    r->max_seq_len = s->max_seq_len;
    r->n_outputs = s->n_outputs;
    const tsr_profile_dist *d = &s->profile->dist;
    r->in_flight = d->in_flight;
    r->activations_f16 = d->activations_f16;
    r->timeout_ms = d->timeout_ms;
    r->n_ranges = d->layers_auto ? 0 : (uint32_t)d->n_layers;
    r->ranges_hash = 14695981039346656037ull;
    for (size_t i = 0; i < r->n_ranges; i++) {
        uint32_t ends[2] = {d->layers[i].first, d->layers[i].last};
        r->ranges_hash = fnv1a(r->ranges_hash, ends, sizeof ends);
    }
    snprintf(r->host, sizeof r->host, "%s", tsr_net_host());
    if (s->n_devices > TSR_PIPELINE_MAX_DEVICES)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "rank %u offers %u devices; a rank of a "
                             "job across hosts takes at most %u", tsr_net_rank(), s->n_devices,
                             TSR_PIPELINE_MAX_DEVICES);
    r->n_devices = s->n_devices;
    memcpy(r->devices, s->devices, s->n_devices * sizeof *s->devices);
    return TSR_OK;
}

/* The first field in which b differs from a: its name, and both values
 * written into va and vb; NULL when they agree. */
static const char *first_difference(const rank_record *a, const rank_record *b, char *va,
                                    char *vb, size_t n)
{
#define TEXT(field, name)                                                                         \
    if (strcmp(a->field, b->field) != 0) {                                                        \
        snprintf(va, n, "%s", a->field);                                                          \
        snprintf(vb, n, "%s", b->field);                                                          \
        return name;                                                                              \
    }
#define NUMBER(field, name)                                                                       \
    if (a->field != b->field) {                                                                   \
        snprintf(va, n, "%llu", (unsigned long long)a->field);                                    \
        snprintf(vb, n, "%llu", (unsigned long long)b->field);                                    \
        return name;                                                                              \
    }
    TEXT(version, "tessera version")
    NUMBER(wire, "wire protocol version")
    NUMBER(abi_major, "plugin ABI")
    NUMBER(abi_minor, "plugin ABI")
    TEXT(cpu, "CPU features")
    if (a->plugins_hash != b->plugins_hash) {
        snprintf(va, n, "%s", a->plugins);
        snprintf(vb, n, "%s", b->plugins);
        return "plugin set";
    }
    if (a->fingerprint != b->fingerprint || a->file_bytes != b->file_bytes) {
        snprintf(va, n, "%s, %llu bytes, header fingerprint %016llx", a->model_path,
                 (unsigned long long)a->file_bytes, (unsigned long long)a->fingerprint);
        snprintf(vb, n, "%s, %llu bytes, header fingerprint %016llx", b->model_path,
                 (unsigned long long)b->file_bytes, (unsigned long long)b->fingerprint);
        return "model file";
    }
    NUMBER(n_layer, "model shape (layers)")
    NUMBER(n_embd, "model shape (embedding length)")
    NUMBER(n_vocab, "model shape (vocabulary)")
    NUMBER(n_head, "model shape (heads)")
    NUMBER(n_head_kv, "model shape (KV heads)")
    NUMBER(n_ff, "model shape (feed-forward length)")
    TEXT(cache_type, "model.cache_type")
    TEXT(quantize, "model.quantize")
    NUMBER(n_batch, "batch size (n_batch)")
    NUMBER(n_sequences, "sequences (server.parallel or n_seq_max)")
    NUMBER(max_seq_len, "model.max_seq_len")
    NUMBER(n_outputs, "output rows per decode")
    NUMBER(in_flight, "dist.in_flight")
    NUMBER(activations_f16, "dist.activations (0 f32, 1 f16)")
    NUMBER(timeout_ms, "dist.timeout (ms)")
    NUMBER(n_ranges, "dist.layers")
    NUMBER(ranges_hash, "dist.layers")
#undef TEXT
#undef NUMBER
    return NULL;
}

/* A rank's room for dist.layers: auto: its devices' capacity less their
 * overhead (the profile's devices.overhead unless auto) and the reserve. */
static double rank_room(const tsr_profile *profile, const tsr_pipeline_rank *rank)
{
    const tsr_profile_devices *dev = &profile->devices;
    double room = 0;
    for (uint32_t i = 0; i < rank->n_devices; i++) {
        double overhead = dev->overhead_auto ? (double)rank->devices[i].overhead_bytes
                                             : (double)dev->overhead_bytes;
        double spare = (double)rank->devices[i].capacity_bytes - overhead -
                      (double)dev->reserve_bytes;
        room += spare > 0 ? spare : 0;
    }
    return room;
}

/* dist.layers: auto: each rank's share of the layers in proportion to its
 * room; a layer goes to the rank whose share its midpoint falls in; then
 * every rank gets at least one layer, while there are enough. */
static void assign_auto(const tsr_profile *profile, tsr_pipeline_rank *ranks, uint32_t n_ranks,
                        uint32_t n_layer, uint32_t *first)
{
    double total = 0;
    for (uint32_t r = 0; r < n_ranks; r++)
        total += rank_room(profile, &ranks[r]);
#define SHARE(i) (total > 0 ? rank_room(profile, &ranks[i]) / total : 1.0 / n_ranks)
    uint32_t r = 0;
    double bound = SHARE(0);
    first[0] = 0;
    for (uint32_t l = 0; l < n_layer; l++) {
        double mid = (l + 0.5) / n_layer;
        while (r + 1 < n_ranks && mid > bound) {
            r++;
            first[r] = l;
            bound += SHARE(r);
        }
    }
#undef SHARE
    for (r++; r < n_ranks; r++)
        first[r] = n_layer;
    first[n_ranks] = n_layer;
    if (n_layer < n_ranks)
        return;
    for (r = 1; r < n_ranks; r++)
        if (first[r] <= first[r - 1])
            first[r] = first[r - 1] + 1;
    for (r = n_ranks; r-- > 1;)
        if (first[r] > n_layer - (n_ranks - r))
            first[r] = n_layer - (n_ranks - r);
}

tsr_status tsr_pipeline_assign_layers(const tsr_profile *profile, const char *model_path,
                                      uint32_t n_layer, tsr_pipeline_rank *ranks,
                                      uint32_t n_ranks, tsr_diagnostics *diags)
{
    const tsr_profile_dist *d = &profile->dist;
    const char *file = profile->file;
    uint32_t *first = calloc(n_ranks + 1, sizeof *first);
    if (!first) {
        diags->out_of_memory = true;
        return TSR_ERR_NOMEM;
    }
    tsr_status s = TSR_OK;
    if (d->layers_auto) {
        assign_auto(profile, ranks, n_ranks, n_layer, first);
    } else if (d->n_layers > n_ranks) {
        tsr_diag_add(diags, TSR_SEVERITY_ERROR, file, d->layers_loc.line, d->layers_loc.column,
                     "dist.layers gives %zu layer ranges for a job of %u ranks; give one per "
                     "rank, or auto", d->n_layers, n_ranks);
        s = TSR_ERR_INVALID;
    } else {
        const tsr_profile_dist_range *last = &d->layers[d->n_layers - 1];
        if (last->last + 1 != n_layer) {
            tsr_diag_add(diags, TSR_SEVERITY_ERROR, file, last->loc.line, last->loc.column,
                         "dist.layers ends at layer %u; %s has layers 0 to %u, and the last "
                         "range must end there", last->last, model_path, n_layer - 1);
            s = TSR_ERR_INVALID;
        }
        for (uint32_t r = 0; r < n_ranks; r++)
            first[r] = r < d->n_layers ? d->layers[r].first : n_layer;
        first[n_ranks] = n_layer;
    }
    for (uint32_t r = 0; s == TSR_OK && r < n_ranks; r++) {
        ranks[r].first_layer = first[r];
        ranks[r].end_layer = first[r + 1] > first[r] ? first[r + 1] : first[r];
        if (ranks[r].end_layer > ranks[r].first_layer)
            continue;
        tsr_diagnostic *diag;
        if (d->layers_auto)
            diag = tsr_diag_add(diags, TSR_SEVERITY_ERROR, file, d->layers_loc.line,
                                d->layers_loc.column, "rank %u (host %s) gets no layers: %s "
                                "has %u layers for %u ranks, and a stage needs one at least",
                                r, ranks[r].host, model_path, n_layer, n_ranks);
        else
            diag = tsr_diag_add(diags, TSR_SEVERITY_ERROR, file, d->layers_loc.line,
                                d->layers_loc.column, "rank %u (host %s) gets no layers: "
                                "dist.layers gives %zu ranges for %u ranks", r, ranks[r].host,
                                d->n_layers, n_ranks);
        if (diag) {
            diag->code = "rank-without-layers";
            if (d->layers_auto)
                tsr_diag_set_hint(diag, "run at most %u ranks, one per layer", n_layer);
            else
                tsr_diag_set_hint(diag, "run %zu ranks, or give dist.layers one range per "
                                  "rank", d->n_layers);
        }
    }
    free(first);
    return s;
}

tsr_status tsr_pipeline_handshake(const tsr_pipeline_setup *setup, tsr_pipeline_rank *ranks,
                                  tsr_error *err)
{
    uint32_t n_ranks = tsr_net_size(), me = tsr_net_rank();
    rank_record mine;
    tsr_status s = fill_record(setup, &mine, err);
    if (s != TSR_OK)
        return s;
    rank_record *all = calloc(n_ranks, sizeof *all);
    if (!all)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    s = tsr_net_allgather(&mine, sizeof mine, all, (double)mine.timeout_ms / 1000, err);
    for (uint32_t r = 1; s == TSR_OK && r < n_ranks; r++) {
        char va[2 * TEXT_BYTES], vb[2 * TEXT_BYTES];
        const char *field = first_difference(&all[0], &all[r], va, vb, sizeof va);
        if (!field)
            continue;
        if (me == 0)
            s = tsr_error_set(err, TSR_ERR_PEER, "rank %u differs from rank 0 in its %s "
                              "(rank 0: %s; rank %u: %s); every rank must run the same tessera "
                              "build, plugins and model file with the same profile",
                              r, field, va, r, vb);
        else
            s = tsr_error_set(err, TSR_ERR_PEER, "rank %u: the handshake failed (rank %u "
                              "differs from rank 0 in its %s; rank 0 says how)", me, r, field);
    }
    for (uint32_t r = 0; s == TSR_OK && r < n_ranks; r++) {
        memset(&ranks[r], 0, sizeof ranks[r]);
        all[r].host[sizeof all[r].host - 1] = '\0';
        snprintf(ranks[r].host, sizeof ranks[r].host, "%s", all[r].host);
        ranks[r].n_devices = all[r].n_devices < TSR_PIPELINE_MAX_DEVICES
                                 ? all[r].n_devices
                                 : TSR_PIPELINE_MAX_DEVICES;
        memcpy(ranks[r].devices, all[r].devices, ranks[r].n_devices * sizeof *ranks[r].devices);
        for (uint32_t i = 0; i < ranks[r].n_devices; i++)
            ranks[r].devices[i].name[sizeof ranks[r].devices[i].name - 1] = '\0';
    }
    free(all);
    /* One hop's cost: a row of activations as they cross, and a prefill
     * chunk (the batch split dist.in_flight ways, by default one per stage). */
    if (s == TSR_OK && n_ranks > 1) {
        size_t row_bytes = (size_t)mine.n_embd * (mine.activations_f16 ? 2 : 4);
        uint32_t in_flight = mine.in_flight ? mine.in_flight : n_ranks;
        size_t rows = (mine.n_batch + in_flight - 1) / in_flight;
        s = tsr_pipeline_measure_hops(ranks, n_ranks, me, row_bytes,
                                      (rows > 1 ? rows : 2) * row_bytes,
                                      (double)mine.timeout_ms / 1000, err);
    }
    return s;
}
