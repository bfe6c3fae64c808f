/* Loading a Llama-family model: exactly what its plan (core/plan/plan.h) says —
 * each device's runs of weights mapped (or read) through the allocator, or
 * re-quantized into arenas of the plan's size (core/model/model_requant.c), its
 * layers' KV cache and its scratch arena reserved once — and nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "loader.h"
#include "model_internal.h"

enum { ALIGN = 64 };

static const tsr_quant_vtable *quant_for_type(const tsr_registry *reg, uint32_t type)
{
    return tsr_plugin_quant(tsr_registry_find_quant(reg, type));
}

/* The names of every quant plugin, for "no plugin claims X" messages. */
static void list_quant_plugins(const tsr_registry *reg, char *buf, size_t bytes)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tsr_registry_count(reg); i++) {
        const tsr_plugin *p = tsr_registry_get(reg, i);
        if (p->kind != TSR_PLUGIN_QUANT)
            continue;
        int n = snprintf(buf + used, bytes - used, "%s%s", used ? ", " : "", p->name);
        if (n < 0 || (size_t)n >= bytes - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, bytes, "none");
}

static const char *type_name(uint32_t type)
{
    const tsr_ggml_type_info *info = tsr_ggml_type(type);
    return info ? info->name : "unknown";
}

/* The tensor as the model holds it in memory it filled itself (weights
 * re-quantized at load), or NULL when it maps or reads the file's bytes. */
static const tsr_model_tensor *held_tensor(const tsr_model *m, const tsr_gguf_tensor *t)
{
    for (size_t i = 0; i < m->n_held; i++)
        if (m->held[i].tensor == t)
            return &m->held[i];
    return NULL;
}

/* Where the tensor's bytes lie in memory: inside the run its plan put on its
 * unit's device. NULL (with err set) when the plan did not place it there. */
static const uint8_t *tensor_data(tsr_model *m, const tsr_gguf_tensor *t, tsr_error *err)
{
    const tsr_model_tensor *held = held_tensor(m, t);
    if (held)
        return held->data;
    if (m->held) {
        tsr_error_set(err, TSR_ERR_INTERNAL, "%s: tensor %s is not among the weights loaded",
                      tsr_gguf_path(m->gguf), t->name);
        return NULL;
    }
    int32_t unit = tsr_plan_model_unit(m->plan, t->name);
    if (unit == TSR_PLAN_UNIT_NONE) {
        tsr_error_set(err, TSR_ERR_INTERNAL, "%s: tensor %s is outside the layers %u to %u "
                      "this model holds", tsr_gguf_path(m->gguf), t->name,
                      m->plan->first_layer, m->plan->end_layer - 1);
        return NULL;
    }
    uint32_t device = tsr_plan_unit_device(m->plan, unit);
    uint64_t bytes = tsr_tensor_bytes(m->options.registry, t);
    for (size_t i = 0; i < m->n_extents; i++) {
        const tsr_model_extent *e = &m->extents[i];
        if (e->device == device && t->offset >= e->offset &&
            t->offset + bytes <= e->offset + e->bytes)
            return e->data + (t->offset - e->offset);
    }
    tsr_error_set(err, TSR_ERR_INTERNAL, "%s: tensor %s is not in the weights planned for "
                  "device %u", tsr_gguf_path(m->gguf), t->name, device);
    return NULL;
}

