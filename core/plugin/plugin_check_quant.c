/* The quant plugin's checks (tsr_plugin_check): its blocks against GGUF's
 * table, quantize/dequantize round trips and their bounds, and every kernel
 * tier's products against the plugin's own scalar reference (and another
 * installed plugin of the same type), from one thread and from several.
 *
 * Tolerances. A product's fast path may sum in another order than the
 * reference, so results are compared within 1e-4 of the sum of |w * x| of
 * the row (what reordering can change, with room to spare), plus the
 * product_rounding the plugin declares (ABI 1.2), never bit for bit. A round trip is judged by its relative RMS error, at most 0.5: loose
 * enough for 2-bit formats, tight enough to catch a wrong layout. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "gguf.h"
#include "loader.h"
#include "plugin_check.h"
#include "rng.h"

enum {
    CHECK_ROWS = 16,
    CHECK_TOKENS = 3,
    CHECK_THREADS = 4,
    GUARD_BYTES = 64,
    GUARD = 0xa7,
};

typedef struct quant_run {
    tsr_checker *c;
    const tsr_plugin *p;
    const tsr_quant_vtable *q;
    const tsr_quant_vtable *act; /* NULL for an activation form */
    int64_t cols;
    size_t row_bytes, act_row_bytes;
    uint8_t *w;                  /* CHECK_ROWS rows */
    uint8_t *x;                  /* CHECK_TOKENS activation rows */
    float *w_floats, *x_floats;  /* dequantized */
    float *y_ref;                /* matmat_reference: CHECK_TOKENS x CHECK_ROWS */
    float *abs_dot;              /* sum |w * x| per (token, row) */
    tsr_rng rng;
} quant_run;

static size_t blocks_bytes(const tsr_quant_vtable *q, int64_t n)
{
    return (size_t)(n / q->block_elems) * q->block_bytes;
}

static void random_floats(tsr_rng *rng, float *x, int64_t n, double scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((tsr_rng_uniform(rng) * 2.0 - 1.0) * scale);
}

static bool guard_intact(const uint8_t *end)
{
    for (int i = 0; i < GUARD_BYTES; i++)
        if (end[i] != GUARD)
            return false;
    return true;
}

/* sqrt(sum (a - b)^2 / sum b^2), or INFINITY when a holds a non-finite. */
static double relative_rms(const float *a, const float *b, int64_t n)
{
    double diff = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        ref += (double)b[i] * b[i];
    }
    return ref > 0 ? sqrt(diff / ref) : sqrt(diff);
}

static void check_blocks(quant_run *r)
{
    const tsr_ggml_type_info *t = tsr_ggml_type(r->q->gguf_type);
    if (!t) {
        tsr_check_skip(r->c, r->p, "block sizes match GGUF's table",
                       "its GGUF type is not in the table");
        return;
    }
    tsr_check_report(r->c, r->p, t->block_elems == r->q->block_elems &&
                     t->block_bytes == r->q->block_bytes,
                     "block sizes match GGUF's table",
                     "it claims GGUF type %u (%s) with %u values in %u bytes; GGUF's are %u in %u",
                     r->q->gguf_type, t->name, r->q->block_elems, r->q->block_bytes,
                     t->block_elems, t->block_bytes);
    if (r->q->kernel_name) {
        const char *name = r->q->kernel_name();
        tsr_check_report(r->c, r->p, name && name[0], "kernel_name names a kernel path",
                         "it returned %s", name ? "an empty string" : "NULL");
    }
}

/* Quantizes n floats with fn into a guarded buffer, dequantizes them back;
 * false (with why) when a byte past the blocks was written or a value came
 * back non-finite from finite input. */
