/* Batch invariance of the quant plugins' products. Batched decode promises
 * that a sequence's logits are bit-identical whatever else shares its batch
 * and however its tokens are split into batches; on the CPU that holds when
 * every path adds the terms of each (row, token) in one order. So, for
 * every plugin with products, at every ISA level, on random blocks, byte
 * for byte:
 *   (a) column t of matmat over n tokens is token t's matvec, for n across
 *       every remainder of the register tiles and the token chunks (32, 64);
 *   (b) a row's result does not depend on the row range it is computed in
 *       (whole, odd boundaries, single rows) nor on where in the batch its
 *       token sits;
 *   (c) matmat over tokens [0, n) is matmat over [0, k) and then [k, n).
 * How close the products are to the exact value is test_quant*.c's to say. */
#include "quanttest.h"

TestSuite(invariance, .init = quanttest_open, .fini = quanttest_close);

enum {
    ROWS = 13, /* odd: 4-row passes and tiles with 1 to 3 rows left over, and rows alone */
    MAX_TOKENS = 130,
    Y_STRIDE = ROWS + 3,
    N_Y = MAX_TOKENS * Y_STRIDE,
};

/* Every remainder of the register tiles (up to 4 tokens) after one and two
 * whole tiles, and across the token chunks (32 and 64 tokens). */
static const int token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 16, 33, 64, 65, 70, 130};
enum { N_TOKEN_COUNTS = sizeof token_counts / sizeof token_counts[0] };

/* Row ranges covering [0, ROWS), as their boundaries: whole, odd splits,
 * then every row alone. */
typedef struct partition {
    int n_ranges;
    int at[ROWS + 1];
} partition;

static const partition partitions[] = {
    {1, {0, ROWS}},
    {5, {0, 1, 4, 5, 9, ROWS}},
    {4, {0, 3, 7, 8, ROWS}},
    {5, {0, 2, 6, 10, 12, ROWS}},
    {ROWS, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ROWS}},
};
enum { N_PARTITIONS = sizeof partitions / sizeof partitions[0] };

static const float sentinel = -1234.5f;

/* One plugin's operands at one column count, and what each token gives
 * through matvec alone, which every other way of computing must equal. */
typedef struct operands {
    const char *name;
    const tsr_quant_vtable *vt, *act;
    const char *level;
    int64_t n_cols;
    size_t w_row_bytes, x_row_bytes;
    uint8_t *w;     /* ROWS rows */
    uint8_t *x;     /* MAX_TOKENS tokens */
    uint8_t *batch; /* room for MAX_TOKENS tokens, rearranged */
    float *alone;   /* alone[t * Y_STRIDE + r]: token t's matvec over all rows */
    float *y, *y_whole;
} operands;

static operands make_operands(const char *name, int64_t n_cols, quanttest_fill *random_w)
{
    operands o = {.name = name, .n_cols = n_cols};
    o.vt = quanttest_find(name);
    o.act = quanttest_activation_of(o.vt);
    cr_assert(n_cols % o.vt->block_elems == 0 && n_cols % o.act->block_elems == 0,
              "%s: %lld columns are not whole blocks", name, (long long)n_cols);
    o.w_row_bytes = (size_t)(n_cols / o.vt->block_elems) * o.vt->block_bytes;
    o.x_row_bytes = (size_t)(n_cols / o.act->block_elems) * o.act->block_bytes;
    o.w = malloc(o.w_row_bytes * ROWS);
    o.x = malloc(o.x_row_bytes * MAX_TOKENS);
    o.batch = malloc(o.x_row_bytes * MAX_TOKENS);
    o.alone = malloc(N_Y * sizeof *o.alone);
    o.y = malloc(N_Y * sizeof *o.y);
    o.y_whole = malloc(N_Y * sizeof *o.y_whole);
    quanttest_rng rng = {0x1a7a2c3eull ^ o.vt->gguf_type ^ (uint64_t)n_cols << 24};
    quanttest_random_weights(name, o.vt, random_w, o.vt, o.w, o.w_row_bytes, ROWS, n_cols, &rng);
    quanttest_random_activations(o.act, o.x, o.x_row_bytes, MAX_TOKENS, n_cols, &rng);
    return o;
}

static void free_operands(operands *o)
{
    free(o->w), free(o->x), free(o->batch), free(o->alone), free(o->y), free(o->y_whole);
}

static void fill_sentinel(float *y)
{
    for (int i = 0; i < N_Y; i++)
        y[i] = sentinel;
}

/* Rows [r0, r1) of tokens x[0, n_tokens) into y: through matvec when asked
 * (one token), else matmat. */
static void product(const operands *o, const uint8_t *x, int n_tokens, int r0, int r1,
                    bool via_matvec, float *y)
{
    if (via_matvec)
        o->vt->matvec(o->w, o->w_row_bytes, x, y, o->n_cols, r0, r1);
    else
        o->vt->matmat(o->w, o->w_row_bytes, x, o->x_row_bytes, y, Y_STRIDE, o->n_cols, n_tokens,
                      r0, r1);
}

