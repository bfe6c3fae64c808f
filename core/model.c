/* Loading a Llama-family model: weights mapped through the allocator, the
 * KV cache and the scratch arena reserved once, at the sizes
 * tsr_model_memory_needed predicts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "loader.h"
#include "model_internal.h"

enum { DEFAULT_N_BATCH = 512, ALIGN = 64 };

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

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

/* The bytes one activation row of cols values takes in the format that a
 * weight of this type wants (f32 when no plugin is there to say). */
static size_t act_row_bytes_for(const tsr_registry *reg, uint32_t weight_type, int64_t cols)
{
    const tsr_quant_vtable *q = reg ? quant_for_type(reg, weight_type) : NULL;
    const tsr_quant_vtable *act = q ? quant_for_type(reg, q->act_gguf_type) : NULL;
    if (!act || cols % act->block_elems)
        return (size_t)cols * sizeof(float);
    return (size_t)(cols / act->block_elems) * act->block_bytes;
}

static tsr_status layout_scratch(const tsr_gguf *gguf, const tsr_llama_config *c,
                                 const tsr_model_options *o, uint32_t n_threads,
                                 tsr_scratch_layout *l, tsr_error *err)
{
    memset(l, 0, sizeof *l);
    l->n_threads = n_threads;
    l->n_batch = o->n_batch ? o->n_batch : DEFAULT_N_BATCH;
    l->n_logit_rows = o->all_logits ? l->n_batch : 1;
    /* The widest activation row any weight asks for. */
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(gguf); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(gguf, i);
        if (t->n_dims < 2)
            continue;
        size_t bytes = act_row_bytes_for(o->registry, t->type, (int64_t)t->dims[0]);
        if (bytes > l->act_row_bytes)
            l->act_row_bytes = bytes;
    }
    size_t nb = l->n_batch, f = sizeof(float);
    size_t q_dim = (size_t)c->n_head * c->head_dim, kv_dim = (size_t)c->n_head_kv * c->head_dim;
    size_t off = 0;
#define PLACE(field, bytes) (l->field = off, off += align_up(bytes))
    PLACE(x, nb * c->n_embd * f);
    PLACE(q, nb * q_dim * f);
    PLACE(k, nb * kv_dim * f);
    PLACE(v, nb * kv_dim * f);
    PLACE(att, nb * q_dim * f);
    PLACE(tmp, nb * c->n_embd * f);
    PLACE(gate, nb * c->n_ff * f);
    PLACE(up, nb * c->n_ff * f);
    PLACE(logits, (size_t)l->n_logit_rows * c->n_vocab * f);
    PLACE(rope, nb * (size_t)c->rope.n_rot * f);
    l->per_thread = off;
    size_t t_off = 0;
    size_t widest_input = c->n_embd > q_dim ? c->n_embd : q_dim;
    if (c->n_ff > widest_input)
        widest_input = c->n_ff;
    l->thread_xn = t_off;
    t_off += align_up(nb * c->n_embd * f);
    l->thread_act = t_off;
    t_off += align_up(nb * l->act_row_bytes);
    l->thread_attn = t_off;
    t_off += align_up(tsr_attention_scratch_bytes(c->n_head, c->n_head_kv, c->head_dim));
    l->thread_bytes = t_off;
    off += (size_t)n_threads * t_off;
#undef PLACE
    l->total = off;
    (void)widest_input;
    (void)err;
    return TSR_OK;
}

/* The data section's extent: every tensor lies inside [0, end). */
static uint64_t weights_extent(const tsr_gguf *gguf)
{
    uint64_t end = 0;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(gguf); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(gguf, i);
        if (t->offset + t->n_bytes > end)
            end = t->offset + t->n_bytes;
    }
    return end;
}

