/* Loading weights re-quantized to another format (model.quantize), as the
 * plan sizes them: on each device one arena of the plan's weight bytes, the
 * placed tensors in file order inside it, each at a 64-byte boundary. A
 * matrix whose rows are whole blocks of the target is dequantized row by row
 * with its own format's plugin and quantized with the target's (its scalar
 * reference, which is what llama.cpp's quantizer computes, byte for byte);
 * every other tensor (norms, rows the target's blocks do not divide) is
 * copied as the file stores it and computes in its own format. The core
 * names no format: the plugins' vtables do the work. */
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "model_internal.h"
#include "requant.h"

enum { ALIGN = 64, PROGRESS_STEPS = 100 };

static uint64_t align_up(uint64_t n)
{
    return (n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

static const char *type_name(uint32_t type)
{
    const tsr_ggml_type_info *info = tsr_ggml_type(type);
    return info ? info->name : "unknown";
}

static const char *role_key(const tsr_plan_model *plan)
{
    return plan->role == TSR_PLAN_DRAFT ? "draft.quantize" : "model.quantize";
}

tsr_status tsr_model_requant_target(const tsr_registry *registry, const tsr_plan_model *plan,
                                    const tsr_quant_vtable **out, tsr_error *err)
{
    *out = NULL;
    if (!plan->quantize)
        return TSR_OK;
    const tsr_quant_vtable *q =
        tsr_plugin_quant(tsr_registry_find(registry, TSR_PLUGIN_QUANT, plan->quantize));
    if (!q)
        return tsr_error_set(err, TSR_ERR_NOT_FOUND, "%s %s: no quant plugin of that name is "
                             "loaded; check the name and the plugin search path",
                             role_key(plan), plan->quantize);
    if (!q->quantize_reference || !q->block_elems || !q->matvec ||
        (q->flags & TSR_QUANT_ACTIVATION))
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s %s: that plugin cannot quantize "
                             "weights and compute with them; `tessera plugins -v` lists the "
                             "formats that can", role_key(plan), plan->quantize);
    *out = q;
    return TSR_OK;
}

/* One tensor to fill: where its bytes come from and go, and in which forms. */
typedef struct requant_tensor {
    const tsr_gguf_tensor *tensor;
    const tsr_quant_vtable *from;  /* its file format; NULL: copied, no plugin needed */
    const tsr_quant_vtable *to;    /* the target, or NULL: copied as stored */
    uint32_t device;
    uint64_t offset, bytes;        /* in its device's arena, unaligned size */
} requant_tensor;

static size_t row_bytes(const tsr_quant_vtable *q, int64_t cols)
{
    return (size_t)(cols / q->block_elems) * q->block_bytes;
}

static void requant_rows(void *ctx, uint32_t thread, uint32_t n_threads)
{
    const tsr_requant_rows *j = ctx;
    size_t src_row_bytes = row_bytes(j->from, j->cols), dst_row_bytes = row_bytes(j->to, j->cols);
    int64_t begin, end;
    tsr_split_range(j->n_rows, 1, thread, n_threads, &begin, &end);
    float *row = j->scratch + (size_t)thread * (size_t)j->cols;
    for (int64_t r = begin; r < end; r++) {
        j->from->dequantize(j->src + (size_t)r * src_row_bytes, row, j->cols);
        j->to->quantize_reference(row, j->dst + (size_t)r * dst_row_bytes, j->cols);
    }
}

void tsr_requant_run(tsr_threadpool *pool, const tsr_requant_rows *job)
{
    tsr_threadpool_run(pool, requant_rows, (void *)job);
}

static int compare_file_order(const void *a, const void *b)
{
    const requant_tensor *x = a, *y = b;
    return x->tensor->offset < y->tensor->offset ? -1 : x->tensor->offset > y->tensor->offset;
}

/* The placed tensors in file order, their formats checked and their places
 * in the arenas laid out; nothing is reserved yet, so a refusal costs
 * nothing. *max_cols: the longest row re-quantized. */
static tsr_status list_tensors(tsr_model *m, requant_tensor **out, size_t *n_out,
                               int64_t *max_cols, tsr_error *err)
{
    const tsr_plan_model *p = m->plan;
    const tsr_registry *registry = m->options.registry;
    const char *path = tsr_gguf_path(m->gguf);
    uint64_t n_tensors = tsr_gguf_tensor_count(m->gguf);
    requant_tensor *list = calloc(n_tensors ? n_tensors : 1, sizeof *list);
    uint64_t *used = calloc(p->n_devices, sizeof *used);
    if (!list || !used) {
        free(list);
        free(used);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    tsr_status s = TSR_OK;
    *max_cols = 0;
    for (uint64_t i = 0; s == TSR_OK && i < n_tensors; i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(m->gguf, i);
        int32_t unit = tsr_plan_model_unit(p, t->name);
        if (unit == TSR_LLAMA_UNIT_NONE)
            continue;
        requant_tensor *r = &list[n++];
        r->tensor = t;
        r->device = tsr_plan_unit_device(p, unit);
        r->from = tsr_plugin_quant(tsr_registry_find_quant(registry, t->type));
        r->bytes = tsr_tensor_bytes(registry, t);
        if (!t->data)
            s = tsr_error_set(err, TSR_ERR_INVALID, "%s: opened with headers only; re-quantizing "
                              "needs the tensor data", path);
        else if (!tsr_model_tensor_requantized(t, m->quantize) || t->type == m->quantize->gguf_type)
            continue; /* copied: as stored, or already in the target's format */
        else if (!r->from || !r->from->dequantize)
            s = tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s: tensor %s is of type %s, which no "
                              "loaded quant plugin can dequantize, so it cannot be re-quantized "
                              "to %s; add a plugin for %s to the search path, or remove %s",
                              path, t->name, type_name(t->type), p->quantize,
                              type_name(t->type), role_key(p));
        else if (t->dims[0] % r->from->block_elems)
            s = tsr_error_set(err, TSR_ERR_FORMAT, "%s: tensor %s has rows of %llu values, not a "
                              "whole number of %s blocks", path, t->name,
                              (unsigned long long)t->dims[0], type_name(t->type));
        else {
            r->to = m->quantize;
            r->bytes = t->n_elems / r->to->block_elems * r->to->block_bytes;
            if ((int64_t)t->dims[0] > *max_cols)
                *max_cols = (int64_t)t->dims[0];
        }
    }
    if (s == TSR_OK) {
        qsort(list, n, sizeof *list, compare_file_order);
        for (size_t i = 0; i < n; i++) {
            list[i].offset = used[list[i].device];
            used[list[i].device] += align_up(list[i].bytes);
        }
        for (uint32_t d = 0; s == TSR_OK && d < p->n_devices; d++)
            if (used[d] != p->shares[d].weights_bytes)
                s = tsr_error_set(err, TSR_ERR_INTERNAL, "the plan gives device %u %llu bytes of "
                                  "re-quantized weights; its tensors need %llu", d,
                                  (unsigned long long)p->shares[d].weights_bytes,
                                  (unsigned long long)used[d]);
    }
    free(used);
    if (s != TSR_OK) {
        free(list);
        return s;
    }
    *out = list;
    *n_out = n;
    return TSR_OK;
}

/* Each device's weight arena, as the plan sizes it; arenas[d] stays NULL on
 * a device without weights. */
static tsr_status reserve_arenas(tsr_model *m, uint8_t **arenas, tsr_error *err)
{
    const tsr_plan_model *p = m->plan;
    const tsr_alloc_vtable *a = m->options.alloc;
    for (uint32_t d = 0; d < p->n_devices; d++) {
        uint64_t bytes = p->shares[d].weights_bytes;
        if (!bytes)
            continue;
        void *arena;
        tsr_status s = a->reserve(m->options.alloc_state, d, bytes, ALIGN, &arena, err);
        if (s != TSR_OK)
            return tsr_error_prefix(err, "%s: %llu bytes of weights re-quantized to %s",
                                    tsr_gguf_path(m->gguf), (unsigned long long)bytes,
                                    p->quantize);
        if ((s = tsr_model_remember_arena(m, d, arena, err)) != TSR_OK) {
            a->release(m->options.alloc_state, d, arena);
            return s;
        }
        arenas[d] = arena;
    }
    return TSR_OK;
}

/* Reports progress: done of total bytes written. */
static void report(tsr_model *m, uint64_t done, uint64_t total)
{
    if (m->options.progress && !m->cancelled &&
        !m->options.progress(m->options.progress_ctx, total ? (double)done / (double)total : 1.0))
        m->cancelled = true;
}

/* Fills one tensor, in dispatches of about total / PROGRESS_STEPS bytes so
 * that the progress bar moves inside the big ones. */
static void fill_tensor(tsr_model *m, const requant_tensor *r, uint8_t *dst, float *scratch,
                        uint64_t *done, uint64_t total)
{
    const tsr_gguf_tensor *t = r->tensor;
    if (!r->to) {
        memcpy(dst, t->data, r->bytes);
        *done += r->bytes;
        report(m, *done, total);
        return;
    }
    int64_t cols = (int64_t)t->dims[0], rows = (int64_t)(t->n_elems / t->dims[0]);
    size_t src_row_bytes = row_bytes(r->from, cols), dst_row_bytes = row_bytes(r->to, cols);
    uint64_t step_bytes = total / PROGRESS_STEPS + 1;
    int64_t step_rows = (int64_t)(step_bytes / dst_row_bytes) + 1;
    for (int64_t row = 0; row < rows && !m->cancelled; row += step_rows) {
        tsr_requant_rows job = {
            .src = (const uint8_t *)t->data + (size_t)row * src_row_bytes,
            .dst = dst + (size_t)row * dst_row_bytes,
            .from = r->from,
            .to = r->to,
            .cols = cols,
            .n_rows = row + step_rows < rows ? step_rows : rows - row,
            .scratch = scratch,
        };
        tsr_requant_run(m->pool, &job);
        *done += (uint64_t)job.n_rows * dst_row_bytes;
        report(m, *done, total);
    }
}

tsr_status tsr_model_load_requantized(tsr_model *m, tsr_error *err)
{
    const tsr_plan_model *p = m->plan;
    requant_tensor *list = NULL;
    size_t n = 0;
    int64_t max_cols = 0;
    tsr_status s = list_tensors(m, &list, &n, &max_cols, err);
    if (s != TSR_OK)
        return s;
    uint32_t n_threads = tsr_threadpool_n_threads(m->pool);
    uint8_t **arenas = calloc(p->n_devices, sizeof *arenas);
    float *rows = malloc((size_t)n_threads * (size_t)(max_cols ? max_cols : 1) * sizeof *rows);
    m->held = calloc(n ? n : 1, sizeof *m->held);
    if (!arenas || !rows || !m->held)
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK)
        s = reserve_arenas(m, arenas, err);
    if (s == TSR_OK) {
        uint64_t total = 0, done = 0;
        for (size_t i = 0; i < n; i++)
            total += list[i].bytes;
        for (size_t i = 0; i < n && !m->cancelled; i++) {
            uint8_t *dst = arenas[list[i].device] + list[i].offset;
            fill_tensor(m, &list[i], dst, rows, &done, total);
            /* The file's bytes are not read again: RSS is the weights held. */
            tsr_gguf_drop_tensor_pages(m->gguf, list[i].tensor);
            m->held[i] = (tsr_model_tensor){list[i].tensor, list[i].to ? list[i].to
                                                                       : list[i].from, dst};
        }
        m->n_held = n;
        report(m, total, total);
    }
    free(rows);
    free(arenas);
    free(list);
    return s;
}
