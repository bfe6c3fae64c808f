/* A Llama-family model (SmolLM2, Llama 2/3, Mistral) from a GGUF file,
 * loaded as its plan says: its weights placed through an allocator, its KV
 * cache, and the forward pass that turns tokens into logits. What it is from
 * its headers alone (hyperparameters, tensors, sizes) is llama_arch.h's. */
#ifndef TSR_CORE_MODEL_H
#define TSR_CORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gguf.h"
#include "llama_arch.h"
#include "cpu/kernels.h"
#include "tessera/tessera.h"

typedef struct tsr_model tsr_model;

/* Called while weights load: fraction in [0, 1]. Returning false cancels
 * the load: tsr_model_open then fails with TSR_ERR_ABORTED. */
typedef bool (*tsr_progress_fn)(void *ctx, double fraction);

typedef struct tsr_model_options {
    const tsr_registry *registry;    /* quant plugins for weights, cache and activations */
    const tsr_alloc_vtable *alloc;   /* where memory comes from (host memory devices) */
    void *alloc_state;
    uint32_t device;
    uint32_t max_seq_len;            /* 0: the model's context_length */
    const char *cache_type;          /* a quant plugin with TSR_QUANT_KV_CACHE; NULL = "f16" */
    const char *quantize;            /* re-quantize weights to this quant plugin; NULL: as stored */
    uint32_t n_batch;                /* most tokens per forward call; 0 = 512 */
    uint32_t n_threads;              /* 0 = one per physical core */
    bool all_logits;                 /* keep logits of every token of a batch (else the last) */
    tsr_progress_fn progress;        /* may be NULL */
    void *progress_ctx;
    /* Where every allocation goes (core/plan/plan.h): the model reserves exactly
     * what this placement says, on its devices, and takes max_seq_len,
     * cache_type, quantize, n_batch, n_threads and all_logits from it (those
     * above are then ignored). NULL: the model plans itself onto `device` alone. */
    const struct tsr_plan_model *plan;
} tsr_model_options;

/* Loads the model; gguf must stay open until tsr_model_close. */
tsr_status tsr_model_open(const tsr_gguf *gguf, const tsr_model_options *options,
                          tsr_model **out, tsr_error *err);
void tsr_model_close(tsr_model *model);

const tsr_llama_config *tsr_model_config(const tsr_model *model);
/* The positions the KV cache holds. */
uint32_t tsr_model_max_seq_len(const tsr_model *model);
/* Tokens evaluated so far (the next token's position). */
size_t tsr_model_n_past(const tsr_model *model);

/* A number format the model computes with: a weight format (with how many
 * matrices are held in it), an activation form those products want, or
 * the KV cache's. */
typedef enum tsr_model_format_role {
    TSR_MODEL_FORMAT_WEIGHTS,
    TSR_MODEL_FORMAT_ACTIVATIONS,
    TSR_MODEL_FORMAT_CACHE,
} tsr_model_format_role;

typedef struct tsr_model_format_use {
    tsr_model_format_role role;
    const tsr_quant_vtable *q;
    uint32_t n_tensors;              /* weights: distinct matrices in this format; else 0 */
} tsr_model_format_use;

/* Each format once, weights first (in order of first use), then
 * activations, then the cache; writes up to max to out (may be NULL) and
 * returns how many there are (0 also when memory ran out). */
size_t tsr_model_formats(const tsr_model *model, tsr_model_format_use *out, size_t max);

/* Evaluates tokens of sequence 0 at positions n_past.. (in batches of
 * n_batch) and keeps their logits (every token's with all_logits, else the
 * last's). TSR_ERR_INVALID for a token outside the vocabulary,
 * TSR_ERR_NO_KV_ROOM when the cache would overflow. Hot: allocates nothing. */
tsr_status tsr_model_eval(tsr_model *model, const int32_t *tokens, size_t n_tokens,
                          tsr_error *err);
/* Logits (n_vocab floats) of the i-th token of the last eval (all_logits),
 * or of its last token (i ignored otherwise). Valid until the next eval. */
const float *tsr_model_logits(const tsr_model *model, size_t i);
/* Forgets sequence 0's positions from n_keep on (n_keep <= n_past). */
void tsr_model_rollback(tsr_model *model, size_t n_keep);

/* ---- several sequences ---------------------------------------------------
 * The plan provisions n_sequences KV caches of max_seq_len positions each;
 * sequence s holds positions [0, tsr_model_seq_len(s)) with nothing missing.
 * tsr_model_decode evaluates one batch (tessera.h's tsr_batch: token,
 * position, sequence and output flag per row) in one forward pass: every
 * sequence's rows must continue it, in batch order, from its length, and a
 * row's logits are bit-identical whatever else shares the batch. */

