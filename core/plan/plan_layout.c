/* The planner's layout step: which device each layer of each model goes to
 * (spread in proportion to room, or filling a manual split's budgets; the
 * draft whole where it fits), and what that puts on every device. It judges
 * nothing: plan_check.c turns a layout into diagnostics, and plan.c into the
 * plan. */
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

/* ---- units ------------------------------------------------------------------ */

static uint32_t device_of(const uint32_t *layer_device, uint32_t n_layer, int32_t unit)
{
    if (unit >= 0)
        return layer_device[unit];
    return unit == TSR_PLAN_UNIT_OUTPUT ? layer_device[n_layer - 1] : layer_device[0];
}

uint32_t tsr_plan_unit_device(const tsr_plan_model *model, int32_t unit)
{
    if (unit >= 0 && (uint32_t)unit >= model->n_layer)
        return model->output_device;
    return device_of(model->layer_device, model->n_layer, unit);
}

int32_t tsr_plan_stage_unit(const char *name, uint32_t n_layer, uint32_t first, uint32_t end,
                            bool tied_output)
{
    int32_t unit = tsr_llama_tensor_unit(name, n_layer);
    if (first == 0 && end == n_layer)
        return unit;
    if (unit >= 0)
        return (uint32_t)unit >= first && (uint32_t)unit < end ? unit : TSR_PLAN_UNIT_NONE;
    if (unit == TSR_PLAN_UNIT_OUTPUT)
        return end == n_layer ? unit : TSR_PLAN_UNIT_NONE;
    if (unit == TSR_PLAN_UNIT_INPUT &&
        strcmp(name, tsr_llama_tensor_info(TSR_LLAMA_TOKEN_EMBD)->name) == 0) {
        if (first == 0)
            return unit;
        return tied_output && end == n_layer ? TSR_PLAN_UNIT_OUTPUT : TSR_PLAN_UNIT_NONE;
    }
    return unit;
}

int32_t tsr_plan_model_unit(const tsr_plan_model *model, const char *name)
{
    return tsr_plan_stage_unit(name, model->n_layer, model->first_layer, model->end_layer,
                               model->tied_output);
}

/* Layers outside a stage take the device of the nearest layer it places,
 * so that the input and output units follow the stage's ends. */
static void fill_outside(const plan_model_in *m, uint32_t *layer_device)
{
    for (uint32_t l = 0; l < m->first; l++)
        layer_device[l] = layer_device[m->first];
    for (uint32_t l = m->end; l < m->config.n_layer; l++)
        layer_device[l] = layer_device[m->end - 1];
}

uint64_t plan_scaled(uint64_t bytes, double scale)
{
    return scale >= 1.0 ? bytes : (uint64_t)((double)bytes * scale);
}

uint64_t plan_kv_layer_bytes(const planner *p, const plan_settings *s, uint32_t k)
{
    return s->n_sequences *
           tsr_model_kv_layer_bytes(&p->models[k].config, s->cache_q[k], s->max_seq_len[k]);
}


/* ---- placement ------------------------------------------------------------- */

