/* The transport of a build without MPI: a job of one rank. Started by
 * mpirun anyway, it refuses rather than run the whole job on every rank. */
#include <stdlib.h>
#include <string.h>

#include "net.h"

bool tsr_net_available(void)
{
    return false;
}

tsr_status tsr_net_init(int *argc, char ***argv, tsr_error *err)
{
    (void)argc;
    (void)argv;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (n && atoi(n) > 1)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "started by mpirun as one of %s ranks, "
                             "but this tessera was built without MPI: configure it "
                             "--with-mpi to run pipeline stages across hosts", n);
    return TSR_OK;
}

void tsr_net_finalize(void)
{
}

void tsr_net_abort(int exit_code)
{
    exit(exit_code);
}

uint32_t tsr_net_rank(void)
{
    return 0;
}

uint32_t tsr_net_size(void)
{
    return 1;
}

const char *tsr_net_host(void)
{
    return "localhost";
}

tsr_status tsr_net_allgather(const void *mine, size_t bytes, void *all, double timeout_s,
                             tsr_error *err)
{
    (void)timeout_s;
    (void)err;
    memcpy(all, mine, bytes);
    return TSR_OK;
}

static tsr_status no_peers(tsr_error *err)
{
    return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "a job of one rank has no other rank to "
                         "talk to (a build without MPI)");
}

tsr_status tsr_net_isend(const void *buf, size_t bytes, uint32_t to, int tag,
                         tsr_net_request *req, tsr_error *err)
{
    (void)buf, (void)bytes, (void)to, (void)tag, (void)req;
    return no_peers(err);
}

tsr_status tsr_net_irecv(void *buf, size_t bytes, uint32_t from, int tag, tsr_net_request *req,
                         tsr_error *err)
{
    (void)buf, (void)bytes, (void)from, (void)tag, (void)req;
    return no_peers(err);
}

tsr_status tsr_net_wait(tsr_net_request *req, double timeout_s, const char *what,
                        size_t *received, tsr_error *err)
{
    (void)timeout_s, (void)what, (void)received, (void)err;
    return req->handle_ ? no_peers(err) : TSR_OK;
}

void tsr_net_cancel(tsr_net_request *req)
{
    req->handle_ = NULL;
}
