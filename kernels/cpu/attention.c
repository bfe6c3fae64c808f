/* Causal grouped-query attention of one sequence over a KV cache.
 *
 * out = softmax(q k^T * scale) v over the positions each query may see,
 * computed with an online softmax (Milakov & Gimelshein 2018; the loop of
 * FlashAttention): the positions are visited in blocks, a running maximum m
 * and sum l are kept per query, and the output accumulated so far is rescaled
 * by exp(m_old - m_new) whenever the maximum grows. No score array as long as
 * the context is needed, and each K/V row is converted to floats once for
 * every query of the group that reads it.
 *
 * Batch invariance: a query's blocks are cut where its own window starts
 * (position 0 without a window), every BLOCK_POSITIONS positions from there,
 * whatever other queries share the call. Its online softmax then visits the
 * same blocks in the same order, so its output is bit-identical alone or in
 * any batch (a sequence's logits must not depend on its batch), and a query
 * whose window is full meets exactly window / BLOCK_POSITIONS blocks, rounded up.
 */
#include <math.h>
#include <string.h>

#include "simd.h"

/* Positions per block: the block's K and V rows (2 x 32 x head_dim floats,
 * 32 KiB at head_dim 128) stay in L1/L2 while every query of the group
 * reads them. */
enum { BLOCK_POSITIONS = 32 };
/* Queries of the batch that share one pass over the cache. */
enum { QUERY_CHUNK = 16 };
/* The queries of a chunk start their windows at consecutive positions (or
 * all at 0), so their k-th blocks together span at most BLOCK_POSITIONS +
 * QUERY_CHUNK - 1 positions, the next k's span starting BLOCK_POSITIONS
 * later. Without a window, or for one query, a span is one block. */
enum { SPAN_POSITIONS = BLOCK_POSITIONS + QUERY_CHUNK - 1 };

/* GGUF's type ids of the two float cache types the kernels read directly. */
enum { GGUF_TYPE_F32 = 0, GGUF_TYPE_F16 = 1 };

typedef enum element_kind { ELEMENTS_F32, ELEMENTS_F16, ELEMENTS_QUANT } element_kind;

static element_kind kind_of(const tsr_quant_vtable *format)
{
    if (!format || format->gguf_type == GGUF_TYPE_F32)
        return ELEMENTS_F32;
    return format->gguf_type == GGUF_TYPE_F16 ? ELEMENTS_F16 : ELEMENTS_QUANT;
}

size_t tsr_attention_scratch_bytes(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim)
{
    int64_t group = n_kv_heads > 0 ? n_heads / n_kv_heads : n_heads;
    size_t floats =
        (size_t)(2 * SPAN_POSITIONS * head_dim + BLOCK_POSITIONS + 2 * QUERY_CHUNK * group);
    return floats * sizeof(float);
}

/* The first position query i may see. */
static int64_t first_position(const tsr_attention_args *a, int64_t i)
{
    int64_t first = a->window > 0 ? a->pos0 + i - a->window + 1 : 0;
    return first > 0 ? first : 0;
}

static const void *cache_row(const void *base, size_t pos_bytes, size_t head_bytes, int64_t p,
                             int64_t g)
{
    return (const char *)base + (size_t)p * pos_bytes + (size_t)g * head_bytes;
}

/* ---- the reference ------------------------------------------------------ */

static const float *row_as_floats(const tsr_attention_args *a, const void *row, float *buffer)
{
    if (kind_of(a->kv_format) == ELEMENTS_F32)
        return row;
    a->kv_format->dequantize(row, buffer, a->head_dim);
    return buffer;
}

void tsr_attention_reference(const tsr_attention_args *a, int64_t head_begin, int64_t head_end,
                             void *scratch)
{
    int64_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads;
    float *k_buffer = scratch, *v_buffer = k_buffer + hd;
    for (int64_t i = 0; i < a->n_tokens; i++) {
        for (int64_t h = head_begin; h < head_end; h++) {
            const float *q = a->q + i * a->q_stride + h * hd;
            float *acc = a->out + i * a->out_stride + h * hd;
            int64_t g = h / group;
            float m = -INFINITY, l = 0.0f;
            memset(acc, 0, (size_t)hd * sizeof *acc);
            for (int64_t p = first_position(a, i); p <= a->pos0 + i; p++) {
                const float *k = row_as_floats(
                    a, cache_row(a->k, a->k_pos_bytes, a->k_head_bytes, p, g), k_buffer);
                float s = 0.0f;
                for (int64_t d = 0; d < hd; d++)
                    s += q[d] * k[d];
                s *= a->scale;
                if (s > m) {
                    float correction = expf(m - s);
                    for (int64_t d = 0; d < hd; d++)
                        acc[d] *= correction;
                    l *= correction;
                    m = s;
                }
                float w = expf(s - m);
                const float *v = row_as_floats(
                    a, cache_row(a->v, a->v_pos_bytes, a->v_head_bytes, p, g), v_buffer);
                for (int64_t d = 0; d < hd; d++)
                    acc[d] += w * v[d];
                l += w;
            }
            for (int64_t d = 0; d < hd; d++)
                acc[d] /= l;
        }
    }
}