tsr_status plan_layout_init(plan_layout *l, const planner *p, tsr_error *err)
{
    memset(l, 0, sizeof *l);
    bool ok = (l->totals = calloc(p->n_devices, sizeof *l->totals)) != NULL;
    for (uint32_t k = 0; ok && k < p->n_models; k++)
        ok = (l->layer_device[k] = calloc(p->models[k].config.n_layer, sizeof(uint32_t))) &&
             (l->sums[k] = calloc(p->n_devices, sizeof(plan_sums)));
    if (!ok) {
        plan_layout_free(l);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    return TSR_OK;
}

void plan_layout_free(plan_layout *l)
{
    for (uint32_t k = 0; k < TSR_PLAN_MAX_MODELS; k++) {
        free(l->layer_device[k]);
        free(l->sums[k]);
    }
    free(l->totals);
    memset(l, 0, sizeof *l);
}

/* Spreads a model's layers over devices in proportion to room: a layer
 * goes to the device whose share of the cumulative cost (weights and K, V;
 * the input unit before the first layer, the output unit after the last)
 * its midpoint falls in. No room anywhere: evenly. */
static void spread(const plan_model_in *m, double scale, uint64_t kv_layer, const double *room,
                   uint32_t n_devices, uint32_t *layer_device)
{
    double total = (double)plan_scaled(m->input_weights + m->output_weights, scale);
    for (uint32_t l = m->first; l < m->end; l++)
        total += (double)plan_scaled(m->layer_weights[l], scale) + (double)kv_layer;
    double sum_room = 0;
    for (uint32_t d = 0; d < n_devices; d++)
        sum_room += room[d] > 0 ? room[d] : 0;
    uint32_t d = 0;
#define SHARE(i) (sum_room > 0 ? (room[i] > 0 ? room[i] : 0) / sum_room : 1.0 / n_devices)
    double bound = total * SHARE(0);
    double pos = (double)plan_scaled(m->input_weights, scale);
    for (uint32_t l = m->first; l < m->end; l++) {
        double cost = (double)plan_scaled(m->layer_weights[l], scale) + (double)kv_layer;
        double mid = pos + cost / 2;
        while (d + 1 < n_devices && mid > bound) {
            d++;
            bound += total * SHARE(d);
        }
        layer_device[l] = d;
        pos += cost;
    }
#undef SHARE
    fill_outside(m, layer_device);
}

/* Fills devices with the main model's weights up to each budget, in order;
 * returns the first layer no budget could hold, or -1. */
static int32_t fill_budgets(const plan_model_in *m, double scale, const uint64_t *budgets,
                            uint32_t n_devices, uint32_t *layer_device)
{
    uint32_t d = 0;
    uint64_t used = 0;
    int32_t first_over = -1;
    for (uint32_t l = m->first; l < m->end; l++) {
        uint64_t w = m->layer_weights[l] + (l == m->first ? m->input_weights : 0) +
                     (l + 1 == m->end ? m->output_weights : 0);
        w = plan_scaled(w, scale);
        while (d < n_devices && used + w > budgets[d]) {
            d++;
            used = 0;
        }
        if (d == n_devices) {
            layer_device[l] = n_devices - 1;
            if (first_over < 0)
                first_over = (int32_t)l;
            continue;
        }
        layer_device[l] = d;
        used += w;
    }
    fill_outside(m, layer_device);
    return first_over;
}

void plan_for_each_run(const plan_model_in *m, const uint32_t *layer_device,
                         void (*run)(void *ctx, uint32_t device, uint64_t offset,
                                     uint64_t bytes),
                         void *ctx)
{
    uint32_t n = m->config.n_layer, run_device = 0;
    uint64_t run_offset = 0, run_end = 0;
    bool open = false;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const plan_tensor *t = &m->tensors[i];
        if (t->unit == TSR_PLAN_UNIT_NONE) {
            if (open)
                run(ctx, run_device, run_offset, run_end - run_offset);
            open = false;
            continue;
        }
        uint32_t d = device_of(layer_device, n, t->unit);
        if (m->quantize) {
            run(ctx, d, UINT64_MAX, plan_align_up(t->placed_bytes));
            continue;
        }
        if (open && d == run_device) {
            run_end = t->offset + t->bytes;
            continue;
        }
        if (open)
            run(ctx, run_device, run_offset, run_end - run_offset);
        open = true;
        run_device = d;
        run_offset = t->offset;
        run_end = t->offset + t->bytes;
    }
    if (open)
        run(ctx, run_device, run_offset, run_end - run_offset);
}

static void add_run_bytes(void *ctx, uint32_t device, uint64_t offset, uint64_t bytes)
{
    plan_sums *sums = ctx;
    (void)offset;
    sums[device].weights += bytes;
}

