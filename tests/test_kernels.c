/* The CPU kernels: every instruction set's table against the scalar
 * references on random inputs, and the references (and tables) against
 * straightforward double-precision formulas written here, independently of
 * kernels/cpu. Tolerances are stated where they are used, with the reason. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "tessera/tessera.h"
#include "threadpool.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *const isa_levels[] = {"scalar", "avx2", "avx512"};
enum { N_LEVELS = 3 };

/* The table at an ISA level, or NULL (with a note, at --verbose) when this
 * processor cannot run it. A note, not a warning: Criterion exits 1 after
 * any warning, which failed the whole program on processors without
 * AVX-512. */
static const tsr_cpu_kernels *kernels_at(const char *level)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_cpu_set_limit(level, &err), TSR_OK, "%s", err.message);
    const tsr_cpu_kernels *k = tsr_cpu_kernels_select(tsr_cpu_features());
    cr_assert_not_null(k);
    if (strcmp(k->isa, level) != 0) {
        cr_log_info("this processor cannot run the %s kernels; checked %s instead", level, k->isa);
        return NULL;
    }
    return k;
}

static void restore_native(void)
{
    tsr_cpu_set_limit("native", NULL);
}

TestSuite(kernels, .fini = restore_native);

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(next_u64() >> 11) / 9007199254740992.0);
}

static float *random_floats(int64_t n, float lo, float hi)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = uniform(lo, hi);
    return x;
}

static float *copy_floats(const float *x, int64_t n)
{
    float *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    memcpy(y, x, (size_t)n * sizeof *y);
    return y;
}

/* |got[i] - want[i]| <= abs_tol + rel_tol * |want[i]| for every i. */
static void assert_close(const float *got, const double *want, int64_t n, double abs_tol,
                         double rel_tol, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        cr_assert(diff <= abs_tol + rel_tol * fabs(want[i]),
                  "%s: element %lld of %lld is %.9g, expected %.9g (diff %.3g)", what, (long long)i,
                  (long long)n, got[i], want[i], diff);
    }
}

static void assert_close_f(const float *got, const float *want, int64_t n, double abs_tol,
                           double rel_tol, const char *what)
{
    double *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
    for (int64_t i = 0; i < n; i++)
        w[i] = want[i];
    assert_close(got, w, n, abs_tol, rel_tol, what);
    free(w);
}

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

Test(kernels, select_follows_the_isa_limit)
{
    uint32_t detected = tsr_cpu_detect();
    const tsr_cpu_kernels *k = kernels_at("scalar");
    cr_assert_not_null(k);
    cr_assert_str_eq(tsr_cpu_kernels_select(0)->isa, "scalar");
    bool has_avx2 = (detected & (TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C)) ==
                    (TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C);
    tsr_cpu_set_limit("avx2", NULL);
    cr_assert_str_eq(tsr_cpu_kernels_select(tsr_cpu_features())->isa, has_avx2 ? "avx2" : "scalar");
    bool has_avx512 = has_avx2 && (detected & TSR_CPU_AVX512F) && (detected & TSR_CPU_AVX512BW) &&
                      (detected & TSR_CPU_AVX512VL);
    tsr_cpu_set_limit("avx512", NULL);
    cr_assert_str_eq(tsr_cpu_kernels_select(tsr_cpu_features())->isa, has_avx512 ? "avx512"
                                                                      : has_avx2 ? "avx2"
                                                                                 : "scalar");
}

/* ---- RMSNorm ------------------------------------------------------------ */

static const int64_t vector_sizes[] = {1, 5, 8, 15, 16, 17, 31, 32, 33, 100, 576, 1000, 2048, 4096};
enum { N_VECTOR_SIZES = sizeof vector_sizes / sizeof vector_sizes[0] };