/* Binds one weight: its bytes in the mapping, its plugin, its activation form. */
static tsr_status bind_weight(tsr_model *m, const char *name, int64_t rows, int64_t cols,
                              tsr_weight *w, tsr_error *err)
{
    const char *path = tsr_gguf_path(m->gguf);
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(m->gguf, name);
    if (!t)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: no tensor %s", path, name);
    if ((int64_t)t->dims[0] != cols || (int64_t)t->dims[1] != rows || t->n_dims > 2)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: tensor %s is %llu x %llu, the model's shape needs %lld x %lld",
                             path, name, (unsigned long long)t->dims[0],
                             (unsigned long long)t->dims[1], (long long)cols, (long long)rows);
    /* Re-quantized, it is in the target's format; otherwise as stored. */
    const tsr_model_tensor *held = held_tensor(m, t);
    const tsr_quant_vtable *q = held && held->q ? held->q
                                                : quant_for_type(m->options.registry, t->type);
    uint32_t type = q ? q->gguf_type : t->type;
    if (!q || (q->flags & TSR_QUANT_ACTIVATION)) {
        char known[512];
        list_quant_plugins(m->options.registry, known, sizeof known);
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                             "%s: tensor %s is of type %s (GGUF type %u), and no quant plugin on "
                             "the search path computes with it (loaded: %s)",
                             path, name, type_name(type), type, known);
    }
    const tsr_quant_vtable *act = quant_for_type(m->options.registry, q->act_gguf_type);
    if (!act || !act->quantize)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                             "%s: tensor %s (%s) wants activations as %s, and no loaded quant "
                             "plugin produces that form",
                             path, name, type_name(type), type_name(q->act_gguf_type));
    if (cols % q->block_elems || cols % act->block_elems)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: tensor %s has rows of %lld values, not a whole number of %s "
                             "blocks", path, name, (long long)cols, type_name(type));
    w->name = t->name;
    w->q = q;
    w->act = act;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)(cols / q->block_elems) * q->block_bytes;
    w->data = tensor_data(m, t, err);
    return w->data ? TSR_OK : TSR_ERR_INTERNAL;
}

static tsr_status bind_vector(tsr_model *m, const char *name, int64_t n, const float **out,
                              tsr_error *err)
{
    const char *path = tsr_gguf_path(m->gguf);
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(m->gguf, name);
    if (!t)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: no tensor %s", path, name);
    if (t->type != 0 /* f32 */ || (int64_t)t->n_elems != n)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: tensor %s should hold %lld f32 values; it holds %llu of type %s",
                             path, name, (long long)n, (unsigned long long)t->n_elems,
                             type_name(t->type));
    *out = (const float *)tensor_data(m, t, err);
    return *out ? TSR_OK : TSR_ERR_INTERNAL;
}

/* Binds tensor id (of layer, for a layer's) with the shape the table gives
 * it: a vector to *vector, a matrix to *weight. name: the file's, or NULL. */
static tsr_status bind_tensor(tsr_model *m, tsr_llama_tensor_id id, uint32_t layer,
                              const char *name, const float **vector, tsr_weight *weight,
                              tsr_error *err)
{
    char buf[96];
    int64_t rows, cols;
    tsr_llama_tensor_shape(&m->config, id, &rows, &cols);
    if (!name)
        name = tsr_llama_tensor_name(id, layer, buf, sizeof buf);
    if (tsr_llama_tensor_info(id)->vector)
        return bind_vector(m, name, rows, vector, err);
    return bind_weight(m, name, rows, cols, weight, err);
}

/* Binds what the plan placed: a stage's layers, the token embedding on the
 * first stage, the output head on the last, rope_freqs on every one. */
static tsr_status bind_all(tsr_model *m, tsr_error *err)
{
    const tsr_llama_config *c = &m->config;
    tsr_status s = TSR_OK;
    if (tsr_plan_has_input(m->plan)) {
        s = bind_tensor(m, TSR_LLAMA_TOKEN_EMBD, 0, NULL, NULL, &m->token_embd, err);
        if (s == TSR_OK && !m->token_embd.q->dequantize)
            s = tsr_error_set(err, TSR_ERR_UNSUPPORTED, "token_embd.weight cannot be "
                              "dequantized");
    }
    if (s == TSR_OK && tsr_plan_has_output(m->plan))
        s = bind_tensor(m, TSR_LLAMA_OUTPUT_NORM, 0, NULL, &m->output_norm, NULL, err);
    /* A tied head reads the token embedding, in the output's shape. */
    if (s == TSR_OK && tsr_plan_has_output(m->plan))
        s = bind_tensor(m, TSR_LLAMA_OUTPUT, 0,
                        c->tied_output ? tsr_llama_tensor_info(TSR_LLAMA_TOKEN_EMBD)->name : NULL,
                        NULL, &m->output, err);
    if (s == TSR_OK &&
        tsr_gguf_find_tensor(m->gguf, tsr_llama_tensor_info(TSR_LLAMA_ROPE_FREQS)->name))
        s = bind_tensor(m, TSR_LLAMA_ROPE_FREQS, 0, NULL, &m->rope_freqs, NULL, err);
    for (uint32_t i = m->plan->first_layer; s == TSR_OK && i < m->plan->end_layer; i++) {
        tsr_layer *l = &m->layers[i];
        const struct {
            tsr_llama_tensor_id id;
            const float **vector;
            tsr_weight *weight;
        } binds[] = {
            {TSR_LLAMA_ATTN_NORM, &l->attn_norm, NULL}, {TSR_LLAMA_FFN_NORM, &l->ffn_norm, NULL},
            {TSR_LLAMA_ATTN_Q, NULL, &l->wq},           {TSR_LLAMA_ATTN_K, NULL, &l->wk},
            {TSR_LLAMA_ATTN_V, NULL, &l->wv},           {TSR_LLAMA_ATTN_OUTPUT, NULL, &l->wo},
            {TSR_LLAMA_FFN_GATE, NULL, &l->w_gate},     {TSR_LLAMA_FFN_UP, NULL, &l->w_up},
            {TSR_LLAMA_FFN_DOWN, NULL, &l->w_down},
        };
        for (size_t k = 0; s == TSR_OK && k < sizeof binds / sizeof binds[0]; k++)
            s = bind_tensor(m, binds[k].id, i, NULL, binds[k].vector, binds[k].weight, err);
    }
    return s;
}

