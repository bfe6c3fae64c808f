/* A Llama-family model from its headers alone: its hyperparameters, the
 * tensors its forward pass reads (one table: names, units, shapes), and the
 * bytes a run of it takes (weights, KV cache, scratch). The planner
 * (core/plan/) and the loader (core/model/) both read these, so that what is
 * planned is what is loaded and reserved. */
#ifndef TSR_CORE_LLAMA_ARCH_H
#define TSR_CORE_LLAMA_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "cpu/kernels.h"
#include "tessera/tessera.h"

/* What GGUF says about the architecture ({arch}.* keys). */
typedef struct tsr_llama_config {
    char arch[32];        /* general.architecture */
    uint32_t n_vocab;
    uint32_t n_embd;      /* embedding_length */
    uint32_t n_layer;     /* block_count */
    uint32_t n_head;      /* attention.head_count */
    uint32_t n_head_kv;   /* attention.head_count_kv (n_head when absent) */
    uint32_t head_dim;    /* n_embd / n_head, or attention.key_length */
    uint32_t n_ff;        /* feed_forward_length */
    uint32_t n_ctx_train; /* context_length */
    float rms_eps;        /* attention.layer_norm_rms_epsilon */
    tsr_rope_config rope; /* freq_factors NULL here; the model points it at rope_freqs.weight */
    bool tied_output;     /* no output.weight: the token embedding is the output head */
} tsr_llama_config;

/* Reads and checks the hyperparameters (headers only). */
tsr_status tsr_llama_config_read(const tsr_gguf *gguf, tsr_llama_config *config, tsr_error *err);

/* ---- the tensors --------------------------------------------------------
 * Every tensor the forward pass reads, once. A model is its layers (blk.N.*),
 * the input unit (token_embd, rope_freqs) and the output unit (output_norm,
 * output); a tensor of the file that is in none of them is not read. */

typedef enum tsr_llama_tensor_id {
    TSR_LLAMA_TOKEN_EMBD,
    TSR_LLAMA_ROPE_FREQS,
    TSR_LLAMA_OUTPUT_NORM,
    TSR_LLAMA_OUTPUT,
    TSR_LLAMA_ATTN_NORM,
    TSR_LLAMA_FFN_NORM,
    TSR_LLAMA_ATTN_Q,
    TSR_LLAMA_ATTN_K,
    TSR_LLAMA_ATTN_V,
    TSR_LLAMA_ATTN_OUTPUT,
    TSR_LLAMA_FFN_GATE,
    TSR_LLAMA_FFN_UP,
    TSR_LLAMA_FFN_DOWN,
    TSR_LLAMA_N_TENSORS
} tsr_llama_tensor_id;

/* Where a tensor belongs: a layer (>= 0), or one of these. */
enum { TSR_LLAMA_UNIT_INPUT = -2, TSR_LLAMA_UNIT_OUTPUT = -3, TSR_LLAMA_UNIT_NONE = -4 };

typedef struct tsr_llama_tensor {
    const char *name;   /* as the file names it; a layer's after "blk.N." */
    bool per_layer;     /* one in every layer; else one in the input or output unit */
    int32_t unit;       /* !per_layer: TSR_LLAMA_UNIT_INPUT or _OUTPUT */
    bool vector;        /* f32 values (norms, frequencies); else a matrix of any format */
    bool optional;      /* rope_freqs; output (without it token_embd is the output head) */
} tsr_llama_tensor;

const tsr_llama_tensor *tsr_llama_tensor_info(tsr_llama_tensor_id id);
/* The tensor's name in the file ("blk.3.attn_q.weight"): writes it to buf
 * and returns buf. layer is ignored for a tensor that is not per layer. */
const char *tsr_llama_tensor_name(tsr_llama_tensor_id id, uint32_t layer, char *buf,
                                  size_t bytes);
/* The shape config gives it: rows x cols values (a vector: rows values,
 * cols 1). */
void tsr_llama_tensor_shape(const tsr_llama_config *config, tsr_llama_tensor_id id,
                            int64_t *rows, int64_t *cols);
/* The unit of the tensor named name, or TSR_LLAMA_UNIT_NONE when the forward
 * pass does not read it (a layer at or past n_layer included). */
int32_t tsr_llama_tensor_unit(const char *name, uint32_t n_layer);
/* The bytes a tensor takes: as its quant plugin's blocks count them, or the
 * GGUF type table's when no plugin claims the type; 0 when neither knows. */
uint64_t tsr_tensor_bytes(const tsr_registry *registry, const tsr_gguf_tensor *tensor);

/* ---- the bytes a run takes ------------------------------------------------ */

/* The cache format called name (NULL: "f16"): a loaded quant plugin that can
 * hold the KV cache and whose blocks divide the head size. */
tsr_status tsr_model_cache_format(const tsr_registry *registry, const char *name,
                                  const tsr_llama_config *config, const tsr_quant_vtable **out,
                                  tsr_error *err);
/* K and V of one layer for max_seq_len positions. */
uint64_t tsr_model_kv_layer_bytes(const tsr_llama_config *config,
                                  const tsr_quant_vtable *cache_format, uint32_t max_seq_len);
/* Whether re-quantizing weights to target (NULL: not re-quantizing) gives
 * this tensor target's format: a matrix (two or more dims) whose rows are
 * whole blocks of target. Every other tensor stays as the file stores it. */
bool tsr_model_tensor_requantized(const tsr_gguf_tensor *tensor, const tsr_quant_vtable *target);
/* Where each scratch buffer sits in a scratch arena; computed from the
 * shapes alone, so the planner and the loader agree to the byte. Every
 * device holding layers has an arena of this layout up to `logits`; the
 * device of the output head has the logits after that. */
typedef struct tsr_scratch_layout {
    uint32_t n_threads, n_batch, n_logit_rows;
    size_t act_row_bytes;          /* the widest activation row of any format used */
    size_t x, q, k, v, att, tmp, gate, up, rope; /* offsets of shared buffers */
    size_t logits;                 /* offset of the logits: the end of the activations */
    size_t per_thread;             /* offset of the first thread's private block */
    size_t thread_bytes;           /* bytes of one private block */
    size_t thread_xn, thread_act, thread_attn; /* offsets inside a private block */
    size_t total;
} tsr_scratch_layout;

/* Lays out the scratch arena for n_threads threads (n_threads >= 1). */
void tsr_model_scratch_layout(const tsr_gguf *gguf, const tsr_llama_config *config,
                              const tsr_registry *registry, const tsr_quant_vtable *quantize,
                              uint32_t n_batch, uint32_t n_threads, bool all_logits,
                              uint32_t n_output_rows, tsr_scratch_layout *layout);
/* The scratch arena of a device holding layers (activations, per-thread
 * workspaces), and what the device of the output head adds (logits:
 * n_output_rows rows, at most n_batch, or n_batch rows with all_logits),
 * with weights re-quantized to quantize (NULL: as stored). */
void tsr_model_scratch_bytes(const tsr_gguf *gguf, const tsr_llama_config *config,
                             const tsr_registry *registry, const tsr_quant_vtable *quantize,
                             uint32_t n_batch, uint32_t n_threads, bool all_logits,
                             uint32_t n_output_rows, uint64_t *activations_bytes,
                             uint64_t *logits_bytes);
/* n_batch 0 -> the default; n_threads 0 -> one per physical core. */
uint32_t tsr_model_default_n_batch(uint32_t n_batch);
uint32_t tsr_model_default_n_threads(uint32_t n_threads);

#endif
