/* Format-independent kernels of the forward pass on a CUDA device: the
 * twins of kernels/cpu (RMSNorm, RoPE, softmax, SwiGLU, add, attention for
 * decode) plus what keeps the logits on the device (argmax) and the lookup
 * of float embedding tables. Formats' own kernels (products, quantized
 * embeddings) live in their plugins (tsr_quant_device_kernels).
 *
 * The sources (kernels.cu) compile twice: with nvcc for the device
 * (--enable-cuda; table tsr_cuda_kernels_device in libtessera) and with a
 * host C++ compiler on the emulator (kernels/cuda/emu; table
 * tsr_cuda_kernels_emulated, linked into the tests only).
 *
 * Every member enqueues its work on stream (a cudaStream_t; NULL is the
 * default stream), returns without waiting, and returns the runtime's
 * status of the launch: 0 (cudaSuccess), cudaErrorInvalidValue (1) for
 * arguments it refuses before launching, or what the runtime reported;
 * error_name names any of them. Pointers are device memory unless a
 * comment says otherwise. Nothing allocates; callers size scratch up front.
 * Thread-safe on disjoint outputs (each call touches only its outputs).
 *
 * Each kernel computes what its CPU reference computes; the tests
 * (tests/test_cuda_kernels.cpp) state by how much the results may differ:
 * sums are reduced in a tree of float partial sums where the references
 * sum in order (some in double), and the device's expf is within 2 ulp. */
#ifndef TSR_KERNELS_CUDA_KERNELS_H
#define TSR_KERNELS_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* (kernels/cpu/kernels.h is C without guards of its own) */
#include "cpu/kernels.h"

/* Attention of one query token of one sequence over its f16 KV cache (the
 * decode step): the query at position pos sees positions
 * max(0, pos - window + 1) .. pos (0 .. pos without a window), all of which
 * the cache already holds. Query head h reads KV head h / (n_heads /
 * n_kv_heads); the layout is the CPU cache's (tsr_attention_args). */
typedef struct tsr_cuda_attention_args {
    const float *q; /* n_heads * head_dim floats, head h at q + h * head_dim */
    float *out;     /* likewise; may not overlap q */
    /* K of position p, KV head g: head_dim halves at k + p * k_pos_bytes +
     * g * k_head_bytes (bytes, multiples of 2); V likewise. */
    const void *k;
    const void *v;
    size_t k_pos_bytes, k_head_bytes;
    size_t v_pos_bytes, v_head_bytes;
    int64_t pos;
    int64_t window;                        /* 0 = unlimited */
    int64_t n_heads, n_kv_heads, head_dim; /* head_dim a multiple of 32, at most 256 */
    float scale;                           /* 1/sqrt(head_dim) for Llama */
    /* attention_scratch_bytes(n_heads, head_dim, pos + 1) bytes, for the
     * partial results of a context split across blocks; may be NULL when
     * that is 0. */
    float *scratch;
} tsr_cuda_attention_args;

typedef struct tsr_cuda_kernels {
    const char *name; /* "device" or "emulated" */

    /* n_rows rows of n floats: y = x / sqrt(mean(x^2) + eps) * weight. y may be x. */
    int32_t (*rmsnorm)(float *y, const float *x, const float *weight, int64_t n_rows, int64_t n,
                       float eps, void *stream);
    /* The rotation tables of n_tokens positions: table + t * n_rot holds
     * what tsr_rope_table writes for positions[t]. config is host memory,
     * read during the call; its freq_factors (n_rot / 2 floats or NULL) is
     * device memory. */
    int32_t (*rope_table)(float *table, const int32_t *positions, int64_t n_tokens,
                          const tsr_rope_config *config, void *stream);
    /* Rotates, in place, n_heads heads of head_dim values for each of
     * n_tokens tokens (contiguous: token t head h at x + (t * n_heads + h) *
     * head_dim) by token t's table (table + t * n_rot; mode a TSR_ROPE_*). */
    int32_t (*rope)(float *x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int32_t mode,
                    int32_t n_rot, const float *table, void *stream);
    /* n_rows rows of n floats, in place: x = exp(x - max) / sum; -INFINITY
     * becomes 0; every row needs one finite value. */
    int32_t (*softmax)(float *x, int64_t n_rows, int64_t n, void *stream);
    /* y = silu(gate) * up over n floats. y may be gate or up. */
    int32_t (*swiglu)(float *y, const float *gate, const float *up, int64_t n, void *stream);
    /* y = a + b over n floats. y may be a or b. */
    int32_t (*add)(float *y, const float *a, const float *b, int64_t n, void *stream);
    /* out[t * n_embd + c] = table[tokens[t]][c] for a table of n_vocab rows
     * of n_embd values in f32 (gguf_type 0) or f16 (1), rows row_bytes
     * apart; other types refuse (their plugin's get_rows serves them). A
     * token outside [0, n_vocab) gives a row of NaN, never a read outside
     * the table. */
    int32_t (*embed)(float *out, const void *table, uint32_t gguf_type, size_t row_bytes,
                     int64_t n_vocab, const int32_t *tokens, int64_t n_tokens, int64_t n_embd,
                     void *stream);
    /* Scratch bytes attention_decode needs for contexts up to max_positions. */
    size_t (*attention_scratch_bytes)(int64_t n_heads, int64_t head_dim, int64_t max_positions);
    /* See tsr_cuda_attention_args. Contexts longer than one block's share
     * (256 positions) are split across blocks and combined in a second
     * launch. */
    int32_t (*attention_decode)(const tsr_cuda_attention_args *args, void *stream);
    /* out[r] = the index of the largest of row r's n floats (the lowest such
     * index on ties; NaN never wins; -1 for a row of NaN): the only bytes a
     * greedy decode step copies back to the host. */
    int32_t (*argmax)(int32_t *out, const float *x, int64_t n_rows, int64_t n, void *stream);

    /* The runtime's name for a status, e.g. "cudaErrorInvalidValue". Static. */
    const char *(*error_name)(int32_t status);
} tsr_cuda_kernels;

extern const tsr_cuda_kernels tsr_cuda_kernels_device;   /* nvcc, --enable-cuda */
extern const tsr_cuda_kernels tsr_cuda_kernels_emulated; /* the emulator, tests only */

#ifdef __cplusplus
}
#endif

#endif
