/* What a device other than the CPU can run: the no-device-kernels checks.
 *
 * A tensor placed on a CUDA device is computed there by its format's device
 * kernels (tsr_quant_vtable.device_kernels), and by nothing else: a format
 * without them would have to run on the host, which the planner never does
 * silently. So every placed tensor's format, as it will sit in memory (the
 * model's quantize format for a re-quantized tensor, else as stored), must
 * carry kernels of its device's kind. The one exception is an f32 vector
 * (the norms, rope_freqs), which kernels/cuda reads as plain floats.
 *
 * The KV cache likewise: the CUDA decode attention (kernels/cuda) reads an
 * f16 cache, so a cache of another type on a CUDA device is refused.
 *
 * One diagnostic per model and format, however many tensors: the model, the
 * format, how many tensors with one of their names, the devices. The hint
 * names the formats that do have kernels of that kind on the search path
 * and the setting that converts to them (model.quantize / draft.quantize),
 * or, when none has, that the plugins were built without them.
 */
#include <stdio.h>
#include <string.h>

#include "loader.h"
#include "plan_internal.h"

enum { MAX_GROUPS = 64, NAMES_BYTES = 512, FORMATS_BYTES = 512 };

/* The format a device's attention reads its KV cache in. */
#define DEVICE_CACHE_TYPE "f16"

static const char *kind_name(uint32_t kind)
{
    return kind == TSR_DEVICE_KIND_CUDA ? "CUDA" : "device";
}

bool plan_has_device_kind(const planner *p)
{
    for (uint32_t d = 0; d < p->n_devices; d++)
        if (p->request->devices[d].device_kind != TSR_DEVICE_KIND_CPU)
            return true;
    return false;
}

/* Whether q carries usable kernels for kind: a table of the core's major
 * for that kind, with the decode product and the row lookup. */
static bool has_kernels(const tsr_quant_vtable *q, uint32_t kind)
{
    if (!q || !q->device_kernels)
        return false;
    const tsr_quant_device_kernels *k = q->device_kernels(kind);
    return k && k->abi.abi_major == TSR_ABI_MAJOR && k->device_kind == kind &&
           TSR_COVERS(k->abi.struct_size, tsr_quant_device_kernels, get_rows) && k->matvec_f32 &&
           k->get_rows;
}

/* "q4_0, q4_1, q8_0": the weight formats on the search path with kernels
 * of kind; *best is the one of most bits per value (the closest to any
 * format it replaces), NULL when there is none. */
static void formats_with_kernels(const tsr_registry *reg, uint32_t kind, char *text,
                                 size_t bytes, const char **best)
{
    size_t used = 0;
    double best_bits = 0;
    text[0] = '\0';
    *best = NULL;
    for (size_t i = 0; reg && i < tsr_registry_count(reg); i++) {
        const tsr_plugin *plugin = tsr_registry_get(reg, i);
        const tsr_quant_vtable *q = tsr_plugin_quant(plugin);
        if (!q || (q->flags & TSR_QUANT_ACTIVATION) || !has_kernels(q, kind))
            continue;
        if (used < bytes)
            used += (size_t)snprintf(text + used, bytes - used, "%s%s", used ? ", " : "",
                                     plugin->name);
        double bits = (double)q->block_bytes * 8.0 / (double)q->block_elems;
        if (q->quantize && bits > best_bits) {
            best_bits = bits;
            *best = plugin->name;
        }
    }
}

/* The tensors of one model in one format that no device of theirs can run. */
typedef struct group {
    const char *format;
    size_t n_tensors;
    const char *example;       /* the first, in file order */
    uint32_t kind;
    bool on_device[TSR_PROFILE_MAX_DEVICES];
} group;

static group *group_for(group *groups, size_t *n_groups, const char *format, uint32_t kind)
{
    for (size_t i = 0; i < *n_groups; i++)
        if (groups[i].kind == kind && strcmp(groups[i].format, format) == 0)
            return &groups[i];
    if (*n_groups == MAX_GROUPS)
        return NULL;
    group *g = &groups[(*n_groups)++];
    memset(g, 0, sizeof *g);
    g->format = format;
    g->kind = kind;
    return g;
}

