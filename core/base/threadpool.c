/* The core's thread pool (see threadpool.h for the protocol's goals).
 *
 * Protocol. The caller writes the job (fn, ctx) and n_pending = workers, then
 * bumps `generation` (release). Index i > 0 of the job is claimed by setting
 * worker i's `claimed` to the generation (compare-and-swap: exactly one
 * claimant wins). A worker that sees a new generation (acquire) claims its
 * own index, runs it and decrements n_pending (release). The caller runs
 * index 0, then claims and runs every index whose worker has not claimed it
 * yet, then waits for n_pending == 0 (acquire), after which no worker reads
 * the job any more and the next one may be written; a worker that wakes
 * later finds its index taken and waits for the next generation.
 *
 * So a dispatch never waits for a worker that is not running: on a machine
 * busier than its cores (other processes, the server's own threads), a
 * worker descheduled for a time slice (milliseconds) would otherwise hold
 * up every one of a decode step's hundreds of dispatches (a 2-thread decode
 * ran at 4.5 tokens/s beside 77 with one thread on a 2-core machine at load
 * 16). The job functions divide their work by index alone (the forward
 * pass's stages also steal from each other's ranges), so which thread runs
 * an index changes nothing in what they compute.
 *
 * Sleeping. An idle worker spins for TSR_THREADPOOL_SPIN_NS, then counts
 * itself in n_sleeping and waits on the condition variable while the
 * generation is unchanged. The caller, after bumping the generation, signals
 * only when n_sleeping > 0. Both sides use sequentially consistent
 * operations in opposite order (worker: n_sleeping++ then read generation;
 * caller: generation++ then read n_sleeping), so at least one of them sees
 * the other: either the worker does not wait, or the caller wakes it. The
 * worker holds the mutex from its increment to the wait, so the broadcast
 * cannot slip in between.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "threadpool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* Spins between two looks at the clock while waiting. */
enum { SPINS_PER_CLOCK_READ = 64 };
/* How long a wait only pauses before it also yields the core on every step.
 * With more threads than CPUs: longer than the gaps between the operations
 * of a decode step, short enough that a thread of ours sharing the core gets
 * it back quickly. With a CPU per thread, yielding early only hands the core
 * to another process for a time slice (milliseconds, against steps of
 * microseconds), so a wait yields only once it is clearly waiting for a
 * thread that was descheduled: spinning on through that would spend this
 * thread's fair share of the CPU and have it descheduled in turn (a loaded
 * machine ran a 2-thread test 5x slower without ever yielding). */
#define PURE_SPIN_NS 20000
#define PURE_SPIN_NS_DEDICATED 200000

typedef struct worker {
    /* The generation whose job index `index` was last claimed for (by this
     * worker or by the caller); on a cache line of its own. */
    alignas(64) atomic_uint claimed;
    pthread_t thread;
    struct tsr_threadpool *pool;
    uint32_t index;
} worker;

struct tsr_threadpool {
    uint32_t n_threads;
    uint32_t n_started; /* workers created (for a partial open) */
    worker *workers;    /* n_threads - 1 */
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool oversubscribed; /* more threads than CPUs this process may use */

    /* The job; written only while no worker reads it (see the protocol). */
    tsr_parallel_fn fn;
    void *ctx;
    /* Atomic: a late worker (its index run by the caller) may read it while
     * tsr_threadpool_close writes it. */
    atomic_bool stop;

    /* Each counter on its own cache line: workers poll generation while
     * they decrement n_pending. */
    alignas(64) atomic_uint generation;
    alignas(64) atomic_uint n_pending;
    alignas(64) atomic_uint n_sleeping;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A wait in progress: pause, then pause and yield, as time goes by. */
typedef struct spin_wait {
    uint32_t spins;
    bool yielding;
    uint64_t pure_spin_ns; /* PURE_SPIN_NS or PURE_SPIN_NS_DEDICATED */
    uint64_t start_ns, elapsed_ns;
} spin_wait;

/* Waits one step; returns about how long the wait has lasted. */
static uint64_t spin_wait_step(spin_wait *w)
{
    if (w->yielding)
        sched_yield();
    else
        cpu_relax();
    if (++w->spins % SPINS_PER_CLOCK_READ != 0)
        return w->elapsed_ns;
    uint64_t now = now_ns();
    if (w->start_ns == 0)
        w->start_ns = now;
    w->elapsed_ns = now - w->start_ns;
    w->yielding = w->elapsed_ns >= w->pure_spin_ns;
    return w->elapsed_ns;
}

/* Waits until the generation differs from seen and returns it. */
static unsigned wait_for_job(tsr_threadpool *pool, unsigned seen)
{
    spin_wait w = {.pure_spin_ns = pool->oversubscribed ? PURE_SPIN_NS : PURE_SPIN_NS_DEDICATED};
    unsigned gen;
    while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
        if (spin_wait_step(&w) < TSR_THREADPOOL_SPIN_NS)
            continue;
        pthread_mutex_lock(&pool->mutex);
        atomic_fetch_add(&pool->n_sleeping, 1);
        while ((gen = atomic_load(&pool->generation)) == seen)
            pthread_cond_wait(&pool->wake, &pool->mutex);
        atomic_fetch_sub(&pool->n_sleeping, 1);
        pthread_mutex_unlock(&pool->mutex);
        break;
    }
    return gen;
}