tsr_status tsr_model_remember_arena(tsr_model *m, uint32_t device, void *ptr, tsr_error *err)
{
    tsr_model_arena *grown = realloc(m->arenas, (m->n_arenas + 1) * sizeof *grown);
    if (!grown)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    m->arenas = grown;
    m->arenas[m->n_arenas++] = (tsr_model_arena){device, ptr};
    return TSR_OK;
}

static uint64_t total_weight_bytes(const tsr_model *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_extents; i++)
        n += m->extents[i].bytes;
    return n;
}

/* Touches every page of the mapped weights once, reporting progress, so
 * that the first token does not pay for page faults and the user sees the
 * load. done counts what was read rather than mapped. */
static void prefault_weights(tsr_model *m, uint64_t done)
{
    uint64_t total = total_weight_bytes(m), step = 4096, chunk = total / 100 + 1;
    uint8_t sum = 0;
    for (size_t k = 0; k < m->n_extents; k++) {
        const volatile uint8_t *p = m->extents[k].data;
        for (uint64_t i = 0; i < m->extents[k].bytes; i += step, done += step) {
            sum ^= p[i];
            if (m->options.progress && done / chunk != (done + step) / chunk &&
                !m->options.progress(m->options.progress_ctx, (double)done / (double)total)) {
                m->cancelled = true;
                return;
            }
        }
    }
    if (m->options.progress && !m->options.progress(m->options.progress_ctx, 1.0))
        m->cancelled = true;
    (void)sum;
}

/* Maps one run of weights onto its device, or reserves and reads it there
 * when the device cannot map files; *read_bytes grows by what was read. */
static tsr_status load_extent(tsr_model *m, int fd, uint32_t device, const tsr_plan_extent *e,
                              tsr_model_extent *out, uint64_t *read_bytes, tsr_error *err)
{
    const tsr_alloc_vtable *a = m->options.alloc;
    const char *path = tsr_gguf_path(m->gguf);
    uint64_t offset = tsr_gguf_data_offset(m->gguf) + e->offset;
    const void *arena = NULL;
    tsr_status s = TSR_ERR_UNSUPPORTED;
    if (a->map_file)
        s = a->map_file(m->options.alloc_state, device, fd, offset, e->bytes, &arena, err);
    if (s == TSR_ERR_UNSUPPORTED) {
        void *buf;
        s = a->reserve(m->options.alloc_state, device, e->bytes, ALIGN, &buf, err);
        if (s == TSR_OK && (s = tsr_model_remember_arena(m, device, buf, err)) != TSR_OK)
            a->release(m->options.alloc_state, device, buf);
        for (uint64_t done = 0; s == TSR_OK && done < e->bytes;) {
            uint64_t want = e->bytes - done > (1u << 26) ? (1u << 26) : e->bytes - done;
            ssize_t n = pread(fd, (uint8_t *)buf + done, want, (off_t)(offset + done));
            if (n <= 0)
                s = tsr_error_set(err, TSR_ERR_IO, "%s: read failed at byte %llu", path,
                                  (unsigned long long)(offset + done));
            else
                done += (uint64_t)n;
        }
        *read_bytes += e->bytes;
        arena = buf;
    } else if (s == TSR_OK &&
               (s = tsr_model_remember_arena(m, device, (void *)arena, err)) != TSR_OK) {
        a->release(m->options.alloc_state, device, (void *)arena);
    }
    if (s == TSR_OK)
        *out = (tsr_model_extent){device, e->offset, e->bytes, arena};
    return s;
}

