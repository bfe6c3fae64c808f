/* The thread pool: every thread index runs exactly once per dispatch, the
 * caller sees the workers' writes, thousands of dispatches in a row complete,
 * sleeping workers wake, ranges split [0, n) exactly, and close joins
 * everything (ASan and valgrind find no leak). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "threadpool.h"

enum { MAX_TEST_THREADS = 8 };

typedef struct count_job {
    atomic_int calls[MAX_TEST_THREADS];
    atomic_int wrong_n_threads;
    uint32_t expected_n_threads;
} count_job;

static void count_calls(void *ctx, uint32_t thread_index, uint32_t n_threads)
{
    count_job *job = ctx;
    if (n_threads != job->expected_n_threads || thread_index >= MAX_TEST_THREADS)
        atomic_fetch_add(&job->wrong_n_threads, 1);
    else
        atomic_fetch_add(&job->calls[thread_index], 1);
}

static tsr_threadpool *open_pool(uint32_t n_threads)
{
    tsr_threadpool *pool = NULL;
    tsr_error err = {0};
    cr_assert_eq(tsr_threadpool_open(n_threads, &pool, &err), TSR_OK, "%s", err.message);
    cr_assert_not_null(pool);
    return pool;
}

Test(threadpool, every_thread_index_runs_exactly_once)
{
    for (uint32_t n = 1; n <= MAX_TEST_THREADS; n++) {
        tsr_threadpool *pool = open_pool(n);
        cr_assert_eq(tsr_threadpool_n_threads(pool), n);
        for (int run = 1; run <= 3; run++) {
            count_job job = {.expected_n_threads = n};
            tsr_threadpool_run(pool, count_calls, &job);
            cr_assert_eq(atomic_load(&job.wrong_n_threads), 0, "n_threads passed wrong");
            for (uint32_t i = 0; i < n; i++)
                cr_assert_eq(atomic_load(&job.calls[i]), 1,
                             "%u threads, run %d: index %u ran %d times", n, run, i,
                             atomic_load(&job.calls[i]));
            for (uint32_t i = n; i < MAX_TEST_THREADS; i++)
                cr_assert_eq(atomic_load(&job.calls[i]), 0);
        }
        tsr_threadpool_close(pool);
    }
}

typedef struct caller_job {
    pthread_t caller;
    atomic_int zero_on_caller;
} caller_job;

static void check_thread_zero(void *ctx, uint32_t thread_index, uint32_t n_threads)
{
    caller_job *job = ctx;
    if (thread_index == 0 && pthread_equal(job->caller, pthread_self()))
        atomic_store(&job->zero_on_caller, 1);
}

Test(threadpool, caller_runs_as_thread_zero)
{
    tsr_threadpool *pool = open_pool(2);
    caller_job job = {.caller = pthread_self()};
    tsr_threadpool_run(pool, check_thread_zero, &job);
    cr_assert_eq(atomic_load(&job.zero_on_caller), 1);
    tsr_threadpool_close(pool);
}

/* Each thread writes its slot with the run number, non-atomically: the
 * caller must see every slot when run returns. */
typedef struct stamp_job {
    int64_t run;
    int64_t slots[MAX_TEST_THREADS];
    atomic_llong total;
} stamp_job;

static void stamp(void *ctx, uint32_t thread_index, uint32_t n_threads)
{
    stamp_job *job = ctx;
    job->slots[thread_index] = job->run;
    atomic_fetch_add(&job->total, thread_index + 1);
}

