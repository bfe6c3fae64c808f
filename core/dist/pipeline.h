/* Pipeline stages across hosts: one stage per rank of an mpirun job, each a
 * contiguous range of layers (the first with the embeddings, the last with
 * the output head), the model's activations handed from rank to rank. Each
 * rank's model is planned and opened as its stage alone
 * (tsr_plan_model_request.first_layer, end_layer): it maps and reserves
 * nothing of the other stages'.
 *
 * Rank 0 owns the batch. tsr_pipeline_decode splits it into chunks of
 * consecutive rows (dist.in_flight of them, by default one per stage), runs
 * its own layers over each and sends it on, so that while rank 1 works on
 * chunk 1 rank 0 works on chunk 2: with m chunks in flight over p stages a
 * stage idles (p - 1) / (m + p - 1) of a step instead of (p - 1) / p. The
 * last stage sends each chunk's logits back to rank 0. A row's logits do not
 * depend on what shares its batch nor on how a sequence's tokens are split
 * into batches (core/forward.c), so with f32 activations the logits are
 * bit-identical to one process's.
 *
 * A chunk travels as one message: a fixed header (kind, step, chunk, rows,
 * outputs), each row's sequence, position and output flag, then the rows of
 * the residual stream (f32, or f16 with dist.activations: f16). Each rank
 * keeps two receive and two send buffers, so the next chunk arrives while
 * one is computed and a send is still in flight while the next is filled.
 */
#ifndef TSR_CORE_DIST_PIPELINE_H
#define TSR_CORE_DIST_PIPELINE_H

#include "gguf.h"
#include "diag.h"
#include "model.h"
#include "plan.h"
#include "profile.h"
#include "tessera/tessera.h"

/* The wire protocol's version: ranks that speak another one are refused at
 * the handshake. */
enum { TSR_WIRE_VERSION = 1 };

typedef struct tsr_pipeline tsr_pipeline;

enum { TSR_PIPELINE_MAX_DEVICES = 16 };

/* One rank of the job as every rank sees it after the handshake: where it
 * runs, the devices it offers the planner and the layers it gets
 * (tsr_pipeline_assign_layers; first_layer == end_layer: none). */
typedef struct tsr_pipeline_rank {
    char host[64];
    tsr_plan_device_spec devices[TSR_PIPELINE_MAX_DEVICES];
    uint32_t n_devices;
    uint32_t first_layer, end_layer;
    /* The link to rank + 1 as the handshake timed it (core/dist/hop.c): the
     * one-way time of one row of activations (hop_row_bytes) and the
     * bandwidth a prefill chunk's rows (hop_chunk_bytes) add. All 0 for the
     * last rank and for hosts simulated by `tessera plan --hosts`. */
    double hop_latency_s, hop_bytes_per_s;
    uint64_t hop_row_bytes, hop_chunk_bytes;
} tsr_pipeline_rank;

/* What a rank brings to the handshake besides its build and model file. */
typedef struct tsr_pipeline_setup {
    const tsr_profile *profile;   /* its dist: section (and its file, for messages) */
    const tsr_gguf *gguf;         /* the main model's file */
    const char *model_path;
    const tsr_registry *registry; /* the plugin set */
    const tsr_plan_device_spec *devices; /* this rank's, as its allocator offers them */
    uint32_t n_devices;
    uint32_t n_batch, n_sequences, max_seq_len, n_outputs; /* the plan's, on every rank alike */
    const char *cache_type, *quantize;
} tsr_pipeline_setup;

/* Shakes hands with every rank (tessera and wire version, CPU features,
 * plugin set, the model's fingerprint and shape, the settings every rank
 * must share) and gathers every rank's host and devices into ranks
 * (tsr_net_size() entries, layers not yet assigned). TSR_ERR_PEER names the
 * first rank that differs and the field. Collective: every rank calls it. */
