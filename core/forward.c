/* The Llama forward pass over one batch, as a few parallel stages per layer.
 *
 * Each stage is one dispatch on the thread pool; a dispatch's return is the
 * only barrier. To need few barriers, every thread normalises and quantizes
 * the (small) input of a matrix product itself, into its private buffers,
 * then computes its own range of the product's rows:
 *
 *   embed            x = token_embd[tokens]                    (split by token)
 *   per layer:
 *     qkv            q,k,v = W{q,k,v} . rmsnorm(x)              (split by row)
 *     rope_store     rotate q and k; k, v -> the KV cache      (split by head)
 *     attention      att = softmax(q k^T / sqrt(d)) v           (split by head)
 *     out_proj       x += Wo . att                              (split by row)
 *     gate_up        h = silu(Wg . rmsnorm(x)) * (Wu . rmsnorm(x)) (split by row)
 *     down           x += Wd . h                                (split by row)
 *   logits           logits = Wout . rmsnorm(x)                 (split by row)
 */
#include <math.h>
#include <string.h>

#include "model_internal.h"

/* Rows a thread takes at a time: keeps plugins' multi-row kernels whole. */
enum { ROW_GRANULE = 16 };

typedef struct forward_ctx {
    tsr_model *m;
    const int32_t *tokens;
    int64_t n;          /* tokens in this batch */
    int64_t pos0;       /* position of the first */
    const tsr_layer *layer;
    uint32_t layer_index;
} forward_ctx;

static float *shared_f32(const tsr_model *m, size_t offset)
{
    return (float *)(m->scratch + offset);
}

static uint8_t *thread_block(const tsr_model *m, uint32_t t)
{
    return m->scratch + m->layout.per_thread + (size_t)t * m->layout.thread_bytes;
}

/* This thread's copy of rows of n_tokens x dim floats, each normalised. */
static float *normalise_private(const forward_ctx *f, uint32_t t, const float *x,
                                const float *weight)
{
    tsr_model *m = f->m;
    int64_t d = m->config.n_embd;
    float *xn = (float *)(thread_block(m, t) + m->layout.thread_xn);
    for (int64_t i = 0; i < f->n; i++)
        m->kernels->rmsnorm(xn + i * d, x + i * d, weight, d, m->config.rms_eps);
    return xn;
}

/* Quantizes n rows of cols floats into this thread's activation buffer in
 * the form act wants; returns the buffer and its row stride. */
static const uint8_t *quantize_private(const forward_ctx *f, uint32_t t, const float *x,
                                       int64_t cols, const tsr_quant_vtable *act,
                                       size_t *row_bytes)
{
    uint8_t *buf = thread_block(f->m, t) + f->m->layout.thread_act;
    size_t bytes = (size_t)(cols / act->block_elems) * act->block_bytes;
    for (int64_t i = 0; i < f->n; i++)
        act->quantize(x + i * cols, buf + (size_t)i * bytes, cols);
    *row_bytes = bytes;
    return buf;
}

/* Rows [begin, end) of y = W . x for every token of the batch. */
static void product_rows(const forward_ctx *f, const tsr_weight *w, const uint8_t *x,
                         size_t x_row_bytes, float *y, size_t y_stride, int64_t begin,
                         int64_t end)
{
    if (begin >= end)
        return;
    if (f->n == 1)
        w->q->matvec(w->data, w->row_bytes, x, y, w->cols, begin, end);
    else
        w->q->matmat(w->data, w->row_bytes, x, x_row_bytes, y, y_stride, w->cols, f->n, begin,
                     end);
}

/* Computes this thread's share of the rows of several products that read
 * the same input: the rows of all of them, taken as one range, are split. */
static void products_shared_input(const forward_ctx *f, uint32_t t, uint32_t n_threads,
                                  const float *input, const tsr_weight *const *ws,
                                  float *const *ys, const size_t *y_strides, int count)
{
    int64_t total = 0;
    for (int i = 0; i < count; i++)
        total += ws[i]->rows;
    int64_t begin, end;
    tsr_split_range(total, ROW_GRANULE, t, n_threads, &begin, &end);
    const tsr_quant_vtable *act_done = NULL;
    const uint8_t *x = NULL;
    size_t x_row_bytes = 0;
    int64_t base = 0;
    for (int i = 0; i < count; i++) {
        const tsr_weight *w = ws[i];
        int64_t b = begin > base ? begin - base : 0;
        int64_t e = end - base < w->rows ? end - base : w->rows;
        if (b < e) {
            if (w->act != act_done) {
                x = quantize_private(f, t, input, w->cols, w->act, &x_row_bytes);
                act_done = w->act;
            }
            product_rows(f, w, x, x_row_bytes, ys[i], y_strides[i], b, e);
        }
        base += w->rows;
    }
}