/* The forward pass runs on the CPU: a device the plan gives something to
 * must be memory the CPU addresses. A CUDA device (alloc/cuda) is not: the
 * planner plans for it, and loading onto it is refused here, before a byte
 * is read, rather than crashing the first product. (An ABI 1.0 allocator
 * sets no flags and no kind: a CPU device, as it always was.) */
static tsr_status check_devices_addressable(const tsr_model *m, tsr_error *err)
{
    const tsr_plan_model *p = m->plan;
    const tsr_alloc_vtable *a = m->options.alloc;
    for (uint32_t d = 0; d < p->n_devices; d++) {
        const tsr_plan_share *share = &p->shares[d];
        if (!share->weights_bytes && !share->kv_cache_bytes && !share->scratch_bytes)
            continue;
        tsr_device_info info = {.struct_size = sizeof info};
        tsr_status s = a->device_info(m->options.alloc_state, d, &info, err);
        if (s != TSR_OK)
            return s;
        info.name[sizeof info.name - 1] = '\0';
        if (info.device_kind != TSR_DEVICE_KIND_CPU && !(info.flags & TSR_DEVICE_HOST_MEMORY))
            return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s: cannot load onto %s, a %s "
                                 "device whose memory the CPU cannot address: this build runs "
                                 "the forward pass on the CPU only (`tessera plan` plans for "
                                 "it; to run, use devices.allocator: host)",
                                 tsr_gguf_path(m->gguf), info.name,
                                 info.device_kind == TSR_DEVICE_KIND_CUDA ? "CUDA" : "non-CPU");
    }
    return TSR_OK;
}

