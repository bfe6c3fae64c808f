/* The job's transport: one process per rank, started by mpirun, talking
 * over Open MPI (core/dist/net_mpi.c), or a job of one (core/dist/net_none.c,
 * a build without --with-mpi, or tessera started without mpirun).
 *
 * No wait is unbounded inside a step: every wait takes a deadline, and while
 * a rank waits it answers other ranks' probes. A wait that passes its
 * deadline probes every other rank in turn and names the first that does
 * not answer (a stopped or wedged process), so that whichever rank notices a
 * stall first says which rank caused it.
 *
 * Setup calls (init, finalize, allgather) run on the thread that called
 * tsr_net_init; the rest on the one thread that runs this rank's stage.
 */
#ifndef TSR_CORE_DIST_NET_H
#define TSR_CORE_DIST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

/* Message kinds, as MPI tags. */
enum {
    TSR_NET_TAG_STAGE = 1,  /* a chunk of a step (or a control message) to the next stage */
    TSR_NET_TAG_LOGITS = 2, /* the last stage's logits, to rank 0 */
    TSR_NET_TAG_PING = 3,   /* "are you there?" */
    TSR_NET_TAG_PONG = 4,   /* "yes" */
    TSR_NET_TAG_STATS = 5,  /* a stage's figures, to rank 0 */
    TSR_NET_TAG_HOP = 6,    /* the handshake's timing of a link, and its echo */
};

/* Starts the job when launched by mpirun (else a job of one). Idempotent. */
tsr_status tsr_net_init(int *argc, char ***argv, tsr_error *err);
/* Ends the job cleanly (every rank calls it). */
void tsr_net_finalize(void);
/* Ends every rank of the job now, with this exit status. */
void tsr_net_abort(int exit_code);
uint32_t tsr_net_rank(void);
uint32_t tsr_net_size(void);
/* Whether this build can run a job of several ranks. */
bool tsr_net_available(void);

/* Every rank's `bytes` bytes, in rank order, into all (size x bytes);
 * TSR_ERR_PEER naming a rank that did not take part within timeout_s. */
tsr_status tsr_net_allgather(const void *mine, size_t bytes, void *all, double timeout_s,
                             tsr_error *err);

/* A transfer in progress. */
typedef struct tsr_net_request {
    void *handle_;  /* the transport's; NULL: none in progress */
    uint32_t peer;
    int tag;
} tsr_net_request;

tsr_status tsr_net_isend(const void *buf, size_t bytes, uint32_t to, int tag,
                         tsr_net_request *req, tsr_error *err);
tsr_status tsr_net_irecv(void *buf, size_t bytes, uint32_t from, int tag,
                         tsr_net_request *req, tsr_error *err);
/* Waits for req (nothing in progress: at once). timeout_s < 0 waits without
 * limit (between steps, when the rank before may be idle); otherwise a
 * stall is named as above, in a TSR_ERR_PEER message that says what was
 * awaited (`what`, e.g. "the activations of step 5"). *received (may be
 * NULL) gets the bytes a receive got. */
tsr_status tsr_net_wait(tsr_net_request *req, double timeout_s, const char *what,
                        size_t *received, tsr_error *err);
/* Cancels a receive still pending (at shutdown). */
void tsr_net_cancel(tsr_net_request *req);

/* The host this rank runs on ("node1"), for messages. */
const char *tsr_net_host(void);

#endif
