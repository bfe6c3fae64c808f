/* The memory planner: sizes every tensor, cache and scratch buffer from
 * headers, has them placed (plan_layout.c) and checked (plan_check.c), and
 * makes the plan a value. It allocates nothing of the devices'
 * (core/plan/plan.h has the rules). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "plan_internal.h"

const char *tsr_severity_name(tsr_severity severity)
{
    switch (severity) {
    case TSR_SEVERITY_ERROR: return "error";
    case TSR_SEVERITY_WARNING: return "warning";
    case TSR_SEVERITY_NOTE: return "note";
    }
    return "error";
}

/* ---- reading a model's headers -------------------------------------------- */

static int compare_offsets(const void *a, const void *b)
{
    const plan_tensor *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sizes one model: its tensors, units, parameters, cache and scratch. */
static tsr_status read_model(const tsr_plan_request *r, uint32_t k, plan_model_in *m,
                             tsr_error *err)
{
    const tsr_plan_model_request *q = &r->models[k];
    m->request = q;
    m->path = q->path ? q->path : tsr_gguf_path(q->gguf);
    tsr_status s = tsr_llama_config_read(q->gguf, &m->config, err);
    if (s != TSR_OK)
        return s;
    const tsr_llama_config *c = &m->config;
    if ((s = tsr_model_cache_format(r->registry, q->cache_type, c, &m->cache_q, err)) != TSR_OK)
        return tsr_error_prefix(err, "%s", k == TSR_PLAN_MAIN ? "model" : "draft");
    if (q->quantize) {
        m->quantize = tsr_plugin_quant(tsr_registry_find(r->registry, TSR_PLUGIN_QUANT,
                                                         q->quantize));
        if (!m->quantize || !m->quantize->quantize || !m->quantize->block_elems ||
            !m->quantize->matvec || (m->quantize->flags & TSR_QUANT_ACTIVATION))
            return tsr_error_set(err, TSR_ERR_NOT_FOUND, "%s.quantize %s: no loaded quant "
                                 "plugin of that name can quantize weights",
                                 k == TSR_PLAN_MAIN ? "model" : "draft", q->quantize);
    }
    m->first = 0;
    m->end = c->n_layer;
    if (k == TSR_PLAN_MAIN && (q->first_layer || q->end_layer)) {
        if (q->first_layer >= q->end_layer || q->end_layer > c->n_layer)
            return tsr_error_set(err, TSR_ERR_INVALID, "%s: a stage of layers %u to %u does "
                                 "not fit a model of layers 0 to %u", m->path, q->first_layer,
                                 q->end_layer - 1, c->n_layer - 1);
        m->first = q->first_layer;
        m->end = q->end_layer;
    }
    m->n_tensors = tsr_gguf_tensor_count(q->gguf);
    m->tensors = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *m->tensors);
    m->layer_weights = calloc(c->n_layer, sizeof *m->layer_weights);
    if (!m->tensors || !m->layer_weights)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_tensors; i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(q->gguf, i);
        plan_tensor *pt = &m->tensors[i];
        pt->name = t->name;
        pt->offset = t->offset;
        pt->n_elems = t->n_elems;
        pt->unit = tsr_plan_stage_unit(t->name, c->n_layer, m->first, m->end, c->tied_output);
        pt->bytes = tsr_plan_tensor_bytes(r->registry, t);
        if (pt->bytes == 0 && t->n_elems > 0)
            return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                                 "%s: tensor %s has GGUF type %u, which neither a quant plugin "
                                 "nor the GGUF type table knows: its size cannot be planned",
                                 m->path, t->name, t->type);
        pt->type = t->type;
        pt->n_dims = t->n_dims;
        pt->placed_bytes = pt->bytes;
        pt->requantized = tsr_model_tensor_requantized(t, m->quantize);
        if (pt->requantized)
            pt->placed_bytes = t->n_elems / m->quantize->block_elems * m->quantize->block_bytes;
        if (pt->unit == TSR_PLAN_UNIT_NONE)
            continue;
        uint64_t placed = m->quantize ? plan_align_up(pt->placed_bytes) : pt->bytes;
        m->params += t->n_elems;
        m->weights += placed;
        if (pt->unit == TSR_PLAN_UNIT_INPUT)
            m->input_weights += placed;
        else if (pt->unit == TSR_PLAN_UNIT_OUTPUT)
            m->output_weights += placed;
        else
            m->layer_weights[pt->unit] += placed;
    }
    qsort(m->tensors, m->n_tensors, sizeof *m->tensors, compare_offsets);
    for (size_t i = 1; i < m->n_tensors; i++)
        if (m->tensors[i].offset < m->tensors[i - 1].offset + m->tensors[i - 1].bytes)
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tensors %s and %s overlap in the data "
                                 "section", m->path, m->tensors[i - 1].name, m->tensors[i].name);
    const char *output_norm = tsr_llama_tensor_info(TSR_LLAMA_OUTPUT_NORM)->name;
    if (!tsr_gguf_find_tensor(q->gguf, output_norm))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: no tensor %s", m->path, output_norm);
    m->all_logits = r->all_logits[k];
    m->outputs_per_seq = r->outputs_per_seq[k] ? r->outputs_per_seq[k] : 1;
    uint32_t n_sequences = r->n_sequences ? r->n_sequences : 1;
    tsr_model_scratch_bytes(q->gguf, c, r->registry, m->quantize, r->n_batch, r->n_threads,
                            m->all_logits, n_sequences * m->outputs_per_seq,
                            &m->activations_bytes,
                            &m->logits_bytes);
    return TSR_OK;
}

