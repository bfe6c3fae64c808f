/* quant_bench: times a quant plugin's products on one thread, the way the
 * core calls them (activations quantized first by the plugin the format asks
 * for), and checks them against the plugin's scalar reference.
 *
 *   quant_bench [-p PLUGIN_DIR] [-i ISA_LEVEL] [-s SECONDS] [-g LIBGGML_CPU]
 *               [-c MIB] FORMAT ROWS COLS [TOKENS]
 *
 * With one token it times matvec and reports the weight bytes read per
 * second; with more it times matmat and reports multiply-adds per second.
 * -g names a libggml-cpu.so (llama-cpp-python ships one): its
 * ggml_vec_dot_FORMAT_ACT, called row by row as ggml's matrix-vector
 * product does, is timed on the same bytes for comparison. -c fills MIB
 * with copies of the matrix and runs each call on the next copy, so that
 * the weights come from memory as in a model's forward pass (a matrix the
 * size of a model's stays in the caches when timed alone).
 * Not a test: numbers depend on the machine and what else runs on it. */
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "tessera/tessera.h"

/* The thread's CPU time: the machine is shared, and time spent switched
 * out would count against whichever kernel was running. */
static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: reproducible inputs without the core's rng. */
static uint64_t bench_state = 0x9e3779b97f4a7c15ull;
static float random_normalish(void)
{
    float sum = 0.0f;
    for (int i = 0; i < 4; i++) {
        bench_state ^= bench_state >> 12;
        bench_state ^= bench_state << 25;
        bench_state ^= bench_state >> 27;
        sum += (float)((bench_state * 0x2545f4914f6cdd1dull) >> 40) / (float)(1u << 24) - 0.5f;
    }
    return sum;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *xmalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "quant_bench: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* ggml's vec_dot(n, s, bs, x, bx, y, by, nrc) for one row. */
typedef void ggml_vec_dot_fn(int n, float *s, size_t bs, const void *x, size_t bx, const void *y,
                             size_t by, int nrc);

static void time_ggml(const char *path, const char *format, const char *act, const uint8_t *w,
                      size_t w_row_bytes, const uint8_t *x, const float *y_ref, int64_t cols,
                      int64_t rows, double seconds, double weight_bytes)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "quant_bench: %s\n", dlerror());
        return;
    }
    /* ggml names the quantized dot products after both formats
     * (ggml_vec_dot_q8_0_q8_0), the float ones after one (ggml_vec_dot_f16) */
    char name[96];
    snprintf(name, sizeof name, "ggml_vec_dot_%s_%s", format, act);
    ggml_vec_dot_fn *dot = (ggml_vec_dot_fn *)dlsym(lib, name);
    if (!dot && strcmp(format, act) == 0) {
        snprintf(name, sizeof name, "ggml_vec_dot_%s", format);
        dot = (ggml_vec_dot_fn *)dlsym(lib, name);
    }
    if (!dot) { /* ggml spells the K-quants with a capital K (ggml_vec_dot_q4_K_q8_K) */
        snprintf(name, sizeof name, "ggml_vec_dot_%s_%s", format, act);
        for (char *k = strstr(name, "_k"); k; k = strstr(k + 1, "_k"))
            k[1] = 'K';
        dot = (ggml_vec_dot_fn *)dlsym(lib, name);
    }
    void (*cpu_init)(void) = (void (*)(void))dlsym(lib, "ggml_cpu_init");
    if (!dot || !cpu_init) {
        fprintf(stderr, "quant_bench: %s has no %s\n", path, name);
        dlclose(lib);
        return;
    }
    cpu_init();
    float *y = xmalloc(sizeof(float) * (size_t)rows);
    double best = 1e30, elapsed, start = now_seconds();
    do {
        double t0 = now_seconds();
        for (int64_t r = 0; r < rows; r++)
            dot((int)cols, &y[r], 0, w + r * w_row_bytes, 0, x, 0, 1);
        double t = now_seconds() - t0;
        best = t < best ? t : best;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    double worst = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        double diff = fabs((double)y[r] - (double)y_ref[r]) / (fabs((double)y_ref[r]) + 1e-3);
        worst = diff > worst ? diff : worst;
    }
    printf("  ggml %s row by row: best %.1f us = %.2f GB/s of weights (worst relative difference "
           "from ours %.3g)\n",
           name, 1e6 * best, weight_bytes / best / 1e9, worst);
    free(y);
    dlclose(lib);
}