static tsr_status cache_format(const tsr_model_options *o, const tsr_llama_config *c,
                               const tsr_quant_vtable **out, tsr_error *err)
{
    const char *name = o->cache_type ? o->cache_type : "f16";
    const tsr_plugin *p = o->registry ? tsr_registry_find(o->registry, TSR_PLUGIN_QUANT, name)
                                      : NULL;
    const tsr_quant_vtable *q = tsr_plugin_quant(p);
    if (!q)
        return tsr_error_set(err, TSR_ERR_NOT_FOUND,
                             "cache_type %s: no quant plugin of that name is loaded", name);
    if (!(q->flags & TSR_QUANT_KV_CACHE) || !q->quantize)
        return tsr_error_set(err, TSR_ERR_INVALID, "cache_type %s: that format cannot hold the "
                             "KV cache", name);
    if (c->head_dim % q->block_elems)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "cache_type %s: its blocks of %u values do not divide the head "
                             "size %u", name, q->block_elems, c->head_dim);
    *out = q;
    return TSR_OK;
}

static uint32_t effective_threads(const tsr_model_options *o)
{
    return o->n_threads ? o->n_threads : tsr_cpu_physical_cores();
}

tsr_status tsr_model_memory_needed(const tsr_gguf *gguf, const tsr_model_options *o,
                                   tsr_model_memory *m, tsr_error *err)
{
    tsr_llama_config c;
    tsr_status status = tsr_llama_config_read(gguf, &c, err);
    if (status != TSR_OK)
        return status;
    const tsr_quant_vtable *cache_q;
    if ((status = cache_format(o, &c, &cache_q, err)) != TSR_OK)
        return status;
    uint32_t max_seq = o->max_seq_len ? o->max_seq_len : c.n_ctx_train;
    uint64_t head_bytes = (uint64_t)(c.head_dim / cache_q->block_elems) * cache_q->block_bytes;
    m->weights_bytes = weights_extent(gguf);
    m->kv_cache_bytes = 2ull * c.n_layer * max_seq * c.n_head_kv * head_bytes;
    tsr_scratch_layout l;
    if ((status = layout_scratch(gguf, &c, o, effective_threads(o), &l, err)) != TSR_OK)
        return status;
    m->scratch_bytes = l.total;
    return TSR_OK;
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
    const tsr_quant_vtable *q = quant_for_type(m->options.registry, t->type);
    if (!q || (q->flags & TSR_QUANT_ACTIVATION)) {
        char known[512];
        list_quant_plugins(m->options.registry, known, sizeof known);
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                             "%s: tensor %s is of type %s (GGUF type %u), and no quant plugin on "
                             "the search path computes with it (loaded: %s)",
                             path, name, type_name(t->type), t->type, known);
    }
    const tsr_quant_vtable *act = quant_for_type(m->options.registry, q->act_gguf_type);
    if (!act || !act->quantize)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                             "%s: tensor %s (%s) wants activations as %s, and no loaded quant "
                             "plugin produces that form",
                             path, name, type_name(t->type), type_name(q->act_gguf_type));
    if (cols % q->block_elems || cols % act->block_elems)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: tensor %s has rows of %lld values, not a whole number of %s "
                             "blocks", path, name, (long long)cols, type_name(t->type));
    w->name = t->name;
    w->q = q;
    w->act = act;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)(cols / q->block_elems) * q->block_bytes;
    w->data = (const uint8_t *)m->weights_arena + t->offset;
    return TSR_OK;
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
    *out = (const float *)((const uint8_t *)m->weights_arena + t->offset);
    return TSR_OK;
}