/* Claims worker w's index for generation gen: false when it is taken, or
 * when gen is over. Every job's indices are all claimed before the next job
 * is published (stop publishes none), so during job gen an index's claim is
 * gen - 1 (free) or gen (taken); a worker that read gen and slept through
 * later jobs finds neither and must not claim. */
static bool claim(worker *w, unsigned gen)
{
    unsigned free_mark = gen - 1;
    return atomic_compare_exchange_strong_explicit(&w->claimed, &free_mark, gen,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* Runs worker w's index of the job in progress (claimed) and counts it done. */
static void run_index(tsr_threadpool *pool, const worker *w)
{
    pool->fn(pool->ctx, w->index, pool->n_threads);
    atomic_fetch_sub_explicit(&pool->n_pending, 1, memory_order_release);
}

static void *worker_main(void *arg)
{
    worker *self = arg;
    tsr_threadpool *pool = self->pool;
    unsigned seen = 0; /* the generation at open */
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
            return NULL;
        /* A claim that succeeds finds job `seen` still the one published:
         * it cannot end before this index has run. */
        if (claim(self, seen))
            run_index(pool, self);
    }
}

/* Publishes the job written in pool->fn/ctx/stop and wakes sleepers;
 * returns its generation. */
static unsigned publish(tsr_threadpool *pool)
{
    atomic_store_explicit(&pool->n_pending, pool->n_threads - 1, memory_order_relaxed);
    unsigned gen = atomic_fetch_add(&pool->generation, 1) + 1;
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    return gen;
}

static void stop_workers(tsr_threadpool *pool)
{
    if (pool->n_started == 0)
        return;
    atomic_store_explicit(&pool->stop, true, memory_order_relaxed);
    publish(pool);
    for (uint32_t i = 0; i < pool->n_started; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pool->n_started = 0;
}

tsr_status tsr_threadpool_open(uint32_t n_threads, tsr_threadpool **out, tsr_error *err)
{
    *out = NULL;
    if (n_threads == 0)
        n_threads = tsr_cpu_physical_cores();
    if (n_threads > TSR_THREADPOOL_MAX_THREADS)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "threads: %u is more than the %d a pool may have", n_threads,
                             TSR_THREADPOOL_MAX_THREADS);
    tsr_threadpool *pool = aligned_alloc(64, (sizeof *pool + 63) / 64 * 64);
    if (!pool)
        return tsr_error_set(err, TSR_ERR_NOMEM, "thread pool: out of memory");
    memset(pool, 0, sizeof *pool);
    pool->n_threads = n_threads;
    cpu_set_t allowed;
    pool->oversubscribed = sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
                           (uint32_t)CPU_COUNT(&allowed) < n_threads;
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->n_pending, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->stop, false);
    if (n_threads > 1) {
        pool->workers = aligned_alloc(alignof(worker), (n_threads - 1) * sizeof *pool->workers);
        if (!pool->workers) {
            free(pool);
            return tsr_error_set(err, TSR_ERR_NOMEM, "thread pool: out of memory");
        }
        memset(pool->workers, 0, (n_threads - 1) * sizeof *pool->workers);
        for (uint32_t i = 0; i + 1 < n_threads; i++)
            atomic_init(&pool->workers[i].claimed, 0);
    }
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (uint32_t i = 0; i + 1 < n_threads; i++) {
        worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i + 1;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            tsr_threadpool_close(pool);
            return tsr_error_set(err, TSR_ERR_NOMEM,
                                 "thread pool: cannot start thread %u of %u: %s", i + 2, n_threads,
                                 strerror(rc));
        }
        pool->n_started++;
    }
    *out = pool;
    return TSR_OK;
}