static void stage_embed(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    tsr_model *m = f->m;
    int64_t d = m->config.n_embd, begin, end;
    float *x = shared_f32(m, m->layout.x);
    tsr_split_range(f->n, 1, t, n_threads, &begin, &end);
    const tsr_weight *e = &m->token_embd;
    for (int64_t i = begin; i < end; i++)
        e->q->dequantize(e->data + (size_t)f->tokens[i] * e->row_bytes, x + i * d, d);
    /* The rotation tables of this batch's positions, shared by every layer. */
    float *rope = shared_f32(m, m->layout.rope);
    for (int64_t i = begin; i < end; i++)
        tsr_rope_table(&m->config.rope, f->pos0 + i, rope + i * m->config.rope.n_rot);
}

static void stage_qkv(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    tsr_model *m = f->m;
    const tsr_layer *l = f->layer;
    const float *xn = normalise_private(f, t, shared_f32(m, m->layout.x), l->attn_norm);
    const tsr_weight *ws[3] = {&l->wq, &l->wk, &l->wv};
    float *ys[3] = {shared_f32(m, m->layout.q), shared_f32(m, m->layout.k),
                    shared_f32(m, m->layout.v)};
    size_t strides[3] = {(size_t)l->wq.rows, (size_t)l->wk.rows, (size_t)l->wv.rows};
    products_shared_input(f, t, n_threads, xn, ws, ys, strides, 3);
}

static void stage_rope_store(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    tsr_model *m = f->m;
    const tsr_llama_config *c = &m->config;
    int64_t hd = c->head_dim, nh = c->n_head, nkv = c->n_head_kv;
    int64_t per_token = nh + nkv, begin, end;
    tsr_split_range(f->n * per_token, 1, t, n_threads, &begin, &end);
    float *q = shared_f32(m, m->layout.q), *k = shared_f32(m, m->layout.k);
    const float *v = shared_f32(m, m->layout.v);
    const float *rope = shared_f32(m, m->layout.rope);
    uint8_t *k_cache = f->layer->k_cache, *v_cache = f->layer->v_cache;
    for (int64_t u = begin; u < end; u++) {
        int64_t i = u / per_token, h = u % per_token;
        const float *table = rope + i * c->rope.n_rot;
        if (h < nh) {
            m->kernels->rope(q + (i * nh + h) * hd, 1, hd, &c->rope, table);
            continue;
        }
        int64_t g = h - nh;
        float *kh = k + (i * nkv + g) * hd;
        m->kernels->rope(kh, 1, hd, &c->rope, table);
        size_t at = (size_t)(f->pos0 + i) * m->kv_pos_bytes + (size_t)g * m->kv_head_bytes;
        m->cache_q->quantize(kh, k_cache + at, hd);
        m->cache_q->quantize(v + (i * nkv + g) * hd, v_cache + at, hd);
    }
}

static void stage_attention(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    tsr_model *m = f->m;
    const tsr_llama_config *c = &m->config;
    int64_t q_dim = (int64_t)c->n_head * c->head_dim;
    tsr_attention_args args = {
        .q = shared_f32(m, m->layout.q),
        .q_stride = q_dim,
        .out = shared_f32(m, m->layout.att),
        .out_stride = q_dim,
        .k = f->layer->k_cache,
        .v = f->layer->v_cache,
        .k_pos_bytes = m->kv_pos_bytes,
        .k_head_bytes = m->kv_head_bytes,
        .v_pos_bytes = m->kv_pos_bytes,
        .v_head_bytes = m->kv_head_bytes,
        .kv_format = m->cache_q,
        .n_tokens = f->n,
        .pos0 = f->pos0,
        .window = 0,
        .n_heads = c->n_head,
        .n_kv_heads = c->n_head_kv,
        .head_dim = c->head_dim,
        .scale = 1.0f / sqrtf((float)c->head_dim),
    };
    int64_t begin, end;
    tsr_split_range(c->n_head, 1, t, n_threads, &begin, &end);
    if (begin < end)
        m->kernels->attention(&args, begin, end, thread_block(m, t) + m->layout.thread_attn);
}

