/* The format-independent kernels on a CUDA device (contracts in kernels.h).
 * The same source runs on the emulator for the tests: launches go through
 * TSR_LAUNCH and no path uses what the emulator cannot run (tensor cores,
 * inline PTX, cp.async). */
#include "common.cuh"
#include "kernels.h"

/* Threads of the one-block-per-row kernels: 8 warps keep enough loads in
 * flight for rows of a few thousand floats. */
enum { ROW_THREADS = 256 };
/* Threads of the element-wise kernels' blocks. */
enum { ELEMENT_THREADS = 256 };

static bool bad_count(int64_t n)
{
    return n <= 0 || n > INT32_MAX;
}

/* Blocks for n elements at ELEMENT_THREADS each, capped: the kernels loop
 * over what a grid of the cap does not cover. */
static unsigned element_blocks(int64_t n)
{
    int64_t blocks = (n + ELEMENT_THREADS - 1) / ELEMENT_THREADS;
    return (unsigned)(blocks < 65535 ? blocks : 65535);
}

/* ---- RMSNorm --------------------------------------------------------------- */

__global__ void rmsnorm_kernel(float *y, const float *x, const float *weight, int64_t n,
                               float eps)
{
    __shared__ float scratch[32];
    const float *row = x + (int64_t)blockIdx.x * n;
    float *out = y + (int64_t)blockIdx.x * n;
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        sum += row[i] * row[i];
    sum = tsr_block_reduce<tsr_sum_warp>(sum, scratch);
    /* the scale as the CPU computes it from its sum, in double */
    float scale = (float)(1.0 / sqrt((double)sum / (double)n + (double)eps));
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        out[i] = row[i] * scale * weight[i];
}

static int32_t cuda_rmsnorm(float *y, const float *x, const float *weight, int64_t n_rows,
                            int64_t n, float eps, void *stream)
{
    if (bad_count(n_rows) || bad_count(n) || !y || !x || !weight)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(rmsnorm_kernel, (unsigned)n_rows, ROW_THREADS, stream, y, x, weight, n, eps);
    return tsr_cuda_launched();
}

/* ---- RoPE ------------------------------------------------------------------ */

/* One thread per (token, pair), in double as tsr_rope_table: position *
 * frequency reaches 1e5 radians, where a float angle loses the low digits. */
__global__ void rope_table_kernel(float *table, const int32_t *positions, int64_t n_tokens,
                                  tsr_rope_config config)
{
    int64_t half = config.n_rot / 2;
    int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; u < n_tokens * half; u += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = u / half, i = u % half;
        double frequency = pow((double)config.freq_base, -2.0 * (double)i / config.n_rot);
        if (config.freq_factors)
            frequency /= (double)config.freq_factors[i];
        double theta = (double)positions[t] * (double)config.freq_scale * frequency;
        float c = (float)cos(theta), s = (float)sin(theta);
        float *row = table + t * config.n_rot;
        if (config.mode == TSR_ROPE_NEOX) {
            row[i] = c;
            row[half + i] = s;
        } else {
            row[2 * i] = c;
            row[2 * i + 1] = s;
        }
    }
}

static int32_t cuda_rope_table(float *table, const int32_t *positions, int64_t n_tokens,
                               const tsr_rope_config *config, void *stream)
{
    if (bad_count(n_tokens) || !table || !positions || !config || config->n_rot <= 0 ||
        config->n_rot % 2 ||
        (config->mode != TSR_ROPE_NORM && config->mode != TSR_ROPE_NEOX))
        return cudaErrorInvalidValue;
    TSR_LAUNCH(rope_table_kernel, element_blocks(n_tokens * config->n_rot / 2), ELEMENT_THREADS,
               stream, table, positions, n_tokens, *config);
    return tsr_cuda_launched();
}

