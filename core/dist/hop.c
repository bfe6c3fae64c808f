/* The measured cost of one hop: at the handshake each rank times a few
 * round trips to the next rank (its neighbour in the pipeline), of two
 * messages as the pipeline sends them: one row of activations (what a
 * decoding token carries across the boundary) and one prefill chunk's rows.
 *
 * One-way time is half the fastest round trip of each size: the fastest,
 * because ranks that share cores (or a loaded network) only ever add time.
 * The latency reported is the one-row message's one-way time, which is what
 * a decode step pays per hop; the bandwidth is what the chunk's further
 * bytes cost, (chunk - row) / (t_chunk - t_row). When noise makes the chunk
 * no slower than the row (a link far faster than the clock's resolution
 * over these sizes), the bandwidth is the chunk's bytes over its time,
 * which understates it but stays finite.
 *
 * Rank r answers rank r - 1's trips before it starts its own towards r + 1,
 * so the links are timed one after another (no two trips share the cores
 * of one machine), and no rank can wait on one that waits on it. Every wait
 * has the handshake's deadline, and a silent neighbour is named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net.h"
#include "pipeline.h"

/* Round trips per size (the first warms the path up and is not timed) and
 * the largest chunk timed: 4 MiB is ample for a bandwidth over any link,
 * and keeps the handshake under a second at 100 Mbit/s. */
enum { TRIPS = 5, MAX_CHUNK_BYTES = 4 << 20 };

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Rank me - 1's trips: every message back as it came, 2 x TRIPS of them. */
static tsr_status echo(uint8_t *buf, size_t bytes, uint32_t me, double timeout_s,
                       tsr_error *err)
{
    /* The first trip waits for every link before this one to be timed. */
    double first_timeout_s = timeout_s * me;
    char what[96];
    snprintf(what, sizeof what, "rank %u's timing of the link to rank %u", me - 1, me);
    tsr_status s = TSR_OK;
    for (int i = 0; s == TSR_OK && i < 2 * TRIPS; i++) {
        tsr_net_request req = {0};
        size_t got = 0;
        s = tsr_net_irecv(buf, bytes, me - 1, TSR_NET_TAG_HOP, &req, err);
        if (s == TSR_OK)
            s = tsr_net_wait(&req, i ? timeout_s : first_timeout_s, what, &got, err);
        if (s != TSR_OK)
            tsr_net_cancel(&req);
        if (s == TSR_OK)
            s = tsr_net_isend(buf, got, me - 1, TSR_NET_TAG_HOP, &req, err);
        if (s == TSR_OK)
            s = tsr_net_wait(&req, timeout_s, what, NULL, err);
    }
    return s;
}

/* The fastest of TRIPS - 1 timed round trips of `bytes` to rank me + 1. */
static tsr_status fastest_trip(uint8_t *buf, size_t bytes, uint32_t me, double timeout_s,
                               double *best_s, tsr_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "the echo of a %zu-byte message (the link's timing)", bytes);
    *best_s = 0;
    tsr_status s = TSR_OK;
    for (int i = 0; s == TSR_OK && i < TRIPS; i++) {
        tsr_net_request out = {0}, back = {0};
        double t0 = now_s();
        s = tsr_net_irecv(buf, bytes, me + 1, TSR_NET_TAG_HOP, &back, err);
        if (s == TSR_OK)
            s = tsr_net_isend(buf, bytes, me + 1, TSR_NET_TAG_HOP, &out, err);
        if (s == TSR_OK)
            s = tsr_net_wait(&out, timeout_s, what, NULL, err);
        if (s == TSR_OK)
            s = tsr_net_wait(&back, timeout_s, what, NULL, err);
        if (s != TSR_OK)
            tsr_net_cancel(&back);
        double trip = now_s() - t0;
        if (s == TSR_OK && i > 0 && (*best_s == 0 || trip < *best_s))
            *best_s = trip;
    }
    return s;
}

tsr_status tsr_pipeline_measure_hops(tsr_pipeline_rank *ranks, uint32_t n_ranks, uint32_t me,
                                     size_t row_bytes, size_t chunk_bytes, double timeout_s,
                                     tsr_error *err)
{
    if (chunk_bytes > MAX_CHUNK_BYTES)
        chunk_bytes = MAX_CHUNK_BYTES;
    if (chunk_bytes <= row_bytes)
        chunk_bytes = 2 * row_bytes;
    uint8_t *buf = calloc(1, chunk_bytes);
    if (!buf)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_status s = TSR_OK;
    if (me > 0)
        s = echo(buf, chunk_bytes, me, timeout_s, err);
    /* This rank's link, as every rank will see it: {latency, bandwidth}. */
    double mine[2] = {0, 0};
    if (s == TSR_OK && me + 1 < n_ranks) {
        double row_s = 0, chunk_s = 0;
        s = fastest_trip(buf, row_bytes, me, timeout_s, &row_s, err);
        if (s == TSR_OK)
            s = fastest_trip(buf, chunk_bytes, me, timeout_s, &chunk_s, err);
        row_s /= 2;
        chunk_s /= 2;
        mine[0] = row_s;
        mine[1] = chunk_s > row_s ? (double)(chunk_bytes - row_bytes) / (chunk_s - row_s)
                                  : (double)chunk_bytes / chunk_s;
    }
    free(buf);
    double *all = s == TSR_OK ? calloc(2 * (size_t)n_ranks, sizeof *all) : NULL;
    if (s == TSR_OK && !all)
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK)
        s = tsr_net_allgather(mine, sizeof mine, all, timeout_s, err);
    for (uint32_t r = 0; s == TSR_OK && r < n_ranks; r++) {
        ranks[r].hop_latency_s = all[2 * r];
        ranks[r].hop_bytes_per_s = all[2 * r + 1];
        ranks[r].hop_row_bytes = r + 1 < n_ranks ? row_bytes : 0;
        ranks[r].hop_chunk_bytes = r + 1 < n_ranks ? chunk_bytes : 0;
    }
    free(all);
    return s;
}