/* x += W . input for this thread's rows of W. */
static void residual_product(const forward_ctx *f, uint32_t t, uint32_t n_threads,
                             const tsr_weight *w, const float *input)
{
    tsr_model *m = f->m;
    int64_t d = m->config.n_embd, begin, end;
    tsr_split_range(w->rows, ROW_GRANULE, t, n_threads, &begin, &end);
    if (begin >= end)
        return;
    size_t x_row_bytes;
    const uint8_t *xq = quantize_private(f, t, input, w->cols, w->act, &x_row_bytes);
    float *tmp = shared_f32(m, m->layout.tmp), *x = shared_f32(m, m->layout.x);
    product_rows(f, w, xq, x_row_bytes, tmp, (size_t)d, begin, end);
    for (int64_t i = 0; i < f->n; i++)
        m->kernels->add(x + i * d + begin, x + i * d + begin, tmp + i * d + begin, end - begin);
}

static void stage_out_proj(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    residual_product(f, t, n_threads, &f->layer->wo, shared_f32(f->m, f->m->layout.att));
}

static void stage_gate_up(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    tsr_model *m = f->m;
    const tsr_layer *l = f->layer;
    int64_t n_ff = m->config.n_ff, begin, end;
    tsr_split_range(n_ff, ROW_GRANULE, t, n_threads, &begin, &end);
    if (begin >= end)
        return;
    const float *xn = normalise_private(f, t, shared_f32(m, m->layout.x), l->ffn_norm);
    float *gate = shared_f32(m, m->layout.gate), *up = shared_f32(m, m->layout.up);
    size_t x_row_bytes;
    const uint8_t *xq = quantize_private(f, t, xn, l->w_gate.cols, l->w_gate.act, &x_row_bytes);
    product_rows(f, &l->w_gate, xq, x_row_bytes, gate, (size_t)n_ff, begin, end);
    if (l->w_up.act != l->w_gate.act)
        xq = quantize_private(f, t, xn, l->w_up.cols, l->w_up.act, &x_row_bytes);
    product_rows(f, &l->w_up, xq, x_row_bytes, up, (size_t)n_ff, begin, end);
    for (int64_t i = 0; i < f->n; i++)
        m->kernels->swiglu(gate + i * n_ff + begin, gate + i * n_ff + begin, up + i * n_ff + begin,
                           end - begin);
}

static void stage_down(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    residual_product(f, t, n_threads, &f->layer->w_down, shared_f32(f->m, f->m->layout.gate));
}

static void stage_logits(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx f = *(const forward_ctx *)ctx;
    tsr_model *m = f.m;
    int64_t d = m->config.n_embd, begin, end;
    const tsr_weight *w = &m->output;
    tsr_split_range(w->rows, ROW_GRANULE, t, n_threads, &begin, &end);
    if (begin >= end)
        return;
    const float *x = shared_f32(m, m->layout.x);
    if (m->layout.n_logit_rows == 1) {
        /* Only the last token's logits are kept. */
        x += (f.n - 1) * d;
        f.n = 1;
    }
    const float *xn = normalise_private(&f, t, x, m->output_norm);
    size_t x_row_bytes;
    const uint8_t *xq = quantize_private(&f, t, xn, w->cols, w->act, &x_row_bytes);
    product_rows(&f, w, xq, x_row_bytes, shared_f32(m, m->layout.logits), m->config.n_vocab,
                 begin, end);
}

void tsr_forward(tsr_model *m, const int32_t *tokens, size_t n_tokens)
{
    forward_ctx f = {.m = m, .tokens = tokens, .n = (int64_t)n_tokens,
                     .pos0 = (int64_t)m->n_past};
    m->scratch = m->input_scratch;
    tsr_threadpool_run(m->pool, stage_embed, &f);
    for (uint32_t i = 0; i < m->config.n_layer; i++) {
        f.layer = &m->layers[i];
        f.layer_index = i;
        if (f.layer->scratch != m->scratch) {
            /* The next device: the residual stream and the rotation tables
             * cross over, as a pipeline over GPUs hands them on. */
            const tsr_scratch_layout *l = &m->layout;
            memcpy(f.layer->scratch + l->x, m->scratch + l->x,
                   (size_t)f.n * m->config.n_embd * sizeof(float));
            memcpy(f.layer->scratch + l->rope, m->scratch + l->rope,
                   (size_t)f.n * (size_t)m->config.rope.n_rot * sizeof(float));
            m->scratch = f.layer->scratch;
        }
        tsr_threadpool_run(m->pool, stage_qkv, &f);
        tsr_threadpool_run(m->pool, stage_rope_store, &f);
        tsr_threadpool_run(m->pool, stage_attention, &f);
        tsr_threadpool_run(m->pool, stage_out_proj, &f);
        tsr_threadpool_run(m->pool, stage_gate_up, &f);
        tsr_threadpool_run(m->pool, stage_down, &f);
    }
    tsr_threadpool_run(m->pool, stage_logits, &f);
}