Test(threadpool, thousands_of_back_to_back_dispatches_complete)
{
    const uint32_t sizes[] = {2, 3};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s];
        tsr_threadpool *pool = open_pool(n);
        stamp_job job = {0};
        const int64_t runs = n == 2 ? 20000 : 2000;
        /* Checked in plain C, asserted once: Criterion reports every
         * assertion to its runner, which would dominate the timing. */
        int64_t first_stale_run = 0;
        for (job.run = 1; job.run <= runs; job.run++) {
            tsr_threadpool_run(pool, stamp, &job);
            for (uint32_t i = 0; i < n; i++)
                if (job.slots[i] != job.run && first_stale_run == 0)
                    first_stale_run = job.run;
        }
        cr_assert_eq(first_stale_run, 0, "%u threads, run %lld: a worker's write was not visible",
                     n, (long long)first_stale_run);
        cr_assert_eq(atomic_load(&job.total), runs * n * (n + 1) / 2);
        tsr_threadpool_close(pool);
    }
}

/* More threads than this machine has cores, and pauses that put workers to
 * sleep: workers are descheduled mid-protocol, the caller runs the indices
 * of those that have not started, and a worker that wakes late must find its
 * index taken, never run a later job's (a first version let a worker that
 * slept through two jobs claim a third's index: index 1 ran twice). */
Test(threadpool, indices_run_exactly_once_when_workers_are_descheduled)
{
    enum { N = MAX_TEST_THREADS, RUNS = 6000 };
    tsr_threadpool *pool = open_pool(N);
    stamp_job job = {0};
    count_job counts = {.expected_n_threads = N};
    int64_t first_bad_run = 0;
    for (job.run = 1; job.run <= RUNS && first_bad_run == 0; job.run++) {
        if (job.run % 1000 == 0) {
            struct timespec pause = {0, 2 * TSR_THREADPOOL_SPIN_NS};
            nanosleep(&pause, NULL);
        }
        tsr_threadpool_run(pool, stamp, &job);
        for (uint32_t i = 0; i < N; i++)
            atomic_store(&counts.calls[i], 0);
        tsr_threadpool_run(pool, count_calls, &counts);
        for (uint32_t i = 0; i < N; i++)
            if (job.slots[i] != job.run || atomic_load(&counts.calls[i]) != 1)
                first_bad_run = job.run;
    }
    cr_assert_eq(first_bad_run, 0, "run %lld: an index ran twice, never, or unseen",
                 (long long)first_bad_run);
    cr_assert_eq(atomic_load(&job.total), (int64_t)RUNS * N * (N + 1) / 2);
    cr_assert_eq(atomic_load(&counts.wrong_n_threads), 0);
    tsr_threadpool_close(pool);
}

Test(threadpool, sleeping_workers_wake_for_the_next_dispatch)
{
    tsr_threadpool *pool = open_pool(3);
    for (int round = 0; round < 3; round++) {
        /* Past the spin budget, so every worker is asleep on the condvar. */
        struct timespec pause = {0, 3 * TSR_THREADPOOL_SPIN_NS};
        nanosleep(&pause, NULL);
        count_job job = {.expected_n_threads = 3};
        tsr_threadpool_run(pool, count_calls, &job);
        for (uint32_t i = 0; i < 3; i++)
            cr_assert_eq(atomic_load(&job.calls[i]), 1);
    }
    tsr_threadpool_close(pool);
}

Test(threadpool, open_and_close_many_times)
{
    for (int i = 0; i < 50; i++) {
        tsr_threadpool *pool = open_pool(1 + i % 4);
        if (i % 2) {
            count_job job = {.expected_n_threads = 1 + i % 4};
            tsr_threadpool_run(pool, count_calls, &job);
        }
        tsr_threadpool_close(pool);
    }
    tsr_threadpool_close(NULL);
}

Test(threadpool, zero_threads_means_one_per_physical_core)
{
    uint32_t cores = tsr_cpu_physical_cores();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_geq(cores, 1);
    cr_assert_leq((long)cores, online > 0 ? online : 1);
    tsr_threadpool *pool = open_pool(0);
    cr_assert_eq(tsr_threadpool_n_threads(pool), cores);
    tsr_threadpool_close(pool);
}