static tsr_status bind_all(tsr_model *m, tsr_error *err)
{
    const tsr_llama_config *c = &m->config;
    int64_t q_dim = (int64_t)c->n_head * c->head_dim, kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    tsr_status s = bind_weight(m, "token_embd.weight", c->n_vocab, c->n_embd, &m->token_embd, err);
    if (s == TSR_OK && !m->token_embd.q->dequantize)
        s = tsr_error_set(err, TSR_ERR_UNSUPPORTED, "token_embd.weight cannot be dequantized");
    if (s == TSR_OK)
        s = bind_vector(m, "output_norm.weight", c->n_embd, &m->output_norm, err);
    if (s == TSR_OK)
        s = bind_weight(m, c->tied_output ? "token_embd.weight" : "output.weight", c->n_vocab,
                        c->n_embd, &m->output, err);
    if (s == TSR_OK && tsr_gguf_find_tensor(m->gguf, "rope_freqs.weight"))
        s = bind_vector(m, "rope_freqs.weight", c->rope.n_rot / 2, &m->rope_freqs, err);
    for (uint32_t i = 0; s == TSR_OK && i < c->n_layer; i++) {
        tsr_layer *l = &m->layers[i];
        char name[96];
#define LAYER_TENSOR(suffix) (snprintf(name, sizeof name, "blk.%u." suffix, i), name)
        s = bind_vector(m, LAYER_TENSOR("attn_norm.weight"), c->n_embd, &l->attn_norm, err);
        if (s == TSR_OK)
            s = bind_vector(m, LAYER_TENSOR("ffn_norm.weight"), c->n_embd, &l->ffn_norm, err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("attn_q.weight"), q_dim, c->n_embd, &l->wq, err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("attn_k.weight"), kv_dim, c->n_embd, &l->wk, err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("attn_v.weight"), kv_dim, c->n_embd, &l->wv, err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("attn_output.weight"), c->n_embd, q_dim, &l->wo, err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("ffn_gate.weight"), c->n_ff, c->n_embd, &l->w_gate,
                            err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("ffn_up.weight"), c->n_ff, c->n_embd, &l->w_up, err);
        if (s == TSR_OK)
            s = bind_weight(m, LAYER_TENSOR("ffn_down.weight"), c->n_embd, c->n_ff, &l->w_down,
                            err);
#undef LAYER_TENSOR
    }
    return s;
}

/* Touches every page of the weights once, reporting progress, so that the
 * first token does not pay for page faults and the user sees the load. */
static void prefault_weights(tsr_model *m)
{
    const volatile uint8_t *p = m->weights_arena;
    uint64_t n = m->memory.weights_bytes, step = 4096, chunk = n / 100 + 1;
    uint8_t sum = 0;
    for (uint64_t i = 0; i < n; i += step) {
        sum ^= p[i];
        if (m->options.progress && i / chunk != (i + step) / chunk)
            m->options.progress(m->options.progress_ctx, (double)i / (double)n);
    }
    if (m->options.progress)
        m->options.progress(m->options.progress_ctx, 1.0);
    (void)sum;
}