/* One thread per (token, head, pair). */
__global__ void rope_kernel(float *x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                            int32_t mode, int32_t n_rot, const float *table)
{
    int64_t half = n_rot / 2, per_token = n_heads * half;
    int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; u < n_tokens * per_token; u += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = u / per_token, h = u % per_token / half, i = u % half;
        float *head = x + (t * n_heads + h) * head_dim;
        const float *row = table + t * n_rot;
        int64_t i0 = mode == TSR_ROPE_NEOX ? i : 2 * i;
        int64_t i1 = mode == TSR_ROPE_NEOX ? i + half : 2 * i + 1;
        float c = row[i0], s = row[i1], x0 = head[i0], x1 = head[i1];
        head[i0] = x0 * c - x1 * s;
        head[i1] = x0 * s + x1 * c;
    }
}

static int32_t cuda_rope(float *x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                         int32_t mode, int32_t n_rot, const float *table, void *stream)
{
    if (bad_count(n_tokens) || bad_count(n_heads) || bad_count(head_dim) || !x || !table ||
        n_rot <= 0 || n_rot % 2 || n_rot > head_dim ||
        (mode != TSR_ROPE_NORM && mode != TSR_ROPE_NEOX))
        return cudaErrorInvalidValue;
    TSR_LAUNCH(rope_kernel, element_blocks(n_tokens * n_heads * (n_rot / 2)), ELEMENT_THREADS,
               stream, x, n_tokens, n_heads, head_dim, mode, n_rot, table);
    return tsr_cuda_launched();
}

/* ---- softmax ----------------------------------------------------------------- */

__global__ void softmax_kernel(float *x, int64_t n)
{
    __shared__ float scratch[32];
    float *row = x + (int64_t)blockIdx.x * n;
    float max = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        max = fmaxf(max, row[i]);
    max = tsr_block_reduce<tsr_max_warp>(max, scratch);
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float e = expf(row[i] - max);
        row[i] = e;
        sum += e;
    }
    sum = tsr_block_reduce<tsr_sum_warp>(sum, scratch);
    float inverse = (float)(1.0 / (double)sum);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        row[i] *= inverse;
}

static int32_t cuda_softmax(float *x, int64_t n_rows, int64_t n, void *stream)
{
    if (bad_count(n_rows) || bad_count(n) || !x)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(softmax_kernel, (unsigned)n_rows, ROW_THREADS, stream, x, n);
    return tsr_cuda_launched();
}

/* ---- element-wise ------------------------------------------------------------- */