static void rmsnorm_double(double *y, const float *x, const float *w, int64_t n, double eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    double scale = 1.0 / sqrt(sum / n + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * scale * w[i];
}

/* Tolerance: every version computes y = x * scale * w with the same float
 * operations and differs only in the sum of squares, which the vector ones
 * add in float across 16-32 lanes: each lane sums at most 4096/16 = 256
 * positive terms, a relative error below 256 * 2^-24 = 1.5e-5 in the worst
 * case, halved by the square root: 7.6e-6. The reference sums in double;
 * against the exact formula it is off by its three float roundings
 * (< 2e-7). Hence relative 1e-5. */
Test(kernels, rmsnorm_matches_reference_and_formula_at_every_isa)
{
    rng_state = 1;
    for (int s = 0; s < N_VECTOR_SIZES; s++) {
        int64_t n = vector_sizes[s];
        float gain = s % 3 == 2 ? 1000.0f : 1.0f; /* large rows must not overflow */
        float *x = random_floats(n, -3.0f * gain, 3.0f * gain);
        float *w = random_floats(n, 0.5f, 1.5f);
        float *ref = random_floats(n, 0, 1);
        double *exact = malloc((size_t)n * sizeof *exact);
        tsr_rmsnorm_reference(ref, x, w, n, 1e-5f);
        rmsnorm_double(exact, x, w, n, 1e-5);
        assert_close(ref, exact, n, 0.0, 1e-6, "rmsnorm reference vs formula");
        for (int l = 0; l < N_LEVELS; l++) {
            const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
            if (!k)
                continue;
            float *y = random_floats(n, 0, 1);
            k->rmsnorm(y, x, w, n, 1e-5f);
            assert_close_f(y, ref, n, 0.0, 1e-5, k->isa);
            assert_close(y, exact, n, 0.0, 1e-5, k->isa);
            /* In place. */
            float *inplace = copy_floats(x, n);
            k->rmsnorm(inplace, inplace, w, n, 1e-5f);
            cr_assert_eq(memcmp(inplace, y, (size_t)n * sizeof *y), 0, "%s in place", k->isa);
            free(inplace);
            free(y);
        }
        free(x), free(w), free(ref), free(exact);
    }
}

/* ---- RoPE --------------------------------------------------------------- */

/* The rotation written from its definition, in double, from the original x. */
static void rope_double(double *y, const float *x, int64_t n_heads, int64_t head_dim,
                        const tsr_rope_config *c, int64_t position)
{
    for (int64_t h = 0; h < n_heads; h++) {
        const float *xh = x + h * head_dim;
        double *yh = y + h * head_dim;
        for (int64_t d = 0; d < head_dim; d++)
            yh[d] = xh[d];
        for (int64_t i = 0; i < c->n_rot / 2; i++) {
            double theta =
                (double)position * c->freq_scale * pow(c->freq_base, -2.0 * i / c->n_rot);
            if (c->freq_factors)
                theta /= c->freq_factors[i];
            int64_t a = c->mode == TSR_ROPE_NEOX ? i : 2 * i;
            int64_t b = c->mode == TSR_ROPE_NEOX ? i + c->n_rot / 2 : 2 * i + 1;
            yh[a] = xh[a] * cos(theta) - xh[b] * sin(theta);
            yh[b] = xh[a] * sin(theta) + xh[b] * cos(theta);
        }
    }
}

Test(kernels, rope_norm_rotates_adjacent_pairs_as_llama_gguf_expects)
{
    /* head_dim 4, position 1, base 10000: the pairs turn by 1 rad and by
     * 10000^(-1/2) = 0.01 rad. NORM (LLM_ARCH_LLAMA in llama.cpp) pairs
     * (x0, x1) and (x2, x3); NEOX pairs (x0, x2) and (x1, x3). */
    tsr_rope_config norm = {TSR_ROPE_NORM, 4, 10000.0f, 1.0f, NULL};
    tsr_rope_config neox = {TSR_ROPE_NEOX, 4, 10000.0f, 1.0f, NULL};
    for (int l = 0; l < N_LEVELS; l++) {
        const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
        if (!k)
            continue;
        float table[4];
        float x[4] = {1, 0, 1, 0};
        tsr_rope_table(&norm, 1, table);
        k->rope(x, 1, 4, &norm, table);
        const double want_norm[4] = {cos(1.0), sin(1.0), cos(0.01), sin(0.01)};
        assert_close(x, want_norm, 4, 1e-7, 0, "NORM pairs");
        float z[4] = {1, 0, 0, 0};
        tsr_rope_table(&neox, 1, table);
        k->rope(z, 1, 4, &neox, table);
        const double want_neox[4] = {cos(1.0), 0, sin(1.0), 0};
        assert_close(z, want_neox, 4, 1e-7, 0, "NEOX pairs");
    }
}

/* Tolerance: the table's cos and sin are the double values rounded to float
 * (relative 2^-24 each), and each output is x0 c - x1 s in float: at most
 * about 4 roundings of quantities bounded by max|x|, so 4 * 2^-24 * sqrt(2)
 * * max|x| = 3.4e-7 max|x| against the double formula; 5e-7 max|x| allowed.
 * The vector versions fuse a multiply-add (one rounding fewer), so against
 * the reference they differ by at most 2 roundings: 2.5e-7 max|x|, 3e-7 allowed. */
static void check_rope(const tsr_rope_config *c, int64_t n_heads, int64_t head_dim,
                       const int64_t *positions, int n_positions)
{
    int64_t n = n_heads * head_dim;
    float *table = malloc((size_t)c->n_rot * sizeof *table);
    double *exact = malloc((size_t)n * sizeof *exact);
    for (int p = 0; p < n_positions; p++) {
        float *x = random_floats(n, -2.0f, 2.0f);
        double scale = max_abs(x, n);
        float *ref = copy_floats(x, n);
        tsr_rope_table(c, positions[p], table);
        tsr_rope_reference(ref, n_heads, head_dim, c, table);
        rope_double(exact, x, n_heads, head_dim, c, positions[p]);
        char what[160];
        snprintf(what, sizeof what, "rope mode %d n_rot %d head_dim %lld position %lld reference",
                 c->mode, c->n_rot, (long long)head_dim, (long long)positions[p]);
        assert_close(ref, exact, n, 5e-7 * scale, 0, what);
        for (int l = 0; l < N_LEVELS; l++) {
            const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
            if (!k)
                continue;
            float *y = copy_floats(x, n);
            k->rope(y, n_heads, head_dim, c, table);
            snprintf(what, sizeof what, "rope mode %d n_rot %d head_dim %lld position %lld %s",
                     c->mode, c->n_rot, (long long)head_dim, (long long)positions[p], k->isa);
            assert_close_f(y, ref, n, 3e-7 * scale, 0, what);
            assert_close(y, exact, n, 5e-7 * scale, 0, what);
            /* Values past n_rot are not touched at all. */
            for (int64_t h = 0; h < n_heads; h++)
                for (int64_t d = c->n_rot; d < head_dim; d++)
                    cr_assert_eq(y[h * head_dim + d], x[h * head_dim + d], "%s: value %lld moved",
                                 what, (long long)d);
            free(y);
        }
        free(x), free(ref);
    }
    free(table), free(exact);
}

static const int64_t rope_positions[] = {0, 1, 17, 1000, 100000};

Test(kernels, rope_matches_reference_and_formula_in_both_modes)
{
    rng_state = 2;
    const int64_t head_dims[] = {2, 6, 32, 40, 64, 80, 128};
    for (int mode = TSR_ROPE_NORM; mode <= TSR_ROPE_NEOX; mode++) {
        for (size_t i = 0; i < sizeof head_dims / sizeof head_dims[0]; i++) {
            int64_t hd = head_dims[i];
            tsr_rope_config full = {mode, (int32_t)hd, 10000.0f, 1.0f, NULL};
            check_rope(&full, 3, hd, rope_positions, 5);
            /* Partial rotation: only the first half of each head turns. */
            if (hd % 4 == 0) {
                tsr_rope_config partial = {mode, (int32_t)(hd / 2), 10000.0f, 1.0f, NULL};
                check_rope(&partial, 3, hd, rope_positions, 5);
            }
        }
    }
}

Test(kernels, rope_linear_scaling_and_freq_base)
{
    rng_state = 3;
    /* Linear scaling by 4 (freq_scale 1/4) at Llama 3's base. */
    tsr_rope_config c = {TSR_ROPE_NORM, 128, 500000.0f, 0.25f, NULL};
    check_rope(&c, 4, 128, rope_positions, 5);
    c.mode = TSR_ROPE_NEOX;
    check_rope(&c, 4, 128, rope_positions, 5);
}

/* Llama 3 scaling as Hugging Face writes it, on inverse frequencies (a
 * formulation independent of tsr_rope_llama3_factors): low frequencies
 * divided by factor, high kept, between blended; the factor is the ratio. */
static double llama3_factor_hf(int64_t i, int64_t n_rot, double base, double factor, double low,
                               double high, double original)
{
    double inv_freq = pow(base, -2.0 * i / n_rot);
    double wavelen = 2.0 * M_PI / inv_freq;
    double scaled;
    if (wavelen > original / low) {
        scaled = inv_freq / factor;
    } else if (wavelen < original / high) {
        scaled = inv_freq;
    } else {
        double smooth = (original / wavelen - low) / (high - low);
        scaled = (1.0 - smooth) * inv_freq / factor + smooth * inv_freq;
    }
    return inv_freq / scaled;
}

Test(kernels, rope_llama3_factors_match_the_published_formula)
{
    /* Llama 3.1 8B: factor 8, low 1, high 4, original 8192, base 500000. */
    float factors[64];
    tsr_rope_llama3_factors(factors, 128, 500000.0f, 8.0f, 1.0f, 4.0f, 8192.0f);
    int n_kept = 0, n_divided = 0, n_blended = 0;
    for (int64_t i = 0; i < 64; i++) {
        double want = llama3_factor_hf(i, 128, 500000.0, 8.0, 1.0, 4.0, 8192.0);
        cr_assert_float_eq(factors[i], want, 1e-6 * want, "factor %lld: %g, expected %g",
                           (long long)i, factors[i], want);
        n_kept += factors[i] == 1.0f;
        n_divided += factors[i] == 8.0f;
        n_blended += factors[i] > 1.0f && factors[i] < 8.0f;
        if (i > 0)
            cr_assert_geq(factors[i], factors[i - 1], "factors rise with wavelength");
    }
    cr_assert(n_kept > 0 && n_divided > 0 && n_blended > 0, "kept %d, divided %d, blended %d",
              n_kept, n_divided, n_blended);

    /* And the rotation with those factors (as rope_freqs.weight would give). */
    rng_state = 4;
    tsr_rope_config c = {TSR_ROPE_NORM, 128, 500000.0f, 1.0f, factors};
    check_rope(&c, 2, 128, rope_positions, 5);
    c.mode = TSR_ROPE_NEOX;
    check_rope(&c, 2, 128, rope_positions, 5);
}

/* ---- softmax, SwiGLU, add ----------------------------------------------- */

/* Tolerance: the vector exp is within 2 ulp of expf, which is within 1 ulp of
 * exp; every version sums in double and scales by one rounded inverse, so a
 * probability carries at most ~5 roundings: relative 5 * 2^-24 = 3e-7 between
 * versions, 1e-6 allowed. Against the exact formula, add the rounding of the
 * float argument x - max, which exp turns into a relative error of
 * |x - max| * 2^-24 (1.8e-6 at x - max = -30). */
static void assert_softmax_exact(const float *y, const double *exact, const float *x, int64_t n,
                                 const char *what)
{
    float max = x[0];
    for (int64_t i = 0; i < n; i++)
        max = x[i] > max ? x[i] : max;
    for (int64_t i = 0; i < n; i++) {
        if (exact[i] == 0.0) { /* a masked entry */
            cr_assert_eq(y[i], 0.0f, "%s: masked element %lld is %g", what, (long long)i, y[i]);
            continue;
        }
        double tol = (1e-6 + fabs((double)x[i] - max) * 0x1p-24) * exact[i];
        cr_assert(fabs(y[i] - exact[i]) <= tol, "%s: element %lld of %lld is %.9g, expected %.9g",
                  what, (long long)i, (long long)n, y[i], exact[i]);
    }
}

Test(kernels, softmax_matches_reference_and_formula_at_every_isa)
{
    rng_state = 5;
    const int64_t sizes[] = {1, 2, 7, 8, 9, 16, 17, 100, 1000, 49152};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *x = random_floats(n, -15.0f, 15.0f);
        /* Masked entries (a logit bias of -inf) must come out exactly 0. */
        for (int64_t i = 1; i < n; i += 7)
            x[i] = -INFINITY;
        double *exact = malloc((size_t)n * sizeof *exact);
        double max = x[0], sum = 0.0;
        for (int64_t i = 0; i < n; i++)
            max = x[i] > max ? x[i] : max;
        for (int64_t i = 0; i < n; i++)
            sum += exact[i] = exp((double)x[i] - max);
        for (int64_t i = 0; i < n; i++)
            exact[i] /= sum;
        float *ref = copy_floats(x, n);
        tsr_softmax_reference(ref, n);
        assert_softmax_exact(ref, exact, x, n, "softmax reference vs formula");
        for (int l = 0; l < N_LEVELS; l++) {
            const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
            if (!k)
                continue;
            float *y = copy_floats(x, n);
            k->softmax(y, n);
            assert_close_f(y, ref, n, 0.0, 1e-6, k->isa);
            assert_softmax_exact(y, exact, x, n, k->isa);
            for (int64_t i = 1; i < n; i += 7)
                cr_assert_eq(y[i], 0.0f, "%s: masked entry %lld is %g", k->isa, (long long)i, y[i]);
            free(y);
        }
        free(x), free(ref), free(exact);
    }
}

