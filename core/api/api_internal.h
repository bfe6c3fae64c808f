/* What the runtime API's objects hold: the public handles of tessera.h over
 * the core's profile, registry, plan, model and tokenizer. */
#ifndef TSR_CORE_API_INTERNAL_H
#define TSR_CORE_API_INTERNAL_H

#include "chat.h"
#include "model.h"
#include "plan.h"
#include "profile.h"
#include "sampler_chain.h"
#include "tokenizer.h"

struct tsr_deployment {
    tsr_config config;
    bool config_loaded;
    tsr_profile *profile;
    tsr_registry *registry;
    tsr_gguf *gguf;
    tsr_gguf *draft_gguf;          /* the draft's file: headers only when nothing loads */
    tsr_plan *plan;
    const tsr_alloc_vtable *alloc;
    void *alloc_state;
    tsr_model *model;
    tsr_model *draft_model;        /* loaded when the strategy needs a draft */
    tsr_tokenizer *tokenizer;
    char *chat_source;             /* tokenizer.chat_template, NUL-terminated, or NULL */
    tsr_progress_cb progress;
    void *progress_ctx;
    tsr_context *context;          /* the one open context, or NULL */
    tsr_format_use *formats;       /* what the model computes with, and who serves it */
    size_t n_formats;
    /* Planning only (tsr_plan_profile): headers are read, nothing loads. */
    bool headers_only;
    tsr_diagnostics *collect;      /* when set, every diagnostic is also copied here */
    struct tsr_pipeline *pipeline; /* under mpirun: this rank's stage; NULL in a job of one */
    struct tsr_pipeline_stage_stats *stage_stats; /* rank 0: the last collect's, per rank */
    tsr_plan_device_spec specs[TSR_PROFILE_MAX_DEVICES]; /* this process's devices */
    uint32_t n_specs;
    /* A job across hosts (mpirun, or hosts simulated by tsr_plan_profile):
     * every rank's host, devices and layers, and every rank's plan of its
     * stage (plan is job_plans[this rank]; whole_plan the model's plan on
     * this process's devices, unjudged). */
    struct tsr_pipeline_rank *job;
    uint32_t n_job;
    tsr_plan **job_plans;
    tsr_plan *whole_plan;
    bool job_fits;
};

/* How tsr_plan_profile opens a deployment: only as far as the plan. */
typedef struct tsr_open_extra {
    bool headers_only;
    const uint64_t *sim_bytes;     /* devices of these sizes (allocator sim) instead of the
                                      profile's; NULL: the profile's */
    size_t n_sim;
    const uint64_t *host_bytes;    /* hosts of these sizes (one device sim0 each, named
                                      host0, host1, ...) as a job across them */
    size_t n_hosts;
    tsr_diagnostics *collect;
} tsr_open_extra;

/* The one deployment-open path: a profile file (path), or text (yaml, n_bytes,
 * name, base_dir). On error *out is NULL unless extra->headers_only, where the
 * deployment is kept as far as it got (for its diagnostics). */
tsr_status tsr_api_open(const char *path, const char *yaml, size_t n_bytes, const char *name,
                        const char *base_dir, const tsr_deployment_params *params,
                        const tsr_open_extra *extra, tsr_deployment **out, tsr_error *err);

/* Plans d's model on the devices specs, every layer or (first_layer <
 * end_layer) a pipeline stage's, with the settings o and the profile give. */
tsr_status tsr_api_make_plan(const tsr_deployment *d, const tsr_deployment_params *o,
                             tsr_plan_device_spec *specs, uint32_t n_specs, uint32_t first_layer,
                             uint32_t end_layer, tsr_plan **out, tsr_error *err);
/* The deployment's findings: to the caller's callback and collecting list;
 * the first error with code into err. */
void tsr_api_report_findings(const tsr_deployment *d, const tsr_diagnostics *diags,
                             const tsr_deployment_params *o, tsr_status code, tsr_error *err);

/* ---- a job across hosts (core/api/job.c) ---- */
/* Hosts you do not have: host0, host1, ... each with one device sim0 of
 * host_bytes[i]. */
void tsr_api_simulate_hosts(const uint64_t *host_bytes, uint32_t n_hosts,
                            struct tsr_pipeline_rank *ranks);
/* Plans the job: each rank's layers (dist.layers or auto), each rank's
 * stage on its devices, as every rank does alike; takes ranks (malloc'd)
 * into d->job and sets d->plan to rank me's stage. Rank me == 0 reports
 * every finding (device names say "sim0 of rank 1 (host host1)"); another
 * rank reports none and returns the same status with an empty message.
 * TSR_ERR_INVALID: dist.layers does not fit the job (a profile error);
 * TSR_ERR_REFUSED: a stage does not fit, or a rank has no layers. */
tsr_status tsr_api_plan_job(tsr_deployment *d, const tsr_deployment_params *o,
                            struct tsr_pipeline_rank *ranks, uint32_t n_ranks, uint32_t me,
                            tsr_error *err);
/* Frees the job's plans; d->plan becomes the whole model's plan again. */
void tsr_api_free_job(tsr_deployment *d);

/* Fills d->formats from its loaded model and registry (core/api/formats.c). */
tsr_status tsr_api_describe_formats(tsr_deployment *d, tsr_error *err);
struct tsr_spec_session;

struct tsr_context {
    tsr_deployment *deployment;
    uint32_t n_seq_max;
    struct tsr_spec_session **spec; /* per sequence, opened on first use; NULL: no strategy */
    tsr_abort_cb abort;
    void *abort_ctx;
};

struct tsr_sampler {
    const tsr_deployment *deployment;
    tsr_sampler_chain *chain;
};

/* Opens the plugins on a profile's search path: extra, the profile's
 * plugins.path, $TESSERA_PLUGIN_PATH, tessera.ini's, the install folder.
 * The one place that search path is built; profile NULL: none. */
tsr_status tsr_api_open_registry(const tsr_config *config, const tsr_profile *profile,
                                 const char *const *extra, size_t n_extra, tsr_registry **out,
                                 tsr_error *err);

/* A finding as the public API hands it on (strings still the list's). */
tsr_diagnostic_info tsr_api_diagnostic_info(const tsr_diagnostic *d);
/* Hands every finding of diags to callback (may be NULL) and copies it
 * into collect (may be NULL); unless code is TSR_OK, the first error (with
 * its hint) also goes to err with that code. */
void tsr_api_report(const tsr_diagnostics *diags, tsr_diagnostic_cb callback, void *ctx,
                    tsr_diagnostics *collect, tsr_status code, tsr_error *err);

/* Reads a params struct of the caller's struct_size into a zeroed full one
 * over the defaults: members the caller's struct predates keep them. */
void tsr_api_copy_params(void *dst, size_t dst_bytes, const void *src);

/* Seconds on a monotonic clock (generation and speculation timings). */
double tsr_api_now(void);

#endif
