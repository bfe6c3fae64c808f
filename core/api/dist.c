/* The runtime API's side of a job across hosts: joining and leaving it
 * (core/dist/net.h), and the stages of a deployment (core/dist/pipeline.h). */
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