Test(threadpool, refuses_more_threads_than_the_limit)
{
    tsr_threadpool *pool = (tsr_threadpool *)1;
    tsr_error err = {0};
    cr_assert_eq(tsr_threadpool_open(TSR_THREADPOOL_MAX_THREADS + 1, &pool, &err), TSR_ERR_INVALID);
    cr_assert_null(pool);
    cr_assert(strstr(err.message, "1025"), "%s", err.message);
}

/* ---- tsr_split_range ---------------------------------------------------- */

Test(threadpool, split_range_covers_without_overlap)
{
    const int64_t ns[] = {0,  1,  2,  3,   5,   15,   16,   17,    31,
                          63, 64, 65, 100, 576, 1000, 1536, 49152, 49153};
    const int64_t granularities[] = {1, 2, 4, 16, 32, 256};
    const uint32_t parts[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 64};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        for (size_t b = 0; b < sizeof granularities / sizeof granularities[0]; b++) {
            for (size_t c = 0; c < sizeof parts / sizeof parts[0]; c++) {
                int64_t n = ns[a], g = granularities[b];
                uint32_t n_parts = parts[c];
                int64_t expected_begin = 0, shortest = INT64_MAX, longest = 0;
                for (uint32_t p = 0; p < n_parts; p++) {
                    int64_t begin, end;
                    tsr_split_range(n, g, p, n_parts, &begin, &end);
                    cr_assert_eq(begin, expected_begin,
                                 "n=%lld g=%lld parts=%u: part %u starts at %lld", (long long)n,
                                 (long long)g, n_parts, p, (long long)begin);
                    cr_assert_leq(begin, end);
                    cr_assert(begin == n || begin % g == 0, "n=%lld g=%lld: begin %lld unaligned",
                              (long long)n, (long long)g, (long long)begin);
                    expected_begin = end;
                    shortest = end - begin < shortest ? end - begin : shortest;
                    longest = end - begin > longest ? end - begin : longest;
                }
                cr_assert_eq(expected_begin, n, "n=%lld g=%lld parts=%u: ends at %lld",
                             (long long)n, (long long)g, n_parts, (long long)expected_begin);
                cr_assert_leq(longest - shortest, g,
                              "n=%lld g=%lld parts=%u: unbalanced %lld..%lld", (long long)n,
                              (long long)g, n_parts, (long long)shortest, (long long)longest);
            }
        }
    }
}

Test(threadpool, split_range_past_the_parts_is_empty)
{
    int64_t begin = -1, end = -1;
    tsr_split_range(100, 4, 5, 4, &begin, &end);
    cr_assert_eq(begin, end);
    tsr_split_range(-3, 4, 0, 1, &begin, &end);
    cr_assert_eq(begin, 0);
    cr_assert_eq(end, 0);
}

typedef struct rows_job {
    int64_t n_rows, granularity;
    atomic_int *owner_count;
} rows_job;

static void mark_rows(void *ctx, uint32_t thread_index, uint32_t n_threads)
{
    rows_job *job = ctx;
    int64_t begin, end;
    tsr_split_range(job->n_rows, job->granularity, thread_index, n_threads, &begin, &end);
    for (int64_t r = begin; r < end; r++)
        atomic_fetch_add(&job->owner_count[r], 1);
}

Test(threadpool, pool_threads_split_rows_exactly_once)
{
    tsr_threadpool *pool = open_pool(3);
    const int64_t sizes[] = {1, 7, 64, 576, 1537};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        atomic_int *counts = calloc((size_t)sizes[s], sizeof *counts);
        rows_job job = {sizes[s], 16, counts};
        tsr_threadpool_run(pool, mark_rows, &job);
        for (int64_t r = 0; r < sizes[s]; r++)
            cr_assert_eq(atomic_load(&counts[r]), 1, "row %lld of %lld", (long long)r,
                         (long long)sizes[s]);
        free(counts);
    }
    tsr_threadpool_close(pool);
}