tsr_status tsr_pipeline_handshake(const tsr_pipeline_setup *setup, tsr_pipeline_rank *ranks,
                                  tsr_error *err);

/* Times the link from each rank to the next (core/dist/hop.c says how):
 * round trips of row_bytes and chunk_bytes (at most 4 MiB), then every
 * rank's figures into every rank's ranks[].hop_*. Collective: every rank
 * of the job calls it, me its own rank. TSR_ERR_PEER names a rank that did
 * not answer within timeout_s. */
tsr_status tsr_pipeline_measure_hops(tsr_pipeline_rank *ranks, uint32_t n_ranks, uint32_t me,
                                     size_t row_bytes, size_t chunk_bytes, double timeout_s,
                                     tsr_error *err);

/* Gives each of n_ranks ranks its layers of a model of n_layer layers:
 * profile's dist.layers, or auto in proportion to each rank's room (its
 * devices' capacity less overhead and reserve), at least one layer per rank
 * while there are enough. Adds to diags a profile error at dist.layers'
 * place (FILE:LINE:COLUMN) for a list that does not end at the model's last
 * layer or gives more ranges than ranks (and returns TSR_ERR_INVALID), and a
 * rank-without-layers error per rank left without (TSR_OK: the job plan
 * refuses it). Every rank computes the same; needs no MPI. */
tsr_status tsr_pipeline_assign_layers(const tsr_profile *profile, const char *model_path,
                                      uint32_t n_layer, tsr_pipeline_rank *ranks,
                                      uint32_t n_ranks, tsr_diagnostics *diags);

/* Opens this rank's stage of model (which holds layers [first_layer,
 * end_layer)). In a job of one rank *out is NULL: nothing to do. */
tsr_status tsr_pipeline_open(tsr_model *model, const tsr_profile_dist *settings,
                             uint32_t first_layer, uint32_t end_layer, uint64_t weights_bytes,
                             tsr_pipeline **out, tsr_error *err);
/* Rank 0: tells every stage to stop (they return from tsr_pipeline_serve);
 * then frees. Other ranks: frees. */
void tsr_pipeline_close(tsr_pipeline *pipeline);

/* Rank 0: the errors of tsr_model_decode, and TSR_ERR_PEER when a rank
 * fails or stops answering within dist.timeout (the message names it). */
tsr_status tsr_pipeline_decode(tsr_pipeline *pipeline, const tsr_batch *batch, tsr_error *err);
/* Rank 0: makes every stage copy sequence src's first n_tokens positions
 * of K and V to dst, as tsr_model_seq_copy does on rank 0. */
tsr_status tsr_pipeline_seq_copy(tsr_pipeline *pipeline, int32_t src, int32_t dst,
                                 uint32_t n_tokens, tsr_error *err);
/* Other ranks: runs this stage until rank 0 closes its pipeline. */
tsr_status tsr_pipeline_serve(tsr_pipeline *pipeline, tsr_error *err);

/* What one stage did, summed since the pipeline opened. Crosses the wire
 * as it is (every rank runs the same build). */
typedef struct tsr_pipeline_stage_stats {
    uint32_t rank, first_layer, end_layer;
    uint32_t reserved;
    uint64_t weights_bytes;       /* the weights its plan maps or holds */
    double compute_s;             /* running its layers (and head) */
    double wait_s;                /* blocked on the stage before, a send, or the logits */
    double busy_s;                /* from its first chunk's start to its last's end */
    uint64_t bytes_sent, rows;    /* what it sent on; rows it computed */
    char host[64];
} tsr_pipeline_stage_stats;

/* Rank 0, between decodes: every stage's figures, asked of every rank and
 * awaited within dist.timeout (out has tsr_net_size() entries, in rank
 * order). TSR_ERR_PEER names a rank that did not answer. */
tsr_status tsr_pipeline_stats(tsr_pipeline *pipeline, tsr_pipeline_stage_stats *out,
                              tsr_error *err);

#endif