/* Every device's runs of weights, as the plan lists them. */
static tsr_status load_weights(tsr_model *m, tsr_error *err)
{
    const tsr_plan_model *p = m->plan;
    const char *path = tsr_gguf_path(m->gguf);
    if (m->quantize)
        return tsr_model_load_requantized(m, err);
    size_t n = 0;
    for (uint32_t d = 0; d < p->n_devices; d++)
        n += p->shares[d].n_extents;
    if (!(m->extents = calloc(n ? n : 1, sizeof *m->extents)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    uint64_t end = 0;
    for (uint32_t d = 0; d < p->n_devices; d++)
        for (size_t i = 0; i < p->shares[d].n_extents; i++) {
            const tsr_plan_extent *e = &p->shares[d].extents[i];
            if (e->offset + e->bytes > end)
                end = e->offset + e->bytes;
        }
    uint64_t data = tsr_gguf_data_offset(m->gguf);
    if (data + end > tsr_gguf_file_size(m->gguf))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tensor data ends at byte %llu, past the "
                             "end of the %llu-byte file", path, (unsigned long long)(data + end),
                             (unsigned long long)tsr_gguf_file_size(m->gguf));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot open: %m", path);
    tsr_status s = TSR_OK;
    uint64_t read_bytes = 0;
    for (uint32_t d = 0; s == TSR_OK && d < p->n_devices; d++)
        for (size_t i = 0; s == TSR_OK && i < p->shares[d].n_extents; i++) {
            s = load_extent(m, fd, d, &p->shares[d].extents[i], &m->extents[m->n_extents], &read_bytes,
                            err);
            if (s == TSR_OK)
                m->n_extents++;
        }
    close(fd);
    if (s == TSR_OK)
        prefault_weights(m, read_bytes);
    return s;
}

/* Each device's KV cache (its layers' K and V, layer after layer) and its
 * scratch arena, as the plan sizes them. */
static tsr_status reserve_cache_and_scratch(tsr_model *m, tsr_error *err)
{
    const tsr_plan_model *p = m->plan;
    const tsr_alloc_vtable *a = m->options.alloc;
    for (uint32_t d = 0; d < p->n_devices; d++) {
        const tsr_plan_share *share = &p->shares[d];
        uint8_t *kv = NULL, *scratch = NULL;
        tsr_status s = TSR_OK;
        if (share->kv_cache_bytes &&
            (s = a->reserve(m->options.alloc_state, d, share->kv_cache_bytes, ALIGN,
                            (void **)&kv, err)) == TSR_OK &&
            (s = tsr_model_remember_arena(m, d, kv, err)) != TSR_OK)
            a->release(m->options.alloc_state, d, kv);
        if (s == TSR_OK && share->scratch_bytes &&
            (s = a->reserve(m->options.alloc_state, d, share->scratch_bytes, ALIGN,
                            (void **)&scratch, err)) == TSR_OK &&
            (s = tsr_model_remember_arena(m, d, scratch, err)) != TSR_OK)
            a->release(m->options.alloc_state, d, scratch);
        if (s != TSR_OK)
            return s;
        uint64_t used = 0;
        for (uint32_t i = p->first_layer; i < p->end_layer; i++) {
            if (p->layer_device[i] != d)
                continue;
            m->layers[i].k_cache = kv + used;
            m->layers[i].v_cache = kv + used + m->kv_layer_bytes;
            m->layers[i].scratch = scratch;
            used += 2 * m->kv_layer_bytes;
        }
        if (used != share->kv_cache_bytes)
            return tsr_error_set(err, TSR_ERR_INTERNAL, "the plan gives device %u %llu bytes of "
                                 "KV cache; its layers need %llu", d,
                                 (unsigned long long)share->kv_cache_bytes,
                                 (unsigned long long)used);
        uint64_t want = used ? m->layout.logits : 0;
        if (d == p->output_device && tsr_plan_holds_logits(p))
            want += m->layout.total - m->layout.logits;
        if (want != share->scratch_bytes)
            return tsr_error_set(err, TSR_ERR_INTERNAL, "the plan gives device %u %llu bytes of "
                                 "scratch; the forward pass lays out %llu", d,
                                 (unsigned long long)share->scratch_bytes,
                                 (unsigned long long)want);
    }
    m->input_scratch = m->layers[p->first_layer].scratch;
    m->output_scratch = m->layers[p->end_layer - 1].scratch;
    m->scratch = m->input_scratch;
    return TSR_OK;
}

/* The decode's buffers: every per-row and per-sequence array, sized once. */
static tsr_status open_decode_buffers(tsr_model *m, uint32_t n_sequences, tsr_error *err)
{
    size_t nb = m->layout.n_batch;
    m->n_sequences = n_sequences;
    m->seq_len = calloc(n_sequences, sizeof *m->seq_len);
    m->seq_next = calloc(n_sequences, sizeof *m->seq_next);
    m->runs = calloc(nb, sizeof *m->runs);
    m->out_rows = calloc(nb, sizeof *m->out_rows);
    m->row_out = calloc(nb, sizeof *m->row_out);
    m->eval_pos = calloc(nb, sizeof *m->eval_pos);
    m->eval_seq = calloc(nb, sizeof *m->eval_seq);
    m->eval_out = calloc(nb, sizeof *m->eval_out);
    if (!m->seq_len || !m->seq_next || !m->runs || !m->out_rows || !m->row_out ||
        !m->eval_pos || !m->eval_seq || !m->eval_out)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the decode's buffers "
                             "(%zu rows, %u sequences)", nb, n_sequences);
    return TSR_OK;
}

static void close_decode_buffers(tsr_model *m)
{
    free(m->seq_len);
    free(m->seq_next);
    free(m->runs);
    free(m->out_rows);
    free(m->row_out);
    free(m->eval_pos);
    free(m->eval_seq);
    free(m->eval_out);
}