/* ---- the blocked driver, shared by every instruction set ---------------- */

typedef struct attention_ops {
    /* s[j] = scale * dot(q, k_rows[j]) for j in [0, n). */
    void (*scores)(const float *q, const float *const *k_rows, int64_t n, int64_t head_dim,
                   float scale, float *s);
    /* s[j] = exp(s[j] - max); returns the sum. */
    float (*exp_sum)(float *s, int64_t n, float max);
    /* acc = acc * correction + sum_j w[j] v_rows[j]. */
    void (*accumulate)(float *acc, float correction, const float *w, const float *const *v_rows,
                       int64_t n, int64_t head_dim);
    /* n f16 values to floats; NULL: through the format's dequantize. */
    void (*f16_to_f32)(const void *src, float *dst, int64_t n);
} attention_ops;

/* K or V: where the cache's rows are, and the buffer of SPAN_POSITIONS rows
 * they are converted into (unused when the cache holds f32). */
typedef struct row_source {
    const void *base;
    size_t pos_bytes, head_bytes;
    float *buffer;
} row_source;

/* Points rows[j] at the floats of position span_begin + j of KV head g, for
 * the span [span_begin, span_end), converting into the buffer unless the
 * cache holds f32. The buffer holds [held_begin, held_end) from the span
 * before: rows of it this span needs move to the front rather than being
 * converted again. */
static void load_span(const tsr_attention_args *a, const attention_ops *ops, const row_source *src,
                      int64_t g, int64_t span_begin, int64_t span_end, int64_t held_begin,
                      int64_t held_end, const float **rows)
{
    int64_t hd = a->head_dim;
    element_kind kind = kind_of(a->kv_format);
    if (kind == ELEMENTS_F32) {
        for (int64_t j = 0; j < span_end - span_begin; j++)
            rows[j] = cache_row(src->base, src->pos_bytes, src->head_bytes, span_begin + j, g);
        return;
    }
    int64_t kept = 0;
    if (held_begin < span_begin && span_begin < held_end) {
        kept = held_end - span_begin;
        memmove(src->buffer, src->buffer + (span_begin - held_begin) * hd,
                (size_t)(kept * hd) * sizeof(float));
    }
    /* In locals: a conversion is a call, after which fields would be read again. */
    const void *base = src->base;
    size_t pos_bytes = src->pos_bytes, head_bytes = src->head_bytes;
    float *buffer = src->buffer;
    for (int64_t j = 0; j < kept; j++)
        rows[j] = buffer + j * hd;
    for (int64_t j = kept; j < span_end - span_begin; j++) {
        const void *row = cache_row(base, pos_bytes, head_bytes, span_begin + j, g);
        float *dst = buffer + j * hd;
        if (kind == ELEMENTS_F16 && ops->f16_to_f32)
            ops->f16_to_f32(row, dst, hd);
        else
            a->kv_format->dequantize(row, dst, hd);
        rows[j] = dst;
    }
}

/* One query's online-softmax step over the block positions [0, n). */
static void update_query(const attention_ops *ops, const float *q, float *acc, float *m, float *l,
                         const float *const *k_rows, const float *const *v_rows, int64_t n,
                         int64_t hd, float scale, float *scores)
{
    ops->scores(q, k_rows, n, hd, scale, scores);
    float block_max = scores[0];
    for (int64_t j = 1; j < n; j++)
        block_max = scores[j] > block_max ? scores[j] : block_max;
    float m_new = block_max > *m ? block_max : *m;
    /* The first block (m = -inf) has nothing to rescale: acc is zero. */
    float correction = *m == -INFINITY ? 0.0f : m_new == *m ? 1.0f : expf(*m - m_new);
    float sum = ops->exp_sum(scores, n, m_new);
    *l = *l * correction + sum;
    *m = m_new;
    ops->accumulate(acc, correction, scores, v_rows, n, hd);
}