__global__ void swiglu_kernel(float *y, const float *gate, const float *up, int64_t n)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float g = gate[i];
        y[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

static int32_t cuda_swiglu(float *y, const float *gate, const float *up, int64_t n,
                           void *stream)
{
    if (bad_count(n) || !y || !gate || !up)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(swiglu_kernel, element_blocks(n), ELEMENT_THREADS, stream, y, gate, up, n);
    return tsr_cuda_launched();
}

__global__ void add_kernel(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

static int32_t cuda_add(float *y, const float *a, const float *b, int64_t n, void *stream)
{
    if (bad_count(n) || !y || !a || !b)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(add_kernel, element_blocks(n), ELEMENT_THREADS, stream, y, a, b, n);
    return tsr_cuda_launched();
}

/* ---- embedding lookup ----------------------------------------------------------- */

/* GGUF type ids of the float tables read here. */
enum { GGUF_F32 = 0, GGUF_F16 = 1 };

/* One block per token, its threads along the row. */
__global__ void embed_kernel(float *out, const uint8_t *table, uint32_t gguf_type,
                             size_t row_bytes, int64_t n_vocab, const int32_t *tokens,
                             int64_t n_embd)
{
    int32_t token = tokens[blockIdx.x];
    float *dst = out + (int64_t)blockIdx.x * n_embd;
    const uint8_t *row = table + (size_t)token * row_bytes;
    for (int64_t c = threadIdx.x; c < n_embd; c += blockDim.x) {
        if (token < 0 || token >= n_vocab)
            dst[c] = NAN;
        else if (gguf_type == GGUF_F32)
            dst[c] = ((const float *)row)[c];
        else
            dst[c] = tsr_half_to_float(((const uint16_t *)row)[c]);
    }
}

static int32_t cuda_embed(float *out, const void *table, uint32_t gguf_type, size_t row_bytes,
                          int64_t n_vocab, const int32_t *tokens, int64_t n_tokens,
                          int64_t n_embd, void *stream)
{
    size_t element = gguf_type == GGUF_F32 ? 4 : gguf_type == GGUF_F16 ? 2 : 0;
    if (!element || bad_count(n_tokens) || bad_count(n_embd) || bad_count(n_vocab) || !out ||
        !table || !tokens || row_bytes < (size_t)n_embd * element || row_bytes % element)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(embed_kernel, (unsigned)n_tokens, ROW_THREADS, stream, out,
               (const uint8_t *)table, gguf_type, row_bytes, n_vocab, tokens, n_embd);
    return tsr_cuda_launched();
}

/* ---- attention for decode --------------------------------------------------------
 *
 * One block per (query head, split of the context). Its warps take tiles of
 * 32 positions in turn; in a tile each lane scores one position (q . k, q
 * from shared memory), the warp agrees on the tile's maximum and sum, and
 * then every lane adds the 32 weighted V rows to the head_dim / 32 values
 * of the output it owns (reads of V along the row, coalesced). Each warp
 * keeps an online softmax (running maximum m, sum l, output acc rescaled by
 * exp(m_old - m_new), as the CPU kernel); the block combines its warps, and
 * a context of several splits is combined by a second kernel from the
 * partial (m, l, acc) each split left in scratch (split-K: a long context
 * keeps every multiprocessor busy even with few heads). */
enum { ATTENTION_WARPS = 4, ATTENTION_MAX_DIM = 256, SPLIT_POSITIONS = 256 };
enum { ATTENTION_DIMS_PER_LANE = ATTENTION_MAX_DIM / 32 };

static int64_t first_position(const tsr_cuda_attention_args *a)
{
    int64_t first = a->window > 0 ? a->pos - a->window + 1 : 0;
    return first > 0 ? first : 0;
}

static int64_t split_count(int64_t n_positions)
{
    return (n_positions + SPLIT_POSITIONS - 1) / SPLIT_POSITIONS;
}

/* Floats of one split's partial result: m, l, then head_dim values. */
__device__ __forceinline__ int64_t partial_floats(int64_t head_dim)
{
    return head_dim + 2;
}

__global__ void attention_decode_kernel(tsr_cuda_attention_args a, int64_t first,
                                        int64_t n_positions, int n_splits)
{
    __shared__ float q[ATTENTION_MAX_DIM];
    __shared__ float weights[ATTENTION_WARPS][32];
    __shared__ float warp_m[ATTENTION_WARPS], warp_l[ATTENTION_WARPS];
    __shared__ float warp_acc[ATTENTION_WARPS][ATTENTION_MAX_DIM];
    int64_t h = blockIdx.x, hd = a.head_dim, g = h / (a.n_heads / a.n_kv_heads);
    unsigned warp = threadIdx.x / warpSize, lane = threadIdx.x % warpSize;
    int dims = (int)(hd / warpSize);
    const uint8_t *k = (const uint8_t *)a.k + g * a.k_head_bytes;
    const uint8_t *v = (const uint8_t *)a.v + g * a.v_head_bytes;

    for (int64_t d = threadIdx.x; d < hd; d += blockDim.x)
        q[d] = a.q[h * hd + d];
    __syncthreads();

    int64_t begin = first + (int64_t)blockIdx.y * SPLIT_POSITIONS;
    int64_t end = begin + SPLIT_POSITIONS < first + n_positions ? begin + SPLIT_POSITIONS
                                                                : first + n_positions;
    float m = -INFINITY, l = 0.0f, acc[ATTENTION_DIMS_PER_LANE];
    for (int i = 0; i < ATTENTION_DIMS_PER_LANE; i++)
        acc[i] = 0.0f;
    for (int64_t tile = begin + warp * 32; tile < end; tile += ATTENTION_WARPS * 32) {
        int64_t p = tile + lane;
        float score = -INFINITY;
        if (p < end) {
            const uint16_t *key = (const uint16_t *)(k + p * a.k_pos_bytes);
            float dot = 0.0f;
            for (int64_t d = 0; d < hd; d++)
                dot += q[d] * tsr_half_to_float(key[d]);
            score = dot * a.scale;
        }
        /* the tile holds at least one position, so m_new is finite */
        float m_new = fmaxf(m, tsr_warp_max(score));
        float correction = expf(m - m_new);
        float w = p < end ? expf(score - m_new) : 0.0f;
        l = l * correction + tsr_warp_sum(w);
        for (int i = 0; i < dims; i++)
            acc[i] *= correction;
        weights[warp][lane] = w;
        __syncwarp();
        int n_valid = end - tile < 32 ? (int)(end - tile) : 32;
        for (int j = 0; j < n_valid; j++) {
            const uint16_t *value = (const uint16_t *)(v + (tile + j) * a.v_pos_bytes);
            float wj = weights[warp][j];
            for (int i = 0; i < dims; i++)
                acc[i] += wj * tsr_half_to_float(value[lane + 32 * i]);
        }
        __syncwarp();
        m = m_new;
    }
    if (lane == 0) {
        warp_m[warp] = m;
        warp_l[warp] = l;
    }
    for (int i = 0; i < dims; i++)
        warp_acc[warp][lane + 32 * i] = acc[i];
    __syncthreads();

    /* Combine the warps; one that saw no position has m = -inf and weighs 0. */
    float block_m = -INFINITY;
    for (int w = 0; w < ATTENTION_WARPS; w++)
        block_m = fmaxf(block_m, warp_m[w]);
    float warp_weight[ATTENTION_WARPS], block_l = 0.0f;
    for (int w = 0; w < ATTENTION_WARPS; w++) {
        warp_weight[w] = warp_m[w] == -INFINITY ? 0.0f : expf(warp_m[w] - block_m);
        block_l += warp_l[w] * warp_weight[w];
    }
    for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) {
        float o = 0.0f;
        for (int w = 0; w < ATTENTION_WARPS; w++)
            o += warp_acc[w][d] * warp_weight[w];
        if (n_splits == 1) {
            a.out[h * hd + d] = o / block_l;
        } else {
            float *partial = a.scratch + (h * n_splits + blockIdx.y) * partial_floats(hd);
            partial[2 + d] = o;
            if (d == 0) {
                partial[0] = block_m;
                partial[1] = block_l;
            }
        }
    }
}

/* One block per head: the splits' partial results, in split order. */
__global__ void attention_combine_kernel(tsr_cuda_attention_args a, int n_splits)
{
    int64_t h = blockIdx.x, hd = a.head_dim, stride = partial_floats(hd);
    const float *partials = a.scratch + h * n_splits * stride;
    float m = -INFINITY;
    for (int s = 0; s < n_splits; s++)
        m = fmaxf(m, partials[s * stride]);
    float l = 0.0f;
    for (int s = 0; s < n_splits; s++)
        l += partials[s * stride + 1] * expf(partials[s * stride] - m);
    for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) {
        float o = 0.0f;
        for (int s = 0; s < n_splits; s++)
            o += partials[s * stride + 2 + d] * expf(partials[s * stride] - m);
        a.out[h * hd + d] = o / l;
    }
}