static bool round_trip(quant_run *r, void (*fn)(const float *, void *, int64_t),
                       const float *src, float *back, int64_t n, uint8_t *bytes, char *why,
                       size_t why_bytes)
{
    size_t size = blocks_bytes(r->q, n);
    memset(bytes, GUARD, size + GUARD_BYTES);
    fn(src, bytes, n);
    if (!guard_intact(bytes + size)) {
        snprintf(why, why_bytes, "quantize wrote past the %zu bytes of %lld values", size,
                 (long long)n);
        return false;
    }
    for (int64_t i = 0; i < n + 16; i++)
        back[i] = -12345.0f;
    r->q->dequantize(bytes, back, n);
    for (int64_t i = n; i < n + 16; i++)
        if (back[i] != -12345.0f) {
            snprintf(why, why_bytes, "dequantize wrote past the %lld values asked for",
                     (long long)n);
            return false;
        }
    return true;
}

static void check_round_trips(quant_run *r)
{
    const tsr_quant_vtable *q = r->q;
    if (!q->quantize) {
        tsr_check_skip(r->c, r->p, "quantize/dequantize round trips", "it cannot quantize");
        return;
    }
    int64_t n = r->cols * 4;
    float *src = malloc((size_t)n * sizeof *src), *back = malloc((size_t)(n + 16) * sizeof *back);
    float *back_ref = malloc((size_t)(n + 16) * sizeof *back_ref);
    uint8_t *bytes = malloc(blocks_bytes(q, n) + GUARD_BYTES);
    uint8_t *bytes_ref = malloc(blocks_bytes(q, n) + GUARD_BYTES);
    if (!src || !back || !back_ref || !bytes || !bytes_ref) {
        r->c->out_of_memory = true;
        goto done;
    }
    static const struct {
        const char *what;
        double scale;
    } cases[] = {{"seeded random values in [-1, 1]", 1.0}, {"large values, up to 1e4", 1e4}};
    char why[512], check[160];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        random_floats(&r->rng, src, n, cases[k].scale);
        snprintf(check, sizeof check, "round trip of %s", cases[k].what);
        why[0] = '\0';
        if (round_trip(r, q->quantize, src, back, n, bytes, why, sizeof why)) {
            double e = relative_rms(back, src, n);
            if (!(e <= 0.5))
                snprintf(why, sizeof why, "relative RMS error %g (at most 0.5)", e);
        }
        tsr_check_report(r->c, r->p, !why[0], check, "%s", why);

        /* The fast quantize against its scalar reference. */
        snprintf(check, sizeof check, "quantize matches quantize_reference on %s",
                 cases[k].what);
        why[0] = '\0';
        if (round_trip(r, q->quantize_reference, src, back_ref, n, bytes_ref, why,
                       sizeof why) &&
            memcmp(bytes, bytes_ref, blocks_bytes(q, n)) != 0) {
            /* Not bit for bit: within one step of the format, then. */
            double bits = 8.0 * q->block_bytes / q->block_elems;
            double step = cases[k].scale * pow(2.0, 2.0 - bits);
            for (int64_t i = 0; i < n && !why[0]; i++)
                if (!(fabs((double)back[i] - back_ref[i]) <= step))
                    snprintf(why, sizeof why, "value %lld comes back %g from quantize and %g "
                             "from quantize_reference", (long long)i, (double)back[i],
                             (double)back_ref[i]);
        }
        tsr_check_report(r->c, r->p, !why[0], check, "%s", why);
    }

    /* Zeros come back zero. */
    for (int64_t i = 0; i < n; i++)
        src[i] = 0.0f;
    why[0] = '\0';
    if (round_trip(r, q->quantize, src, back, n, bytes, why, sizeof why))
        for (int64_t i = 0; i < n && !why[0]; i++)
            if (back[i] != 0.0f)
                snprintf(why, sizeof why, "value %lld comes back %g", (long long)i,
                         (double)back[i]);
    tsr_check_report(r->c, r->p, !why[0], "a block of zeros comes back zero", "%s", why);

    /* A NaN is unspecified input: what it becomes is the plugin's, but it
     * must stay within its blocks, on both paths. */
    random_floats(&r->rng, src, n, 1.0);
    src[q->block_elems / 2] = NAN;
    src[n - 1] = -NAN;
    why[0] = '\0';
    if (round_trip(r, q->quantize, src, back, n, bytes, why, sizeof why))
        round_trip(r, q->quantize_reference, src, back, n, bytes, why, sizeof why);
    tsr_check_report(r->c, r->p, !why[0], "a NaN in the input stays inside its blocks", "%s",
                     why);
