/* The server's scheduler: one thread owns the context and decodes the next
 * token of every running sequence, and chunks of the prompts being read, in
 * one tsr_decode per step. HTTP threads hand it jobs and read what each job
 * has produced so far; everything they share is guarded by one mutex. */
#ifndef TSR_CLI_SERVE_SCHED_H
#define TSR_CLI_SERVE_SCHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/tessera.h"

enum { SERVE_MAX_STOP = 16, SERVE_MAX_TOP_LOGPROBS = 20, SERVE_MAX_CHOICES = 16 };

/* How one request generates: a sampler chain per choice and when to stop.
 * Owned by the job once made; the chains pass to the scheduler's thread with
 * the job. */
typedef struct serve_params {
    tsr_sampler *samplers[SERVE_MAX_CHOICES]; /* one chain per choice, the prompt accepted */
    uint32_t max_tokens;              /* 0: until the context is full */
    bool ignore_eos;
    char *stop[SERVE_MAX_STOP];       /* text that ends a choice, not sent */
    size_t n_stop;
    tsr_token *bias_tokens;           /* logit_bias: added to these tokens' logits */
    float *bias_values;
    size_t n_bias;
    uint32_t n_choices;               /* 1..SERVE_MAX_CHOICES, sharing the prompt */
    bool logprobs;                    /* each token's log-probability ... */
    uint32_t top_logprobs;            /* ... and the most likely alternatives */
} serve_params;

void serve_params_free(serve_params *p);

/* One generated token's log-probability and the most likely alternatives. */
typedef struct serve_logprob {
    tsr_token token;
    float logprob;
    uint32_t n_top;
    tsr_token top_tokens[SERVE_MAX_TOP_LOGPROBS];
    float top_logprobs[SERVE_MAX_TOP_LOGPROBS];
} serve_logprob;

/* What one choice has produced; the scheduler appends, readers copy under
 * the scheduler's mutex. */
typedef struct serve_choice {
    char *text;             /* released text: never part of a stop string */
    size_t n_text, text_cap;
    serve_logprob *logprobs;
    size_t n_logprobs, logprobs_cap;
    uint32_t n_tokens;      /* tokens sampled (the one that ended it included) */
    const char *finish_reason; /* NULL while running, then "stop" or "length" */
} serve_choice;

typedef enum serve_job_state {
    SERVE_JOB_WAITING,      /* queued for a slot */
    SERVE_JOB_RUNNING,
    SERVE_JOB_DONE,         /* finished, failed or cancelled */
} serve_job_state;

typedef struct serve_job {
    /* Set before submit, then read-only. */
    tsr_token *prompt;
    size_t n_prompt;
    serve_params params;
    /* Guarded by the scheduler's mutex. */
    serve_job_state state;
    bool cancelled;             /* the client went away */
    serve_choice *choices;      /* params.n_choices */
    uint32_t n_cached;          /* prompt tokens found in a slot's cache */
    char error[TSR_ERROR_MESSAGE_BYTES + 32]; /* non-empty when generation failed */
    double t_submit, t_first;   /* seconds (monotonic) */
    pthread_cond_t changed;     /* signalled whenever any of the above changes */
    int refs;
} serve_job;

typedef struct serve_sched serve_sched;

typedef struct serve_sched_options {
    uint32_t queue;             /* jobs waiting beyond the slots; more: 503 */
    uint32_t prefill_chunk;     /* most prompt rows per step while others generate */
} serve_sched_options;

/* Makes a context with every sequence the deployment provisioned and starts
 * the scheduler thread. */
tsr_status serve_sched_start(tsr_deployment *d, const serve_sched_options *options,
                             serve_sched **out, tsr_error *err);
/* Stops the thread: jobs still running or waiting end as failed, and new
 * ones are refused. The jobs stay readable until serve_sched_stop. */
void serve_sched_halt(serve_sched *s);
/* Halts (if not yet) and frees everything. */
void serve_sched_stop(serve_sched *s);

/* A new job for prompt (copied) and params (taken, also on failure). */
serve_job *serve_job_new(const tsr_token *prompt, size_t n_prompt, serve_params *params);

typedef enum serve_submit_result {
    SERVE_SUBMITTED,
    SERVE_QUEUE_FULL,
    SERVE_DRAINING,
} serve_submit_result;
/* Queues job; on SERVE_SUBMITTED the scheduler holds a reference until it is
 * done with it. */
serve_submit_result serve_sched_submit(serve_sched *s, serve_job *job);
/* Marks a job's client gone: its slots are freed at the next step. */
void serve_sched_cancel(serve_sched *s, serve_job *job);
/* Drops the caller's reference. */
void serve_job_release(serve_sched *s, serve_job *job);

/* The mutex that guards every job; wait on job->changed with it held. */
void serve_sched_lock(serve_sched *s);
void serve_sched_unlock(serve_sched *s);
/* Waits for job->changed or until ms pass; the lock must be held. */
void serve_sched_wait(serve_sched *s, serve_job *job, int ms);

/* New jobs are refused from now on (SERVE_DRAINING). */
void serve_sched_drain(serve_sched *s);
/* Some job is running or waiting. */
bool serve_sched_busy(serve_sched *s);

/* One pipeline stage's figures under mpirun (tsr_dist_stats, copied). */
enum { SERVE_MAX_STAGES = 16 };
typedef struct serve_stage_metrics {
    uint32_t rank, first_layer, last_layer;
    double compute_s, wait_s, idle_share;
    uint64_t rows, bytes_sent;
    double hop_latency_s, hop_bytes_per_s; /* to the next stage; 0 for the last */
    char host[64];
} serve_stage_metrics;

typedef struct serve_metrics {
    uint64_t prompt_tokens, prompt_tokens_cached, generated_tokens;
    uint64_t requests_finished, requests_cancelled, requests_rejected, requests_failed;
    uint64_t decode_steps, decode_rows;
    double decode_seconds;
    /* Speculation: forward passes that verified drafts, drafts, drafts kept. */
    uint64_t spec_verifications, spec_drafted, spec_accepted;
    uint32_t running, waiting, slots, slots_busy;
    uint64_t kv_tokens, kv_capacity;
    /* Under mpirun: every stage's figures as last gathered (when the
     * scheduler goes idle, and at most once a second while it decodes). */
    uint32_t n_stages;
    serve_stage_metrics stages[SERVE_MAX_STAGES];
} serve_metrics;
void serve_sched_metrics(serve_sched *s, serve_metrics *out);

/* Seconds on a monotonic clock. */
double serve_now(void);

#endif