/* Tolerance: silu(g) * u is an exp (2 ulp apart between versions), an add, a
 * divide and a multiply: relative 5 * 2^-24 = 3e-7; 1e-6 allowed. Where
 * exp(-g) overflows (g < -88.4) the reference gives -0 and the vector
 * versions a value below 1e-36: an absolute 1e-30 covers it. */
Test(kernels, swiglu_matches_reference_and_formula_at_every_isa)
{
    rng_state = 6;
    for (int s = 0; s < N_VECTOR_SIZES; s++) {
        int64_t n = vector_sizes[s];
        float *gate = random_floats(n, -30.0f, 30.0f);
        float *up = random_floats(n, -2.0f, 2.0f);
        const float extremes[] = {0.0f, -100.0f, 100.0f, 88.0f, -88.0f, -87.5f, 1e-20f, -1e-20f};
        for (int64_t i = 0; i < n && i < 8; i++)
            gate[i * 3 % n] = extremes[i];
        double *exact = malloc((size_t)n * sizeof *exact);
        for (int64_t i = 0; i < n; i++)
            exact[i] = (double)gate[i] / (1.0 + exp(-(double)gate[i])) * up[i];
        float *ref = random_floats(n, 0, 1);
        tsr_swiglu_reference(ref, gate, up, n);
        assert_close(ref, exact, n, 1e-30, 1e-6, "swiglu reference vs formula");
        for (int l = 0; l < N_LEVELS; l++) {
            const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
            if (!k)
                continue;
            float *y = random_floats(n, 0, 1);
            k->swiglu(y, gate, up, n);
            assert_close_f(y, ref, n, 1e-30, 1e-6, k->isa);
            assert_close(y, exact, n, 1e-30, 1e-6, k->isa);
            float *inplace = copy_floats(gate, n);
            k->swiglu(inplace, inplace, up, n);
            cr_assert_eq(memcmp(inplace, y, (size_t)n * sizeof *y), 0, "%s in place", k->isa);
            free(inplace), free(y);
        }
        free(gate), free(up), free(ref), free(exact);
    }
}