tsr_status tsr_model_open(const tsr_gguf *gguf, const tsr_model_options *options,
                          tsr_model **out, tsr_error *err)
{
    *out = NULL;
    if (!options->registry || !options->alloc)
        return tsr_error_set(err, TSR_ERR_INVALID, "a model needs plugins and an allocator");
    tsr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    m->gguf = gguf;
    m->options = *options;
    tsr_status s = tsr_llama_config_read(gguf, &m->config, err);
    if (s == TSR_OK && !options->plan) {
        tsr_plan_model_request request = {
            .gguf = gguf,
            .max_seq_len = options->max_seq_len,
            .cache_type = options->cache_type,
            .quantize = options->quantize,
        };
        s = tsr_plan_single_device(gguf, options->registry, &request, options->device,
                                   options->n_threads, options->n_batch, options->all_logits,
                                   &m->own_plan, err);
    }
    if (s == TSR_OK)
        m->plan = options->plan ? options->plan : &m->own_plan->models[0];
    const tsr_plan_model *p = m->plan;
    if (s == TSR_OK && p->n_layer != m->config.n_layer)
        s = tsr_error_set(err, TSR_ERR_INVALID, "%s: the plan is for a model of %u layers; this "
                          "one has %u", tsr_gguf_path(gguf), p->n_layer, m->config.n_layer);
    if (s == TSR_OK)
        s = tsr_model_cache_format(options->registry, p->cache_type, &m->config, &m->cache_q,
                                   err);
    if (s == TSR_OK)
        s = tsr_model_requant_target(options->registry, p, &m->quantize, err);
    if (s == TSR_OK && !(m->layers = calloc(m->config.n_layer, sizeof *m->layers)))
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK)
        s = tsr_threadpool_open(p->n_threads, &m->pool, err);
    if (s == TSR_OK)
        tsr_model_scratch_layout(gguf, &m->config, options->registry, m->quantize, p->n_batch,
                                 tsr_threadpool_n_threads(m->pool), p->all_logits,
                                 tsr_plan_output_rows(p), &m->layout);
    if (s == TSR_OK)
        s = open_decode_buffers(m, p->n_sequences ? p->n_sequences : 1, err);
    if (s == TSR_OK) {
        const tsr_llama_config *c = &m->config;
        m->max_seq_len = p->max_seq_len;
        m->kv_head_bytes = (size_t)(c->head_dim / m->cache_q->block_elems) *
                           m->cache_q->block_bytes;
        m->kv_pos_bytes = m->kv_head_bytes * c->n_head_kv;
        m->kv_seq_bytes = m->kv_pos_bytes * m->max_seq_len;
        m->kv_layer_bytes = m->kv_seq_bytes * m->n_sequences;
        if (2 * m->kv_seq_bytes != p->kv_layer_bytes)
            s = tsr_error_set(err, TSR_ERR_INTERNAL, "the plan's KV cache per layer (%llu bytes) "
                              "is not the model's (%zu)", (unsigned long long)p->kv_layer_bytes,
                              2 * m->kv_seq_bytes);
    }
    if (s == TSR_OK)
        s = check_devices_addressable(m, err);
    if (s == TSR_OK)
        s = load_weights(m, err);
    if (s == TSR_OK && m->cancelled)
        s = tsr_error_set(err, TSR_ERR_ABORTED, "%s: loading was cancelled",
                          tsr_gguf_path(gguf));
    if (s == TSR_OK)
        s = bind_all(m, err);
    if (s == TSR_OK)
        s = reserve_cache_and_scratch(m, err);
    if (s != TSR_OK) {
        tsr_model_close(m);
        return s;
    }
    m->kernels = tsr_cpu_kernels_select(tsr_cpu_features());
    m->config.rope.freq_factors = m->rope_freqs;
    *out = m;
    return TSR_OK;
}

void tsr_model_close(tsr_model *m)
{
    if (!m)
        return;
    const tsr_alloc_vtable *a = m->options.alloc;
    for (size_t i = m->n_arenas; i-- > 0;)
        a->release(m->options.alloc_state, m->arenas[i].device, m->arenas[i].ptr);
    free(m->arenas);
    close_decode_buffers(m);
    free(m->extents);
    free(m->held);
    tsr_threadpool_close(m->pool);
    tsr_plan_free(m->own_plan);
    free(m->layers);
    free(m);
}

bool tsr_model_is_whole(const tsr_model *m)
{
    return m->plan->first_layer == 0 && m->plan->end_layer == m->config.n_layer;
}

const tsr_llama_config *tsr_model_config(const tsr_model *m)
{
    return &m->config;
}

uint32_t tsr_model_max_seq_len(const tsr_model *m)
{
    return m->max_seq_len;
}

size_t tsr_model_n_past(const tsr_model *m)
{
    return m->seq_len[0];
}

/* Counts q in the formats found so far (the caller counts a tied output
 * head once). */
static size_t note_format(tsr_model_format_use *found, size_t n, tsr_model_format_role role,
                          const tsr_quant_vtable *q, bool count)
{
    for (size_t i = 0; i < n; i++)
        if (found[i].role == role && found[i].q == q) {
            found[i].n_tensors += count;
            return n;
        }
    found[n] = (tsr_model_format_use){role, q, count};
    return n + 1;
}