done:
    free(src);
    free(back);
    free(back_ref);
    free(bytes);
    free(bytes_ref);
}

/* Rows of weights: quantized floats when the format can, else random bytes
 * whose blocks dequantize to finite values (others zeroed). */
static bool make_weights(quant_run *r, char *why, size_t why_bytes)
{
    const tsr_quant_vtable *q = r->q;
    int64_t n = r->cols * CHECK_ROWS;
    if (q->quantize_reference) {
        random_floats(&r->rng, r->w_floats, n, 1.0);
        q->quantize_reference(r->w_floats, r->w, n);
    } else {
        for (size_t i = 0; i < r->row_bytes * CHECK_ROWS; i++)
            r->w[i] = (uint8_t)tsr_rng_next(&r->rng);
        float block[1024];
        for (int64_t b = 0; b < n / q->block_elems && q->block_elems <= 1024; b++) {
            uint8_t *bytes = r->w + (size_t)b * q->block_bytes;
            q->dequantize(bytes, block, q->block_elems);
            for (uint32_t i = 0; i < q->block_elems; i++)
                if (!isfinite(block[i]) || fabsf(block[i]) > 1e6f) {
                    memset(bytes, 0, q->block_bytes);
                    break;
                }
        }
    }
    q->dequantize(r->w, r->w_floats, n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(r->w_floats[i])) {
            snprintf(why, why_bytes, "weights dequantize to a non-finite value at %lld",
                     (long long)i);
            return false;
        }
    return true;
}

static void make_reference(quant_run *r)
{
    random_floats(&r->rng, r->x_floats, r->cols * CHECK_TOKENS, 1.0);
    for (int t = 0; t < CHECK_TOKENS; t++)
        r->act->quantize(r->x_floats + t * r->cols, r->x + (size_t)t * r->act_row_bytes,
                         r->cols);
    float *xd = malloc((size_t)r->cols * sizeof *xd);
    for (int t = 0; t < CHECK_TOKENS && xd; t++) {
        r->act->dequantize(r->x + (size_t)t * r->act_row_bytes, xd, r->cols);
        for (int row = 0; row < CHECK_ROWS; row++) {
            double sum = 0;
            for (int64_t i = 0; i < r->cols; i++)
                sum += fabs((double)r->w_floats[row * r->cols + i] * xd[i]);
            r->abs_dot[t * CHECK_ROWS + row] = (float)sum;
        }
    }
    if (!xd)
        r->c->out_of_memory = true;
    free(xd);
    r->q->matmat_reference(r->w, r->row_bytes, r->x, r->act_row_bytes, r->y_ref, CHECK_ROWS,
                           r->cols, CHECK_TOKENS, 0, CHECK_ROWS);
}

/* Compares y (CHECK_TOKENS x CHECK_ROWS) with the reference over rows
 * [begin, end); rows outside must still hold the sentinel. */
static bool products_agree(const quant_run *r, const float *y, const float *ref, int begin,
                           int end, char *why, size_t why_bytes)
{
    for (int t = 0; t < CHECK_TOKENS; t++)
        for (int row = 0; row < CHECK_ROWS; row++) {
            float got = y[t * CHECK_ROWS + row];
            if (row < begin || row >= end) {
                if (!isnan(got)) {
                    snprintf(why, why_bytes, "row %d, outside [%d, %d), was written", row,
                             begin, end);
                    return false;
                }
                continue;
            }
            float want = ref[t * CHECK_ROWS + row];
            /* plus what the plugin declares its paths round beyond the
             * reference (ABI 1.2; 0 for older plugins, whose copy the
             * loader zero-fills) */
            double rounding = r->q->product_rounding > 0 ? r->q->product_rounding : 0.0;
            double tol = (1e-4 + rounding) * r->abs_dot[t * CHECK_ROWS + row] + 1e-6;
            if (!(fabs((double)got - want) <= tol)) {
                snprintf(why, why_bytes, "token %d row %d: %.9g where the reference gives "
                         "%.9g", t, row, (double)got, (double)want);
                return false;
            }
        }
    return true;
}