int main(int argc, char **argv)
{
    const char *plugin_dir = getenv("TESSERA_PLUGIN_PATH");
    const char *isa = "native";
    const char *ggml_path = NULL;
    double seconds = 1.0, cold_mib = 0.0;
    int opt;
    while ((opt = getopt(argc, argv, "p:i:s:g:c:")) != -1) {
        switch (opt) {
        case 'c': cold_mib = atof(optarg); break;
        case 'p': plugin_dir = optarg; break;
        case 'i': isa = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'g': ggml_path = optarg; break;
        default: goto usage;
        }
    }
    if (argc - optind < 3 || !plugin_dir)
        goto usage;
    const char *format = argv[optind];
    int64_t rows = atoll(argv[optind + 1]), cols = atoll(argv[optind + 2]);
    int64_t tokens = argc - optind > 3 ? atoll(argv[optind + 3]) : 1;

    tsr_error err = {0};
    if (tsr_cpu_set_limit(isa, &err) != TSR_OK) {
        fprintf(stderr, "quant_bench: %s\n", err.message);
        return 1;
    }
    tsr_registry *reg;
    if (tsr_registry_open(&plugin_dir, 1, &reg, &err) != TSR_OK) {
        fprintf(stderr, "quant_bench: %s\n", err.message);
        return 1;
    }
    const tsr_plugin *plugin = tsr_registry_find(reg, TSR_PLUGIN_QUANT, format);
    const tsr_quant_vtable *q = plugin ? tsr_plugin_quant(plugin) : NULL;
    const tsr_plugin *act_plugin = q ? tsr_registry_find_quant(reg, q->act_gguf_type) : NULL;
    const tsr_quant_vtable *a = act_plugin ? tsr_plugin_quant(act_plugin) : NULL;
    if (!q || !a || !q->matvec || !a->quantize) {
        fprintf(stderr, "quant_bench: no quant plugin '%s' with products in %s\n", format,
                plugin_dir);
        return 1;
    }
    if (q->init)
        q->init(tsr_host_services(), &err);
    if (a->init)
        a->init(tsr_host_services(), &err);
    if (cols % q->block_elems || cols % a->block_elems) {
        fprintf(stderr, "quant_bench: COLS must be a multiple of %u\n", q->block_elems);
        return 1;
    }

    size_t w_row_bytes = (size_t)(cols / q->block_elems) * q->block_bytes;
    size_t x_row_bytes = (size_t)(cols / a->block_elems) * a->block_bytes;
    /* -c MIB: copies of the matrix filling MIB, one call on each in turn */
    size_t matrix_bytes = w_row_bytes * (size_t)rows;
    size_t copies = cold_mib > 0 ? (size_t)(cold_mib * 1048576.0 / (double)matrix_bytes) + 1 : 1;
    uint8_t *w = xmalloc(matrix_bytes * copies);
    uint8_t *x = xmalloc(x_row_bytes * (size_t)tokens);
    float *row = xmalloc(sizeof(float) * (size_t)cols);
    float *y = xmalloc(sizeof(float) * (size_t)(rows * tokens));
    float *y_ref = xmalloc(sizeof(float) * (size_t)(rows * tokens));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            row[c] = random_normalish();
        if (q->quantize_reference)
            q->quantize_reference(row, w + r * w_row_bytes, cols);
        else
            for (size_t i = 0; i < w_row_bytes; i++)
                w[r * w_row_bytes + i] = (uint8_t)(random_normalish() * 1000.0f);
    }
    for (size_t k = 1; k < copies; k++)
        memcpy(w + k * matrix_bytes, w, matrix_bytes);
    for (int64_t t = 0; t < tokens; t++) {
        for (int64_t c = 0; c < cols; c++)
            row[c] = random_normalish();
        a->quantize(row, x + t * x_row_bytes, cols);
    }

    /* agreement with the scalar reference */
    q->matmat(w, w_row_bytes, x, x_row_bytes, y, (size_t)rows, cols, tokens, 0, rows);
    q->matmat_reference(w, w_row_bytes, x, x_row_bytes, y_ref, (size_t)rows, cols, tokens, 0,
                        rows);
    double worst = 0.0;
    for (int64_t i = 0; i < rows * tokens; i++) {
        double diff = fabs((double)y[i] - (double)y_ref[i]) / (fabs((double)y_ref[i]) + 1e-3);
        worst = diff > worst ? diff : worst;
    }

    /* quantizing one activation row, as the core does before each product */
    long n_quant = 0;
    double start = now_seconds(), elapsed;
    do {
        for (int i = 0; i < 64; i++)
            a->quantize(row, x, cols);
        n_quant += 64;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds / 4);
    double quant_ns = 1e9 * elapsed / (double)n_quant;

    /* each call timed on its own: the best and the median, since other
     * processes on the machine only ever add time */
    enum { MAX_SAMPLES = 100000 };
    double *samples = xmalloc(sizeof(double) * MAX_SAMPLES);
    long calls = 0;
    start = now_seconds();
    do {
        const uint8_t *wk = w + (size_t)(calls % (long)copies) * matrix_bytes;
        double t0 = now_seconds();
        if (tokens == 1)
            q->matvec(wk, w_row_bytes, x, y, cols, 0, rows);
        else
            q->matmat(wk, w_row_bytes, x, x_row_bytes, y, (size_t)rows, cols, tokens, 0, rows);
        samples[calls++] = now_seconds() - t0;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds && calls < MAX_SAMPLES);
    qsort(samples, (size_t)calls, sizeof *samples, compare_doubles);
    double best = samples[0], median = samples[calls / 2];
    free(samples);
    double weight_bytes = (double)w_row_bytes * (double)rows;
    double macs = (double)rows * (double)cols * (double)tokens;

    printf("%s %s %lldx%lld tokens=%lld kernel=%s act=%s(%s)\n", format, isa, (long long)rows,
           (long long)cols, (long long)tokens, q->kernel_name ? q->kernel_name() : "?",
           act_plugin->name, a->kernel_name ? a->kernel_name() : "?");
    printf("  %s (%ld calls): best %.1f us = %.2f GB/s of weights, %.2f GMAC/s; median %.1f us = "
           "%.2f GB/s\n",
           tokens == 1 ? "matvec" : "matmat", calls, 1e6 * best, weight_bytes / best / 1e9,
           macs / best / 1e9, 1e6 * median, weight_bytes / median / 1e9);
    if (ggml_path && tokens == 1)
        time_ggml(ggml_path, format, act_plugin->name, w, w_row_bytes, x, y_ref, cols, rows,
                  seconds, weight_bytes);
    printf("  activation quantize: %.0f ns per row of %lld\n", quant_ns, (long long)cols);
    printf("  worst relative difference from matmat_reference: %.3g\n", worst);

    free(w);
    free(x);
    free(row);
    free(y);
    free(y_ref);
    tsr_registry_close(reg);
    return 0;

usage:
    fprintf(stderr, "usage: quant_bench [-p PLUGIN_DIR] [-i ISA_LEVEL] [-s SECONDS] [-c MIB] "
                    "FORMAT ROWS COLS [TOKENS]\n");
    return 2;
}
