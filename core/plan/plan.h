/* The memory planner: from file headers alone, what every device will hold —
 * each model's weights layer by layer, its KV cache and scratch, the
 * runtime's overhead and the reserve — or why the deployment is refused.
 *
 * The plan is computed, never allocated: tsr_plan_make reads GGUF headers
 * (tsr_gguf_open_headers is enough; no tensor data is read) and asks the
 * allocator nothing but the devices' sizes, which the caller passes in. It
 * is then the one description of memory the runtime follows: tsr_model_open
 * reserves exactly what tsr_plan_model says, on the devices it says, and
 * nothing else (core/model/model.c takes its byte counts from the same functions,
 * core/arch/llama_arch.h's: tsr_model_kv_layer_bytes, tsr_model_scratch_bytes,
 * tsr_tensor_bytes, and its units from the same table of tensors).
 *
 * Placement rules.
 *   - Units. A model is its layers (blk.N.*: weights, norms, and the layer's
 *     K and V), plus the input unit (token_embd, rope_freqs), which lives
 *     with the first layer, and the output unit (output_norm, output), which
 *     lives with the last — on several devices, the first and the last, as
 *     llama.cpp does. A layer never spans devices; layers are contiguous:
 *     device 0 holds layers 0..a, device 1 a+1..b, and so on. A tied output
 *     head (no output.weight) reads token_embd where it lives. Tensors the
 *     forward pass does not read are not placed and not loaded.
 *   - split: auto. Each device's usable room is its capacity less the
 *     reserve, its overhead and the scratch it needs. The main model's cost
 *     (weights, plus K and V, per layer; the input and output units at the
 *     ends) is spread in proportion to the usable rooms: a layer goes to the
 *     device whose share of the cumulative cost its midpoint falls in.
 *   - split: [20, 24]. Each entry is a budget, a ceiling, for the main
 *     model's weights on that device (clamped to the device's capacity less
 *     its overhead and the reserve), as ExLlamaV2's manual split is: layers
 *     (and the input and output units with their layers) fill device 0 up
 *     to its budget, then
 *     device 1, and so on. Layers left when the budgets run out go to the
 *     last device, over its budget, and make a does-not-fit diagnostic.
 *     K, V and scratch follow their layers and count against capacity, not
 *     against the budget.
 *   - The draft. After the main model, the draft goes whole onto the device
 *     with the most room left, if one can hold it (a draft crossing devices
 *     pays a transfer per token); otherwise it is spread over the room left
 *     as `auto` spreads the main model.
 *   - KV cache. n_sequences caches of max_seq_len positions per model: one
 *     as `run` and `bench` use it, server.parallel for a server (PROFILE.md:
 *     "the planner provisions a KV cache for each").
 *   - Scratch. Every device that holds layers of a model holds that model's
 *     activation scratch (core/arch/llama_sizes.c's layout less the logits); the device
 *     of the output head holds the logits too.
 *   - Weights. A device's weights are the runs of consecutive tensors (in
 *     file order) placed on it, as the file lays them out, padding between
 *     them included: exactly what the allocator maps or reserves.
 *
 * Verdict. The plan fits when every device's total (weights + KV cache +
 * scratch + overhead + reserve) is at most its capacity and no diagnostic
 * is an error. The diagnostics (PROFILE.md's codes) are draft-is-main,
 * draft-vocab-mismatch, draft-too-large (a warning), does-not-fit (one per
 * device over capacity, or for a split that cannot hold the weights; its
 * hint is computed: the longest max_seq_len that fits, the largest cache
 * type that fits, a split that fits, the largest draft that fits, or the
 * bits per weight the weights would need), split-mismatch and
 * split-exceeds-device (a warning: a split entry is a ceiling, clamped to
 * what its device can hold beside the overhead and the reserve; only a
 * clamped split that cannot hold the weights is refused, as does-not-fit)
 * and no-device-kernels (plan_device.c: a tensor placed on a device whose
 * kind its format has no kernels for, or a KV cache type the device's
 * attention cannot read; never run on the host instead).
 *
 * Nothing here is thread-safe; a plan is made once, then only read.
 */
#ifndef TSR_CORE_PLAN_H
#define TSR_CORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "gguf.h"
#include "llama_arch.h"
#include "profile.h"
#include "tessera/tessera.h"

typedef enum tsr_plan_role { TSR_PLAN_MAIN = 0, TSR_PLAN_DRAFT = 1 } tsr_plan_role;
enum { TSR_PLAN_MAX_MODELS = 2, TSR_PLAN_NO_LAYER = -1 };

/* A device as the planner sees it. */
typedef struct tsr_plan_device_spec {
    char name[64];           /* "cpu", "sim0", "cuda1" */
    uint64_t capacity_bytes;
    uint64_t overhead_bytes; /* the runtime's cost on it besides our arenas */
    uint32_t device_kind;    /* TSR_DEVICE_KIND_*: what computes there; 0, the CPU */
} tsr_plan_device_spec;

