/* The bytes a run of a Llama-family model takes, from its headers: the KV
 * cache of a layer, the scratch arena's layout, which weights re-quantizing
 * changes. The planner sizes a deployment with these and the loader reserves
 * with them, so the two agree to the byte. */
#include <string.h>

#include "llama_arch.h"
#include "loader.h"
#include "threadpool.h"

enum { DEFAULT_N_BATCH = 512, ALIGN = 64 };

uint32_t tsr_model_default_n_batch(uint32_t n_batch)
{
    return n_batch ? n_batch : DEFAULT_N_BATCH;
}

uint32_t tsr_model_default_n_threads(uint32_t n_threads)
{
    return n_threads ? n_threads : tsr_cpu_physical_cores();
}

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static const tsr_quant_vtable *quant_for_type(const tsr_registry *reg, uint32_t type)
{
    return tsr_plugin_quant(tsr_registry_find_quant(reg, type));
}

/* The bytes one activation row of cols values takes in the format that a
 * weight held as q wants (f32 when no plugin is there to say). */
static size_t act_row_bytes_for(const tsr_registry *reg, const tsr_quant_vtable *q, int64_t cols)
{
    const tsr_quant_vtable *act = q ? quant_for_type(reg, q->act_gguf_type) : NULL;
    if (!act || cols % act->block_elems)
        return (size_t)cols * sizeof(float);
    return (size_t)(cols / act->block_elems) * act->block_bytes;
}

/* Lays out the scratch arena: shared activation buffers, one private block
 * per thread, then the logits (only the output head's device has those). */
void tsr_model_scratch_layout(const tsr_gguf *gguf, const tsr_llama_config *c,
                              const tsr_registry *registry, const tsr_quant_vtable *quantize,
                              uint32_t n_batch, uint32_t n_threads, bool all_logits,
                              uint32_t n_output_rows, tsr_scratch_layout *l)
{
    memset(l, 0, sizeof *l);
    l->n_threads = n_threads;
    l->n_batch = tsr_model_default_n_batch(n_batch);
    /* The rows asked for (one per sequence, more where speculation verifies
     * drafts), or every row. */
    n_output_rows = n_output_rows ? n_output_rows : 1;
    l->n_logit_rows = all_logits || n_output_rows > l->n_batch ? l->n_batch : n_output_rows;
    /* The widest activation row any weight asks for. */
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(gguf); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(gguf, i);
        if (t->n_dims < 2)
            continue;
        const tsr_quant_vtable *q = tsr_model_tensor_requantized(t, quantize) ? quantize
                                    : registry ? quant_for_type(registry, t->type) : NULL;
        size_t bytes = act_row_bytes_for(registry, q, (int64_t)t->dims[0]);
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
    PLACE(rope, nb * (size_t)c->rope.n_rot * f);
    l->per_thread = off;
    size_t t_off = 0;
    l->thread_xn = t_off;
    t_off += align_up(nb * c->n_embd * f);
    l->thread_act = t_off;
    t_off += align_up(nb * l->act_row_bytes);
    l->thread_attn = t_off;
    t_off += align_up(tsr_attention_scratch_bytes(c->n_head, c->n_head_kv, c->head_dim));
    l->thread_bytes = t_off;
    off += (size_t)n_threads * t_off;
    PLACE(logits, (size_t)l->n_logit_rows * c->n_vocab * f);
#undef PLACE
    l->total = off;
}

void tsr_model_scratch_bytes(const tsr_gguf *gguf, const tsr_llama_config *c,
                             const tsr_registry *registry, const tsr_quant_vtable *quantize,
                             uint32_t n_batch, uint32_t n_threads, bool all_logits,
                             uint32_t n_output_rows, uint64_t *activations_bytes,
                             uint64_t *logits_bytes)
{
    tsr_scratch_layout l;
    tsr_model_scratch_layout(gguf, c, registry, quantize, n_batch,
                             tsr_model_default_n_threads(n_threads), all_logits, n_output_rows,
                             &l);
    *activations_bytes = l.logits;
    *logits_bytes = l.total - l.logits;
}

tsr_status tsr_model_cache_format(const tsr_registry *registry, const char *name,
                                  const tsr_llama_config *c, const tsr_quant_vtable **out,
                                  tsr_error *err)
{
    name = name ? name : "f16";
    const tsr_plugin *p = registry ? tsr_registry_find(registry, TSR_PLUGIN_QUANT, name) : NULL;
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

uint64_t tsr_model_kv_layer_bytes(const tsr_llama_config *c, const tsr_quant_vtable *q,
                                  uint32_t max_seq_len)
{
    uint64_t head_bytes = (uint64_t)(c->head_dim / q->block_elems) * q->block_bytes;
    return 2ull * max_seq_len * c->n_head_kv * head_bytes;
}

bool tsr_model_tensor_requantized(const tsr_gguf_tensor *t, const tsr_quant_vtable *target)
{
    return target && target->block_elems && t->n_dims >= 2 &&
           t->dims[0] % target->block_elems == 0;
}