static size_t cuda_attention_scratch_bytes(int64_t n_heads, int64_t head_dim,
                                           int64_t max_positions)
{
    int64_t splits = split_count(max_positions);
    if (splits <= 1)
        return 0;
    return (size_t)(n_heads * splits * (head_dim + 2)) * sizeof(float);
}

static int32_t cuda_attention_decode(const tsr_cuda_attention_args *a, void *stream)
{
    if (!a || !a->q || !a->out || !a->k || !a->v || a->pos < 0 || a->window < 0 ||
        bad_count(a->n_heads) || bad_count(a->n_kv_heads) || a->n_heads % a->n_kv_heads ||
        a->head_dim <= 0 || a->head_dim % 32 || a->head_dim > ATTENTION_MAX_DIM ||
        a->k_pos_bytes % 2 || a->k_head_bytes % 2 || a->v_pos_bytes % 2 || a->v_head_bytes % 2)
        return cudaErrorInvalidValue;
    int64_t first = first_position(a), n_positions = a->pos - first + 1;
    int64_t n_splits = split_count(n_positions);
    if (n_splits > 1 && !a->scratch)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(attention_decode_kernel, dim3((unsigned)a->n_heads, (unsigned)n_splits),
               ATTENTION_WARPS * 32, stream, *a, first, n_positions, (int)n_splits);
    int32_t status = tsr_cuda_launched();
    if (status != cudaSuccess || n_splits == 1)
        return status;
    TSR_LAUNCH(attention_combine_kernel, (unsigned)a->n_heads, 128, stream, *a, (int)n_splits);
    return tsr_cuda_launched();
}