/* y[j][r] equals want[source[j]][r] byte for byte, for every row and
 * j < n_tokens (source NULL: j itself). */
static void expect_same(const operands *o, const char *how, const float *y, const float *want,
                        const char *want_name, int n_tokens, const int *source)
{
    for (int j = 0; j < n_tokens; j++) {
        int t = source ? source[j] : j;
        for (int r = 0; r < ROWS; r++) {
            const float *got = &y[j * Y_STRIDE + r], *expected = &want[t * Y_STRIDE + r];
            if (memcmp(got, expected, sizeof *got) != 0)
                cr_assert_fail("%s (%s path at ISA level %s), %lld columns, %s: row %d of token "
                               "%d (batch column %d of %d) is %a, %s %a",
                               o->name, o->vt->kernel_name(), o->level, (long long)o->n_cols, how,
                               r, t, j, n_tokens, (double)*got, want_name, (double)*expected);
        }
    }
}

static void expect_alone(const operands *o, const char *how, const float *y, int n_tokens,
                         const int *source)
{
    expect_same(o, how, y, o->alone, "matvec of the token alone", n_tokens, source);
}

/* ---- the properties --------------------------------------------------------- */

typedef void property_fn(operands *o);

/* (a) */
static void columns_equal_matvec(operands *o)
{
    for (int k = 0; k < N_TOKEN_COUNTS; k++) {
        int n = token_counts[k];
        char how[64];
        snprintf(how, sizeof how, "matmat over %d tokens", n);
        fill_sentinel(o->y);
        product(o, o->x, n, 0, ROWS, false, o->y);
        expect_alone(o, how, o->y, n, NULL);
    }
}

/* (b) */
static void rows_ignore_range_and_position(operands *o)
{
    static const int counts[] = {1, 2, 5, 7, 33, 70, 130};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int n = counts[k];
        for (int p = 0; p < N_PARTITIONS; p++)
            for (int via_matvec = 0; via_matvec <= (n == 1); via_matvec++) {
                char how[96];
                snprintf(how, sizeof how, "%s over %d tokens in %d row ranges",
                         via_matvec ? "matvec" : "matmat", n, partitions[p].n_ranges);
                fill_sentinel(o->y);
                for (int i = 0; i < partitions[p].n_ranges; i++)
                    product(o, o->x, n, partitions[p].at[i], partitions[p].at[i + 1],
                            via_matvec, o->y);
                expect_alone(o, how, o->y, n, NULL);
            }
    }
    /* The same tokens elsewhere in the batch: reversed, and spread by a
     * stride coprime with MAX_TOKENS, so each lands in another column of
     * another tile and chunk. */
    static const int batch_sizes[] = {2, 5, 33, 130};
    int source[MAX_TOKENS];
    for (size_t k = 0; k < sizeof batch_sizes / sizeof batch_sizes[0]; k++) {
        int n = batch_sizes[k];
        for (int arrangement = 0; arrangement < 2; arrangement++) {
            for (int j = 0; j < n; j++) {
                source[j] = arrangement == 0 ? MAX_TOKENS - 1 - j : (37 * j + 11) % MAX_TOKENS;
                memcpy(o->batch + (size_t)j * o->x_row_bytes,
                       o->x + (size_t)source[j] * o->x_row_bytes, o->x_row_bytes);
            }
            for (int p = 0; p < 2; p++) {
                char how[96];
                snprintf(how, sizeof how, "matmat over %d tokens %s, in %d row ranges", n,
                         arrangement == 0 ? "reversed" : "spread by 37", partitions[p].n_ranges);
                fill_sentinel(o->y);
                for (int i = 0; i < partitions[p].n_ranges; i++)
                    product(o, o->batch, n, partitions[p].at[i], partitions[p].at[i + 1], false,
                            o->y);
                expect_alone(o, how, o->y, n, source);
            }
        }
    }
}

/* (c) */
static void matmat_splits_into_token_batches(operands *o)
{
    static const int counts[] = {2, 5, 7, 16, 33, 65, 70, 130};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int n = counts[c];
        fill_sentinel(o->y_whole);
        product(o, o->x, n, 0, ROWS, false, o->y_whole);
        const int splits[] = {1, 2, 3, 4, 5, 31, 32, 33, 63, 64, 65, n / 2, n - 1};
        for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
            int k = splits[s];
            if (k <= 0 || k >= n)
                continue;
            char how[96];
            snprintf(how, sizeof how, "matmat over tokens [0, %d) then [%d, %d)", k, k, n);
            fill_sentinel(o->y);
            product(o, o->x, k, 0, ROWS, false, o->y);
            product(o, o->x + (size_t)k * o->x_row_bytes, n - k, 0, ROWS, false,
                    o->y + k * Y_STRIDE);
            expect_same(o, how, o->y, o->y_whole, "matmat over all of them", n, NULL);
        }
    }
}