/* A float add is correctly rounded everywhere: the versions agree bit for bit. */
Test(kernels, add_is_exact_at_every_isa)
{
    rng_state = 7;
    for (int s = 0; s < N_VECTOR_SIZES; s++) {
        int64_t n = vector_sizes[s];
        float *a = random_floats(n, -1e3f, 1e3f), *b = random_floats(n, -1.0f, 1.0f);
        float *ref = random_floats(n, 0, 1);
        tsr_add_reference(ref, a, b, n);
        for (int64_t i = 0; i < n; i++)
            cr_assert_eq(ref[i], a[i] + b[i]);
        for (int l = 0; l < N_LEVELS; l++) {
            const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
            if (!k)
                continue;
            float *y = copy_floats(a, n);
            k->add(y, y, b, n);
            cr_assert_eq(memcmp(y, ref, (size_t)n * sizeof *y), 0, "%s add, n = %lld", k->isa,
                         (long long)n);
            free(y);
        }
        free(a), free(b), free(ref);
    }
}

/* ---- attention ---------------------------------------------------------- */

/* Cache formats for the tests, written here from their definitions: f32, f16
 * (IEEE binary16 through the compiler's _Float16) and q8_0 (blocks of 32
 * values: an f16 scale d = max|x| / 127, then 32 int8 q, x = q * d). */
static uint16_t to_f16(float x)
{
    _Float16 h = (_Float16)x;
    uint16_t bits;
    memcpy(&bits, &h, sizeof bits);
    return bits;
}

static float from_f16(uint16_t bits)
{
    _Float16 h;
    memcpy(&h, &bits, sizeof h);
    return (float)h;
}

static void f32_dequantize(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof *dst);
}

static void f32_quantize(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof *src);
}

static void f16_dequantize(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = from_f16(h[i]);
}

static void f16_quantize(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = to_f16(src[i]);
}

typedef struct q8_0_block {
    uint16_t d;
    int8_t q[32];
} q8_0_block;

static void q8_0_quantize(const float *src, void *dst, int64_t n)
{
    q8_0_block *blocks = dst;
    for (int64_t b = 0; b < n / 32; b++) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++)
            amax = fabsf(src[b * 32 + i]) > amax ? fabsf(src[b * 32 + i]) : amax;
        float d = amax / 127.0f, inv = d > 0.0f ? 1.0f / d : 0.0f;
        blocks[b].d = to_f16(d);
        for (int i = 0; i < 32; i++)
            blocks[b].q[i] = (int8_t)roundf(src[b * 32 + i] * inv);
    }
}

static void q8_0_dequantize(const void *src, float *dst, int64_t n)
{
    const q8_0_block *blocks = src;
    for (int64_t b = 0; b < n / 32; b++) {
        float d = from_f16(blocks[b].d);
        for (int i = 0; i < 32; i++)
            dst[b * 32 + i] = blocks[b].q[i] * d;
    }
}

static const tsr_quant_vtable f32_format = {.abi = TSR_ABI_INIT(tsr_quant_vtable),
                                            .gguf_type = 0,
                                            .block_elems = 1,
                                            .block_bytes = 4,
                                            .flags = TSR_QUANT_KV_CACHE,
                                            .dequantize = f32_dequantize,
                                            .quantize = f32_quantize};
static const tsr_quant_vtable f16_format = {.abi = TSR_ABI_INIT(tsr_quant_vtable),
                                            .gguf_type = 1,
                                            .block_elems = 1,
                                            .block_bytes = 2,
                                            .flags = TSR_QUANT_KV_CACHE,
                                            .dequantize = f16_dequantize,
                                            .quantize = f16_quantize};
static const tsr_quant_vtable q8_0_format = {.abi = TSR_ABI_INIT(tsr_quant_vtable),
                                             .gguf_type = 8,
                                             .block_elems = 32,
                                             .block_bytes = 34,
                                             .flags = TSR_QUANT_KV_CACHE,
                                             .dequantize = q8_0_dequantize,
                                             .quantize = q8_0_quantize};

static const struct {
    const char *name;
    const tsr_quant_vtable *format;
} cache_formats[] = {{"f32", &f32_format},
                     {"f16", &f16_format},
                     {"q8_0", &q8_0_format},
                     {"f32 (NULL format)", NULL}};
enum { N_CACHE_FORMATS = sizeof cache_formats / sizeof cache_formats[0] };

typedef struct attention_case {
    const char *name;
    int64_t n_heads, n_kv_heads, head_dim, n_tokens, pos0, window;
    bool head_major; /* cache rows [g][p] instead of [p][g] */
    float q_gain;    /* larger: a peakier softmax */
    float drift;     /* > 0: scores rise with position, so the running maximum keeps growing */
} attention_case;

