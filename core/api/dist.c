/* The runtime API's side of a job across hosts: joining and leaving it
 * (core/dist/net.h), and the stages of a deployment (core/dist/pipeline.h). */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "net.h"
#include "pipeline.h"

tsr_status tsr_dist_init(int *argc, char ***argv, tsr_error *err)
{
    return tsr_net_init(argc, argv, err);
}

void tsr_dist_finalize(void)
{
    tsr_net_finalize();
}

void tsr_dist_abort(int exit_code)
{
    tsr_net_abort(exit_code);
}

uint32_t tsr_dist_rank(void)
{
    return tsr_net_rank();
}

uint32_t tsr_dist_size(void)
{
    return tsr_net_size();
}

tsr_status tsr_dist_serve(tsr_deployment *d, tsr_error *err)
{
    if (!d->pipeline || tsr_net_rank() == 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "tsr_dist_serve is for ranks other than 0 "
                             "of a job started by mpirun; this is rank %u of %u",
                             tsr_net_rank(), tsr_net_size());
    return tsr_pipeline_serve(d->pipeline, err);
}

tsr_status tsr_dist_collect_stats(tsr_deployment *d, tsr_error *err)
{
    if (!d->pipeline || tsr_net_rank() != 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "tsr_dist_collect_stats is for rank 0 of a "
                             "job started by mpirun; this is rank %u of %u", tsr_net_rank(),
                             tsr_net_size());
    if (!d->stage_stats && !(d->stage_stats = calloc(tsr_net_size(), sizeof *d->stage_stats)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    return tsr_pipeline_stats(d->pipeline, d->stage_stats, err);
}

bool tsr_dist_stage_stats(const tsr_deployment *d, uint32_t rank, tsr_dist_stats *out)
{
    if (!d->stage_stats || rank >= tsr_net_size() || !out)
        return false;
    const tsr_pipeline_stage_stats *s = &d->stage_stats[rank];
    tsr_dist_stats all = {
        .struct_size = sizeof all,
        .rank = s->rank,
        .first_layer = s->first_layer,
        .last_layer = s->end_layer - 1,
        .weights_bytes = s->weights_bytes,
        .compute_s = s->compute_s,
        .wait_s = s->wait_s,
        .busy_s = s->busy_s,
        .idle_share = s->busy_s > s->compute_s ? 1.0 - s->compute_s / s->busy_s : 0.0,
        .rows = s->rows,
        .bytes_sent = s->bytes_sent,
        .host = s->host,
    };
    if (d->job && rank < d->n_job) {
        all.hop_latency_s = d->job[rank].hop_latency_s;
        all.hop_bytes_per_s = d->job[rank].hop_bytes_per_s;
        all.hop_row_bytes = d->job[rank].hop_row_bytes;
    }
    uint32_t size = out->struct_size;
    memcpy(out, &all, size < sizeof all ? size : sizeof all);
    out->struct_size = size < sizeof all ? size : (uint32_t)sizeof all;
    return true;
}