static void free_model_in(plan_model_in *m)
{
    free(m->tensors);
    free(m->layer_weights);
}

/* ---- the plan as a value ---------------------------------------------------- */

typedef struct extent_sink {
    tsr_plan_share *shares;
    tsr_status status;
} extent_sink;

static void add_extent(void *ctx, uint32_t device, uint64_t offset, uint64_t bytes)
{
    extent_sink *sink = ctx;
    tsr_plan_share *share = &sink->shares[device];
    if (offset == UINT64_MAX || sink->status != TSR_OK)
        return;
    tsr_plan_extent *grown = realloc(share->extents, (share->n_extents + 1) * sizeof *grown);
    if (!grown) {
        sink->status = TSR_ERR_NOMEM;
        return;
    }
    share->extents = grown;
    share->extents[share->n_extents++] = (tsr_plan_extent){offset, bytes};
}

static tsr_status build_model(const planner *p, const plan_layout *l, uint32_t k,
                              tsr_plan_model *out, tsr_error *err)
{
    const plan_model_in *m = &p->models[k];
    const plan_settings *s = &p->settings;
    uint32_t n = m->config.n_layer;
    out->role = (tsr_plan_role)k;
    out->path = strdup(m->path);
    out->quantize = m->request->quantize ? strdup(m->request->quantize) : NULL;
    out->layer_device = malloc(n * sizeof *out->layer_device);
    out->shares = calloc(p->n_devices, sizeof *out->shares);
    if (!out->path || (m->request->quantize && !out->quantize) || !out->layer_device ||
        !out->shares)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    out->n_devices = p->n_devices;
    out->params = m->params;
    out->n_layer = n;
    out->n_vocab = m->config.n_vocab;
    out->max_seq_len = s->max_seq_len[k];
    out->n_batch = tsr_model_default_n_batch(p->request->n_batch);
    out->n_threads = tsr_model_default_n_threads(p->request->n_threads);
    out->all_logits = m->all_logits;
    out->outputs_per_seq = m->outputs_per_seq;
    snprintf(out->cache_type, sizeof out->cache_type, "%s",
             m->request->cache_type ? m->request->cache_type : "f16");
    out->n_sequences = s->n_sequences;
    out->kv_layer_bytes = plan_kv_layer_bytes(p, s, k) / s->n_sequences;
    out->activations_bytes = m->activations_bytes;
    out->logits_bytes = m->logits_bytes;
    memcpy(out->layer_device, l->layer_device[k], n * sizeof *out->layer_device);
    out->input_device = out->layer_device[0];
    out->output_device = out->layer_device[n - 1];
    out->first_layer = m->first;
    out->end_layer = m->end;
    out->tied_output = m->config.tied_output;
    extent_sink sink = {out->shares, TSR_OK};
    plan_for_each_run(m, out->layer_device, add_extent, &sink);
    if (sink.status != TSR_OK)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (uint32_t d = 0; d < p->n_devices; d++) {
        tsr_plan_share *share = &out->shares[d];
        const plan_sums *sums = &l->sums[k][d];
        share->first_layer = sums->first;
        share->last_layer = sums->last;
        share->input = tsr_plan_has_input(out) && out->input_device == d;
        share->output = tsr_plan_has_output(out) && out->output_device == d;
        share->weights_bytes = sums->weights;
        share->kv_cache_bytes = sums->kv;
        share->scratch_bytes = sums->scratch;
        out->weights_bytes += sums->weights;
    }
    out->bits_per_weight = m->params ? (double)out->weights_bytes * 8.0 / (double)m->params : 0;
    return TSR_OK;
}