/* Counts what one model, placed, puts on each device. */
static void account_model(const planner *p, const plan_settings *s, uint32_t k, plan_layout *l)
{
    const plan_model_in *m = &p->models[k];
    plan_sums *sums = l->sums[k];
    uint32_t n = m->config.n_layer;
    for (uint32_t d = 0; d < p->n_devices; d++)
        sums[d] = (plan_sums){0, 0, 0, TSR_PLAN_NO_LAYER, TSR_PLAN_NO_LAYER};
    uint64_t kv_layer = plan_kv_layer_bytes(p, s, k);
    for (uint32_t i = m->first; i < m->end; i++) {
        plan_sums *d = &sums[l->layer_device[k][i]];
        d->kv += kv_layer;
        if (d->first == TSR_PLAN_NO_LAYER)
            d->first = (int32_t)i;
        d->last = (int32_t)i;
    }
    plan_for_each_run(m, l->layer_device[k], add_run_bytes, sums);
    for (uint32_t d = 0; d < p->n_devices; d++) {
        sums[d].weights = plan_scaled(sums[d].weights, s->weight_scale[k]);
        if (sums[d].first != TSR_PLAN_NO_LAYER)
            sums[d].scratch += m->activations_bytes;
    }
    if (plan_holds_logits(m))
        sums[l->layer_device[k][n - 1]].scratch += m->logits_bytes;
}

/* What a model would take whole: its weights, every layer's K and V, and
 * its scratch with the logits. */
static uint64_t whole_footprint(const planner *p, const plan_settings *s, uint32_t k)
{
    const plan_model_in *m = &p->models[k];
    return plan_scaled(m->weights, s->weight_scale[k]) +
           (uint64_t)(m->end - m->first) * plan_kv_layer_bytes(p, s, k) +
           m->activations_bytes + (plan_holds_logits(m) ? m->logits_bytes : 0);
}

static uint64_t fixed_costs(const planner *p, uint32_t d)
{
    const tsr_plan_device_spec *spec = &p->request->devices[d];
    return spec->overhead_bytes + p->request->reserve_bytes;
}

bool plan_place(const planner *p, const plan_settings *s, plan_layout *l)
{
    const tsr_plan_request *r = p->request;
    uint32_t nd = p->n_devices;
    double *room = p->room;
    /* The main model. */
    const plan_model_in *first = &p->models[TSR_PLAN_MAIN];
    l->first_over_budget = -1;
    if (s->split_auto) {
        for (uint32_t d = 0; d < nd; d++) {
            room[d] = (double)r->devices[d].capacity_bytes - (double)fixed_costs(p, d) -
                      (double)first->activations_bytes;
            if (d + 1 == nd && plan_holds_logits(first))
                room[d] -= (double)first->logits_bytes;
        }
        spread(first, s->weight_scale[0], plan_kv_layer_bytes(p, s, 0), room, nd,
               l->layer_device[0]);
    } else {
        l->first_over_budget = fill_budgets(first, s->weight_scale[0], s->split_bytes, nd,
                                            l->layer_device[0]);
    }
    account_model(p, s, TSR_PLAN_MAIN, l);
    /* The draft, in the room the main model left. */
    if (s->n_models > 1) {
        const plan_model_in *draft = &p->models[TSR_PLAN_DRAFT];
        uint32_t best = 0;
        for (uint32_t d = 0; d < nd; d++) {
            const plan_sums *ms = &l->sums[0][d];
            room[d] = (double)r->devices[d].capacity_bytes - (double)fixed_costs(p, d) -
                      (double)(ms->weights + ms->kv + ms->scratch);
            if (room[d] > room[best])
                best = d;
        }
        if (room[best] >= (double)whole_footprint(p, s, TSR_PLAN_DRAFT)) {
            for (uint32_t i = 0; i < draft->config.n_layer; i++)
                l->layer_device[1][i] = best;
        } else {
            for (uint32_t d = 0; d < nd; d++)
                room[d] -= (double)draft->activations_bytes;
            room[nd - 1] -= (double)draft->logits_bytes;
            spread(draft, s->weight_scale[1], plan_kv_layer_bytes(p, s, 1), room, nd,
                   l->layer_device[1]);
        }
        account_model(p, s, TSR_PLAN_DRAFT, l);
    }
    l->fits = l->first_over_budget < 0;
    for (uint32_t d = 0; d < nd; d++) {
        l->totals[d] = fixed_costs(p, d);
        for (uint32_t k = 0; k < s->n_models; k++)
            l->totals[d] += l->sums[k][d].weights + l->sums[k][d].kv + l->sums[k][d].scratch;
        if (l->totals[d] > r->devices[d].capacity_bytes)
            l->fits = false;
    }
    return l->fits;
}
