/* The job's transport over Open MPI (core/dist/net.h says what it promises).
 *
 * Waiting is polling: MPI_Test on the awaited request, then on the probe
 * receive every rank keeps posted, then a short sleep that grows to 1 ms.
 * Ranks of one job often share cores (tests, a laptop); a rank that spun
 * while it waited would take the core from the rank it waits for. The first
 * polls do not sleep, so a reply that is already on its way costs no sleep.
 */
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

/* Polls before the first sleep, and the longest sleep between polls. */
enum { SPIN_POLLS = 200, MAX_SLEEP_NS = 1000000, HOST_BYTES = 64 };

typedef struct peer_info {
    char host[HOST_BYTES];
    int32_t pid;
} peer_info;

static struct {
    bool started;      /* MPI_Init ran here */
    int rank, size;
    peer_info *peers;  /* size entries */
    MPI_Request probe; /* the posted receive of other ranks' probes */
    int probe_token;
} net = {.size = 1};

static const int pong_token = 1;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void pause_between_polls(unsigned *polls)
{
    if (++*polls <= SPIN_POLLS)
        return;
    long ns = 20000L << (*polls - SPIN_POLLS < 6 ? *polls - SPIN_POLLS : 6);
    struct timespec t = {0, ns < MAX_SLEEP_NS ? ns : MAX_SLEEP_NS};
    nanosleep(&t, NULL);
}

bool tsr_net_available(void)
{
    return true;
}

uint32_t tsr_net_rank(void)
{
    return (uint32_t)net.rank;
}

uint32_t tsr_net_size(void)
{
    return (uint32_t)net.size;
}

const char *tsr_net_host(void)
{
    return net.peers ? net.peers[net.rank].host : "localhost";
}

static const char *mpi_message(int code, char *buf)
{
    int n = 0;
    if (MPI_Error_string(code, buf, &n) != MPI_SUCCESS)
        snprintf(buf, MPI_MAX_ERROR_STRING, "MPI error %d", code);
    return buf;
}

#define MPI_FAIL(err, code, what)                                                                 \
    tsr_error_set(err, TSR_ERR_PEER, "rank %d: %s: %s", net.rank, what,                          \
                  mpi_message(code, (char[MPI_MAX_ERROR_STRING]){0}))

/* Answers the probes that have arrived; keeps one receive posted. */
static void answer_probes(void)
{
    if (!net.started || net.size < 2)
        return;
    for (;;) {
        int done = 0;
        MPI_Status st;
        if (MPI_Test(&net.probe, &done, &st) != MPI_SUCCESS || !done)
            return;
        MPI_Request r;
        if (MPI_Isend(&pong_token, 1, MPI_INT, st.MPI_SOURCE, TSR_NET_TAG_PONG, MPI_COMM_WORLD,
                      &r) == MPI_SUCCESS)
            MPI_Request_free(&r);
        MPI_Irecv(&net.probe_token, 1, MPI_INT, MPI_ANY_SOURCE, TSR_NET_TAG_PING, MPI_COMM_WORLD,
                  &net.probe);
    }
}

/* Launched by mpirun (or another PMIx launcher) as one of several ranks. */
static bool launched_by_mpirun(void)
{
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    return n && atoi(n) > 1;
}