/* One model to plan. */
typedef struct tsr_plan_model_request {
    const tsr_gguf *gguf;      /* headers at least; must outlive the plan */
    const char *path;          /* as the user named it (messages, JSON); NULL: the gguf's */
    uint32_t max_seq_len;      /* positions of context; 0: the draft follows the main model,
                                  the main model takes its own context_length */
    const char *cache_type;    /* a quant plugin with TSR_QUANT_KV_CACHE; NULL: "f16" */
    const char *quantize;      /* re-quantize weights to this quant plugin; NULL: as stored */
    /* A pipeline stage (core/dist/pipeline.h): the main model's layers
     * [first_layer, end_layer) alone, with the input unit's token_embd
     * when first_layer is 0, the output unit when end_layer is n_layer (a
     * tied head there with its own token_embd) and rope_freqs in every
     * stage. Both 0: every layer (the draft always). */
    uint32_t first_layer, end_layer;
} tsr_plan_model_request;

typedef struct tsr_plan_request {
    const tsr_registry *registry;           /* quant plugins: tensor, cache, activation sizes */
    tsr_plan_model_request models[TSR_PLAN_MAX_MODELS]; /* [0] main, [1] draft */
    uint32_t n_models;                      /* 1, or 2 with a draft */
    const tsr_plan_device_spec *devices;
    uint32_t n_devices;
    bool split_auto;
    const uint64_t *split_bytes;            /* !split_auto: weight budget per device */
    uint32_t n_split;
    uint64_t reserve_bytes;                 /* kept free on every device */
    uint32_t n_threads;                     /* CPU threads of the forward pass; 0: one per
                                               physical core (their workspaces are scratch) */
    uint32_t n_batch;                       /* most tokens per forward call; 0: 512 */
    uint32_t n_sequences;                   /* KV caches per model (server.parallel); 0: 1 */
    bool all_logits[TSR_PLAN_MAX_MODELS];   /* keep logits of every token of a batch */
    /* Output rows one decode gives each sequence: 1 (0 means 1), or
     * speculative.tokens + 1 for a main model that verifies drafts. */
    uint32_t outputs_per_seq[TSR_PLAN_MAX_MODELS];
    const tsr_profile *profile;             /* optional: diagnostics point into its file */
} tsr_plan_request;

/* A byte range of the model file's data section, from its start. */
typedef struct tsr_plan_extent {
    uint64_t offset, bytes;
} tsr_plan_extent;

/* One model's part of one device. */
typedef struct tsr_plan_share {
    int32_t first_layer, last_layer;   /* TSR_PLAN_NO_LAYER when it holds none */
    bool input, output;                /* holds the input unit / the output unit */
    uint64_t weights_bytes;            /* the sum of extents */
    uint64_t kv_cache_bytes;           /* (last - first + 1) x kv_layer_bytes */
    uint64_t scratch_bytes;            /* activations (+ logits on the output device) */
    tsr_plan_extent *extents;          /* the weights, in file order (NULL when requantized) */
    size_t n_extents;
} tsr_plan_share;

/* One model's placement: what tsr_model_open follows. */
typedef struct tsr_plan_model {
    tsr_plan_role role;
    char *path;                        /* as requested */
    uint64_t params;                   /* values in the tensors placed */
    uint64_t weights_bytes;            /* over every device */
    double bits_per_weight;            /* weights_bytes x 8 / params */
    uint32_t n_layer, n_vocab;
    uint32_t n_devices;                /* shares has one entry per device */
    /* The settings the numbers were computed with; the model runs with them. */
    uint32_t max_seq_len, n_batch, n_threads;
    uint32_t n_sequences;              /* KV caches provisioned, each max_seq_len long */
    bool all_logits;
    uint32_t outputs_per_seq;          /* logit rows per sequence (>= 1) */
    char cache_type[32];
    char *quantize;                    /* NULL: as stored */
    uint64_t kv_layer_bytes;           /* K and V of one layer, one sequence */
    uint64_t activations_bytes, logits_bytes; /* the scratch layout's two parts */
    uint32_t *layer_device;            /* n_layer entries; outside [first_layer, end_layer)
                                          the device of the nearest layer placed */
    uint32_t input_device, output_device;
    /* The layers placed: [0, n_layer), or a pipeline stage's. The input
     * unit is placed when first_layer is 0, the output unit when end_layer
     * is n_layer; share.input / share.output say so too. */
    uint32_t first_layer, end_layer;
    bool tied_output;                  /* the head reads token_embd */
    tsr_plan_share *shares;            /* one per device of the plan */
} tsr_plan_model;

/* One device's totals, over both models. */
typedef struct tsr_plan_device {
    tsr_plan_device_spec spec;
    uint64_t weights_bytes, kv_cache_bytes, scratch_bytes, overhead_bytes, reserve_bytes;
    uint64_t total_bytes;              /* the five above */
    uint64_t split_bytes;              /* the weight budget (manual split, clamped), or 0 */
    int32_t first_layer, last_layer;   /* of the main model; TSR_PLAN_NO_LAYER: none */
} tsr_plan_device;