/* For each query t of [t0, t1) and head of [h_lo, h_hi) (of KV head g), the
 * online-softmax step over the query's own k-th block: positions
 * first_position(t) + k_offset on, at most BLOCK_POSITIONS of them and none
 * past the query's. k_rows[j] and v_rows[j] hold position span_begin + j. */
static void update_chunk(const tsr_attention_args *a, const attention_ops *ops, int64_t t0,
                         int64_t t1, int64_t g, int64_t h_lo, int64_t h_hi, int64_t k_offset,
                         int64_t span_begin, const float *const *k_rows,
                         const float *const *v_rows, float *state_m, float *state_l,
                         float *scores)
{
    int64_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads;
    for (int64_t t = t0; t < t1; t++) {
        int64_t begin = first_position(a, t) + k_offset, last = a->pos0 + t;
        if (begin > last)
            continue;
        int64_t n = last - begin + 1 < BLOCK_POSITIONS ? last - begin + 1 : BLOCK_POSITIONS;
        for (int64_t h = h_lo; h < h_hi; h++) {
            int64_t state = (t - t0) * group + h - g * group;
            update_query(ops, a->q + t * a->q_stride + h * hd, a->out + t * a->out_stride + h * hd,
                         &state_m[state], &state_l[state], k_rows + (begin - span_begin),
                         v_rows + (begin - span_begin), n, hd, a->scale, scores);
        }
    }
}

static void attention_blocked(const tsr_attention_args *a, int64_t head_begin, int64_t head_end,
                              void *scratch, const attention_ops *ops)
{
    int64_t hd = a->head_dim, group = a->n_heads / a->n_kv_heads;
    float *k_buffer = scratch, *v_buffer = k_buffer + SPAN_POSITIONS * hd;
    float *scores = v_buffer + SPAN_POSITIONS * hd;
    float *state_m = scores + BLOCK_POSITIONS, *state_l = state_m + QUERY_CHUNK * group;
    const float *k_rows[SPAN_POSITIONS], *v_rows[SPAN_POSITIONS];
    row_source k_src = {a->k, a->k_pos_bytes, a->k_head_bytes, k_buffer};
    row_source v_src = {a->v, a->v_pos_bytes, a->v_head_bytes, v_buffer};

    for (int64_t g = head_begin / group; g * group < head_end; g++) {
        int64_t h_lo = g * group > head_begin ? g * group : head_begin;
        int64_t h_hi = (g + 1) * group < head_end ? (g + 1) * group : head_end;
        for (int64_t t0 = 0; t0 < a->n_tokens; t0 += QUERY_CHUNK) {
            int64_t t1 = t0 + QUERY_CHUNK < a->n_tokens ? t0 + QUERY_CHUNK : a->n_tokens;
            for (int64_t t = t0; t < t1; t++) {
                for (int64_t h = h_lo; h < h_hi; h++) {
                    memset(a->out + t * a->out_stride + h * hd, 0, (size_t)hd * sizeof(float));
                    state_m[(t - t0) * group + h - g * group] = -INFINITY;
                    state_l[(t - t0) * group + h - g * group] = 0.0f;
                }
            }
            /* The queries' k-th blocks start k * BLOCK_POSITIONS after their
             * windows do (first_position grows with t), and together span
             * [span_begin, span_end). */
            int64_t first0 = first_position(a, t0), first1 = first_position(a, t1 - 1);
            int64_t p_last = a->pos0 + t1 - 1, held_begin = first0, held_end = first0;
            for (int64_t k_offset = 0; first0 + k_offset <= p_last; k_offset += BLOCK_POSITIONS) {
                int64_t span_begin = first0 + k_offset;
                int64_t span_end = first1 + k_offset + BLOCK_POSITIONS;
                span_end = span_end < p_last + 1 ? span_end : p_last + 1;
                load_span(a, ops, &k_src, g, span_begin, span_end, held_begin, held_end, k_rows);
                load_span(a, ops, &v_src, g, span_begin, span_end, held_begin, held_end, v_rows);
                held_begin = span_begin, held_end = span_end;
                update_chunk(a, ops, t0, t1, g, h_lo, h_hi, k_offset, span_begin, k_rows,
                             v_rows, state_m, state_l, scores);
            }
            for (int64_t t = t0; t < t1; t++)
                for (int64_t h = h_lo; h < h_hi; h++)
                    ops->accumulate(a->out + t * a->out_stride + h * hd,
                                    1.0f / state_l[(t - t0) * group + h - g * group], NULL,
                                    NULL, 0, hd);
        }
    }
}