static tsr_status build_plan(const planner *p, const plan_layout *l, tsr_plan *plan,
                             tsr_error *err)
{
    const tsr_plan_request *r = p->request;
    plan->n_devices = p->n_devices;
    plan->split_auto = p->settings.split_auto;
    if (!(plan->devices = calloc(p->n_devices, sizeof *plan->devices)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (uint32_t d = 0; d < p->n_devices; d++) {
        tsr_plan_device *dev = &plan->devices[d];
        dev->spec = r->devices[d];
        dev->overhead_bytes = r->devices[d].overhead_bytes;
        dev->reserve_bytes = r->reserve_bytes;
        dev->split_bytes = p->settings.split_auto ? 0 : p->settings.split_bytes[d];
        dev->first_layer = l->sums[0][d].first;
        dev->last_layer = l->sums[0][d].last;
        for (uint32_t k = 0; k < p->n_models; k++) {
            dev->weights_bytes += l->sums[k][d].weights;
            dev->kv_cache_bytes += l->sums[k][d].kv;
            dev->scratch_bytes += l->sums[k][d].scratch;
        }
        dev->total_bytes = l->totals[d];
    }
    plan->n_models = p->n_models;
    for (uint32_t k = 0; k < p->n_models; k++) {
        tsr_status s = build_model(p, l, k, &plan->models[k], err);
        if (s != TSR_OK)
            return s;
    }
    return TSR_OK;
}

/* ---- making and freeing ----------------------------------------------------- */

static tsr_status check_request(const tsr_plan_request *r, tsr_error *err)
{
    if (r->n_models < 1 || r->n_models > TSR_PLAN_MAX_MODELS)
        return tsr_error_set(err, TSR_ERR_INVALID, "a plan needs a main model and at most a "
                             "draft (%u models given)", r->n_models);
    if (r->n_devices == 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "the allocator offers no devices to plan on");
    for (uint32_t k = 0; k < r->n_models; k++)
        if (!r->models[k].gguf)
            return tsr_error_set(err, TSR_ERR_INVALID, "the %s model's headers are not open",
                                 k ? "draft" : "main");
    return TSR_OK;
}

/* The split as planned: each entry at most what its device can give
 * weights, its capacity less the overhead and the reserve. */
static uint64_t *clamp_split(const tsr_plan_request *r)
{
    uint64_t *clamped = malloc(r->n_devices * sizeof *clamped);
    for (uint32_t d = 0; clamped && d < r->n_devices; d++) {
        uint64_t fixed = r->devices[d].overhead_bytes + r->reserve_bytes;
        uint64_t room = r->devices[d].capacity_bytes > fixed ? r->devices[d].capacity_bytes - fixed
                                                              : 0;
        clamped[d] = r->split_bytes[d] < room ? r->split_bytes[d] : room;
    }
    return clamped;
}

tsr_status tsr_plan_make(const tsr_plan_request *r, tsr_plan **out, tsr_error *err)
{
    *out = NULL;
    tsr_status s = check_request(r, err);
    if (s != TSR_OK)
        return s;
    planner p = {.request = r, .n_models = r->n_models, .n_devices = r->n_devices};
    uint64_t *clamped = NULL;
    tsr_plan *plan = calloc(1, sizeof *plan);
    plan_layout layout = {0};
    p.room = calloc(r->n_devices, sizeof *p.room);
    if (!plan || !p.room)
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (uint32_t k = 0; s == TSR_OK && k < p.n_models; k++)
        s = read_model(r, k, &p.models[k], err);
    if (s == TSR_OK) {
        plan_settings *set = &p.settings;
        set->n_models = p.n_models;
        set->n_sequences = r->n_sequences ? r->n_sequences : 1;
        for (uint32_t k = 0; k < p.n_models; k++) {
            uint32_t asked = r->models[k].max_seq_len;
            /* The main model's own context by default; the draft follows it. */
            set->max_seq_len[k] = asked ? asked
                                  : k == TSR_PLAN_MAIN ? p.models[0].config.n_ctx_train
                                                       : set->max_seq_len[TSR_PLAN_MAIN];
            p.models[k].max_seq_len = set->max_seq_len[k];
            set->cache_q[k] = p.models[k].cache_q;
            set->weight_scale[k] = 1.0;
        }
        /* A split of the wrong length is planned as auto (split-mismatch);
         * an entry is a ceiling, clamped to its device's room
         * (split-exceeds-device, a warning). */
        set->split_auto = r->split_auto || r->n_split != r->n_devices;
        set->split_bytes = r->split_bytes;
        if (!set->split_auto && !(clamped = clamp_split(r)))
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        set->split_bytes = clamped ? clamped : r->split_bytes;
        if (s == TSR_OK)
            s = plan_layout_init(&layout, &p, err);
    }
    if (s == TSR_OK) {
        plan_place(&p, &p.settings, &layout);
        plan_diagnose(&p, &layout, &plan->diags);
        plan_check_split(&p, &plan->diags);
        plan_check_device_kernels(&p, &layout, &plan->diags);
        s = build_plan(&p, &layout, plan, err);
    }
    if (s == TSR_OK && plan->diags.out_of_memory)
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK)
        plan->fits = layout.fits && tsr_diag_error_count(&plan->diags) == 0;
    plan_layout_free(&layout);
    for (uint32_t k = 0; k < p.n_models; k++)
        free_model_in(&p.models[k]);
    free(p.room);
    free(clamped);
    if (s != TSR_OK) {
        tsr_plan_free(plan);
        return s;
    }
    *out = plan;
    return TSR_OK;
}

void tsr_plan_free(tsr_plan *plan)
{
    if (!plan)
        return;
    for (uint32_t k = 0; k < TSR_PLAN_MAX_MODELS; k++) {
        tsr_plan_model *m = &plan->models[k];
        for (uint32_t d = 0; m->shares && d < m->n_devices; d++)
            free(m->shares[d].extents);
        free(m->shares);
        free(m->layer_device);
        free(m->path);
        free(m->quantize);
    }
    free(plan->devices);
    tsr_diagnostics_free(&plan->diags);
    free(plan);
}

/* ---- requests from elsewhere ------------------------------------------------ */

void tsr_plan_request_from_profile(const tsr_profile *profile, const tsr_registry *registry,
                                   const tsr_gguf *main_gguf, const tsr_gguf *draft_gguf,
                                   tsr_plan_device_spec *specs, uint32_t n_specs,
                                   tsr_plan_request *r)
{
    memset(r, 0, sizeof *r);
    const tsr_profile_devices *dev = &profile->devices;
    r->registry = registry;
    r->profile = profile;
    const tsr_profile_model *models[] = {&profile->model, &profile->draft};
    const tsr_gguf *ggufs[] = {main_gguf, draft_gguf};
    r->n_models = profile->has_draft && draft_gguf ? 2 : 1;
    for (uint32_t k = 0; k < r->n_models; k++) {
        r->models[k] = (tsr_plan_model_request){
            .gguf = ggufs[k],
            .path = models[k]->path,
            .max_seq_len = models[k]->max_seq_len,
            .cache_type = models[k]->cache_type,
            .quantize = models[k]->quantize,
        };
    }
    if (!dev->overhead_auto)
        for (uint32_t d = 0; d < n_specs; d++)
            specs[d].overhead_bytes = dev->overhead_bytes;
    r->devices = specs;
    r->n_devices = n_specs;
    r->split_auto = dev->split_auto;
    r->split_bytes = dev->split_bytes;
    r->n_split = (uint32_t)dev->n_split;
    r->reserve_bytes = dev->reserve_bytes;
    r->n_sequences = profile->has_server ? profile->server.parallel : 1;
    /* Verification scores the last token and every draft token at once. */
    if (profile->has_speculative)
        r->outputs_per_seq[TSR_PLAN_MAIN] = profile->speculative.tokens + 1;
}

uint32_t tsr_plan_output_rows(const tsr_plan_model *model)
{
    uint32_t n = model->n_sequences ? model->n_sequences : 1;
    return n * (model->outputs_per_seq ? model->outputs_per_seq : 1);
}

uint32_t tsr_plan_devices_from_alloc(const tsr_alloc_vtable *alloc, void *state,
                                     tsr_plan_device_spec *specs, uint32_t max_specs,
                                     tsr_error *err)
{
    uint32_t n = alloc->device_count(state);
    if (n == 0) {
        tsr_error_set(err, TSR_ERR_NOT_FOUND, "the allocator offers no devices");
        return 0;
    }
    if (n > max_specs) {
        tsr_error_set(err, TSR_ERR_UNSUPPORTED, "the allocator offers %u devices; the planner "
                      "handles at most %u", n, max_specs);
        return 0;
    }
    for (uint32_t d = 0; d < n; d++) {
        tsr_device_info info = {.struct_size = sizeof info};
        if (alloc->device_info(state, d, &info, err) != TSR_OK)
            return 0;
        memset(&specs[d], 0, sizeof specs[d]);
        memcpy(specs[d].name, info.name, sizeof specs[d].name);
        specs[d].name[sizeof specs[d].name - 1] = '\0';
        specs[d].capacity_bytes = info.capacity_bytes;
        specs[d].overhead_bytes = info.overhead_bytes;
        specs[d].device_kind = info.device_kind; /* 0 from a plugin older than ABI 1.2 */
    }
    return n;
}

tsr_status tsr_plan_single_device(const tsr_gguf *gguf, const tsr_registry *registry,
                                  const tsr_plan_model_request *model, uint32_t device,
                                  uint32_t n_threads, uint32_t n_batch, bool all_logits,
                                  tsr_plan **out, tsr_error *err)
{
    /* Devices before `device` exist but hold nothing: their capacity is 0
     * and the split gives them no weights. */
    uint32_t n = device + 1;
    tsr_plan_device_spec *specs = calloc(n, sizeof *specs);
    uint64_t *budgets = calloc(n, sizeof *budgets);
    if (!specs || !budgets) {
        free(specs);
        free(budgets);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    for (uint32_t d = 0; d < n; d++)
        snprintf(specs[d].name, sizeof specs[d].name, "device%u", d);
    specs[device].capacity_bytes = UINT64_MAX / 4;
    budgets[device] = UINT64_MAX / 4;
    tsr_plan_request r = {
        .registry = registry,
        .n_models = 1,
        .devices = specs,
        .n_devices = n,
        .split_auto = false,
        .split_bytes = budgets,
        .n_split = n,
        .n_threads = n_threads,
        .n_batch = n_batch,
    };
    r.models[0] = *model;
    r.models[0].gguf = gguf;
    r.all_logits[0] = all_logits;
    tsr_status s = tsr_plan_make(&r, out, err);
    free(specs);
    free(budgets);
    return s;
}