enum { MAX_MATRICES_PER_STEP = 7 };

/* A matrix's formats: as bound, or, outside the layers this model holds (a
 * pipeline stage), as the file and the plugins say it would be bound on the
 * rank that holds it (every rank runs the same build, plugins and file). */
static tsr_weight matrix(const tsr_model *m, tsr_llama_tensor_id id, uint32_t layer,
                         const tsr_weight *bound)
{
    if (bound->q)
        return *bound;
    char buf[96];
    const char *name = id == TSR_LLAMA_OUTPUT && m->config.tied_output
                           ? tsr_llama_tensor_info(TSR_LLAMA_TOKEN_EMBD)->name
                           : tsr_llama_tensor_name(id, layer, buf, sizeof buf);
    tsr_weight w = {0};
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(m->gguf, name);
    if (!t)
        return w;
    w.q = m->quantize && tsr_model_tensor_requantized(t, m->quantize)
              ? m->quantize
              : quant_for_type(m->options.registry, t->type);
    w.act = w.q ? quant_for_type(m->options.registry, w.q->act_gguf_type) : NULL;
    return w;
}

/* The matrices of step -1 (the token embedding and, untied, the output
 * head) or of one layer; returns how many. */
static size_t step_matrices(const tsr_model *m, int64_t step,
                            tsr_weight out[MAX_MATRICES_PER_STEP])
{
    if (step < 0) {
        out[0] = matrix(m, TSR_LLAMA_TOKEN_EMBD, 0, &m->token_embd);
        out[1] = matrix(m, TSR_LLAMA_OUTPUT, 0, &m->output);
        return m->config.tied_output ? 1 : 2;
    }
    const tsr_layer *l = &m->layers[step];
    const struct {
        tsr_llama_tensor_id id;
        const tsr_weight *bound;
    } of_layer[MAX_MATRICES_PER_STEP] = {
        {TSR_LLAMA_ATTN_Q, &l->wq},         {TSR_LLAMA_ATTN_K, &l->wk},
        {TSR_LLAMA_ATTN_V, &l->wv},         {TSR_LLAMA_ATTN_OUTPUT, &l->wo},
        {TSR_LLAMA_FFN_GATE, &l->w_gate},   {TSR_LLAMA_FFN_UP, &l->w_up},
        {TSR_LLAMA_FFN_DOWN, &l->w_down},
    };
    for (size_t i = 0; i < MAX_MATRICES_PER_STEP; i++)
        out[i] = matrix(m, of_layer[i].id, (uint32_t)step, of_layer[i].bound);
    return MAX_MATRICES_PER_STEP;
}

size_t tsr_model_formats(const tsr_model *m, tsr_model_format_use *out, size_t max)
{
    size_t steps = (size_t)m->config.n_layer + 1;
    /* At most a weight and an activation format per matrix, and the cache. */
    tsr_model_format_use *found = calloc(2 * MAX_MATRICES_PER_STEP * steps + 1, sizeof *found);
    if (!found)
        return 0;
    size_t n = 0;
    tsr_weight w[MAX_MATRICES_PER_STEP];
    /* The whole model's, on every rank of a pipeline alike. */
    for (int64_t step = -1; step < (int64_t)m->config.n_layer; step++)
        for (size_t j = 0, k = step_matrices(m, step, w); j < k; j++)
            if (w[j].q)
                n = note_format(found, n, TSR_MODEL_FORMAT_WEIGHTS, w[j].q, true);
    /* The embedding is only dequantized: its activation form is the output head's. */
    tsr_weight head = matrix(m, TSR_LLAMA_OUTPUT, 0, &m->output);
    if (head.act)
        n = note_format(found, n, TSR_MODEL_FORMAT_ACTIVATIONS, head.act, false);
    for (int64_t step = 0; step < (int64_t)m->config.n_layer; step++)
        for (size_t j = 0, k = step_matrices(m, step, w); j < k; j++)
            if (w[j].act)
                n = note_format(found, n, TSR_MODEL_FORMAT_ACTIVATIONS, w[j].act, false);
    n = note_format(found, n, TSR_MODEL_FORMAT_CACHE, m->cache_q, false);
    if (out)
        memcpy(out, found, (n < max ? n : max) * sizeof *out);
    free(found);
    return n;
}