static uint32_t tensor_device(const plan_layout *l, uint32_t k, const plan_model_in *m,
                              int32_t unit)
{
    uint32_t last = m->config.n_layer - 1;
    uint32_t layer = unit == TSR_PLAN_UNIT_INPUT ? 0
                     : unit == TSR_PLAN_UNIT_OUTPUT ? last
                                                    : (uint32_t)unit;
    return l->layer_device[k][layer];
}

/* "sim0, sim1": the devices a group's tensors are on. */
static void device_names(const planner *p, const group *g, char *text, size_t bytes)
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t d = 0; d < p->n_devices && d < TSR_PROFILE_MAX_DEVICES && used < bytes; d++)
        if (g->on_device[d])
            used += (size_t)snprintf(text + used, bytes - used, "%s%s", used ? ", " : "",
                                     p->request->devices[d].name);
}

static tsr_profile_loc model_place(const planner *p, uint32_t k)
{
    const tsr_profile *profile = p->request->profile;
    if (!profile)
        return (tsr_profile_loc){0, 0};
    const tsr_profile_model *m = k == TSR_PLAN_MAIN ? &profile->model : &profile->draft;
    if (m->quantize && m->quantize_loc.line)
        return m->quantize_loc;
    return m->path_loc.line ? m->path_loc : m->loc;
}

static void report_group(const planner *p, uint32_t k, const group *g, tsr_diagnostics *diags)
{
    const plan_model_in *m = &p->models[k];
    const char *setting = k == TSR_PLAN_MAIN ? "model" : "draft";
    char devices[NAMES_BYTES], formats[FORMATS_BYTES], more[64] = "";
    const char *best;
    device_names(p, g, devices, sizeof devices);
    formats_with_kernels(p->request->registry, g->kind, formats, sizeof formats, &best);
    if (g->n_tensors > 1)
        snprintf(more, sizeof more, " and %zu more", g->n_tensors - 1);
    tsr_diagnostic *d = plan_report(
        p, diags, TSR_SEVERITY_ERROR, "no-device-kernels", model_place(p, k),
        "%s (the %s model): %zu tensor%s in %s (%s%s) would be placed on %s device%s %s, but "
        "%s has no %s kernels: they cannot run there, and the planner never runs them on the "
        "host instead",
        m->path, k == TSR_PLAN_MAIN ? "main" : "draft", g->n_tensors,
        g->n_tensors == 1 ? "" : "s", g->format, g->example, more, kind_name(g->kind),
        strchr(devices, ',') ? "s" : "", devices, g->format, kind_name(g->kind));
    if (!d)
        return;
    if (best)
        tsr_diag_set_hint(d, "formats with %s kernels here: %s; re-quantize the weights as they "
                          "load with %s.quantize: %s (or another of them), or plan the %s model "
                          "for the CPU (devices.allocator: host)",
                          kind_name(g->kind), formats, setting, best,
                          k == TSR_PLAN_MAIN ? "main" : "draft");
    else
        tsr_diag_set_hint(d, "no quant plugin on the search path has %s kernels: they were "
                          "built without them (./configure --enable-cuda builds q4_0, q4_1 and "
                          "q8_0's); or plan for the CPU with devices.allocator: host",
                          kind_name(g->kind));
}

/* The formats of model k's placed tensors on devices of a kind their format
 * has no kernels for. */