static void fill_nan(float *y)
{
    for (int i = 0; i < CHECK_TOKENS * CHECK_ROWS; i++)
        y[i] = NAN;
}

static void check_tier(quant_run *r, const char *tier)
{
    const tsr_quant_vtable *q = r->q;
    float y[CHECK_TOKENS * CHECK_ROWS];
    char check[256], why[512] = "";
    snprintf(check, sizeof check, "%s: matmat matches matmat_reference", tier);
    fill_nan(y);
    q->matmat(r->w, r->row_bytes, r->x, r->act_row_bytes, y, CHECK_ROWS, r->cols, CHECK_TOKENS,
              0, CHECK_ROWS);
    products_agree(r, y, r->y_ref, 0, CHECK_ROWS, why, sizeof why);
    tsr_check_report(r->c, r->p, !why[0], check, "%s", why);

    snprintf(check, sizeof check, "%s: matmat over rows [5, 13) writes only those", tier);
    why[0] = '\0';
    fill_nan(y);
    q->matmat(r->w, r->row_bytes, r->x, r->act_row_bytes, y, CHECK_ROWS, r->cols, CHECK_TOKENS,
              5, 13);
    products_agree(r, y, r->y_ref, 5, 13, why, sizeof why);
    tsr_check_report(r->c, r->p, !why[0], check, "%s", why);

    snprintf(check, sizeof check, "%s: matvec matches matmat_reference", tier);
    why[0] = '\0';
    fill_nan(y);
    for (int t = 0; t < CHECK_TOKENS; t++)
        q->matvec(r->w, r->row_bytes, r->x + (size_t)t * r->act_row_bytes, y + t * CHECK_ROWS,
                  r->cols, 0, CHECK_ROWS);
    products_agree(r, y, r->y_ref, 0, CHECK_ROWS, why, sizeof why);
    tsr_check_report(r->c, r->p, !why[0], check, "%s", why);
}

/* ---- threads -------------------------------------------------------------- */

typedef struct thread_job {
    const quant_run *r;
    float *y;
    float *deq;
    int begin, end;
} thread_job;

static void *thread_main(void *arg)
{
    thread_job *j = arg;
    const quant_run *r = j->r;
    for (int rep = 0; rep < 20; rep++) {
        r->q->matmat(r->w, r->row_bytes, r->x, r->act_row_bytes, j->y, CHECK_ROWS, r->cols,
                     CHECK_TOKENS, j->begin, j->end);
        r->q->dequantize(r->w, j->deq, r->cols * CHECK_ROWS);
    }
    return NULL;
}

