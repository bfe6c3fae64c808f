/* The Llama forward pass over one batch, as a few parallel stages per layer.
 *
 * Each stage is one dispatch on the thread pool; a dispatch's return is the
 * only barrier. To need few barriers, every thread normalises and quantizes
 * the (small) input of a matrix product itself, into its private buffers,
 * then computes its own range of the product's rows. A thread done with its
 * range takes half of what is left of another's, from the far end (work
 * stealing): a thread slowed down (by memory, by another process on its
 * core) then holds the others at the barrier for one chunk at most, while
 * each range is still read front to back in one stream, as the weight
 * prefetching wants (equal chunks dealt from one counter were slower: each
 * chunk boundary wastes a prefetch distance).
 *
 * A batch holds rows of several sequences, each at its own position; only
 * attention looks across rows, and it reads each sequence's own cache.
 * Every product computes a row's values in the same order whatever else is
 * in the batch, so a row's logits do not depend on its company.
 *
 *   embed            x = token_embd[tokens]                    (split by token)
 *   per layer:
 *     qkv            q,k,v = W{q,k,v} . rmsnorm(x)              (split by row)
 *     rope_store     rotate q and k; k, v -> the KV cache      (split by head)
 *     attention      att = softmax(q k^T / sqrt(d)) v           (split by run and head:
 *                                                               a run is rows of one
 *                                                               sequence at consecutive
 *                                                               positions)
 *     out_proj       x += Wo . att                              (split by row)
 *     gate_up        h = silu(Wg . rmsnorm(x)) * (Wu . rmsnorm(x)) (split by row)
 *     down           x += Wd . h                                (split by row)
 *   logits           logits = Wout . rmsnorm(x[output rows])    (split by row)
 */
#include <math.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "model_internal.h"

/* Rows a thread takes at a time: keeps plugins' multi-row kernels whole. */
enum { ROW_GRANULE = 16 };
/* Granules a thread takes from its own range at a time: small enough that a
 * late thread leaves little behind, large enough for the kernels' stride. */
enum { OWN_CHUNK_GRANULES = 4 };
/* Pools up to this size share work by stealing; larger ones split it into
 * fixed shares (the ranges live on the stack). */
enum { STEAL_MAX_THREADS = 16 };

/* One thread's range of a dispatch's work, in granules: [front, back) packed
 * as front | back << 32, the owner taking from the front and others from the
 * back, each by compare-and-swap. On a cache line of its own. */
typedef struct work_range {
    alignas(64) _Atomic uint64_t span;
} work_range;

typedef struct forward_ctx {
    tsr_model *m;
    const int32_t *tokens;
    int64_t n;          /* rows in this batch */
    const int32_t *pos; /* each row's position and sequence */
    const int32_t *seq;
    const tsr_layer *layer;
    uint32_t layer_index;
    /* The dispatch in progress: units of work (rows, heads), the granule
     * they are taken in, and each thread's range (when stealing). */
    int64_t units, granule;
    bool stealing;
    work_range ranges[STEAL_MAX_THREADS];
} forward_ctx;

static uint64_t span_pack(uint64_t front, uint64_t back)
{
    return front | back << 32;
}

/* Runs stage on the pool over units of work taken granule by granule: each
 * thread's range starts as its fixed share. */
static void dispatch(forward_ctx *f, tsr_parallel_fn stage, int64_t units, int64_t granule)
{
    uint32_t n_threads = tsr_threadpool_n_threads(f->m->pool);
    f->units = units;
    f->granule = granule;
    f->stealing = n_threads > 1 && n_threads <= STEAL_MAX_THREADS;
    if (f->stealing) {
        int64_t n_granules = (units + granule - 1) / granule;
        for (uint32_t t = 0; t < n_threads; t++)
            atomic_store_explicit(&f->ranges[t].span,
                                  span_pack((uint64_t)(n_granules * t / n_threads),
                                            (uint64_t)(n_granules * (t + 1) / n_threads)),
                                  memory_order_relaxed);
    }
    tsr_threadpool_run(f->m->pool, stage, f);
}

