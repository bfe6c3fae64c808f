/* Format-independent CPU kernels of the forward pass: RMSNorm, RoPE, softmax,
 * SwiGLU, add, and attention over a KV cache.
 *
 * Every kernel exists as a plain scalar reference (tsr_*_reference, the
 * meaning of the kernel) and in versions for the scalar, AVX2 and AVX-512
 * instruction sets, gathered in a tsr_cpu_kernels table. The forward pass
 * picks a table once with tsr_cpu_kernels_select(tsr_cpu_features()) and
 * calls through it; nothing is chosen per call and no kernel allocates,
 * blocks or fails. Every kernel is thread-safe on disjoint outputs.
 *
 * Vectors are float arrays of n elements; any alignment works (64 bytes is
 * fastest). Unless a contract says otherwise, outputs must not overlap inputs
 * except exactly (y == x).
 */
#ifndef TSR_KERNELS_CPU_KERNELS_H
#define TSR_KERNELS_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/plugin.h"

/* ---- RoPE ----------------------------------------------------------------
 * Rotary position embedding rotates pairs of a head's first n_rot values by
 * angles theta_i = position * freq_scale * freq_base^(-2i / n_rot) /
 * freq_factors[i], i in [0, n_rot / 2). Which values pair up is the mode:
 * NORM pairs (x[2i], x[2i+1]) — Llama-family GGUF files, whose converter
 * permuted q and k to that order (llama.cpp: LLAMA_ROPE_TYPE_NORM); NEOX
 * pairs (x[i], x[i + n_rot/2]) — Hugging Face's rotate_half order. */
enum { TSR_ROPE_NORM = 0, TSR_ROPE_NEOX = 1 };

typedef struct tsr_rope_config {
    int32_t mode;              /* TSR_ROPE_NORM or TSR_ROPE_NEOX */
    int32_t n_rot;             /* leading values of each head that rotate: even, <= head_dim */
    float freq_base;           /* rope.freq_base (10000 for Llama 2, 500000 for Llama 3) */
    float freq_scale;          /* 1 / linear scaling factor (rope.scaling.factor); 1 = none */
    const float *freq_factors; /* n_rot/2 divisors of the frequencies (rope_freqs.weight,
                                  Llama 3 scaling), or NULL for all 1 */
} tsr_rope_config;

/* Fills table (n_rot floats) with cos and sin of the angles at position, in
 * double precision, laid out as the mode pairs values: NORM (cos_i, sin_i) at
 * [2i, 2i+1]; NEOX cos_i at [i], sin_i at [n_rot/2 + i]. One table serves every
 * head of q and k of every layer at that position. */
void tsr_rope_table(const tsr_rope_config *config, int64_t position, float *table);

/* Llama 3 frequency scaling (rope_scaling.type "llama3"): writes the n_rot/2
 * divisors that GGUF stores as rope_freqs.weight, for files that carry only
 * the parameters. Wavelengths shorter than original_max_positions /
 * high_freq_factor keep their frequency (1), longer than
 * original_max_positions / low_freq_factor are divided by factor, and those
 * between blend smoothly. */
void tsr_rope_llama3_factors(float *factors, int32_t n_rot, float freq_base, float factor,
                             float low_freq_factor, float high_freq_factor,
                             float original_max_positions);

/* ---- attention -----------------------------------------------------------
 * Causal attention of one sequence with grouped-query heads over a KV cache.
 * Query i (i in [0, n_tokens)) sits at position pos0 + i and attends to the
 * cache positions p with max(0, pos0 + i - window + 1) <= p <= pos0 + i (no
 * lower limit when window is 0); the cache already holds K and V of every
 * such position, the batch's own included. Query head h reads KV head
 * h / (n_heads / n_kv_heads). */