static const attention_case attention_cases[] = {
    {"decode, SmolLM2 heads", 9, 3, 64, 1, 100, 0, false, 1.0f, 0.0f},
    {"prefill from empty", 9, 3, 64, 40, 0, 0, false, 1.0f, 0.0f},
    {"batch after a prefix, head-major cache", 4, 2, 128, 7, 60, 0, true, 1.0f, 0.0f},
    {"sliding window", 8, 2, 64, 20, 50, 16, false, 1.0f, 0.0f},
    {"multi-head, peaky", 4, 4, 32, 3, 33, 0, false, 8.0f, 0.0f},
    {"multi-query, head_dim 96", 8, 1, 96, 2, 70, 0, true, 1.0f, 0.0f},
    {"rising scores", 6, 3, 64, 17, 90, 0, false, 1.0f, 4.0f},
    {"head_dim 44 (float caches only)", 2, 1, 44, 3, 10, 0, false, 1.0f, 0.0f},
};
enum { N_ATTENTION_CASES = sizeof attention_cases / sizeof attention_cases[0] };

typedef struct attention_data {
    attention_case c;
    int64_t n_ctx, q_floats, out_floats;
    float *q;
    float *k_values, *v_values; /* what the cache holds, as floats: [p][g][d] */
    void *k_cache, *v_cache;
    tsr_attention_args args;
} attention_data;

static size_t row_bytes(const tsr_quant_vtable *format, int64_t head_dim)
{
    if (!format)
        return (size_t)head_dim * sizeof(float);
    return (size_t)(head_dim / format->block_elems) * format->block_bytes;
}

/* Random q, K and V; K and V stored in format, and read back so that the
 * double formula sees exactly what the cache holds. */
static void make_attention(attention_data *d, const attention_case *c,
                           const tsr_quant_vtable *format)
{
    memset(d, 0, sizeof *d);
    d->c = *c;
    d->n_ctx = c->pos0 + c->n_tokens;
    int64_t hd = c->head_dim, q_stride = c->n_heads * hd + 8, out_stride = c->n_heads * hd + 5;
    d->q_floats = c->n_tokens * q_stride;
    d->out_floats = c->n_tokens * out_stride;
    d->q = random_floats(d->q_floats, -c->q_gain, c->q_gain);
    if (c->drift > 0)
        for (int64_t i = 0; i < d->q_floats; i++)
            d->q[i] += 0.5f;
    int64_t kv_floats = d->n_ctx * c->n_kv_heads * hd;
    d->k_values = random_floats(kv_floats, -1.0f, 1.0f);
    d->v_values = random_floats(kv_floats, -1.0f, 1.0f);
    for (int64_t p = 0; p < d->n_ctx; p++)
        for (int64_t i = 0; i < c->n_kv_heads * hd; i++)
            d->k_values[p * c->n_kv_heads * hd + i] += c->drift * (float)p / (float)d->n_ctx;

    size_t rb = row_bytes(format, hd);
    d->k_cache = calloc((size_t)(d->n_ctx * c->n_kv_heads), rb);
    d->v_cache = calloc((size_t)(d->n_ctx * c->n_kv_heads), rb);
    size_t pos_bytes = c->head_major ? rb : rb * (size_t)c->n_kv_heads;
    size_t head_bytes = c->head_major ? rb * (size_t)d->n_ctx : rb;
    const tsr_quant_vtable *f = format ? format : &f32_format;
    for (int64_t p = 0; p < d->n_ctx; p++) {
        for (int64_t g = 0; g < c->n_kv_heads; g++) {
            float *k = d->k_values + (p * c->n_kv_heads + g) * hd;
            float *v = d->v_values + (p * c->n_kv_heads + g) * hd;
            char *k_row = (char *)d->k_cache + (size_t)p * pos_bytes + (size_t)g * head_bytes;
            char *v_row = (char *)d->v_cache + (size_t)p * pos_bytes + (size_t)g * head_bytes;
            f->quantize(k, k_row, hd);
            f->quantize(v, v_row, hd);
            f->dequantize(k_row, k, hd);
            f->dequantize(v_row, v, hd);
        }
    }
    d->args = (tsr_attention_args){
        .q = d->q,
        .q_stride = q_stride,
        .out = NULL,
        .out_stride = out_stride,
        .k = d->k_cache,
        .v = d->v_cache,
        .k_pos_bytes = pos_bytes,
        .k_head_bytes = head_bytes,
        .v_pos_bytes = pos_bytes,
        .v_head_bytes = head_bytes,
        .kv_format = format,
        .n_tokens = c->n_tokens,
        .pos0 = c->pos0,
        .window = c->window,
        .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads,
        .head_dim = hd,
        .scale = 1.0f / sqrtf((float)hd),
    };
}

static void free_attention(attention_data *d)
{
    free(d->q), free(d->k_values), free(d->v_values), free(d->k_cache), free(d->v_cache);
}

/* softmax(q k^T / sqrt(d)) v with the causal mask (and window) and the GQA
 * head mapping, in double, over the values the cache holds. */
static void attention_double(const attention_data *d, double *out)
{
    const attention_case *c = &d->c;
    int64_t hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    double *scores = malloc((size_t)d->n_ctx * sizeof *scores);
    for (int64_t t = 0; t < c->n_tokens; t++) {
        int64_t position = c->pos0 + t;
        int64_t first =
            c->window > 0 && position - c->window + 1 > 0 ? position - c->window + 1 : 0;
        for (int64_t h = 0; h < c->n_heads; h++) {
            const float *q = d->q + t * d->args.q_stride + h * hd;
            int64_t g = h / group;
            double max = -INFINITY, sum = 0.0;
            for (int64_t p = first; p <= position; p++) {
                const float *k = d->k_values + (p * c->n_kv_heads + g) * hd;
                double s = 0.0;
                for (int64_t i = 0; i < hd; i++)
                    s += (double)q[i] * k[i];
                scores[p] = s / sqrt((double)hd);
                max = scores[p] > max ? scores[p] : max;
            }
            for (int64_t p = first; p <= position; p++)
                sum += scores[p] = exp(scores[p] - max);
            double *o = out + (t * c->n_heads + h) * hd;
            for (int64_t i = 0; i < hd; i++) {
                double acc = 0.0;
                for (int64_t p = first; p <= position; p++)
                    acc += scores[p] * d->v_values[(p * c->n_kv_heads + g) * hd + i];
                o[i] = acc / sum;
            }
        }
    }
    free(scores);
}

