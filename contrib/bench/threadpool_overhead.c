/* What one thread-pool dispatch costs: the time tsr_threadpool_run takes for
 * a function that does nothing, with the workers spinning (back-to-back
 * dispatches, as inside a decode step) and with them asleep (the first
 * dispatch after an idle pause).
 *
 *   threadpool_overhead [THREADS...]     default: 1 2
 *
 * Prints the median and 90th percentile over batches; build without
 * sanitizers for meaningful figures. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "threadpool.h"

enum { BATCHES = 51, DISPATCHES_PER_BATCH = 2000, WAKE_SAMPLES = 41 };

static void nothing(void *ctx, uint32_t thread_index, uint32_t n_threads)
{
    (void)ctx, (void)thread_index, (void)n_threads;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, uint32_t n_threads, double *samples, int n)
{
    qsort(samples, (size_t)n, sizeof *samples, by_value);
    printf("%-28s threads=%u  median %8.0f ns  p90 %8.0f ns\n", what, n_threads, samples[n / 2],
           samples[n * 9 / 10]);
}

int main(int argc, char **argv)
{
    uint32_t defaults[] = {1, 2};
    int n_counts = argc > 1 ? argc - 1 : 2;
    printf("physical cores: %u; spin budget %d us\n", tsr_cpu_physical_cores(),
           TSR_THREADPOOL_SPIN_NS / 1000);
    for (int c = 0; c < n_counts; c++) {
        uint32_t n_threads = argc > 1 ? (uint32_t)strtoul(argv[c + 1], NULL, 10) : defaults[c];
        tsr_threadpool *pool;
        tsr_error err;
        if (tsr_threadpool_open(n_threads, &pool, &err) != TSR_OK) {
            fprintf(stderr, "threadpool_overhead: %s\n", err.message);
            return 1;
        }
        for (int i = 0; i < 10000; i++) /* warm up: workers spinning, caches hot */
            tsr_threadpool_run(pool, nothing, NULL);
        double batches[BATCHES];
        for (int b = 0; b < BATCHES; b++) {
            double start = now_ns();
            for (int i = 0; i < DISPATCHES_PER_BATCH; i++)
                tsr_threadpool_run(pool, nothing, NULL);
            batches[b] = (now_ns() - start) / DISPATCHES_PER_BATCH;
        }
        report("back-to-back dispatch", n_threads, batches, BATCHES);
        double wakes[WAKE_SAMPLES];
        for (int s = 0; s < WAKE_SAMPLES; s++) {
            struct timespec idle = {0, 3 * TSR_THREADPOOL_SPIN_NS}; /* workers fall asleep */
            nanosleep(&idle, NULL);
            double start = now_ns();
            tsr_threadpool_run(pool, nothing, NULL);
            wakes[s] = now_ns() - start;
        }
        report("dispatch to sleeping workers", n_threads, wakes, WAKE_SAMPLES);
        tsr_threadpool_close(pool);
    }
    return 0;
}