uint32_t tsr_model_n_sequences(const tsr_model *model);
/* Most rows one decode takes (the plan's n_batch), and most output rows. */
uint32_t tsr_model_n_batch(const tsr_model *model);
uint32_t tsr_model_n_outputs(const tsr_model *model);
/* Positions sequence seq holds (0 for an unknown seq). */
uint32_t tsr_model_seq_len(const tsr_model *model, int32_t seq);

/* Checks the batch, then evaluates it. Errors (nothing changed then):
 * TSR_ERR_INVALID for an empty or too large batch, an unknown token or
 * sequence, a position that does not continue its sequence, more output rows
 * than tsr_model_n_outputs; TSR_ERR_NO_KV_ROOM when a sequence would pass
 * max_seq_len; TSR_ERR_ABORTED when abort returned true between two layers
 * (every sequence keeps its length: the batch is undone). Hot: allocates
 * nothing. abort may be NULL. */
tsr_status tsr_model_decode(tsr_model *model, const tsr_batch *batch,
                            bool (*abort)(void *ctx), void *abort_ctx, tsr_error *err);
/* The logits of batch row i of the last decode, or NULL when that row was
 * not an output (or i is out of range). Valid until the next decode. */
const float *tsr_model_decode_logits(const tsr_model *model, int32_t i);

/* Whether the model holds every layer (else one pipeline stage's, as its
 * plan says: tsr_plan_model_request.first_layer, end_layer). A stage maps,
 * binds and reserves only its own layers, KV cache and scratch, the token
 * embedding on the first stage and the output head on the last; it runs
 * through tsr_model_stage_run alone (tsr_model_decode, saving and loading
 * a sequence refuse it, TSR_ERR_UNSUPPORTED). */
bool tsr_model_is_whole(const tsr_model *model);

/* One stage of a pipeline across hosts (core/dist/pipeline.c). Rank 0
 * checks the whole batch (tsr_model_decode_check: the errors of
 * tsr_model_decode, nothing changed), runs its stage over each chunk of it
 * and, once the last stage's logits of every chunk are in the logits
 * buffer in output order, commits it (sequences grow, the logits of row i
 * are found as after tsr_model_decode). Every other rank runs its stage
 * over the chunks it receives, unchecked beyond what the caller checks:
 * seq below tsr_model_n_sequences, pos below tsr_model_max_seq_len, at
 * most tsr_model_n_batch rows and tsr_model_n_outputs outputs. */
tsr_status tsr_model_decode_check(tsr_model *model, const tsr_batch *batch, tsr_error *err);
/* Layers [first_layer, end_layer) over chunk: from its tokens when embed,
 * else from the rows of tsr_model_stage_activations; then, with logits, the
 * output head. Returns the chunk's output rows. Hot: allocates nothing. */
uint32_t tsr_model_stage_run(tsr_model *model, const tsr_batch *chunk, uint32_t first_layer,
                             uint32_t end_layer, bool embed, bool logits);
void tsr_model_decode_commit(tsr_model *model, const tsr_batch *batch);
/* The residual stream, n_batch rows of n_embd floats: where a stage takes
 * its input (its first layer's device), and where it leaves its output (its
 * last layer's device; the same buffer unless the stage spans devices); and
 * the logits, n_outputs rows of n_vocab floats. */
float *tsr_model_stage_activations(tsr_model *model);
const float *tsr_model_stage_result(const tsr_model *model);
float *tsr_model_stage_logits(tsr_model *model);

/* Drops positions [p0, p1) of seq (p1 < 0: to the end; seq < 0: every
 * sequence). What remains must stay without holes: the range must reach the
 * sequence's end, else TSR_ERR_UNSUPPORTED. */
tsr_status tsr_model_seq_remove(tsr_model *model, int32_t seq, int32_t p0, int32_t p1,
                                tsr_error *err);
/* Makes dst hold src's first n_tokens positions (a copy of their K and V). */
tsr_status tsr_model_seq_copy(tsr_model *model, int32_t src, int32_t dst, uint32_t n_tokens,
                              tsr_error *err);
/* Empties every sequence but seq. */
void tsr_model_seq_keep(tsr_model *model, int32_t seq);

/* Writes seq's cache to f: a header (magic, version, the model's
 * fingerprint and cache layout), the n_tokens tokens given, K and V of every
 * position, and a checksum. */
tsr_status tsr_model_seq_save(const tsr_model *model, int32_t seq, const int32_t *tokens,
                              size_t n_tokens, FILE *f, const char *path, tsr_error *err);
/* Reads what tsr_model_seq_save wrote into seq (replacing what it held):
 * the tokens (at most max_tokens; *n_tokens their count) and the cache. A
 * file of another model, cache type or version, truncated or corrupt is
 * refused (TSR_ERR_FORMAT, naming path) and seq is left empty. */
tsr_status tsr_model_seq_load(tsr_model *model, int32_t seq, int32_t *tokens, size_t max_tokens,
                              size_t *n_tokens, FILE *f, const char *path, tsr_error *err);

#endif