typedef struct tsr_attention_args {
    const float *q;   /* query i, head h: q[i * q_stride + h * head_dim + d] */
    int64_t q_stride; /* floats between two queries' rows */
    float *out;       /* out[i * out_stride + h * head_dim + d]; may not overlap q */
    int64_t out_stride;
    /* K of position p, KV head g, starts at k + p * k_pos_bytes + g * k_head_bytes
     * and holds head_dim values in kv_format; V likewise. */
    const void *k;
    const void *v;
    size_t k_pos_bytes, k_head_bytes;
    size_t v_pos_bytes, v_head_bytes;
    /* The cache element type: NULL or a format with gguf_type 0 is f32, gguf_type 1
     * is f16 (both read directly); any other is dequantized through its
     * dequantize, and head_dim must be a multiple of its block_elems. */
    const tsr_quant_vtable *kv_format;
    int64_t n_tokens;
    int64_t pos0;
    int64_t window;                        /* sliding window in positions; 0 = unlimited */
    int64_t n_heads, n_kv_heads, head_dim; /* n_heads a multiple of n_kv_heads */
    float scale;                           /* score scale, 1/sqrt(head_dim) for Llama */
} tsr_attention_args;

/* Bytes of scratch one thread's attention call needs (any ISA, the reference
 * included) for these head counts, whatever n_tokens and the context length;
 * the planner reserves one per thread. */
size_t tsr_attention_scratch_bytes(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

/* ---- the kernels -------------------------------------------------------- */

typedef struct tsr_cpu_kernels {
    const char *isa; /* "scalar", "avx2", "avx512" */

    /* y = x / sqrt(mean(x^2) + eps) * weight. y may be x. */
    void (*rmsnorm)(float *y, const float *x, const float *weight, int64_t n, float eps);
    /* Rotates n_heads heads of head_dim values each, contiguous in x, in
     * place, by the angles of table (tsr_rope_table with the same config). */
    void (*rope)(float *x, int64_t n_heads, int64_t head_dim, const tsr_rope_config *config,
                 const float *table);
    /* x = exp(x - max x) / sum, in place; n >= 1 and at least one x finite.
     * -INFINITY entries (masked logits) become exactly 0. */
    void (*softmax)(float *x, int64_t n);
    /* y = silu(gate) * up, silu(g) = g / (1 + exp(-g)). y may be gate or up.
     * y[i] depends on gate[i] and up[i] alone, not on n or where the call
     * starts: threads may split a row anywhere. */
    void (*swiglu)(float *y, const float *gate, const float *up, int64_t n);
    /* y = a + b. y may be a or b. */
    void (*add)(float *y, const float *a, const float *b, int64_t n);
    /* Attention for query heads [head_begin, head_end) of every query: writes
     * exactly those heads' out slices, so threads may split the heads.
     * scratch: tsr_attention_scratch_bytes bytes, float-aligned, this
     * thread's own. Online softmax over blocks of positions; each K/V row is
     * converted once for all the queries of its group. A query's output is
     * bit-identical whatever other queries share the call (n_tokens, pos0)
     * and whatever the head range: a sequence's logits do not depend on
     * its batch. */
    void (*attention)(const tsr_attention_args *args, int64_t head_begin, int64_t head_end,
                      void *scratch);
} tsr_cpu_kernels;

/* The fastest table that features (TSR_CPU_* bits, usually
 * tsr_cpu_features()) allow: AVX-512 needs AVX512F/BW/VL and the AVX2 set, AVX2
 * needs AVX2, FMA and F16C; otherwise scalar. Static; never NULL. */
const tsr_cpu_kernels *tsr_cpu_kernels_select(uint32_t features);

/* ---- scalar references: the meaning of each kernel, for tests ----------- */

void tsr_rmsnorm_reference(float *y, const float *x, const float *weight, int64_t n, float eps);
void tsr_rope_reference(float *x, int64_t n_heads, int64_t head_dim, const tsr_rope_config *config,
                        const float *table);
void tsr_softmax_reference(float *x, int64_t n);
void tsr_swiglu_reference(float *y, const float *gate, const float *up, int64_t n);
void tsr_add_reference(float *y, const float *a, const float *b, int64_t n);
/* One query and one position at a time, every K/V row dequantized through
 * kv_format (f32 read directly). Same contract as the table's attention. */
void tsr_attention_reference(const tsr_attention_args *args, int64_t head_begin, int64_t head_end,
                             void *scratch);

#endif