typedef void (*attention_fn)(const tsr_attention_args *, int64_t, int64_t, void *);

/* Runs fn over heads [begin, end) into a NaN-filled output, with a scratch
 * of exactly the size tsr_attention_scratch_bytes asks (ASan catches any
 * overrun). */
static float *run_attention(attention_data *d, attention_fn fn, int64_t begin, int64_t end,
                            float *out)
{
    if (!out) {
        out = malloc((size_t)d->out_floats * sizeof *out);
        for (int64_t i = 0; i < d->out_floats; i++)
            out[i] = NAN;
    }
    d->args.out = out;
    size_t bytes = tsr_attention_scratch_bytes(d->c.n_heads, d->c.n_kv_heads, d->c.head_dim);
    void *scratch = malloc(bytes);
    fn(&d->args, begin, end, scratch);
    free(scratch);
    return out;
}

/* Tolerance, relative to max|v| (the output is a convex combination of V
 * rows): scores of magnitude <= |q||k|/sqrt(d) ~ 10 are computed with
 * float dot products (error ~ 64 * 2^-24 * 10 = 4e-5 at worst, ~1e-6
 * typically), which perturb each weight by that much relatively; the
 * weighted sum over up to 110 rows adds ~110 * 2^-24 = 7e-6 at worst. The
 * exact formula and the versions must agree within 2e-5 max|v|. */
static void check_attention_against(const attention_data *d, const float *out, const double *exact,
                                    const char *what)
{
    const attention_case *c = &d->c;
    double tol = 2e-5 * max_abs(d->v_values, d->n_ctx * c->n_kv_heads * c->head_dim);
    for (int64_t t = 0; t < c->n_tokens; t++) {
        for (int64_t h = 0; h < c->n_heads; h++) {
            for (int64_t i = 0; i < c->head_dim; i++) {
                float got = out[t * d->args.out_stride + h * c->head_dim + i];
                double want = exact[(t * c->n_heads + h) * c->head_dim + i];
                cr_assert(fabs(got - want) <= tol,
                          "%s: token %lld head %lld value %lld is %.9g, expected %.9g", what,
                          (long long)t, (long long)h, (long long)i, got, want);
            }
        }
    }
}

Test(kernels, attention_matches_naive_formula_for_every_cache_type_and_isa)
{
    rng_state = 8;
    for (int ci = 0; ci < N_ATTENTION_CASES; ci++) {
        const attention_case *c = &attention_cases[ci];
        for (int fi = 0; fi < N_CACHE_FORMATS; fi++) {
            const tsr_quant_vtable *format = cache_formats[fi].format;
            if (format && c->head_dim % format->block_elems != 0)
                continue;
            attention_data d;
            make_attention(&d, c, format);
            double *exact =
                malloc((size_t)(c->n_tokens * c->n_heads * c->head_dim) * sizeof *exact);
            attention_double(&d, exact);
            char what[200];
            snprintf(what, sizeof what, "%s, %s cache, reference", c->name, cache_formats[fi].name);
            float *ref = run_attention(&d, tsr_attention_reference, 0, c->n_heads, NULL);
            check_attention_against(&d, ref, exact, what);
            for (int l = 0; l < N_LEVELS; l++) {
                const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
                if (!k)
                    continue;
                snprintf(what, sizeof what, "%s, %s cache, %s", c->name, cache_formats[fi].name,
                         k->isa);
                /* Two head ranges that split a KV group (as two threads would). */
                int64_t split = c->n_heads / 2 + (c->n_heads > 2);
                float *out = run_attention(&d, k->attention, split, c->n_heads, NULL);
                for (int64_t t = 0; t < c->n_tokens; t++)
                    for (int64_t i = 0; i < split * c->head_dim; i++)
                        cr_assert(isnan(out[t * d.args.out_stride + i]),
                                  "%s: wrote outside its heads", what);
                run_attention(&d, k->attention, 0, split, out);
                check_attention_against(&d, out, exact, what);
                /* Against the scalar reference: the same bound. */
                double tol = 2e-5 * max_abs(d.v_values, d.n_ctx * c->n_kv_heads * c->head_dim);
                for (int64_t t = 0; t < c->n_tokens; t++) {
                    for (int64_t i = 0; i < c->n_heads * c->head_dim; i++) {
                        float got = out[t * d.args.out_stride + i];
                        float want = ref[t * d.args.out_stride + i];
                        cr_assert(fabs(got - want) <= tol, "%s vs reference: %g vs %g", what, got,
                                  want);
                    }
                }
                free(out);
            }
            free(ref), free(exact);
            free_attention(&d);
        }
    }
}

/* Two threads of the pool, each its own scratch and head range, give
 * exactly the output of one call over all heads. */
typedef struct attention_job {
    const tsr_cpu_kernels *k;
    const tsr_attention_args *args;
    void *scratch[2];
} attention_job;

static void attention_on_thread(void *ctx, uint32_t thread_index, uint32_t n_threads)
{
    attention_job *job = ctx;
    int64_t begin, end;
    tsr_split_range(job->args->n_heads, 1, thread_index, n_threads, &begin, &end);
    job->k->attention(job->args, begin, end, job->scratch[thread_index]);
}

Test(kernels, attention_split_across_pool_threads_equals_one_call)
{
    rng_state = 9;
    tsr_threadpool *pool = NULL;
    cr_assert_eq(tsr_threadpool_open(2, &pool, NULL), TSR_OK);
    const attention_case *c = &attention_cases[1];
    for (int l = 0; l < N_LEVELS; l++) {
        const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
        if (!k)
            continue;
        attention_data d;
        make_attention(&d, c, &q8_0_format);
        float *whole = run_attention(&d, k->attention, 0, c->n_heads, NULL);
        float *split = malloc((size_t)d.out_floats * sizeof *split);
        for (int64_t i = 0; i < d.out_floats; i++)
            split[i] = whole[i] = isnan(whole[i]) ? 0.0f : whole[i];
        for (int64_t t = 0; t < c->n_tokens; t++)
            for (int64_t i = 0; i < c->n_heads * c->head_dim; i++)
                split[t * d.args.out_stride + i] = NAN;
        size_t bytes = tsr_attention_scratch_bytes(c->n_heads, c->n_kv_heads, c->head_dim);
        attention_job job = {k, &d.args, {malloc(bytes), malloc(bytes)}};
        d.args.out = split;
        tsr_threadpool_run(pool, attention_on_thread, &job);
        cr_assert_eq(memcmp(whole, split, (size_t)d.out_floats * sizeof *split), 0,
                     "%s: two threads differ from one call", k->isa);
        free(job.scratch[0]), free(job.scratch[1]), free(whole), free(split);
        free_attention(&d);
    }
    tsr_threadpool_close(pool);
}

