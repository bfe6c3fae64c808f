/* The tensors of a Llama-family model, once: the planner places them by
 * unit and the loader binds them by name and shape from this table. */
#include <stdio.h>
#include <string.h>

#include "llama_arch.h"
#include "loader.h"

/* A length the hyperparameters give. */
typedef enum dim { ONE, VOCAB, EMBD, Q_DIM, KV_DIM, FF, ROPE_HALF } dim;

static const struct {
    tsr_llama_tensor info;
    dim rows, cols;
} tensors[TSR_LLAMA_N_TENSORS] = {
    [TSR_LLAMA_TOKEN_EMBD] = {{"token_embd.weight", false, TSR_LLAMA_UNIT_INPUT, false, false},
                              VOCAB, EMBD},
    [TSR_LLAMA_ROPE_FREQS] = {{"rope_freqs.weight", false, TSR_LLAMA_UNIT_INPUT, true, true},
                              ROPE_HALF, ONE},
    [TSR_LLAMA_OUTPUT_NORM] = {{"output_norm.weight", false, TSR_LLAMA_UNIT_OUTPUT, true, false},
                               EMBD, ONE},
    [TSR_LLAMA_OUTPUT] = {{"output.weight", false, TSR_LLAMA_UNIT_OUTPUT, false, true},
                          VOCAB, EMBD},
    [TSR_LLAMA_ATTN_NORM] = {{"attn_norm.weight", true, 0, true, false}, EMBD, ONE},
    [TSR_LLAMA_FFN_NORM] = {{"ffn_norm.weight", true, 0, true, false}, EMBD, ONE},
    [TSR_LLAMA_ATTN_Q] = {{"attn_q.weight", true, 0, false, false}, Q_DIM, EMBD},
    [TSR_LLAMA_ATTN_K] = {{"attn_k.weight", true, 0, false, false}, KV_DIM, EMBD},
    [TSR_LLAMA_ATTN_V] = {{"attn_v.weight", true, 0, false, false}, KV_DIM, EMBD},
    [TSR_LLAMA_ATTN_OUTPUT] = {{"attn_output.weight", true, 0, false, false}, EMBD, Q_DIM},
    [TSR_LLAMA_FFN_GATE] = {{"ffn_gate.weight", true, 0, false, false}, FF, EMBD},
    [TSR_LLAMA_FFN_UP] = {{"ffn_up.weight", true, 0, false, false}, FF, EMBD},
    [TSR_LLAMA_FFN_DOWN] = {{"ffn_down.weight", true, 0, false, false}, EMBD, FF},
};

static int64_t length(const tsr_llama_config *c, dim d)
{
    switch (d) {
    case ONE: return 1;
    case VOCAB: return c->n_vocab;
    case EMBD: return c->n_embd;
    case Q_DIM: return (int64_t)c->n_head * c->head_dim;
    case KV_DIM: return (int64_t)c->n_head_kv * c->head_dim;
    case FF: return c->n_ff;
    case ROPE_HALF: return c->rope.n_rot / 2;
    }
    return 0;
}

const tsr_llama_tensor *tsr_llama_tensor_info(tsr_llama_tensor_id id)
{
    return &tensors[id].info;
}

const char *tsr_llama_tensor_name(tsr_llama_tensor_id id, uint32_t layer, char *buf, size_t bytes)
{
    const tsr_llama_tensor *t = &tensors[id].info;
    if (t->per_layer)
        snprintf(buf, bytes, "blk.%u.%s", layer, t->name);
    else
        snprintf(buf, bytes, "%s", t->name);
    return buf;
}

void tsr_llama_tensor_shape(const tsr_llama_config *c, tsr_llama_tensor_id id, int64_t *rows,
                            int64_t *cols)
{
    *rows = length(c, tensors[id].rows);
    *cols = length(c, tensors[id].cols);
}

int32_t tsr_llama_tensor_unit(const char *name, uint32_t n_layer)
{
    unsigned layer;
    int used = 0;
    bool in_layer = sscanf(name, "blk.%u.%n", &layer, &used) == 1 && used > 0;
    if (in_layer && layer >= n_layer)
        return TSR_LLAMA_UNIT_NONE;
    for (size_t i = 0; i < TSR_LLAMA_N_TENSORS; i++) {
        const tsr_llama_tensor *t = &tensors[i].info;
        if (t->per_layer == in_layer && strcmp(in_layer ? name + used : name, t->name) == 0)
            return t->per_layer ? (int32_t)layer : t->unit;
    }
    return TSR_LLAMA_UNIT_NONE;
}

uint64_t tsr_tensor_bytes(const tsr_registry *registry, const tsr_gguf_tensor *t)
{
    const tsr_quant_vtable *q =
        registry ? tsr_plugin_quant(tsr_registry_find_quant(registry, t->type)) : NULL;
    if (q && q->block_elems && t->n_elems % q->block_elems == 0)
        return t->n_elems / q->block_elems * q->block_bytes;
    return t->n_bytes;
}