tsr_status tsr_net_init(int *argc, char ***argv, tsr_error *err)
{
    if (net.started || !launched_by_mpirun())
        return TSR_OK;
    int provided = 0, code = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    if (code != MPI_SUCCESS)
        return tsr_error_set(err, TSR_ERR_PEER, "MPI_Init failed (error %d)", code);
    net.started = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &net.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &net.size);
    if (provided < MPI_THREAD_SERIALIZED)
        return tsr_error_set(err, TSR_ERR_PEER, "this MPI library does not let the thread "
                             "that decodes differ from the one that started it "
                             "(MPI_THREAD_SERIALIZED)");
    if (!(net.peers = calloc((size_t)net.size, sizeof *net.peers)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    peer_info mine = {.pid = (int32_t)getpid()};
    if (gethostname(mine.host, sizeof mine.host - 1) != 0)
        snprintf(mine.host, sizeof mine.host, "?");
    MPI_Irecv(&net.probe_token, 1, MPI_INT, MPI_ANY_SOURCE, TSR_NET_TAG_PING, MPI_COMM_WORLD,
              &net.probe);
    code = MPI_Allgather(&mine, sizeof mine, MPI_BYTE, net.peers, sizeof mine, MPI_BYTE,
                         MPI_COMM_WORLD);
    return code == MPI_SUCCESS ? TSR_OK : MPI_FAIL(err, code, "exchanging host names");
}

void tsr_net_finalize(void)
{
    if (!net.started)
        return;
    MPI_Cancel(&net.probe);
    MPI_Request_free(&net.probe);
    MPI_Finalize();
    free(net.peers);
    net.peers = NULL;
    net.started = false;
}

void tsr_net_abort(int exit_code)
{
    if (net.started)
        MPI_Abort(MPI_COMM_WORLD, exit_code);
    exit(exit_code);
}

/* Probes every other rank in turn; returns the first that does not answer
 * within timeout_s, or -1 when all do. */
static int first_silent_rank(double timeout_s)
{
    for (int q = 0; q < net.size; q++) {
        if (q == net.rank)
            continue;
        int token = 1, pong = 0, done = 0;
        MPI_Request ping, reply;
        if (MPI_Isend(&token, 1, MPI_INT, q, TSR_NET_TAG_PING, MPI_COMM_WORLD, &ping) !=
            MPI_SUCCESS)
            return q;
        MPI_Request_free(&ping);
        MPI_Irecv(&pong, 1, MPI_INT, q, TSR_NET_TAG_PONG, MPI_COMM_WORLD, &reply);
        double until = now_s() + timeout_s;
        unsigned polls = 0;
        while (MPI_Test(&reply, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done &&
               now_s() < until) {
            answer_probes();
            pause_between_polls(&polls);
        }
        if (!done) {
            MPI_Cancel(&reply);
            MPI_Request_free(&reply);
            return q;
        }
    }
    return -1;
}

/* The message of a wait that passed its deadline. */
static tsr_status stalled(double waited_s, const char *what, uint32_t peer, tsr_error *err)
{
    double probe_s = waited_s / 2 < 0.2 ? 0.2 : waited_s / 2 > 2 ? 2 : waited_s / 2;
    int silent = first_silent_rank(probe_s);
    if (silent >= 0)
        return tsr_error_set(err, TSR_ERR_PEER, "rank %d (pid %d on %s) stopped answering: "
                             "rank %d waited %.1f s for %s from rank %u (dist.timeout), then "
                             "rank %d did not answer within %.1f s", silent,
                             (int)net.peers[silent].pid, net.peers[silent].host, net.rank,
                             waited_s, what, peer, silent, probe_s);
    return tsr_error_set(err, TSR_ERR_PEER, "rank %u (pid %d on %s) is too slow: rank %d "
                         "waited %.1f s for %s from it (dist.timeout), though every rank "
                         "answers; raise dist.timeout", peer, (int)net.peers[peer].pid,
                         net.peers[peer].host, net.rank, waited_s, what);
}

tsr_status tsr_net_allgather(const void *mine, size_t bytes, void *all, double timeout_s,
                             tsr_error *err)
{
    if (!net.started) {
        memcpy(all, mine, bytes);
        return TSR_OK;
    }
    MPI_Request r;
    int code = MPI_Iallgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE,
                              MPI_COMM_WORLD, &r);
    if (code != MPI_SUCCESS)
        return MPI_FAIL(err, code, "exchanging the handshake");
    tsr_net_request req = {.handle_ = &r, .peer = 0};
    /* A collective has no one sender; name rank 0 unless the probe finds the silent one. */
    double start = now_s();
    int done = 0;
    unsigned polls = 0;
    while ((code = MPI_Test(&r, &done, MPI_STATUS_IGNORE)) == MPI_SUCCESS && !done) {
        if (timeout_s >= 0 && now_s() - start > timeout_s)
            return stalled(now_s() - start, "the handshake", req.peer, err);
        answer_probes();
        pause_between_polls(&polls);
    }
    return code == MPI_SUCCESS ? TSR_OK : MPI_FAIL(err, code, "exchanging the handshake");
}

static tsr_status start(MPI_Request *r, tsr_net_request *req, uint32_t peer, int tag, int code,
                        const char *what, tsr_error *err)
{
    if (code != MPI_SUCCESS) {
        free(r);
        return MPI_FAIL(err, code, what);
    }
    *req = (tsr_net_request){r, peer, tag};
    return TSR_OK;
}

tsr_status tsr_net_isend(const void *buf, size_t bytes, uint32_t to, int tag,
                         tsr_net_request *req, tsr_error *err)
{
    MPI_Request *r = malloc(sizeof *r);
    if (!r)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    int code = MPI_Isend(buf, (int)bytes, MPI_BYTE, (int)to, tag, MPI_COMM_WORLD, r);
    return start(r, req, to, tag, code, "sending", err);
}

tsr_status tsr_net_irecv(void *buf, size_t bytes, uint32_t from, int tag, tsr_net_request *req,
                         tsr_error *err)
{
    MPI_Request *r = malloc(sizeof *r);
    if (!r)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    int code = MPI_Irecv(buf, (int)bytes, MPI_BYTE, (int)from, tag, MPI_COMM_WORLD, r);
    return start(r, req, from, tag, code, "receiving", err);
}

tsr_status tsr_net_wait(tsr_net_request *req, double timeout_s, const char *what,
                        size_t *received, tsr_error *err)
{
    if (!req->handle_)
        return TSR_OK;
    MPI_Request *r = req->handle_;
    double begin = now_s();
    int done = 0, code;
    unsigned polls = 0;
    MPI_Status st;
    while ((code = MPI_Test(r, &done, &st)) == MPI_SUCCESS && !done) {
        if (timeout_s >= 0 && now_s() - begin > timeout_s)
            return stalled(now_s() - begin, what, req->peer, err);
        answer_probes();
        pause_between_polls(&polls);
    }
    free(r);
    req->handle_ = NULL;
    if (code != MPI_SUCCESS)
        return MPI_FAIL(err, code, what);
    if (received) {
        int n = 0;
        MPI_Get_count(&st, MPI_BYTE, &n);
        *received = (size_t)n;
    }
    return TSR_OK;
}

void tsr_net_cancel(tsr_net_request *req)
{
    if (!req->handle_)
        return;
    MPI_Request *r = req->handle_;
    MPI_Cancel(r);
    MPI_Request_free(r);
    free(r);
    req->handle_ = NULL;
}