void tsr_threadpool_close(tsr_threadpool *pool)
{
    if (!pool)
        return;
    stop_workers(pool);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

uint32_t tsr_threadpool_n_threads(const tsr_threadpool *pool)
{
    return pool->n_threads;
}

void tsr_threadpool_run(tsr_threadpool *pool, tsr_parallel_fn fn, void *ctx)
{
    if (pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    unsigned gen = publish(pool);
    fn(ctx, 0, pool->n_threads);
    /* The indices no worker has started: here, now. */
    for (uint32_t i = 0; i + 1 < pool->n_threads; i++)
        if (claim(&pool->workers[i], gen))
            run_index(pool, &pool->workers[i]);
    spin_wait w = {.pure_spin_ns = pool->oversubscribed ? PURE_SPIN_NS : PURE_SPIN_NS_DEDICATED};
    while (atomic_load_explicit(&pool->n_pending, memory_order_acquire) != 0)
        spin_wait_step(&w);
}

void tsr_split_range(int64_t n, int64_t granularity, uint32_t part_index, uint32_t n_parts,
                     int64_t *begin, int64_t *end)
{
    if (granularity < 1)
        granularity = 1;
    if (n <= 0 || n_parts == 0 || part_index >= n_parts) {
        *begin = *end = n > 0 ? n : 0;
        return;
    }
    /* Whole granules are dealt out as evenly as possible; the last granule
     * may be short. */
    int64_t n_granules = (n + granularity - 1) / granularity;
    int64_t first = n_granules * part_index / n_parts;
    int64_t last = n_granules * (part_index + 1) / n_parts;
    *begin = first * granularity < n ? first * granularity : n;
    *end = last * granularity < n ? last * granularity : n;
}

/* ---- physical cores ----------------------------------------------------- */

typedef struct core_id {
    long package, core;
} core_id;

/* Adds (package, core) to ids unless present; returns the new count. */
static size_t add_core(core_id *ids, size_t n, long package, long core)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i].package == package && ids[i].core == core)
            return n;
    ids[n].package = package;
    ids[n].core = core;
    return n + 1;
}

static bool read_long(const char *path, long *value)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fscanf(f, "%ld", value) == 1;
    fclose(f);
    return ok;
}

/* From sysfs: distinct (package, core) of the CPUs in mask; 0 if unreadable. */
static size_t cores_from_sysfs(const cpu_set_t *mask, core_id *ids)
{
    size_t n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, mask))
            continue;
        char path[128];
        long package, core;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 cpu);
        if (!read_long(path, &package))
            return 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        if (!read_long(path, &core))
            return 0;
        n = add_core(ids, n, package, core);
    }
    return n;
}

/* From /proc/cpuinfo's "processor", "physical id" and "core id" lines. */
static size_t cores_from_cpuinfo(const cpu_set_t *mask, core_id *ids)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    size_t n = 0;
    long processor = -1, package = -1, core = -1;
    char line[512];
    for (;;) {
        bool more = fgets(line, sizeof line, f) != NULL;
        if (!more || line[0] == '\n') { /* end of one processor's block */
            if (processor >= 0 && processor < CPU_SETSIZE && core >= 0 &&
                CPU_ISSET((int)processor, mask))
                n = add_core(ids, n, package, core);
            processor = package = core = -1;
            if (!more)
                break;
            continue;
        }
        const char *colon = strchr(line, ':');
        if (!colon)
            continue;
        long value = strtol(colon + 1, NULL, 10);
        if (strncmp(line, "processor", 9) == 0)
            processor = value;
        else if (strncmp(line, "physical id", 11) == 0)
            package = value;
        else if (strncmp(line, "core id", 7) == 0)
            core = value;
    }
    fclose(f);
    return n;
}

uint32_t tsr_cpu_physical_cores(void)
{
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
        CPU_ZERO(&mask);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            CPU_SET(cpu, &mask);
    }
    core_id *ids = malloc(CPU_SETSIZE * sizeof *ids);
    size_t n = 0;
    if (ids) {
        n = cores_from_sysfs(&mask, ids);
        if (n == 0)
            n = cores_from_cpuinfo(&mask, ids);
        free(ids);
    }
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        long allowed = CPU_COUNT(&mask);
        n = online > 0 ? (size_t)online : 1;
        if (allowed > 0 && (size_t)allowed < n)
            n = (size_t)allowed;
    }
    return n > TSR_THREADPOOL_MAX_THREADS ? TSR_THREADPOOL_MAX_THREADS : (uint32_t)n;
}
