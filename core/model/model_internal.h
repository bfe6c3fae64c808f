/* The model's insides, shared by model.c (loading) and forward.c (compute). */
#ifndef TSR_CORE_MODEL_INTERNAL_H
#define TSR_CORE_MODEL_INTERNAL_H

#include "model.h"
#include "plan.h"
#include "threadpool.h"

/* A weight matrix: rows x cols values in format q, each row row_bytes long;
 * products want their input quantized to act. */
typedef struct tsr_weight {
    const char *name;
    const tsr_quant_vtable *q;
    const tsr_quant_vtable *act;
    const uint8_t *data;
    int64_t rows, cols;
    size_t row_bytes;
} tsr_weight;

typedef struct tsr_layer {
    const float *attn_norm, *ffn_norm;
    tsr_weight wq, wk, wv, wo, w_gate, w_up, w_down;
    uint8_t *k_cache, *v_cache;    /* [position][kv head] rows, on the layer's device */
    uint8_t *scratch;              /* the scratch arena of the layer's device */
} tsr_layer;

/* Rows of a batch that attention takes together: n_rows rows from
 * first_row on, all of sequence seq, at positions pos0, pos0 + 1, ... */
typedef struct tsr_model_run {
    int32_t first_row, n_rows, seq, pos0;
} tsr_model_run;

/* One arena the model holds, to give back at close. */
typedef struct tsr_model_arena {
    uint32_t device;
    void *ptr;
} tsr_model_arena;

/* A run of weight bytes as it lies in memory: the data section's bytes
 * [offset, offset + bytes) at data, on device. */
typedef struct tsr_model_extent {
    uint32_t device;
    uint64_t offset, bytes;
    const uint8_t *data;
} tsr_model_extent;

/* A tensor held in memory the model filled itself (weights re-quantized at
 * load time, core/model/model_requant.c): its bytes and the format they are in. */
typedef struct tsr_model_tensor {
    const tsr_gguf_tensor *tensor;
    const tsr_quant_vtable *q;     /* the format held: the target, or the file's (NULL: no
                                      plugin claims it; only vectors of f32 are read then) */
    const uint8_t *data;
} tsr_model_tensor;

struct tsr_model {
    tsr_llama_config config;
    const tsr_gguf *gguf;
    tsr_model_options options;
    const tsr_plan_model *plan;    /* options.plan, or own_plan's model */
    tsr_plan *own_plan;            /* made when the options had none */
    const tsr_cpu_kernels *kernels;
    tsr_threadpool *pool;

    tsr_weight token_embd, output;
    const float *output_norm;
    const float *rope_freqs;
    tsr_layer *layers;

    const tsr_quant_vtable *cache_q;
    /* K (or V) of a layer: n_sequences x kv_seq_bytes, a sequence's being
     * max_seq_len rows of kv_pos_bytes, a position's n_head_kv heads. */
    size_t kv_head_bytes, kv_pos_bytes, kv_seq_bytes, kv_layer_bytes;
    uint32_t max_seq_len;
    uint32_t n_sequences;
    uint32_t *seq_len;             /* positions each sequence holds */

    /* The decode in progress, in buffers of n_batch entries made at open:
     * attention's runs, the output rows (batch row of each), each row's
     * output index (-1: none); tsr_model_eval's own batch. */
    tsr_model_run *runs;
    int32_t n_runs;
    int32_t *out_rows, *row_out;
    int32_t n_out, n_rows;
    uint32_t *seq_next;            /* validation: each sequence's next position */
    int32_t *eval_pos, *eval_seq;
    int8_t *eval_out;

    tsr_scratch_layout layout;
    uint8_t *scratch;              /* the arena the forward pass is using now */
    uint8_t *input_scratch;        /* the arena of the first layer's device */
    uint8_t *output_scratch;       /* the arena of the output head's device (holds logits) */

    tsr_model_extent *extents;     /* the weights, every device's (as the file stores them) */
    size_t n_extents;
    const tsr_quant_vtable *quantize; /* the plan's quantize target, or NULL */
    tsr_model_tensor *held;        /* with quantize: every placed tensor, in file order */
    size_t n_held;
    bool cancelled;                /* the progress callback asked to stop loading */
    tsr_model_arena *arenas;       /* everything reserved or mapped */
    size_t n_arenas;
};

/* Re-quantizing weights at load time (core/model/model_requant.c). The plan's
 * quantize target: a loaded quant plugin that can make weights and compute
 * with them; *out is NULL when the plan keeps weights as stored. */
tsr_status tsr_model_requant_target(const tsr_registry *registry, const tsr_plan_model *plan,
                                    const tsr_quant_vtable **out, tsr_error *err);
/* Reserves each device's weights as the plan sizes them and fills them:
 * tensors the target can hold re-quantized through the plugins' dequantize
 * and quantize, on the model's thread pool, the others copied as stored.
 * Sets model->held; reports progress. Everything reserved is remembered in
 * model->arenas, also on error. */
tsr_status tsr_model_load_requantized(tsr_model *model, tsr_error *err);
/* Gives model->arenas one more arena (to release at close). */
tsr_status tsr_model_remember_arena(tsr_model *model, uint32_t device, void *ptr,
                                    tsr_error *err);

/* The forward pass over n_rows (<= n_batch) rows, row i token tokens[i] of
 * sequence seq[i] at position pos[i], with model->runs and model->out_rows
 * set; K and V of every row go to the cache. False when abort stopped it. */
bool tsr_forward(tsr_model *model, const int32_t *tokens, const int32_t *pos, const int32_t *seq,
                 size_t n_rows, bool (*abort)(void *ctx), void *abort_ctx);
/* The same over layers [first_layer, end_layer) only, as one pipeline
 * stage: tokens NULL takes the residual stream x as the stage before left
 * it in the input device's scratch (tsr_model_stage_activations); logits
 * false stops before the output head. */
bool tsr_forward_layers(tsr_model *model, const int32_t *tokens, const int32_t *pos,
                        const int32_t *seq, size_t n_rows, uint32_t first_layer,
                        uint32_t end_layer, bool logits, bool (*abort)(void *ctx),
                        void *abort_ctx);

#endif