/* ---- argmax ---------------------------------------------------------------------- */

/* Whether (v, i) beats (best, best_i): larger, or as large at a lower index.
 * NaN compares false, so it never wins. */
__device__ __forceinline__ bool beats(float v, int32_t i, float best, int32_t best_i)
{
    return v > best || (v == best && i < best_i);
}

__global__ void argmax_kernel(int32_t *out, const float *x, int64_t n)
{
    __shared__ float best_s[32];
    __shared__ int32_t index_s[32];
    const float *row = x + (int64_t)blockIdx.x * n;
    unsigned warp = threadIdx.x / warpSize, lane = threadIdx.x % warpSize;
    float best = -INFINITY;
    int32_t best_i = INT32_MAX;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        if (beats(row[i], (int32_t)i, best, best_i)) {
            best = row[i];
            best_i = (int32_t)i;
        }
    for (int round = 0; round < 2; round++) {
        for (int offset = warpSize / 2; offset > 0; offset /= 2) {
            float other = __shfl_xor_sync(TSR_FULL_WARP, best, offset);
            int32_t other_i = __shfl_xor_sync(TSR_FULL_WARP, best_i, offset);
            if (beats(other, other_i, best, best_i)) {
                best = other;
                best_i = other_i;
            }
        }
        if (round == 1)
            break;
        if (lane == 0) {
            best_s[warp] = best;
            index_s[warp] = best_i;
        }
        __syncthreads();
        best = lane < blockDim.x / warpSize ? best_s[lane] : -INFINITY;
        best_i = lane < blockDim.x / warpSize ? index_s[lane] : INT32_MAX;
    }
    if (threadIdx.x == 0)
        out[blockIdx.x] = best_i == INT32_MAX ? -1 : best_i;
}

static int32_t cuda_argmax(int32_t *out, const float *x, int64_t n_rows, int64_t n,
                           void *stream)
{
    if (bad_count(n_rows) || bad_count(n) || !out || !x)
        return cudaErrorInvalidValue;
    TSR_LAUNCH(argmax_kernel, (unsigned)n_rows, ROW_THREADS, stream, out, x, n);
    return tsr_cuda_launched();
}

static const char *cuda_error_name(int32_t status)
{
    return cudaGetErrorName((cudaError_t)status);
}

#ifdef TSR_CUDA_EMU
#define TSR_CUDA_KERNELS tsr_cuda_kernels_emulated
#define TSR_CUDA_KERNELS_NAME "emulated"
#else
#define TSR_CUDA_KERNELS tsr_cuda_kernels_device
#define TSR_CUDA_KERNELS_NAME "device"
#endif

extern "C" TSR_CUDA_HIDDEN const tsr_cuda_kernels TSR_CUDA_KERNELS = {
    TSR_CUDA_KERNELS_NAME,
    cuda_rmsnorm,
    cuda_rope_table,
    cuda_rope,
    cuda_softmax,
    cuda_swiglu,
    cuda_add,
    cuda_embed,
    cuda_attention_scratch_bytes,
    cuda_attention_decode,
    cuda_argmax,
    cuda_error_name,
};