/* ---- batch invariance --------------------------------------------------- */

/* Batched decode promises that a sequence's logits are bit-identical
 * whatever else shares its batch and however its tokens are split into
 * batches, and threads split rows and heads at any boundary. So every
 * table's kernels must give a row, a head or a query the same bytes
 * whatever call computes it. */

/* The element-wise kernels of a row split at these boundaries (as threads
 * split gate/up's rows and the residual's columns) give the bytes of one
 * call over the row, and of the row alone in a buffer of its own. */
Test(kernels, swiglu_and_add_of_an_element_ignore_how_the_row_is_split_at_every_isa)
{
    rng_state = 10;
    enum { N = 1000, N_ROWS = 3 };
    static const int64_t cuts[][8] = {{0, N},
                                      {0, 1, 9, 16, 17, 500, 999, N},
                                      {0, 3, 7, 24, 333, 334, 640, N},
                                      {0, 15, 31, 47, 63, 79, 95, N}};
    float *gate = random_floats(N_ROWS * N, -30.0f, 30.0f), *up = random_floats(N_ROWS * N, -2, 2);
    for (int l = 0; l < N_LEVELS; l++) {
        const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
        if (!k)
            continue;
        /* each row alone, in a buffer just its size */
        float *swiglu_alone = malloc(N_ROWS * N * sizeof(float));
        float *add_alone = malloc(N_ROWS * N * sizeof(float));
        for (int r = 0; r < N_ROWS; r++) {
            float *g = copy_floats(gate + r * N, N), *u = copy_floats(up + r * N, N);
            float *y = malloc(N * sizeof *y);
            k->swiglu(y, g, u, N);
            memcpy(swiglu_alone + r * N, y, N * sizeof *y);
            k->add(y, g, u, N);
            memcpy(add_alone + r * N, y, N * sizeof *y);
            free(g), free(u), free(y);
        }
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            float *y_swiglu = malloc(N_ROWS * N * sizeof(float));
            float *y_add = malloc(N_ROWS * N * sizeof(float));
            for (int r = 0; r < N_ROWS; r++)
                for (int i = 0; cuts[c][i] < N; i++) {
                    int64_t b = r * N + cuts[c][i], e = r * N + cuts[c][i + 1];
                    k->swiglu(y_swiglu + b, gate + b, up + b, e - b);
                    k->add(y_add + b, gate + b, up + b, e - b);
                }
            for (int64_t i = 0; i < N_ROWS * N; i++) {
                cr_assert(memcmp(&y_swiglu[i], &swiglu_alone[i], sizeof(float)) == 0,
                          "%s swiglu, cuts %zu: element %lld of row %lld is %a, alone %a", k->isa,
                          c, (long long)(i % N), (long long)(i / N), y_swiglu[i], swiglu_alone[i]);
                cr_assert(memcmp(&y_add[i], &add_alone[i], sizeof(float)) == 0,
                          "%s add, cuts %zu: element %lld of row %lld", k->isa, c,
                          (long long)(i % N), (long long)(i / N));
            }
            free(y_swiglu), free(y_add);
        }
        free(swiglu_alone), free(add_alone);
    }
    free(gate), free(up);
}

/* RMSNorm of a row of a batch, in place or not, gives the bytes of the row
 * normalised alone (from another buffer, at another alignment). */
Test(kernels, rmsnorm_of_a_row_ignores_the_other_rows_at_every_isa)
{
    rng_state = 11;
    static const int64_t dims[] = {5, 17, 100, 576, 1000};
    enum { N_ROWS = 7 };
    for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
        int64_t d = dims[s];
        float *x = random_floats(N_ROWS * d, -3.0f, 3.0f), *w = random_floats(d, 0.5f, 1.5f);
        for (int l = 0; l < N_LEVELS; l++) {
            const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
            if (!k)
                continue;
            float *y = malloc((size_t)(N_ROWS * d) * sizeof *y);
            float *in_place = copy_floats(x, N_ROWS * d);
            float *alone = malloc((size_t)(d + 1) * sizeof *alone);
            for (int r = 0; r < N_ROWS; r++) {
                k->rmsnorm(y + r * d, x + r * d, w, d, 1e-5f);
                k->rmsnorm(in_place + r * d, in_place + r * d, w, d, 1e-5f);
            }
            for (int r = 0; r < N_ROWS; r++) {
                memcpy(alone + 1, x + r * d, (size_t)d * sizeof *alone);
                k->rmsnorm(alone + 1, alone + 1, w, d, 1e-5f);
                cr_assert(memcmp(alone + 1, y + r * d, (size_t)d * sizeof *alone) == 0,
                          "%s rmsnorm, d %lld: row %d of the batch differs from the row alone",
                          k->isa, (long long)d, r);
                cr_assert(memcmp(alone + 1, in_place + r * d, (size_t)d * sizeof *alone) == 0,
                          "%s rmsnorm, d %lld: row %d in place differs", k->isa, (long long)d, r);
            }
            free(y), free(in_place), free(alone);
        }
        free(x), free(w);
    }
}

/* RoPE of a head, rotated with the other heads of its token in one call or
 * alone, gives the same bytes, in both modes and with partial rotation
 * (n_rot / 2 = 12 leaves a tail past the vectors). */
