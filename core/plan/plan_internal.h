/* The planner's insides, shared by plan.c (sizing, the plan as a value),
 * plan_layout.c (placement and accounting) and plan_check.c (diagnostics
 * and the hints they compute by placing again with one setting changed). */
#ifndef TSR_CORE_PLAN_INTERNAL_H
#define TSR_CORE_PLAN_INTERNAL_H

#include "llama_arch.h"
#include "plan.h"

/* A tensor of the file, in file order. */
typedef struct plan_tensor {
    const char *name;
    uint64_t offset, bytes;   /* in the data section, as the file lays it out */
    uint64_t placed_bytes;    /* in memory: bytes, or its size re-quantized */
    uint64_t n_elems;
    int32_t unit;             /* a layer, TSR_PLAN_UNIT_INPUT/OUTPUT, or _NONE: not loaded */
    uint32_t type;            /* the GGUF type as stored */
    uint32_t n_dims;
    bool requantized;         /* placed in the model's quantize format, not as stored */
} plan_tensor;

/* What is fixed about one model while the planner tries settings. */
typedef struct plan_model_in {
    const tsr_plan_model_request *request;
    const char *path;
    tsr_llama_config config;
    plan_tensor *tensors;     /* every tensor of the file, sorted by offset */
    size_t n_tensors;
    uint64_t *layer_weights;  /* n_layer: the bytes of each layer's tensors */
    uint64_t input_weights, output_weights;
    uint64_t weights;         /* the sum of the three */
    uint64_t params;          /* values in the placed tensors */
    const tsr_quant_vtable *quantize; /* NULL: weights as stored */
    const tsr_quant_vtable *cache_q;  /* the requested cache type */
    uint32_t max_seq_len;     /* resolved */
    uint64_t activations_bytes, logits_bytes;
    bool all_logits;
    uint32_t outputs_per_seq;    /* logit rows per sequence in one decode */
    uint32_t first, end;         /* the layers placed: every one, or a stage's */
} plan_model_in;

/* The settings one placement is made with; the hints vary one of them. */
typedef struct plan_settings {
    uint32_t n_models;                        /* 1: without the draft */
    uint32_t max_seq_len[TSR_PLAN_MAX_MODELS];
    const tsr_quant_vtable *cache_q[TSR_PLAN_MAX_MODELS];
    double weight_scale[TSR_PLAN_MAX_MODELS]; /* 1: the model as it is; less: a smaller one */
    uint32_t n_sequences;                     /* KV caches per model */
    bool split_auto;
    const uint64_t *split_bytes;              /* n_devices budgets when !split_auto */
} plan_settings;

typedef struct plan_sums {
    uint64_t weights, kv, scratch;
    int32_t first, last;
} plan_sums;

/* One placement and its accounting. */
typedef struct plan_layout {
    uint32_t *layer_device[TSR_PLAN_MAX_MODELS];
    plan_sums *sums[TSR_PLAN_MAX_MODELS];     /* n_devices each */
    uint64_t *totals;                         /* n_devices: everything, overhead and reserve in */
    int32_t first_over_budget;                /* manual split: the first main layer the budgets
                                                 could not hold, or -1 */
    bool fits;                                /* no device over capacity, nothing over budget */
} plan_layout;

typedef struct planner {
    const tsr_plan_request *request;
    plan_model_in models[TSR_PLAN_MAX_MODELS];
    uint32_t n_models;
    uint32_t n_devices;
    plan_settings settings;                   /* as requested (split-mismatch: auto) */
    double *room;                             /* n_devices, for spreading */
} planner;

/* ---- the layout step (plan_layout.c) ---- */
tsr_status plan_layout_init(plan_layout *layout, const planner *p, tsr_error *err);
void plan_layout_free(plan_layout *layout);
/* Places every model of s and counts what each device holds; returns
 * layout->fits. */
bool plan_place(const planner *p, const plan_settings *s, plan_layout *layout);
uint64_t plan_kv_layer_bytes(const planner *p, const plan_settings *s, uint32_t model);
/* The weights a model would have at scale. */
uint64_t plan_scaled(uint64_t bytes, double scale);
/* Calls run(ctx, device, offset, bytes) for each run of consecutive tensors
 * (in file order) that a model places on one device. An unplaced tensor
 * ends a run. Re-quantized weights are not runs of the file: each tensor
 * counts alone, aligned, with offset UINT64_MAX. */
void plan_for_each_run(const plan_model_in *m, const uint32_t *layer_device,
                       void (*run)(void *ctx, uint32_t device, uint64_t offset, uint64_t bytes),
                       void *ctx);

/* Whether the model's scratch holds its logits (tsr_plan_holds_logits). */
static inline bool plan_holds_logits(const plan_model_in *m)
{
    return m->first == 0 || m->end == m->config.n_layer;
}

/* Re-quantized tensors sit at 64-byte boundaries, as the loader places them. */
static inline uint64_t plan_align_up(uint64_t n)
{
    return (n + 63) & ~(uint64_t)63;
}

/* ---- the checks (plan_check.c, plan_device.c) ---- */
/* Adds a diagnostic of the planner's, placed in the profile when there is
 * one; NULL when out of memory. */
tsr_diagnostic *plan_report(const planner *p, tsr_diagnostics *diags, tsr_severity severity,
                            const char *code, tsr_profile_loc at, const char *fmt, ...)
    TSR_PRINTF(6, 7);
/* Where a diagnostic about the devices points: the split, the devices
 * section or the model. */
tsr_profile_loc plan_devices_place(const planner *p);
/* Whether some device of the request is not the CPU. */
bool plan_has_device_kind(const planner *p);
/* The no-device-kernels checks: every tensor placed on a device of a kind
 * other than the CPU has a format with kernels of that kind, and every
 * KV cache there is of a type that kind's attention reads. */
void plan_check_device_kernels(const planner *p, const plan_layout *layout,
                               tsr_diagnostics *diags);
/* Adds the planner's diagnostics about layout (placed with p->settings). */
void plan_diagnose(const planner *p, const plan_layout *layout, tsr_diagnostics *diags);
/* The split-mismatch and split-exceeds-device checks (a split of the
 * wrong length is planned as auto: p->settings says so already). */
void plan_check_split(const planner *p, tsr_diagnostics *diags);

#endif