/* What one thread has taken of a dispatch's work so far. */
typedef struct work_cursor {
    bool fixed_share_taken; /* without stealing: the one share, taken */
} work_cursor;

/* Takes granules [*front, *back) off a range: from its front at most
 * `most`, or from its back half of what is left. False when it is empty. */
static bool take_from(work_range *range, bool from_front, uint64_t most, uint64_t *front,
                      uint64_t *back)
{
    uint64_t span = atomic_load_explicit(&range->span, memory_order_relaxed);
    for (;;) {
        uint64_t f = span & 0xffffffffu, b = span >> 32;
        if (f >= b)
            return false;
        uint64_t cut = from_front ? (f + most < b ? f + most : b) : b - (b - f + 1) / 2;
        uint64_t rest = from_front ? span_pack(cut, b) : span_pack(f, cut);
        if (atomic_compare_exchange_weak_explicit(&range->span, &span, rest,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *front = from_front ? f : cut;
            *back = from_front ? cut : b;
            return true;
        }
    }
}

/* The next units [begin, end) thread t is to do: from the front of its own
 * range, else the back half of what is left of another's. False when no
 * work is left anywhere. */
static bool take_work(forward_ctx *f, work_cursor *cursor, uint32_t t, uint32_t n_threads,
                      int64_t *begin, int64_t *end)
{
    if (!f->stealing) {
        if (cursor->fixed_share_taken)
            return false;
        cursor->fixed_share_taken = true;
        tsr_split_range(f->units, f->granule, t, n_threads, begin, end);
        return *begin < *end;
    }
    uint64_t front, back;
    bool found = take_from(&f->ranges[t], true, OWN_CHUNK_GRANULES, &front, &back);
    for (uint32_t i = 1; !found && i < n_threads; i++)
        found = take_from(&f->ranges[(t + i) % n_threads], false, 0, &front, &back);
    if (!found)
        return false;
    *begin = (int64_t)front * f->granule;
    *end = (int64_t)back * f->granule < f->units ? (int64_t)back * f->granule : f->units;
    return true;
}

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

/* Computes this thread's part of the rows of several products that read
 * the same input: the rows of all of them, taken as one range, are shared. */
static void products_shared_input(forward_ctx *f, uint32_t t, uint32_t n_threads,
                                  const float *input, const tsr_weight *const *ws,
                                  float *const *ys, const size_t *y_strides, int count)
{
    const tsr_quant_vtable *act_done = NULL;
    const uint8_t *x = NULL;
    size_t x_row_bytes = 0;
    work_cursor cursor = {0};
    int64_t begin, end;
    while (take_work(f, &cursor, t, n_threads, &begin, &end)) {
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
}

static void stage_embed(void *ctx, uint32_t t, uint32_t n_threads)
{
    const forward_ctx *f = ctx;
    tsr_model *m = f->m;
    int64_t d = m->config.n_embd, begin, end;
    float *x = shared_f32(m, m->layout.x);
    tsr_split_range(f->n, 1, t, n_threads, &begin, &end);
    const tsr_weight *e = &m->token_embd;
    /* Without tokens, a stage further down the pipeline: x came from the
     * stage before. */
    for (int64_t i = begin; f->tokens && i < end; i++)
        e->q->dequantize(e->data + (size_t)f->tokens[i] * e->row_bytes, x + i * d, d);
    /* The rotation tables of this batch's positions, shared by every layer. */
    float *rope = shared_f32(m, m->layout.rope);
    for (int64_t i = begin; i < end; i++)
        tsr_rope_table(&m->config.rope, f->pos[i], rope + i * m->config.rope.n_rot);
}

static void stage_qkv(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx *f = ctx;
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
        size_t at = (size_t)f->seq[i] * m->kv_seq_bytes + (size_t)f->pos[i] * m->kv_pos_bytes +
                    (size_t)g * m->kv_head_bytes;
        m->cache_q->quantize(kh, k_cache + at, hd);
        m->cache_q->quantize(v + (i * nkv + g) * hd, v_cache + at, hd);
    }
}

static void stage_attention(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx *f = ctx;
    tsr_model *m = f->m;
    const tsr_llama_config *c = &m->config;
    int64_t q_dim = (int64_t)c->n_head * c->head_dim, n_head = c->n_head;
    float *q = shared_f32(m, m->layout.q), *out = shared_f32(m, m->layout.att);
    tsr_attention_args args = {
        .q_stride = q_dim,
        .out_stride = q_dim,
        .k_pos_bytes = m->kv_pos_bytes,
        .k_head_bytes = m->kv_head_bytes,
        .v_pos_bytes = m->kv_pos_bytes,
        .v_head_bytes = m->kv_head_bytes,
        .kv_format = m->cache_q,
        .window = 0,
        .n_heads = c->n_head,
        .n_kv_heads = c->n_head_kv,
        .head_dim = c->head_dim,
        .scale = 1.0f / sqrtf((float)c->head_dim),
    };
    /* Units are (run, head) pairs, run-major. */
    work_cursor cursor = {0};
    int64_t begin, end;
    while (take_work(f, &cursor, t, n_threads, &begin, &end)) {
        for (int64_t u = begin; u < end;) {
            const tsr_model_run *run = &m->runs[u / n_head];
            int64_t h0 = u % n_head, h1 = end - (u - h0) < n_head ? end - (u - h0) : n_head;
            args.q = q + (int64_t)run->first_row * q_dim;
            args.out = out + (int64_t)run->first_row * q_dim;
            args.k = f->layer->k_cache + (size_t)run->seq * m->kv_seq_bytes;
            args.v = f->layer->v_cache + (size_t)run->seq * m->kv_seq_bytes;
            args.n_tokens = run->n_rows;
            args.pos0 = run->pos0;
            m->kernels->attention(&args, h0, h1, thread_block(m, t) + m->layout.thread_attn);
            u += h1 - h0;
        }
    }
}

/* x += W . input for this thread's part of the rows of W. */
static void residual_product(forward_ctx *f, uint32_t t, uint32_t n_threads,
                             const tsr_weight *w, const float *input)
{
    tsr_model *m = f->m;
    int64_t d = m->config.n_embd, begin, end;
    float *tmp = shared_f32(m, m->layout.tmp), *x = shared_f32(m, m->layout.x);
    const uint8_t *xq = NULL;
    size_t x_row_bytes = 0;
    work_cursor cursor = {0};
    while (take_work(f, &cursor, t, n_threads, &begin, &end)) {
        if (!xq)
            xq = quantize_private(f, t, input, w->cols, w->act, &x_row_bytes);
        product_rows(f, w, xq, x_row_bytes, tmp, (size_t)d, begin, end);
        for (int64_t i = 0; i < f->n; i++)
            m->kernels->add(x + i * d + begin, x + i * d + begin, tmp + i * d + begin,
                            end - begin);
    }
}

static void stage_out_proj(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx *f = ctx;
    residual_product(f, t, n_threads, &f->layer->wo, shared_f32(f->m, f->m->layout.att));
}

static void stage_gate_up(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx *f = ctx;
    tsr_model *m = f->m;
    const tsr_layer *l = f->layer;
    int64_t n_ff = m->config.n_ff, begin, end;
    float *gate = shared_f32(m, m->layout.gate), *up = shared_f32(m, m->layout.up);
    const float *xn = NULL;
    const uint8_t *xq = NULL;
    size_t x_row_bytes = 0;
    bool same_act = l->w_up.act == l->w_gate.act;
    work_cursor cursor = {0};
    while (take_work(f, &cursor, t, n_threads, &begin, &end)) {
        if (!xn)
            xn = normalise_private(f, t, shared_f32(m, m->layout.x), l->ffn_norm);
        /* The activation buffer holds one form: with two, it is refilled
         * per chunk (gate and up rarely differ in format). */
        if (!xq || !same_act)
            xq = quantize_private(f, t, xn, l->w_gate.cols, l->w_gate.act, &x_row_bytes);
        product_rows(f, &l->w_gate, xq, x_row_bytes, gate, (size_t)n_ff, begin, end);
        if (!same_act)
            xq = quantize_private(f, t, xn, l->w_up.cols, l->w_up.act, &x_row_bytes);
        product_rows(f, &l->w_up, xq, x_row_bytes, up, (size_t)n_ff, begin, end);
        for (int64_t i = 0; i < f->n; i++)
            m->kernels->swiglu(gate + i * n_ff + begin, gate + i * n_ff + begin,
                               up + i * n_ff + begin, end - begin);
    }
}

static void stage_down(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx *f = ctx;
    residual_product(f, t, n_threads, &f->layer->w_down, shared_f32(f->m, f->m->layout.gate));
}

static void stage_logits(void *ctx, uint32_t t, uint32_t n_threads)
{
    forward_ctx *f = ctx;
    tsr_model *m = f->m;
    int64_t d = m->config.n_embd, begin, end;
    const tsr_weight *w = &m->output;
    /* Only the output rows: normalised into this thread's buffer in output
     * order, then products over a view of the batch as those rows alone. */
    forward_ctx outputs = {.m = m, .n = m->n_out};
    const float *x = shared_f32(m, m->layout.x);
    const uint8_t *xq = NULL;
    size_t x_row_bytes = 0;
    work_cursor cursor = {0};
    while (take_work(f, &cursor, t, n_threads, &begin, &end)) {
        if (!xq) {
            float *xn = (float *)(thread_block(m, t) + m->layout.thread_xn);
            for (int64_t k = 0; k < m->n_out; k++)
                m->kernels->rmsnorm(xn + k * d, x + (int64_t)m->out_rows[k] * d,
                                    m->output_norm, d, m->config.rms_eps);
            xq = quantize_private(&outputs, t, xn, w->cols, w->act, &x_row_bytes);
        }
        product_rows(&outputs, w, xq, x_row_bytes, shared_f32(m, m->layout.logits),
                     m->config.n_vocab, begin, end);
    }
}

bool tsr_forward(tsr_model *m, const int32_t *tokens, const int32_t *pos, const int32_t *seq,
                 size_t n_rows, bool (*abort)(void *ctx), void *abort_ctx)
{
    return tsr_forward_layers(m, tokens, pos, seq, n_rows, 0, m->config.n_layer, true, abort,
                              abort_ctx);
}

bool tsr_forward_layers(tsr_model *m, const int32_t *tokens, const int32_t *pos,
                        const int32_t *seq, size_t n_rows, uint32_t first_layer,
                        uint32_t end_layer, bool logits, bool (*abort)(void *ctx),
                        void *abort_ctx)
{
    forward_ctx f = {.m = m, .tokens = tokens, .n = (int64_t)n_rows, .pos = pos, .seq = seq};
    m->scratch = m->input_scratch;
    dispatch(&f, stage_embed, 0, 1);
    for (uint32_t i = first_layer; i < end_layer; i++) {
        if (abort && abort(abort_ctx))
            return false;
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
        const tsr_layer *l = f.layer;
        dispatch(&f, stage_qkv, l->wq.rows + l->wk.rows + l->wv.rows, ROW_GRANULE);
        dispatch(&f, stage_rope_store, 0, 1);
        dispatch(&f, stage_attention, (int64_t)m->n_runs * m->config.n_head, 1);
        dispatch(&f, stage_out_proj, l->wo.rows, ROW_GRANULE);
        dispatch(&f, stage_gate_up, m->config.n_ff, ROW_GRANULE);
        dispatch(&f, stage_down, l->w_down.rows, ROW_GRANULE);
    }
    if (abort && abort(abort_ctx))
        return false;
    if (logits && m->n_out > 0)
        dispatch(&f, stage_logits, m->output.rows, ROW_GRANULE);
    return true;
}
