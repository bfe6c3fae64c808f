/* Measures this machine's memory read bandwidth with N threads: each thread
 * sums its share of a buffer far larger than the caches, best of several
 * passes. Prints GB/s (1e9 bytes per second). The roofline of decoding is
 * this figure divided by the weight bytes read per token.
 *
 *   membw [THREADS=1] [MIB=1024] [LOADS]
 *
 * LOADS is the width of the loads: avx512 (64 bytes), avx2 (32 bytes),
 * sse2 (16 bytes) or scalar (8 bytes). By default every width this CPU
 * has (picked at run time, widest first) takes its turn, pass by pass, and
 * the best figure of any is the bandwidth: the roofline is what memory
 * gives, whichever loads get it.
 * Issue 13 read 23.7 GB/s on one core with this file's first loop (which
 * the compiler had made 16-byte SSE2 loads) against 40.6 with 512-bit
 * loads a minute later; on the same 2-core AMD EPYC (Zen 4) VM, loaded by
 * other builds, 16-byte loads read 25.6 GB/s and 512-bit ones 23.0 in
 * alternating passes: no width wins everywhere, so none is trusted alone.
 * stderr gives each width's figure.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MEMBW_X86 1
#endif

typedef struct share {
    const uint64_t *data;
    size_t n; /* uint64_t words, a multiple of 64 (512 bytes) */
    uint64_t sum;
} share;

typedef void *(*reader)(void *);

/* 8-byte loads, kept scalar: left to itself the compiler turns this loop
 * into 16-byte SSE2 loads (as it did in this file's first version). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
static void *read_scalar(void *arg)
{
    share *s = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
#ifdef __clang__
#pragma clang loop vectorize(disable)
#endif
    for (size_t i = 0; i + 4 <= s->n; i += 4) {
        a += s->data[i];
        b += s->data[i + 1];
        c += s->data[i + 2];
        d += s->data[i + 3];
    }
    s->sum = a + b + c + d;
    return NULL;
}

#ifdef MEMBW_X86
/* A reader over VEC-wide loads: eight independent accumulators (8 vectors
 * per iteration: enough loads in flight that the loop waits on memory, not
 * on the adds), their lanes summed at the end. TARGET names the instruction
 * set for the compiler; the caller runs a reader only where the CPU has it. */
#define MEMBW_READER(name, target, vec, zero, add, load)                         \
    target static void *name(void *arg)                                          \
    {                                                                            \
        share *s = arg;                                                          \
        const vec *p = (const vec *)s->data;                                     \
        size_t n = s->n / (sizeof(vec) / sizeof(uint64_t));                      \
        vec acc[8];                                                              \
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)                      \
            acc[k] = zero();                                                     \
        for (size_t i = 0; i + 8 <= n; i += 8)                                   \
            _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)                  \
                acc[k] = add(acc[k], load(p + i + k));                           \
        vec t = add(add(add(acc[0], acc[1]), add(acc[2], acc[3])),               \
                    add(add(acc[4], acc[5]), add(acc[6], acc[7])));              \
        uint64_t lanes[sizeof(vec) / sizeof(uint64_t)];                          \
        memcpy(lanes, &t, sizeof lanes);                                         \
        uint64_t sum = 0;                                                        \
        for (size_t k = 0; k < sizeof lanes / sizeof lanes[0]; k++)              \
            sum += lanes[k];                                                     \
        s->sum = sum;                                                            \
        return NULL;                                                             \
    }

/* 16 bytes (SSE2: every x86-64 has it), 32 (AVX2) and 64 (AVX-512). */
MEMBW_READER(read_sse2, , __m128i, _mm_setzero_si128, _mm_add_epi64, _mm_load_si128)
MEMBW_READER(read_avx2, __attribute__((target("avx2"))), __m256i, _mm256_setzero_si256,
             _mm256_add_epi64, _mm256_load_si256)
MEMBW_READER(read_avx512, __attribute__((target("avx512f"))), __m512i, _mm512_setzero_si512,
             _mm512_add_epi64, _mm512_load_si512)
#endif

/* The readers this CPU can run, widest first. */
static size_t available_readers(reader *readers, const char **names)
{
    size_t n = 0;
#ifdef MEMBW_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        readers[n] = read_avx512, names[n++] = "avx512";
    if (__builtin_cpu_supports("avx2"))
        readers[n] = read_avx2, names[n++] = "avx2";
    readers[n] = read_sse2, names[n++] = "sse2";
#endif
    readers[n] = read_scalar, names[n++] = "scalar";
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One pass of READ over the buffer with THREADS threads: GB/s, or -1 when
 * a thread cannot start. */
static double one_pass(reader read, uint64_t *data, size_t per_thread, int threads,
                       uint64_t *check)
{
    pthread_t tid[256];
    share shares[256];
    double t0 = now();
    int started = 0;
    for (; started < threads; started++) {
        shares[started] = (share){data + per_thread * (size_t)started, per_thread, 0};
        if (pthread_create(&tid[started], NULL, read, &shares[started]) != 0)
            break;
    }
    for (int t = 0; t < started; t++) {
        pthread_join(tid[t], NULL);
        *check += shares[t].sum;
    }
    if (started < threads)
        return -1;
    return (double)(per_thread * (size_t)threads) * sizeof *data / (now() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    if (argc > 4 || threads < 1 || threads > 256 || mib < 64 || mib > (1u << 20)) {
        fprintf(stderr, "usage: membw [THREADS 1-256] [MIB 64-1048576] [avx512|avx2|sse2|scalar]\n");
        return 2;
    }
    reader readers[4];
    const char *names[4];
    size_t n_readers = available_readers(readers, names);
    if (argc > 3) {
        size_t i = 0;
        while (i < n_readers && strcmp(names[i], argv[3]) != 0)
            i++;
        if (i == n_readers) {
            fprintf(stderr, "membw: loads '%s': not one of avx512, avx2, sse2, scalar that this CPU has\n",
                    argv[3]);
            return 2;
        }
        readers[0] = readers[i], names[0] = names[i], n_readers = 1;
    }
    size_t n = mib * 1024 * 1024 / sizeof(uint64_t);
    uint64_t *data = aligned_alloc(64, n * sizeof *data);
    if (!data) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        data[i] = i;
    /* each share a multiple of 512 bytes, so every loop reads all of it */
    size_t per_thread = n / (size_t)threads / 64 * 64;
    double best[4] = {0, 0, 0, 0};
    uint64_t check = 0;
    /* the widths take turns, pass by pass, so that a busy moment of the
     * machine does not fall on one of them only */
    for (int pass = 0; pass < 5; pass++) {
        for (size_t r = 0; r < n_readers; r++) {
            double gbs = one_pass(readers[r], data, per_thread, threads, &check);
            if (gbs < 0) {
                fprintf(stderr, "membw: cannot start %d threads\n", threads);
                free(data);
                return 1;
            }
            if (gbs > best[r])
                best[r] = gbs;
        }
    }
    size_t top = 0;
    fprintf(stderr, "membw: %d thread(s), %zu MiB, best of 5 passes, GB/s:", threads, mib);
    for (size_t r = 0; r < n_readers; r++) {
        fprintf(stderr, " %s %.2f", names[r], best[r]);
        if (best[r] > best[top])
            top = r;
    }
    fprintf(stderr, "; bandwidth %.2f (%s loads)\n", best[top], names[top]);
    printf("%.2f\n", best[top]);
    free(data);
    return check == 42 ? 3 : 0; /* keeps the sums live */
}