typedef struct tsr_plan {
    bool fits;                         /* no device over capacity, no error diagnostic */
    tsr_plan_device *devices;
    uint32_t n_devices;
    tsr_plan_model models[TSR_PLAN_MAX_MODELS];
    uint32_t n_models;
    bool split_auto;                   /* how the main model was placed */
    tsr_diagnostics diags;             /* the planner's, with PROFILE.md's codes */
} tsr_plan;

/* Plans request. Returns TSR_OK with *out set whether or not the deployment
 * fits (out->fits, out->diags say); an error (no plan) when a model file
 * cannot be planned: not a Llama-family model, a tensor type that neither a
 * plugin nor the GGUF type table knows, a cache_type or quantize plugin
 * that is missing or cannot serve (the message names the file or key), or
 * memory ran out. Free with tsr_plan_free. */
tsr_status tsr_plan_make(const tsr_plan_request *request, tsr_plan **out, tsr_error *err);
void tsr_plan_free(tsr_plan *plan);

/* The request a validated profile makes: its models (with the gguf handles
 * given, draft may be NULL when the profile has none), split, reserve and
 * overhead (devices.overhead overrides each spec's overhead_bytes unless
 * auto; specs is modified in place), server.parallel sequences when it has
 * a server section (else 1). n_threads and n_batch are left 0. */
void tsr_plan_request_from_profile(const tsr_profile *profile, const tsr_registry *registry,
                                   const tsr_gguf *main_gguf, const tsr_gguf *draft_gguf,
                                   tsr_plan_device_spec *specs, uint32_t n_specs,
                                   tsr_plan_request *request);

/* The devices an opened allocator offers, as specs (at most max_specs).
 * Returns the count, or 0 with err set. */
uint32_t tsr_plan_devices_from_alloc(const tsr_alloc_vtable *alloc, void *state,
                                     tsr_plan_device_spec *specs, uint32_t max_specs,
                                     tsr_error *err);

/* The planner's names for the units and tensor sizes of llama_arch.h, whose
 * one table of tensors the loader reads too. */
enum {
    TSR_PLAN_UNIT_INPUT = TSR_LLAMA_UNIT_INPUT,
    TSR_PLAN_UNIT_OUTPUT = TSR_LLAMA_UNIT_OUTPUT,
    TSR_PLAN_UNIT_NONE = TSR_LLAMA_UNIT_NONE
};
static inline uint64_t tsr_plan_tensor_bytes(const tsr_registry *registry,
                                             const tsr_gguf_tensor *tensor)
{
    return tsr_tensor_bytes(registry, tensor);
}
static inline int32_t tsr_plan_tensor_unit(const char *name, uint32_t n_layer)
{
    return tsr_llama_tensor_unit(name, n_layer);
}

/* The device a placed unit (a layer, or TSR_PLAN_UNIT_INPUT/OUTPUT) is on. */
uint32_t tsr_plan_unit_device(const tsr_plan_model *model, int32_t unit);

/* The unit of the tensor named name in a stage of layers [first, end) of a
 * model of n_layer layers: its layer when the stage holds it; the output
 * unit's when the stage ends the model; token_embd with the first stage,
 * or (tied) with the last as the head's own copy; rope_freqs in every
 * stage (as the input unit: with the stage's first layer); otherwise
 * TSR_PLAN_UNIT_NONE, not placed. The whole model: tsr_plan_tensor_unit. */
int32_t tsr_plan_stage_unit(const char *name, uint32_t n_layer, uint32_t first, uint32_t end,
                            bool tied_output);
/* The same for a planned model. */
int32_t tsr_plan_model_unit(const tsr_plan_model *model, const char *name);
/* Whether a planned model holds its input unit (token_embd) / output unit. */
static inline bool tsr_plan_has_input(const tsr_plan_model *model)
{
    return model->first_layer == 0;
}
static inline bool tsr_plan_has_output(const tsr_plan_model *model)
{
    return model->end_layer == model->n_layer;
}
/* Whether its scratch holds the logits (on the output device): the last
 * stage computes them; the first (rank 0) receives them from the last. */
static inline bool tsr_plan_holds_logits(const tsr_plan_model *model)
{
    return model->first_layer == 0 || model->end_layer == model->n_layer;
}

/* The plan of one model on one device alone, without capacity checks: what
 * tsr_model_open uses when it is given no plan. */
tsr_status tsr_plan_single_device(const tsr_gguf *gguf, const tsr_registry *registry,
                                  const tsr_plan_model_request *model, uint32_t device,
                                  uint32_t n_threads, uint32_t n_batch, bool all_logits,
                                  tsr_plan **out, tsr_error *err);

/* "error", "warning", "note". */
const char *tsr_severity_name(tsr_severity severity);

/* The logit rows a model's scratch holds: n_sequences x outputs_per_seq. */
uint32_t tsr_plan_output_rows(const tsr_plan_model *model);

#endif
