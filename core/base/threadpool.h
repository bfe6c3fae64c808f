/* The core's thread pool: a fixed set of threads that run one function
 * together, hundreds of times per decode step.
 *
 * A decode step of a small model is hundreds of operations of 10-100 us
 * each, so a dispatch must cost far less than that: the workers spin on a
 * generation counter for a while (TSR_THREADPOOL_SPIN_NS; pausing at first,
 * then also yielding the core: soon when the pool has more threads than
 * CPUs, in case a thread of ours waits for it, late otherwise) before
 * sleeping on a condition variable, the calling thread works as thread 0,
 * and completion is one atomic counter. Nothing is allocated per dispatch.
 */
#ifndef TSR_CORE_THREADPOOL_H
#define TSR_CORE_THREADPOOL_H

#include <stdint.h>

#include "tessera/error.h"

/* How long an idle worker keeps spinning before it sleeps. Long enough to
 * cover the gaps inside a decode step (sampling, detokenising), short enough
 * that an idle runtime does not burn a core. */
#define TSR_THREADPOOL_SPIN_NS 1000000

/* The most threads a pool may have. */
enum { TSR_THREADPOOL_MAX_THREADS = 1024 };

typedef struct tsr_threadpool tsr_threadpool;

/* The work of one dispatch: called once on every thread with its index in
 * [0, n_threads). It must not call tsr_threadpool_run itself. */
typedef void (*tsr_parallel_fn)(void *ctx, uint32_t thread_index, uint32_t n_threads);

/* Physical cores this process may run on (SMT siblings counted once), from
 * /sys/devices/system/cpu/cpuN/topology, else /proc/cpuinfo, else the online
 * processor count. Always >= 1. */
uint32_t tsr_cpu_physical_cores(void);

/* Starts a pool of n_threads threads counting the caller (n_threads - 1 are
 * created); 0 means tsr_cpu_physical_cores(). TSR_ERR_INVALID past
 * TSR_THREADPOOL_MAX_THREADS, TSR_ERR_NOMEM when a thread cannot be created.
 * Setup call. */
tsr_status tsr_threadpool_open(uint32_t n_threads, tsr_threadpool **pool, tsr_error *err);
/* Stops and joins every worker and frees the pool; NULL is fine. Not while a
 * run is in progress. */
void tsr_threadpool_close(tsr_threadpool *pool);
/* The pool's thread count, the caller included. */
uint32_t tsr_threadpool_n_threads(const tsr_threadpool *pool);

/* Runs fn(ctx, i, n) for every i in [0, n), each exactly once, and returns
 * when all have returned; their writes are visible to the caller. i = 0 runs
 * on the calling thread, and so does, after it, every index whose worker has
 * not started yet (a worker descheduled by a busy machine delays nothing), so
 * fn must divide its work by i alone, never by which thread runs it.
 * Hot: no allocation, no system call while the workers are spinning. One
 * thread at a time may call it on a given pool. */
void tsr_threadpool_run(tsr_threadpool *pool, tsr_parallel_fn fn, void *ctx);

/* The part_index-th of n_parts contiguous ranges that split [0, n): every
 * boundary but the last (n) is a multiple of granularity (>= 1), the
 * ranges are disjoint, cover [0, n) in order, and differ in length by at
 * most one granule. An empty range has begin == end. */
void tsr_split_range(int64_t n, int64_t granularity, uint32_t part_index, uint32_t n_parts,
                     int64_t *begin, int64_t *end);

#endif