static void check_weights(const planner *p, const plan_layout *l, uint32_t k,
                          tsr_diagnostics *diags)
{
    const plan_model_in *m = &p->models[k];
    const tsr_registry *reg = p->request->registry;
    group groups[MAX_GROUPS];
    size_t n_groups = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const plan_tensor *t = &m->tensors[i];
        if (t->unit == TSR_PLAN_UNIT_NONE)
            continue;
        uint32_t device = tensor_device(l, k, m, t->unit);
        uint32_t kind = p->request->devices[device].device_kind;
        if (kind == TSR_DEVICE_KIND_CPU)
            continue;
        const tsr_ggml_type_info *stored = tsr_ggml_type(t->type);
        const char *format;
        const tsr_quant_vtable *q;
        if (t->requantized) {
            format = m->request->quantize;
            q = m->quantize;
        } else {
            const tsr_plugin *plugin = tsr_registry_find_quant(reg, t->type);
            format = plugin ? plugin->name : stored ? stored->name : "an unknown type";
            q = tsr_plugin_quant(plugin);
        }
        /* An f32 vector (a norm) is read by kernels/cuda itself. */
        if (!t->requantized && t->n_dims < 2 && stored && strcmp(stored->name, "f32") == 0)
            continue;
        if (has_kernels(q, kind))
            continue;
        group *g = group_for(groups, &n_groups, format, kind);
        if (!g)
            continue;
        if (g->n_tensors++ == 0)
            g->example = t->name;
        if (device < TSR_PROFILE_MAX_DEVICES)
            g->on_device[device] = true;
    }
    for (size_t i = 0; i < n_groups; i++)
        report_group(p, k, &groups[i], diags);
}

/* Model k's KV cache, on the devices of its layers: only f16 there. */
static void check_cache(const planner *p, const plan_layout *l, uint32_t k,
                        tsr_diagnostics *diags)
{
    const plan_model_in *m = &p->models[k];
    const char *cache = m->request->cache_type ? m->request->cache_type : "f16";
    const tsr_ggml_type_info *type = tsr_ggml_type(m->cache_q ? m->cache_q->gguf_type : 1);
    if (type && strcmp(type->name, DEVICE_CACHE_TYPE) == 0)
        return;
    group g = {.format = cache};
    for (uint32_t layer = m->first; layer < m->end; layer++) {
        uint32_t device = l->layer_device[k][layer];
        uint32_t kind = p->request->devices[device].device_kind;
        if (kind == TSR_DEVICE_KIND_CPU || device >= TSR_PROFILE_MAX_DEVICES)
            continue;
        g.kind = kind;
        g.on_device[device] = true;
        g.n_tensors++;
    }
    if (!g.n_tensors)
        return;
    char devices[NAMES_BYTES];
    device_names(p, &g, devices, sizeof devices);
    const tsr_profile *profile = p->request->profile;
    const tsr_profile_model *pm = !profile ? NULL
                                  : k == TSR_PLAN_MAIN ? &profile->model
                                                       : &profile->draft;
    tsr_profile_loc at = pm && pm->cache_type_loc.line ? pm->cache_type_loc
                                                       : model_place(p, k);
    const char *setting = k == TSR_PLAN_MAIN ? "model" : "draft";
    tsr_diagnostic *d = plan_report(
        p, diags, TSR_SEVERITY_ERROR, "no-device-kernels", at,
        "%s (the %s model): its KV cache in %s would sit on %s device%s %s with %u of its "
        "layers, but the %s attention kernel reads an %s cache only",
        m->path, k == TSR_PLAN_MAIN ? "main" : "draft", cache, kind_name(g.kind),
        strchr(devices, ',') ? "s" : "", devices, (unsigned)g.n_tensors, kind_name(g.kind),
        DEVICE_CACHE_TYPE);
    if (d)
        tsr_diag_set_hint(d, "set %s.cache_type: %s (or leave it out), or plan for the CPU with "
                          "devices.allocator: host", setting, DEVICE_CACHE_TYPE);
}

void plan_check_device_kernels(const planner *p, const plan_layout *l, tsr_diagnostics *diags)
{
    if (!plan_has_device_kind(p))
        return;
    for (uint32_t k = 0; k < p->settings.n_models; k++) {
        check_weights(p, l, k, diags);
        check_cache(p, l, k, diags);
    }
}