/* ---- scalar ------------------------------------------------------------- */

static void scores_scalar(const float *q, const float *const *k_rows, int64_t n, int64_t hd,
                          float scale, float *s)
{
    for (int64_t j = 0; j < n; j++) {
        float dot = 0.0f;
        for (int64_t d = 0; d < hd; d++)
            dot += q[d] * k_rows[j][d];
        s[j] = dot * scale;
    }
}

static float exp_sum_scalar(float *s, int64_t n, float max)
{
    float sum = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - max);
        sum += s[j];
    }
    return sum;
}

static void accumulate_scalar(float *acc, float correction, const float *w,
                              const float *const *v_rows, int64_t n, int64_t hd)
{
    for (int64_t d = 0; d < hd; d++) {
        float sum = acc[d] * correction;
        for (int64_t j = 0; j < n; j++)
            sum += w[j] * v_rows[j][d];
        acc[d] = sum;
    }
}

void tsr_attention_scalar(const tsr_attention_args *args, int64_t head_begin, int64_t head_end,
                          void *scratch)
{
    static const attention_ops ops = {scores_scalar, exp_sum_scalar, accumulate_scalar, NULL};
    attention_blocked(args, head_begin, head_end, scratch, &ops);
}

#ifdef TSR_KERNELS_X86
/* ---- AVX2 --------------------------------------------------------------- */

static TSR_TARGET_AVX2 void scores_avx2(const float *q, const float *const *k_rows, int64_t n,
                                        int64_t hd, float scale, float *s)
{
    const __m256 vscale = _mm256_set1_ps(scale);
    int64_t hd8 = hd & ~(int64_t)7, j = 0;
    /* Eight rows at a time: eight independent FMA chains share each load of
     * q, and one reduction finishes all eight dot products. */
    for (; j + 8 <= n; j += 8) {
        const float *k[8];
        __m256 acc[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            k[r] = k_rows[j + r];
            acc[r] = _mm256_setzero_ps();
        }
        for (int64_t d = 0; d < hd8; d += 8) {
            __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                acc[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[r] + d), acc[r]);
        }
        __m256 dots = tsr_hsum8_avx2(acc);
        if (hd8 < hd) {
            float tail[8];
            for (int r = 0; r < 8; r++) {
                tail[r] = 0.0f;
                for (int64_t d = hd8; d < hd; d++)
                    tail[r] += q[d] * k[r][d];
            }
            dots = _mm256_add_ps(dots, _mm256_loadu_ps(tail));
        }
        _mm256_storeu_ps(s + j, _mm256_mul_ps(dots, vscale));
    }
    for (; j < n; j++) {
        const float *k = k_rows[j];
        __m256 acc = _mm256_setzero_ps();
        for (int64_t d = 0; d < hd8; d += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), acc);
        float dot = tsr_hsum_avx2(acc);
        for (int64_t d = hd8; d < hd; d++)
            dot += q[d] * k[d];
        s[j] = dot * scale;
    }
}

static TSR_TARGET_AVX2 float exp_sum_avx2(float *s, int64_t n, float max)
{
    __m256 sub = _mm256_set1_ps(max), acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = tsr_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), sub));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = tsr_hsum_avx2(acc);
    for (; j < n; j++) {
        s[j] = expf(s[j] - max);
        sum += s[j];
    }
    return sum;
}

static TSR_TARGET_AVX2 void accumulate_avx2(float *acc, float correction, const float *w,
                                            const float *const *v_rows, int64_t n, int64_t hd)
{
    __m256 c = _mm256_set1_ps(correction);
    int64_t d = 0;
    /* 64 outputs in eight registers (eight independent FMA chains) while
     * the rows stream past. */
    for (; d + 64 <= hd; d += 64) {
        __m256 a[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            a[r] = _mm256_mul_ps(_mm256_loadu_ps(acc + d + 8 * r), c);
        for (int64_t j = 0; j < n; j++) {
            __m256 wj = _mm256_set1_ps(w[j]);
            const float *v = v_rows[j] + d;
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                a[r] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(v + 8 * r), a[r]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            _mm256_storeu_ps(acc + d + 8 * r, a[r]);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(acc + d), c);
        for (int64_t j = 0; j < n; j++)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(v_rows[j] + d), a0);
        _mm256_storeu_ps(acc + d, a0);
    }
    for (; d < hd; d++) {
        float sum = acc[d] * correction;
        for (int64_t j = 0; j < n; j++)
            sum += w[j] * v_rows[j][d];
        acc[d] = sum;
    }
}