/* Checks a property of plugin `name` at two column counts (one block, and
 * an odd number of blocks: pairs with a block left over; for the float
 * formats a count with a tail past the vectors) at every ISA level, and
 * native, that chooses other kernels than the level below (on a machine
 * without a level, the plugin runs the best it has, already checked). */
static void check_every_isa(const char *name, quanttest_fill *random_w, property_fn *property)
{
    const tsr_quant_vtable *vt = quanttest_find(name);
    int64_t be = vt->block_elems;
    const int64_t col_counts[2] = {be == 1 ? 203 : be * (be >= 256 ? 3 : 7), be == 1 ? 24 : be};
    for (int c = 0; c < 2; c++) {
        operands o = make_operands(name, col_counts[c], random_w);
        const char *previous = NULL;
        /* every level, then native: paths no level names (bf16's AVX512-BF16) */
        for (int level = 0; level <= QUANTTEST_N_LEVELS; level++) {
            const char *name = level < QUANTTEST_N_LEVELS ? quanttest_levels[level] : "native";
            quanttest_use_level(name, o.vt, o.act);
            if (previous && strcmp(o.vt->kernel_name(), previous) == 0)
                continue;
            previous = o.vt->kernel_name();
            o.level = name;
            for (int i = 0; i < N_Y; i++)
                o.alone[i] = sentinel;
            for (int t = 0; t < MAX_TOKENS; t++)
                product(&o, o.x + (size_t)t * o.x_row_bytes, 1, 0, ROWS, true,
                        o.alone + t * Y_STRIDE);
            property(&o);
        }
        free_operands(&o);
    }
}

#define INVARIANCE_TESTS(fmt, random_w)                                                            \
    Test(invariance, fmt##_matmat_column_equals_matvec_at_every_isa)                               \
    {                                                                                              \
        check_every_isa(#fmt, random_w, columns_equal_matvec);                                     \
    }                                                                                              \
    Test(invariance, fmt##_row_ignores_its_row_range_and_batch_position_at_every_isa)              \
    {                                                                                              \
        check_every_isa(#fmt, random_w, rows_ignore_range_and_position);                           \
    }                                                                                              \
    Test(invariance, fmt##_matmat_equals_its_token_batches_concatenated_at_every_isa)              \
    {                                                                                              \
        check_every_isa(#fmt, random_w, matmat_splits_into_token_batches);                         \
    }

INVARIANCE_TESTS(f32, NULL)
INVARIANCE_TESTS(f16, NULL)
INVARIANCE_TESTS(bf16, NULL)
INVARIANCE_TESTS(q8_0, NULL)
INVARIANCE_TESTS(q4_0, NULL)
INVARIANCE_TESTS(q4_1, NULL)
INVARIANCE_TESTS(q5_0, NULL)
INVARIANCE_TESTS(q5_1, NULL)
INVARIANCE_TESTS(iq4_nl, NULL)
INVARIANCE_TESTS(iq4_xs, NULL)
INVARIANCE_TESTS(q2_k, NULL)
INVARIANCE_TESTS(q3_k, NULL)
INVARIANCE_TESTS(q4_k, NULL)
INVARIANCE_TESTS(q5_k, NULL)
INVARIANCE_TESTS(q6_k, NULL)
/* the grid i-quants cannot quantize: random blocks */
INVARIANCE_TESTS(iq3_xxs, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(iq2_xxs, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(iq2_xs, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(iq2_s, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(iq3_s, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(iq1_s, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(iq1_m, quanttest_fill_grid_iquant)
INVARIANCE_TESTS(mxfp4, NULL)

/* Every quant plugin the build makes with products is one of the above, so
 * a new format cannot join without these checks. */
Test(invariance, every_quant_plugin_with_products_is_checked_here)
{
    static const char *const checked[] = {"f32",  "f16",    "bf16",   "q8_0", "q4_0", "q4_1",
                                          "q5_0", "q5_1",   "iq4_nl", "iq4_xs", "q2_k", "q3_k",
                                          "q4_k", "q5_k",   "q6_k",   "iq3_xxs", "mxfp4", "iq2_xxs",
                                          "iq2_xs", "iq2_s", "iq3_s", "iq1_s",
                                          "iq1_m"};
    size_t n_with_products = 0;
    for (size_t i = 0; i < tsr_registry_count(quanttest_registry); i++) {
        const tsr_plugin *p = tsr_registry_get(quanttest_registry, i);
        if (p->kind != TSR_PLUGIN_QUANT)
            continue;
        const tsr_quant_vtable *vt = tsr_plugin_quant(p);
        if (!vt->matvec && !vt->matmat)
            continue;
        n_with_products++;
        bool found = false;
        for (size_t k = 0; k < sizeof checked / sizeof checked[0]; k++)
            found = found || strcmp(p->name, checked[k]) == 0;
        cr_assert(found, "quant plugin '%s' has products but no invariance tests here", p->name);
    }
    cr_assert_eq(n_with_products, sizeof checked / sizeof checked[0],
                 "some plugin checked here is missing from the build's plugins");
}