static void check_threads(quant_run *r)
{
    float y[CHECK_TOKENS * CHECK_ROWS], alone[CHECK_TOKENS * CHECK_ROWS];
    fill_nan(alone);
    r->q->matmat(r->w, r->row_bytes, r->x, r->act_row_bytes, alone, CHECK_ROWS, r->cols,
                 CHECK_TOKENS, 0, CHECK_ROWS);
    fill_nan(y);
    thread_job jobs[CHECK_THREADS];
    pthread_t threads[CHECK_THREADS];
    int started = 0;
    float *deq = malloc((size_t)CHECK_THREADS * (size_t)(r->cols * CHECK_ROWS) * sizeof *deq);
    if (!deq) {
        r->c->out_of_memory = true;
        return;
    }
    int per = CHECK_ROWS / CHECK_THREADS;
    for (int i = 0; i < CHECK_THREADS; i++) {
        jobs[i] = (thread_job){r, y, deq + (size_t)i * (size_t)(r->cols * CHECK_ROWS), i * per,
                               (i + 1) * per};
        if (pthread_create(&threads[i], NULL, thread_main, &jobs[i]) == 0)
            started++;
        else
            thread_main(&jobs[i]);
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    char why[256] = "";
    if (memcmp(y, alone, sizeof y) != 0)
        snprintf(why, sizeof why, "matmat on row ranges from %d threads at once differs from "
                 "one call", CHECK_THREADS);
    for (int i = 0; i < CHECK_THREADS && !why[0]; i++)
        if (memcmp(jobs[i].deq, r->w_floats, (size_t)(r->cols * CHECK_ROWS) * sizeof(float)))
            snprintf(why, sizeof why, "dequantize from %d threads at once differs from one call",
                     CHECK_THREADS);
    tsr_check_report(r->c, r->p, !why[0], "kernels called from several threads at once agree",
                     "%s", why);
    free(deq);
}

/* ---- another plugin of the same type -------------------------------------- */

static void check_against_installed(quant_run *r)
{
    const char *check = "agrees with the installed plugin of its GGUF type";
    const tsr_plugin *other =
        r->c->installed ? tsr_registry_find_quant(r->c->installed, r->q->gguf_type) : NULL;
    if (!other || strcmp(other->path, r->p->path) == 0) {
        tsr_check_skip(r->c, r->p, check, "no other installed plugin claims its GGUF type");
        return;
    }
    const tsr_quant_vtable *o = tsr_plugin_quant(other);
    char why[512] = "";
    if (o->block_elems != r->q->block_elems || o->block_bytes != r->q->block_bytes) {
        snprintf(why, sizeof why, "%s ('%s') has blocks of %u values in %u bytes; this one %u "
                 "in %u", other->path, other->name, o->block_elems, o->block_bytes,
                 r->q->block_elems, r->q->block_bytes);
        tsr_check_report(r->c, r->p, false, check, "%s", why);
        return;
    }
    int64_t n = r->cols * CHECK_ROWS;
    float *theirs = malloc((size_t)n * sizeof *theirs);
    if (!theirs) {
        r->c->out_of_memory = true;
        return;
    }
    /* The same bytes mean the same values... */
    o->dequantize(r->w, theirs, n);
    for (int64_t i = 0; i < n && !why[0]; i++)
        if (!(fabsf(theirs[i] - r->w_floats[i]) <= 1e-6f * fabsf(r->w_floats[i])))
            snprintf(why, sizeof why, "value %lld of the same bytes dequantizes to %g here and "
                     "%g in %s", (long long)i, (double)r->w_floats[i], (double)theirs[i],
                     other->path);
    /* ...and the same products, when both compute with the same form. */
    if (!why[0] && r->act && !(o->flags & TSR_QUANT_ACTIVATION) &&
        o->act_gguf_type == r->q->act_gguf_type && o->matmat_reference) {
        float y[CHECK_TOKENS * CHECK_ROWS];
        o->matmat_reference(r->w, r->row_bytes, r->x, r->act_row_bytes, y, CHECK_ROWS, r->cols,
                            CHECK_TOKENS, 0, CHECK_ROWS);
        char detail[400];
        if (!products_agree(r, y, r->y_ref, 0, CHECK_ROWS, detail, sizeof detail))
            snprintf(why, sizeof why, "%s's matmat_reference: %s", other->path, detail);
    }
    free(theirs);
    tsr_check_report(r->c, r->p, !why[0], check, "%s", why);
}

/* ---- tiers ------------------------------------------------------------------ */

/* Each ISA level TESSERA_ISA can set, as init sees it. */
static const char *const isa_levels[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni",
                                         "native"};
enum { N_ISA_LEVELS = sizeof isa_levels / sizeof isa_levels[0] };

/* Runs the products at every distinct CPU-feature set, re-initialising the
 * plugin for each; restores the user's limit and the plugin's kernels. */
static void check_tiers(quant_run *r)
{
    uint32_t saved = tsr_cpu_limit_mask();
    uint32_t seen[N_ISA_LEVELS];
    size_t n_seen = 0;
    for (size_t i = 0; i < N_ISA_LEVELS; i++) {
        tsr_error err = {0};
        tsr_cpu_set_limit(isa_levels[i], &err);
        uint32_t features = tsr_cpu_features() & (tsr_cpu_detect() & saved);
        tsr_cpu_set_limit_mask(features);
        bool repeat = false;
        for (size_t k = 0; k < n_seen; k++)
            repeat = repeat || seen[k] == features;
        if (repeat)
            continue;
        seen[n_seen++] = features;
        char tier[128];
        if (r->q->init && r->q->init(tsr_host_services(), &err) != TSR_OK) {
            snprintf(tier, sizeof tier, "init at ISA level %s", isa_levels[i]);
            tsr_check_report(r->c, r->p, false, tier, "%s", err.message);
            continue;
        }
        const char *kernel = r->q->kernel_name ? r->q->kernel_name() : NULL;
        snprintf(tier, sizeof tier, "ISA level %s (kernel %s)", isa_levels[i],
                 kernel ? kernel : "unnamed");
        check_tier(r, tier);
    }
    tsr_cpu_set_limit_mask(saved);
    tsr_error err = {0};
    if (r->q->init)
        r->q->init(tsr_host_services(), &err);
}

/* The plugin that makes the activation form q wants: the file's own first,
 * then the installed ones. */
static const tsr_quant_vtable *activation_form(const tsr_checker *c, uint32_t type)
{
    const tsr_plugin *p = tsr_registry_find_quant(c->own, type);
    if (!p && c->installed)
        p = tsr_registry_find_quant(c->installed, type);
    const tsr_quant_vtable *act = tsr_plugin_quant(p);
    return act && act->quantize ? act : NULL;
}

static int64_t lcm(int64_t a, int64_t b)
{
    int64_t x = a, y = b;
    while (y) {
        int64_t t = x % y;
        x = y;
        y = t;
    }
    return a / x * b;
}

void tsr_check_quant(tsr_checker *c, const tsr_plugin *p)
{
    quant_run r = {.c = c, .p = p, .q = tsr_plugin_quant(p)};
    tsr_rng_seed(&r.rng, 42);
    bool products = !(r.q->flags & TSR_QUANT_ACTIVATION);
    if (products) {
        r.act = activation_form(c, r.q->act_gguf_type);
        tsr_check_report(c, p, r.act != NULL, "its activation form can be made",
                         "it wants activations of GGUF type %u, and neither this file nor the "
                         "installed plugins quantize to it", r.q->act_gguf_type);
    }
    int64_t unit = r.act ? lcm(r.q->block_elems, r.act->block_elems) : r.q->block_elems;
    if (unit > (1 << 16)) {
        tsr_check_report(c, p, false, "block sizes are usable", "rows would need %lld values",
                         (long long)unit);
        return;
    }
    r.cols = unit * ((512 + unit - 1) / unit);
    r.row_bytes = blocks_bytes(r.q, r.cols);
    r.act_row_bytes = r.act ? blocks_bytes(r.act, r.cols) : 0;
    r.w = malloc(r.row_bytes * CHECK_ROWS + GUARD_BYTES);
    r.w_floats = malloc((size_t)(r.cols * CHECK_ROWS) * sizeof(float));
    r.x = malloc(r.act_row_bytes * CHECK_TOKENS + 1);
    r.x_floats = malloc((size_t)(r.cols * CHECK_TOKENS) * sizeof(float));
    r.y_ref = malloc(CHECK_TOKENS * CHECK_ROWS * sizeof(float));
    r.abs_dot = malloc(CHECK_TOKENS * CHECK_ROWS * sizeof(float));
    if (!r.w || !r.w_floats || !r.x || !r.x_floats || !r.y_ref || !r.abs_dot) {
        c->out_of_memory = true;
    } else {
        check_blocks(&r);
        check_round_trips(&r);
        char why[256] = "";
        bool weights = make_weights(&r, why, sizeof why);
        if (!weights)
            tsr_check_report(c, p, false, "weights for the products", "%s", why);
        if (weights && r.act) {
            make_reference(&r);
            check_tiers(&r);
            check_threads(&r);
        }
        if (weights && !c->out_of_memory)
            check_against_installed(&r);
    }
    free(r.w);
    free(r.w_floats);
    free(r.x);
    free(r.x_floats);
    free(r.y_ref);
    free(r.abs_dot);
}