static TSR_TARGET_AVX2 void f16_to_f32_avx2(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(h[i]);
}

void tsr_attention_avx2(const tsr_attention_args *args, int64_t head_begin, int64_t head_end,
                        void *scratch)
{
    static const attention_ops ops = {scores_avx2, exp_sum_avx2, accumulate_avx2, f16_to_f32_avx2};
    attention_blocked(args, head_begin, head_end, scratch, &ops);
}

/* ---- AVX-512 ------------------------------------------------------------ */

static TSR_TARGET_AVX512 void scores_avx512(const float *q, const float *const *k_rows, int64_t n,
                                            int64_t hd, float scale, float *s)
{
    const __m256 vscale = _mm256_set1_ps(scale);
    int64_t j = 0;
    /* As scores_avx2: eight rows, eight chains, one reduction. */
    for (; j + 8 <= n; j += 8) {
        const float *k[8];
        __m512 acc[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            k[r] = k_rows[j + r];
            acc[r] = _mm512_setzero_ps();
        }
        for (int64_t d = 0; d < hd; d += 16) {
            __mmask16 m = tsr_mask_avx512(hd - d);
            __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                acc[r] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k[r] + d), acc[r]);
        }
        __m256 halves[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            halves[r] = _mm256_add_ps(
                _mm512_castps512_ps256(acc[r]),
                _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r]), 1)));
        _mm256_storeu_ps(s + j, _mm256_mul_ps(tsr_hsum8_avx2(halves), vscale));
    }
    for (; j < n; j++) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t d = 0; d < hd; d += 16) {
            __mmask16 m = tsr_mask_avx512(hd - d);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d),
                                  _mm512_maskz_loadu_ps(m, k_rows[j] + d), acc);
        }
        s[j] = _mm512_reduce_add_ps(acc) * scale;
    }
}

static TSR_TARGET_AVX512 float exp_sum_avx512(float *s, int64_t n, float max)
{
    __m512 sub = _mm512_set1_ps(max), acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 m = tsr_mask_avx512(n - j);
        __m512 e = tsr_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), sub));
        _mm512_mask_storeu_ps(s + j, m, e);
        acc = _mm512_mask_add_ps(acc, m, acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

/* acc[d .. d + 16 * N) = acc * c + sum_j w[j] v_rows[j], N registers kept
 * while the rows stream past (N independent FMA chains). */
#define ACCUMULATE_AVX512_CHUNK(N)                                                                 \
    for (; d + 16 * (N) <= hd; d += 16 * (N)) {                                                    \
        __m512 a[N];                                                                               \
        _Pragma("GCC unroll 8") for (int r = 0; r < (N); r++) a[r] =                               \
            _mm512_mul_ps(_mm512_loadu_ps(acc + d + 16 * r), c);                                   \
        for (int64_t j = 0; j < n; j++) {                                                          \
            __m512 wj = _mm512_set1_ps(w[j]);                                                      \
            const float *v = v_rows[j] + d;                                                        \
            _Pragma("GCC unroll 8") for (int r = 0; r < (N); r++) a[r] =                           \
                _mm512_fmadd_ps(wj, _mm512_loadu_ps(v + 16 * r), a[r]);                            \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < (N); r++)                                      \
            _mm512_storeu_ps(acc + d + 16 * r, a[r]);                                              \
    }

static TSR_TARGET_AVX512 void accumulate_avx512(float *acc, float correction, const float *w,
                                                const float *const *v_rows, int64_t n, int64_t hd)
{
    __m512 c = _mm512_set1_ps(correction);
    int64_t d = 0;
    ACCUMULATE_AVX512_CHUNK(8)
    ACCUMULATE_AVX512_CHUNK(4)
    for (; d < hd; d += 16) {
        __mmask16 m = tsr_mask_avx512(hd - d);
        __m512 a0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + d), c);
        for (int64_t j = 0; j < n; j++)
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), _mm512_maskz_loadu_ps(m, v_rows[j] + d), a0);
        _mm512_mask_storeu_ps(acc + d, m, a0);
    }
}

static TSR_TARGET_AVX512 void f16_to_f32_avx512(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tsr_mask_avx512(n - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + i)));
    }
}

void tsr_attention_avx512(const tsr_attention_args *args, int64_t head_begin, int64_t head_end,
                          void *scratch)
{
    static const attention_ops ops = {scores_avx512, exp_sum_avx512, accumulate_avx512,
                                      f16_to_f32_avx512};
    attention_blocked(args, head_begin, head_end, scratch, &ops);
}
#endif