static tsr_status map_weights(tsr_model *m, tsr_error *err)
{
    const tsr_alloc_vtable *a = m->options.alloc;
    const char *path = tsr_gguf_path(m->gguf);
    uint64_t offset = tsr_gguf_data_offset(m->gguf);
    uint64_t bytes = m->memory.weights_bytes;
    if (offset + bytes > tsr_gguf_file_size(m->gguf))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tensor data ends at byte %llu, past the "
                             "end of the %llu-byte file", path,
                             (unsigned long long)(offset + bytes),
                             (unsigned long long)tsr_gguf_file_size(m->gguf));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot open: %m", path);
    tsr_status s = TSR_ERR_UNSUPPORTED;
    if (a->map_file)
        s = a->map_file(m->options.alloc_state, m->options.device, fd, offset, bytes,
                        &m->weights_arena, err);
    if (s == TSR_ERR_UNSUPPORTED) {
        /* No mapping on this device: reserve and read. */
        void *arena;
        s = a->reserve(m->options.alloc_state, m->options.device, bytes, ALIGN, &arena, err);
        for (uint64_t done = 0; s == TSR_OK && done < bytes;) {
            ssize_t n = pread(fd, (uint8_t *)arena + done,
                              bytes - done > (1u << 26) ? (1u << 26) : bytes - done,
                              (off_t)(offset + done));
            if (n <= 0)
                s = tsr_error_set(err, TSR_ERR_IO, "%s: read failed at byte %llu", path,
                                  (unsigned long long)(offset + done));
            else
                done += (uint64_t)n;
            if (m->options.progress)
                m->options.progress(m->options.progress_ctx, (double)done / (double)bytes);
        }
        m->weights_arena = arena;
    } else if (s == TSR_OK) {
        prefault_weights(m);
    }
    close(fd);
    return s;
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
    if (s == TSR_OK)
        s = cache_format(options, &m->config, &m->cache_q, err);
    if (s == TSR_OK)
        s = tsr_model_memory_needed(gguf, options, &m->memory, err);
    if (s == TSR_OK && !(m->layers = calloc(m->config.n_layer, sizeof *m->layers)))
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK)
        s = tsr_threadpool_open(effective_threads(options), &m->pool, err);
    if (s == TSR_OK)
        s = layout_scratch(gguf, &m->config, options, tsr_threadpool_n_threads(m->pool),
                           &m->layout, err);
    if (s == TSR_OK)
        s = map_weights(m, err);
    if (s == TSR_OK)
        s = bind_all(m, err);
    if (s == TSR_OK)
        s = options->alloc->reserve(options->alloc_state, options->device,
                                    m->memory.kv_cache_bytes, ALIGN, &m->kv_arena, err);
    if (s == TSR_OK)
        s = options->alloc->reserve(options->alloc_state, options->device,
                                    m->memory.scratch_bytes, ALIGN, &m->scratch_arena, err);
    if (s != TSR_OK) {
        tsr_model_close(m);
        return s;
    }
    const tsr_llama_config *c = &m->config;
    m->kernels = tsr_cpu_kernels_select(tsr_cpu_features());
    m->max_seq_len = options->max_seq_len ? options->max_seq_len : c->n_ctx_train;
    m->kv_head_bytes = (size_t)(c->head_dim / m->cache_q->block_elems) * m->cache_q->block_bytes;
    m->kv_pos_bytes = m->kv_head_bytes * c->n_head_kv;
    m->kv_layer_bytes = m->kv_pos_bytes * m->max_seq_len;
    m->k_cache = m->kv_arena;
    m->v_cache = (uint8_t *)m->kv_arena + m->kv_layer_bytes * c->n_layer;
    m->scratch = m->scratch_arena;
    m->config.rope.freq_factors = m->rope_freqs;
    *out = m;
    return TSR_OK;
}

void tsr_model_close(tsr_model *m)
{
    if (!m)
        return;
    const tsr_alloc_vtable *a = m->options.alloc;
    if (m->scratch_arena)
        a->release(m->options.alloc_state, m->options.device, m->scratch_arena);
    if (m->kv_arena)
        a->release(m->options.alloc_state, m->options.device, m->kv_arena);
    if (m->weights_arena)
        a->release(m->options.alloc_state, m->options.device, (void *)m->weights_arena);
    tsr_threadpool_close(m->pool);
    free(m->layers);
    free(m);
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
    return m->n_past;
}

tsr_status tsr_model_eval(tsr_model *m, const int32_t *tokens, size_t n_tokens, tsr_error *err)
{
    if (m->n_past + n_tokens > m->max_seq_len)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "the context is full: %zu tokens so far plus %zu new exceed "
                             "max_seq_len %u", m->n_past, n_tokens, m->max_seq_len);
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= m->config.n_vocab)
            return tsr_error_set(err, TSR_ERR_INVALID, "token %d is outside the vocabulary of "
                                 "%u tokens", tokens[i], m->config.n_vocab);
    size_t n_batch = m->layout.n_batch;
    for (size_t done = 0; done < n_tokens;) {
        size_t n = n_tokens - done < n_batch ? n_tokens - done : n_batch;
        tsr_forward(m, tokens + done, n);
        m->n_past += n;
        m->last_n_tokens = n;
        done += n;
    }
    return TSR_OK;
}

const float *tsr_model_logits(const tsr_model *m, size_t i)
{
    const float *logits = (const float *)(m->scratch + m->layout.logits);
    if (m->layout.n_logit_rows == 1)
        return logits;
    if (i >= m->last_n_tokens)
        i = m->last_n_tokens - 1;
    return logits + i * m->config.n_vocab;
}

void tsr_model_rollback(tsr_model *m, size_t n_keep)
{
    if (n_keep < m->n_past)
        m->n_past = n_keep;
}
