/* Measures this machine's memory read bandwidth with N threads: each thread
 * sums its share of a buffer far larger than the caches, best of several
 * passes. Prints GB/s (1e9 bytes per second). The roofline of decoding is
 * this figure divided by the weight bytes read per token.
 *
 *   membw [THREADS=1] [MIB=1024]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct share {
    const uint64_t *data;
    size_t n;
    uint64_t sum;
} share;

static void *read_share(void *arg)
{
    share *s = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= s->n; i += 4) {
        a += s->data[i];
        b += s->data[i + 1];
        c += s->data[i + 2];
        d += s->data[i + 3];
    }
    s->sum = a + b + c + d;
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    if (threads < 1 || threads > 256 || mib < 64) {
        fprintf(stderr, "usage: membw [THREADS] [MIB >= 64]\n");
        return 2;
    }
    size_t n = mib * 1024 * 1024 / sizeof(uint64_t);
    uint64_t *data = malloc(n * sizeof *data);
    if (!data) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        data[i] = i;
    pthread_t tid[256];
    share shares[256];
    double best = 0;
    uint64_t check = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now();
        for (int t = 0; t < threads; t++) {
            shares[t] = (share){data + n / threads * t, n / threads, 0};
            pthread_create(&tid[t], NULL, read_share, &shares[t]);
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            check += shares[t].sum;
        }
        double gbs = (double)(n / threads * threads) * sizeof *data / (now() - t0) / 1e9;
        if (gbs > best)
            best = gbs;
    }
    printf("%.2f\n", best);
    free(data);
    return check == 42 ? 3 : 0; /* keeps the sums live */
}