Test(kernels, rope_of_a_head_ignores_the_other_heads_at_every_isa)
{
    rng_state = 12;
    enum { N_HEADS = 9, HEAD_DIM = 64 };
    static const int32_t rotations[] = {HEAD_DIM, 24};
    float *x = random_floats(N_HEADS * HEAD_DIM, -2.0f, 2.0f);
    float table[HEAD_DIM];
    for (int mode = TSR_ROPE_NORM; mode <= TSR_ROPE_NEOX; mode++)
        for (size_t n = 0; n < sizeof rotations / sizeof rotations[0]; n++) {
            tsr_rope_config c = {mode, rotations[n], 10000.0f, 1.0f, NULL};
            tsr_rope_table(&c, 77, table);
            for (int l = 0; l < N_LEVELS; l++) {
                const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
                if (!k)
                    continue;
                float *all = copy_floats(x, N_HEADS * HEAD_DIM);
                k->rope(all, N_HEADS, HEAD_DIM, &c, table);
                for (int h = 0; h < N_HEADS; h++) {
                    float *one = copy_floats(x + h * HEAD_DIM, HEAD_DIM);
                    k->rope(one, 1, HEAD_DIM, &c, table);
                    cr_assert(memcmp(one, all + h * HEAD_DIM, HEAD_DIM * sizeof *one) == 0,
                              "%s rope mode %d n_rot %d: head %d alone differs from the call "
                              "over all heads",
                              k->isa, mode, c.n_rot, h);
                    free(one);
                }
                free(all);
            }
        }
    free(x);
}

/* A cache of n_ctx positions with a query at each: the cases of the
 * attention invariance test (n_tokens is n_ctx, pos0 0). */
static const attention_case invariance_cases[] = {
    {"GQA, unlimited", 6, 2, 64, 104, 0, 0, false, 1.0f, 0.0f},
    {"GQA, window 16", 6, 2, 64, 104, 0, 16, false, 1.0f, 0.0f},
    {"multi-query, window 40, rising scores", 4, 1, 64, 104, 0, 40, true, 1.0f, 4.0f},
    {"head_dim 44, window 33 (float caches only)", 2, 1, 44, 104, 0, 33, false, 1.0f, 0.0f},
};

/* Queries [pos0, pos0 + n_tokens) of d's, heads [h0, h1), in one call,
 * into rows pos0 ... of out (one row per position). */
static void attention_at(const attention_data *d, attention_fn fn, int64_t pos0, int64_t n_tokens,
                         int64_t h0, int64_t h1, float *out)
{
    tsr_attention_args a = d->args;
    a.q = d->q + pos0 * a.q_stride;
    a.out = out + pos0 * a.out_stride;
    a.pos0 = pos0;
    a.n_tokens = n_tokens;
    void *scratch =
        malloc(tsr_attention_scratch_bytes(d->c.n_heads, d->c.n_kv_heads, d->c.head_dim));
    fn(&a, h0, h1, scratch);
    free(scratch);
}

/* Attention of the query at position p, computed alone (n_tokens 1, pos0
 * p) or in a batch of 2 to 40 queries starting anywhere (across the
 * 32-position blocks and the 16-query chunks), over the whole head range or
 * split inside a KV group, gives the same bytes, for every cache type,
 * window and table. */
Test(kernels, attention_of_a_query_ignores_its_batch_and_head_range_at_every_isa)
{
    rng_state = 13;
    static const int64_t batch_sizes[] = {2, 7, 16, 40};
    static const int64_t starts[] = {0, 1, 14, 31, 33, 50, 64};
    for (size_t ci = 0; ci < sizeof invariance_cases / sizeof invariance_cases[0]; ci++) {
        const attention_case *c = &invariance_cases[ci];
        int64_t n_ctx = c->n_tokens, nh = c->n_heads;
        /* head ranges: whole; split inside a KV group; each head alone */
        int64_t ranges[3][10] = {{0, nh, -1}, {0, 1, nh / 2 + 1, nh, -1}, {0}};
        for (int64_t h = 0; h <= nh; h++)
            ranges[2][h] = h;
        ranges[2][nh + 1] = -1;
        for (int fi = 0; fi < N_CACHE_FORMATS; fi++) {
            const tsr_quant_vtable *format = cache_formats[fi].format;
            if (format && c->head_dim % format->block_elems != 0)
                continue;
            attention_data d;
            make_attention(&d, c, format);
            int64_t row_floats = nh * c->head_dim;
            for (int l = 0; l < N_LEVELS; l++) {
                const tsr_cpu_kernels *k = kernels_at(isa_levels[l]);
                if (!k)
                    continue;
                float *alone = malloc((size_t)d.out_floats * sizeof *alone);
                for (int64_t p = 0; p < n_ctx; p++)
                    attention_at(&d, k->attention, p, 1, 0, nh, alone);
                float *out = malloc((size_t)d.out_floats * sizeof *out);
                for (size_t bi = 0; bi < sizeof batch_sizes / sizeof batch_sizes[0]; bi++)
                    for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++)
                        for (int ri = 0; ri < 3; ri++) {
                            int64_t n = batch_sizes[bi], pos0 = starts[si];
                            if (pos0 + n > n_ctx)
                                continue;
                            for (int64_t i = 0; i < d.out_floats; i++)
                                out[i] = NAN;
                            for (int r = 0; ranges[ri][r + 1] >= 0; r++)
                                attention_at(&d, k->attention, pos0, n, ranges[ri][r],
                                             ranges[ri][r + 1], out);
                            for (int64_t p = pos0; p < pos0 + n; p++)
                                for (int64_t i = 0; i < row_floats; i++) {
                                    const float *got = &out[p * d.args.out_stride + i];
                                    const float *want = &alone[p * d.args.out_stride + i];
                                    if (memcmp(got, want, sizeof *got) != 0)
                                        cr_assert_fail(
                                            "%s, %s cache, %s: the query at position %lld, "
                                            "query %lld of a batch of %lld from %lld (head "
                                            "ranges %d): head %lld value %lld is %a, alone %a",
                                            c->name, cache_formats[fi].name, k->isa,
                                            (long long)p, (long long)(p - pos0), (long long)n,
                                            (long long)pos0, ri, (long long)(i / c->head_dim),
                                            (long long)(i % c->head_dim), *got, *want);
                                }
                        }
                free(alone), free(out);
            }
            free_attention(&d);
        }
    }
}
