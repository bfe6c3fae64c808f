/* tessera — the plugin ABI.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index);
 *
 * which returns the index-th plugin the object carries and NULL past the last
 * (one .so may carry several plugins). The descriptors and everything they
 * point to are static: they live as long as the object is loaded.
 *
 * Versioning. Every descriptor and every vtable begins with a tsr_abi:
 * abi_major, abi_minor, struct_size, in that order — frozen forever, they are
 * how any core recognises and refuses any plugin. The core refuses another
 * major. Members are only ever appended (a minor bump); the core copies a
 * plugin's struct into a zeroed struct of its own by the size the plugin
 * declared, so a member an older plugin does not have reads as 0/NULL, which
 * always means "unsupported". A plugin whose minor is newer than the core's
 * is refused too: it may rely on members the core would ignore. ABI 1.1
 * appended the allocator's parameters and flags, the host's fp16/bf16
 * conversions and a quant format's device kernels; ABI 1.2 a quant
 * format's product_rounding and a device's kind
 * (tsr_device_info.device_kind); ABI 1.3 (this header) a spec proposal's
 * rng (tsr_spec_proposal.rng) and the allocator's upload, which fills
 * device memory the CPU cannot address. Plugins built for 1.0, 1.1 and 1.2
 * load unchanged.
 *
 * Required and optional. Every vtable member is required unless its comment
 * says "optional"; a plugin lacking a required one is refused at load with
 * the member's name. Per kind, what the loader insists on:
 *   quant    block_elems, block_bytes (non-zero), dequantize; matvec, matmat
 *            and matmat_reference unless TSR_QUANT_ACTIVATION;
 *            quantize_reference whenever quantize is set.
 *   sampler  create, destroy, apply.
 *   spec     create, destroy, propose.
 *   alloc    open, close, device_count, device_info, reserve, release,
 *            bytes_in_use, peak_bytes.
 *
 * Lifetimes. Every create or open that returned TSR_OK is paired with
 * exactly one destroy or close, given the state it set (NULL too, when it
 * set NULL: destroy(NULL) happens, and must be harmless); a call that
 * failed is never followed by one. The core unloads a plugin object only
 * after every instance made from it is gone.
 *
 * Clashes. Plugins load folder by folder in search-path order, and within a
 * folder file by file in name order (strcmp of the file names). The first
 * plugin of a kind and name wins, and so does the first quant plugin to
 * claim a GGUF type; a later one is refused (see `tessera plugins`).
 *
 * Struct sizes the other way round. Structs the core fills for a plugin
 * (tsr_sampler_init, tsr_spec_init, tsr_alloc_config, tsr_device_info) carry
 * a struct_size the core sets: read a member only when
 * TSR_COVERS(x->struct_size, type, member); write only members it covers,
 * and leave struct_size as the core set it.
 *
 * Arrays of ABI structs (tsr_param_desc, tsr_param_value, tsr_candidate)
 * are indexed by sizeof, so these structs are frozen: they never grow (the
 * static_asserts at the end pin their size); a later need gets a new struct.
 *
 * Threads. "Setup" members run on one thread at a time, before or after the
 * hot loop, and may allocate. "Hot" members run inside the decode loop: they
 * never allocate, block or log, and the ones marked so may be called from
 * several threads at once on disjoint outputs.
 *
 * Errors. Plugins never print or exit; they return a tsr_status and fill the
 * tsr_error they are handed, through host->error_set.
 */
#ifndef TESSERA_PLUGIN_H
#define TESSERA_PLUGIN_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_ABI_MAJOR 1
#define TSR_ABI_MINOR 3

/* Head of every descriptor and vtable. A plugin fills it with
 * TSR_ABI_INIT(its_struct_type). */
typedef struct tsr_abi {
    uint32_t abi_major;   /* TSR_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;   /* TSR_ABI_MINOR the plugin was built with */
    uint32_t struct_size; /* sizeof the enclosing struct as the plugin compiled it */
} tsr_abi;

#define TSR_ABI_INIT(type) {TSR_ABI_MAJOR, TSR_ABI_MINOR, (uint32_t)sizeof(type)}

/* Whether a struct of struct_size bytes holds member (the member was appended
 * in a minor the writer of the struct already knew). */
#define TSR_COVERS(struct_size, type, member) \
    ((size_t)(struct_size) >= offsetof(type, member) + sizeof(((type *)0)->member))

typedef enum tsr_plugin_kind {
    TSR_PLUGIN_QUANT = 1,   /* a weight / cache / activation number format */
    TSR_PLUGIN_SAMPLER = 2, /* one step of the sampler chain */
    TSR_PLUGIN_SPEC = 3,    /* a speculative-decoding strategy */
    TSR_PLUGIN_ALLOC = 4,   /* a family of devices and their memory */
} tsr_plugin_kind;

enum { TSR_LOG_ERROR = 0, TSR_LOG_WARN = 1, TSR_LOG_INFO = 2, TSR_LOG_DEBUG = 3 };

/* CPU features a plugin may use: what the processor has, limited by the
 * user's TESSERA_ISA (so tests can force every lower path on one machine). */
enum {
    TSR_CPU_AVX = 1u << 0,
    TSR_CPU_AVX2 = 1u << 1,
    TSR_CPU_FMA = 1u << 2,
    TSR_CPU_F16C = 1u << 3,
    TSR_CPU_AVX512F = 1u << 4,
    TSR_CPU_AVX512BW = 1u << 5,
    TSR_CPU_AVX512VL = 1u << 6,
    TSR_CPU_AVX512VNNI = 1u << 7,
    TSR_CPU_AVXVNNI = 1u << 8,
    TSR_CPU_AVX512BF16 = 1u << 9,
    TSR_CPU_NEON = 1u << 16,
    TSR_CPU_DOTPROD = 1u << 17,
};

/* ---------------------------------------------------------------------------
 * Declared parameters. Sampler, spec and (ABI 1.1) alloc plugins list their
 * parameters (an allocator's are set in the profile's devices.options); the
 * core validates a profile entry against the list (unknown name, wrong type,
 * out of range: FILE:LINE:COLUMN) and hands the plugin a complete, validated
 * array of values in declaration order, defaults filled in. Plugins parse
 * nothing. In a profile, `name: SCALAR` sets the first declared parameter.
 * ------------------------------------------------------------------------- */

typedef enum tsr_param_type {
    TSR_PARAM_BOOL = 1,
    TSR_PARAM_INT = 2,         /* 64-bit integer, range [min, max] */
    TSR_PARAM_FLOAT = 3,       /* double, range [min, max] */
    TSR_PARAM_STRING = 4,      /* one of choices[] when choices is non-NULL */
    TSR_PARAM_STRING_LIST = 5, /* a YAML sequence of strings */
    TSR_PARAM_FLOAT_MAP = 6,   /* a YAML mapping of string keys to numbers, e.g. {"15": -100} */
} tsr_param_type;

/* Frozen (arrays of it are indexed by its size). */
typedef struct tsr_param_desc {
    const char *name;    /* snake_case, unique within the plugin */
    uint32_t type;       /* a tsr_param_type */
    double min, max;     /* inclusive bounds for INT and FLOAT */
    double default_number;                 /* BOOL (0 or 1), INT, FLOAT */
    const char *default_string;            /* STRING (may be NULL) */
    const char *const *default_list;       /* STRING_LIST, NULL-terminated (may be NULL: empty) */
    const char *const *choices;            /* STRING: allowed values, NULL-terminated, or NULL */
    const char *doc;                       /* one line: meaning, unit, what the default does */
} tsr_param_desc;

/* A validated value. The core owns every pointer in it; they stay valid until
 * the instance created from it is destroyed (an allocator's: until open
 * returns). Frozen (arrays of it are indexed by its size). */
typedef struct tsr_param_value {
    uint32_t type;         /* the declared tsr_param_type */
    bool is_set;           /* the profile gave it (false: the default) */
    bool boolean;          /* BOOL */
    int64_t integer;       /* INT */
    double number;         /* FLOAT, and INT as a double */
    const char *string;    /* STRING (may be NULL) */
    const char *const *items; /* STRING_LIST items; FLOAT_MAP keys */
    const double *values;  /* FLOAT_MAP values, one per key */
    uint32_t n_items;      /* STRING_LIST / FLOAT_MAP length */
} tsr_param_value;

/* ---------------------------------------------------------------------------
 * Objects the core owns and plugins reach only through the host table.
 * ------------------------------------------------------------------------- */
typedef struct tsr_rng tsr_rng;       /* the seeded generator of one sequence */
typedef struct tsr_vocab tsr_vocab;   /* a model's vocabulary */
typedef struct tsr_draft tsr_draft;   /* a draft model lent to a spec plugin */

/* One candidate token. Frozen (arrays of it are indexed by its size). */
typedef struct tsr_candidate {
    int32_t token;
    float logit;
    float p; /* meaningful only after a softmax (host->candidates_softmax) */
} tsr_candidate;

/* The candidates one sampler step sees. Samplers may reorder, rescale or
 * shrink data in place (size only ever decreases); they never reallocate it. */
typedef struct tsr_candidates {
    tsr_candidate *data;
    size_t size;
    int64_t selected; /* index into data of the chosen token; -1 until a choosing sampler sets it */
    bool sorted;      /* data is sorted by logit, highest first */
} tsr_candidates;

/* ---------------------------------------------------------------------------
 * Host services: the core's functions a plugin may call. Handed to every
 * create/open/init; valid until the plugin is unloaded, and never changed
 * once handed out (the core keeps one immutable table per CPU-feature set),
 * so plugins may keep the pointer and read it from any thread. Every member
 * is thread-safe unless it says otherwise. A member a plugin's host predates
 * reads NULL only when abi.struct_size does not cover it: check with
 * TSR_COVERS(host->abi.struct_size, tsr_host, member) before calling an
 * appended one.
 * ------------------------------------------------------------------------- */
typedef struct tsr_host {
    tsr_abi abi;
    uint32_t cpu_features; /* TSR_CPU_* bits the plugin may use */

    /* Logs through the core (which filters by level); setup calls only. */
    void (*log)(int level, const char *source, const char *fmt, ...) TSR_PRINTF(3, 4);
    /* Fills err (may be NULL) and returns code, as tsr_error_set does. */
    tsr_status (*error_set)(tsr_error *err, tsr_status code, const char *fmt, ...)
        TSR_PRINTF(3, 4);

    /* Host memory for a plugin's own state, aligned to 64 bytes, counted by the
     * core. Setup calls only. alloc returns NULL when none is left. */
    void *(*alloc)(size_t bytes);
    void (*free)(void *ptr);

    /* The sequence's seeded generator: uniform in [0, 1), and 64 raw bits.
     * Hot, but not thread-safe: one sequence, one thread. */
    double (*rng_uniform)(tsr_rng *rng);
    uint64_t (*rng_next)(tsr_rng *rng);

    /* Sorts by logit, highest first (sets sorted); hot. */
    void (*candidates_sort)(tsr_candidates *cands);
    /* Sets p = softmax(logit) over data[0..size); hot. */
    void (*candidates_softmax)(tsr_candidates *cands);

    /* Vocabulary. token_bytes returns the bytes the token decodes to (not
     * NUL-terminated; *n_bytes set; control tokens give their text), or
     * NULL for an unknown id. tokenize reads plain text (no BOS/EOS added,
     * "<|im_end|>" is characters, not the control token), writes at most
     * max_tokens ids, returns how many the text needs (more than
     * max_tokens: call again), or -1 on error. Setup calls. */
    int32_t (*vocab_n_tokens)(const tsr_vocab *vocab);
    const char *(*vocab_token_bytes)(const tsr_vocab *vocab, int32_t token, size_t *n_bytes);
    int32_t (*vocab_tokenize)(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                              int32_t *tokens, int32_t max_tokens);
    bool (*vocab_is_end_of_generation)(const tsr_vocab *vocab, int32_t token);

    /* Draft model (spec plugins that asked for one): init->draft is the
     * draft's view of the instance's own sequence. eval appends tokens at
     * the draft's current position and computes the logits of the last one;
     * logits(i) returns that row for i = n_tokens - 1 of the last eval
     * (n_vocab floats, valid until the next eval or rollback), NULL for any
     * other i; rollback keeps the first n_keep positions; n_past is the
     * current position. Not thread-safe: the spec instance's thread. */
    tsr_status (*draft_eval)(tsr_draft *draft, const int32_t *tokens, size_t n_tokens,
                             tsr_error *err);
    const float *(*draft_logits)(tsr_draft *draft, size_t i);
    void (*draft_rollback)(tsr_draft *draft, size_t n_keep);
    size_t (*draft_n_past)(const tsr_draft *draft);

    /* Moves the k best candidates (highest logit first, ties to the lower
     * token id) to data[0..k) in that order, leaving the others after them in
     * no particular order; size is unchanged. sorted is set when the whole
     * array ended up sorted (always for k >= size). Costs O(size) for small
     * k where a full sort costs O(size log size): top-k and friends use it on
     * a whole vocabulary. Hot. */
    void (*candidates_partial_sort)(tsr_candidates *cands, size_t k);

    /* ABI 1.1. Conversions between float and IEEE 754 half (fp16) and
     * bfloat16 (bf16) of n values: float to either rounds to nearest, ties
     * to even (as F16C's vcvtps2ph and the GGUF files' writers do), keeps
     * infinities, and turns a NaN into a quiet NaN; the other way is exact.
     * src and dst must not overlap. Hot, thread-safe. */
    void (*fp16_from_float)(const float *src, uint16_t *dst, size_t n);
    void (*fp16_to_float)(const uint16_t *src, float *dst, size_t n);
    void (*bf16_from_float)(const float *src, uint16_t *dst, size_t n);
    void (*bf16_to_float)(const uint16_t *src, float *dst, size_t n);
} tsr_host;

/* ---------------------------------------------------------------------------
 * quant: a number format — weights, KV cache, activations.
 *
 * Data are blocks of block_elems values stored in block_bytes bytes; a row
 * of n elements (a multiple of block_elems) is n / block_elems blocks. The
 * products multiply rows of this format by activation rows in the format
 * whose GGUF type is act_gguf_type (the core quantizes activations with the
 * plugin claiming that type), accumulate in float, and cover a row range, so
 * the core's threads split a matrix and the plugin knows nothing of threads.
 *
 * GGUF type ids (ggml's numbering, stable; gaps are retired types):
 *
 *    0 f32     1 f16     2 q4_0    3 q4_1    6 q5_0    7 q5_1    8 q8_0
 *    9 q8_1   10 q2_k   11 q3_k   12 q4_k   13 q5_k   14 q6_k   15 q8_k
 *   16 iq2_xxs 17 iq2_xs 18 iq3_xxs 19 iq1_s 20 iq4_nl 21 iq3_s 22 iq2_s
 *   23 iq4_xs 24 i8    25 i16    26 i32    27 i64    28 f64    29 iq1_m
 *   30 bf16  34 tq1_0  35 tq2_0  39 mxfp4  40 nvfp4  41 q1_0   42 q2_0
 *
 * The GGUF reader sizes tensors by its own copy of this table (and refuses
 * a file with an id outside it), so a plugin claiming an id must give the
 * same block_elems and block_bytes as ggml does for it (`tessera plugin
 * check` compares them).
 *
 * Activation forms. Before a product the core quantizes the activation row
 * with the `quantize` of the plugin claiming act_gguf_type (so that plugin
 * must have one), once per row per form, and hands the bytes to matvec /
 * matmat. What the in-tree formats want, and the layouts they then meet
 * (byte-exact with ggml's blocks of the same name):
 *
 *   act f32  (0)   f32, bf16: the floats themselves, 4 bytes each
 *   act f16  (1)   f16: IEEE halves, 2 bytes each
 *   act q8_0 (8)   q8_0, q4_0, q5_0, iq4_nl, mxfp4: 32 values in 34 bytes,
 *                  d (f16) then q[32] (int8); x = d * q
 *   act q8_1 (9)   q4_1, q5_1: 32 values in 36 bytes, d (f16), s (f16) =
 *                  d * sum(q), then q[32] (int8); x = d * q
 *   act q8_k (15)  q2_k .. q6_k, iq1_s, iq1_m, iq2_xxs, iq2_xs, iq2_s,
 *                  iq3_xxs, iq3_s, iq4_xs: 256 values in 292 bytes,
 *                  d (f32), q[256] (int8), bsums[16] (int16, each the sum of
 *                  16 consecutive q); x = d * q
 *
 * A new weight format may want any form some loaded plugin produces; the
 * activation forms q8_1 and q8_k are plugins of their own
 * (TSR_QUANT_ACTIVATION), so a format with its own form ships it too.
 *
 * Bit-exactness. quantize_reference is the plain scalar C of the format;
 * the fast paths promise to match it bit for bit only when both are built
 * without floating-point contraction: a compiler that fuses a * b + c into
 * an FMA (GCC's default -ffp-contract=fast outside ISO C mode) changes the
 * rounding and with it the chosen integers. The tree builds with -std=c11,
 * under which GCC does not contract; build an out-of-tree quant plugin with
 * -std=c11 or -ffp-contract=off, or promise only the format's rounding.
 * ------------------------------------------------------------------------- */

enum {
    TSR_QUANT_KV_CACHE = 1u << 0,     /* may hold the KV cache (quantize + dequantize are fast) */
    TSR_QUANT_ACTIVATION = 1u << 1,   /* an activation form only (q8_1, q8_K): no products */
};

/* ABI 1.1: kinds of device a format may carry kernels for; ABI 1.2: the
 * kind of a device an allocator offers (tsr_device_info.device_kind). */
enum {
    TSR_DEVICE_KIND_CPU = 0,  /* the host's own cores and memory (ABI 1.2) */
    TSR_DEVICE_KIND_CUDA = 1, /* NVIDIA GPUs through the CUDA runtime */
};

/* ABI 1.1: a format's kernels on one kind of device, so that a new format
 * reaches the GPU without a core rebuild. A static table; the core reads a
 * member only when abi.struct_size covers it and refuses another major.
 *
 * Every product and lookup enqueues its work on stream (the device kind's
 * queue: a cudaStream_t for CUDA; NULL is the default one) and returns at
 * once with the device runtime's status of the enqueue: 0 is success, any
 * other value is the runtime's error code (cudaError_t for CUDA), which
 * error_name names; a member refuses arguments it cannot serve (row bytes
 * that are not whole blocks, n_cols not a multiple of block_elems) with
 * that runtime's "invalid value" code, before launching anything. Pointers
 * are device memory. Hot, thread-safe on disjoint outputs; they never
 * allocate. */
typedef struct tsr_quant_device_kernels {
    tsr_abi abi;
    uint32_t device_kind; /* TSR_DEVICE_KIND_* */

    /* y[r] = dot(W[r], x) for r in [0, n_rows): W's rows (this format,
     * w_row_bytes apart) dequantized on the fly against n_cols floats of
     * x, accumulated in float. The decode step's product. */
    int32_t (*matvec_f32)(const void *w, size_t w_row_bytes, const float *x, float *y,
                          int64_t n_cols, int64_t n_rows, void *stream);
    /* out[i * n_cols + c] = W[rows[i]][c] for i in [0, n_out), dequantized:
     * the embedding lookup. A row index outside [0, n_rows) gives a row of
     * NaN, never a read outside W. */
    int32_t (*get_rows)(const void *w, size_t w_row_bytes, int64_t n_rows, const int32_t *rows,
                        int64_t n_out, float *out, int64_t n_cols, void *stream);
    /* The runtime's name for a status these members returned. Static string. */
    const char *(*error_name)(int32_t status);
} tsr_quant_device_kernels;

typedef struct tsr_quant_vtable {
    tsr_abi abi;
    uint32_t gguf_type;     /* the GGUF/ggml type id this format is (GGUF's table, stable) */
    uint32_t block_elems;   /* values per block */
    uint32_t block_bytes;   /* bytes per block: all the planner needs */
    uint32_t act_gguf_type; /* the activation form the products want */
    uint32_t flags;         /* TSR_QUANT_* */

    /* Setup, optional: called once after loading (a failure refuses the
     * plugin, with its message) and again whenever the core changes
     * host->cpu_features; picks the kernels the products use. */
    tsr_status (*init)(const tsr_host *host, tsr_error *err);
    /* Optional: the kernel path the products use now, e.g. "avx512vnni";
     * static string. */
    const char *(*kernel_name)(void);

    /* Hot, thread-safe. n_elems is a multiple of block_elems. */
    void (*dequantize)(const void *src, float *dst, int64_t n_elems);
    /* Hot, thread-safe; optional: NULL when the format cannot be produced
     * from floats. Finite input only: what a NaN or an infinity becomes is
     * unspecified (never a crash); the core never hands it one. */
    void (*quantize)(const float *src, void *dst, int64_t n_elems);

    /* y[r] = dot(W[r], x) for r in [row_begin, row_end). W's rows are
     * w_row_bytes apart; x is one activation row of n_cols values. Hot,
     * thread-safe on disjoint row ranges. NULL for TSR_QUANT_ACTIVATION. */
    void (*matvec)(const void *w, size_t w_row_bytes, const void *x, float *y, int64_t n_cols,
                   int64_t row_begin, int64_t row_end);
    /* Y[t * y_stride + r] = dot(W[r], X[t]) for t in [0, n_tokens) and r in
     * [row_begin, row_end); X's rows are x_row_bytes apart. Hot, thread-safe
     * on disjoint row ranges. */
    void (*matmat)(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                   float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                   int64_t row_begin, int64_t row_end);
    /* The plain scalar reference of matmat, which every fast path is tested
     * against (`tessera plugin check`); same contract. */
    void (*matmat_reference)(const void *w, size_t w_row_bytes, const void *x,
                             size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                             int64_t n_tokens, int64_t row_begin, int64_t row_end);
    /* The scalar reference of quantize (fast paths must match it bit for bit
     * or within the format's rounding; see Bit-exactness above); required
     * when quantize is set, NULL when it is not. */
    void (*quantize_reference)(const float *src, void *dst, int64_t n_elems);

    /* ABI 1.1, optional: this format's kernels on a kind of device
     * (TSR_DEVICE_KIND_*), or NULL when the plugin has none there (a
     * plugin built without CUDA has none on CUDA); a format without them
     * is never placed on such a device. Static table; any thread. */
    const tsr_quant_device_kernels *(*device_kernels)(uint32_t device_kind);

    /* ABI 1.2, optional (0: none beyond reordering): how far a fast path's
     * products may stray from matmat_reference because it rounds an operand
     * further than the reference does, as a fraction of the row's
     * sum |w * x| (bf16 on AVX512-BF16 rounds the f32 activations to
     * bfloat16, half an ulp of 8 bits each: 2^-9, declared as 2^-8 for the
     * sums around it). `tessera plugin check` allows this on top of its
     * reordering tolerance. A path must still agree with itself: matvec and
     * every batch of matmat give the same bits for a (row, token). */
    float product_rounding;
} tsr_quant_vtable;

/* ---------------------------------------------------------------------------
 * sampler: one step of the chain. The chain applies its samplers in profile
 * order to one tsr_candidates; a "choosing" sampler sets selected and must be
 * the last (the chain refuses one before the end). A chain that ends without
 * one gets `dist` appended.
 *
 * Each step starts from the whole vocabulary in id order (data[i].token == i,
 * p unset, sorted false). logit is the truth every sampler reads; p is valid
 * only where a sampler just computed it (host->candidates_softmax), so a
 * sampler that needs probabilities computes them itself. After a choice the
 * chain calls accept(token) on every sampler, and the caller may feed it
 * tokens it did not choose (the prompt), so histories see them too.
 *
 * Randomness comes only from init->rng (shared by the chain's samplers, one
 * per sequence): same seed, same tokens. Token text comes only through the
 * host's vocab_* members, which are NULL in a build without a tokenizer, and
 * init->vocab is NULL without a model: a sampler must work (or refuse with a
 * clear message at create) in both cases.
 * ------------------------------------------------------------------------- */

enum {
    TSR_SAMPLER_CHOOSES = 1u << 0, /* apply sets cands->selected */
};

typedef struct tsr_sampler_init {
    uint32_t struct_size;    /* sizeof(tsr_sampler_init) as the core built it */
    int32_t n_vocab;         /* size of the logit arrays */
    uint64_t seed;           /* the profile's seed (the rng is already seeded with it) */
    tsr_rng *rng;            /* the sequence's generator, owned by the core */
    const tsr_vocab *vocab;  /* NULL when sampling without a model (tests, benchmarks) */
    int32_t max_seq_len;     /* tokens a sequence may hold (bounds "the whole sequence"
                                histories); 0 when unknown. Read it only when struct_size
                                covers it. */
} tsr_sampler_init;

typedef struct tsr_sampler_vtable {
    tsr_abi abi;
    uint32_t flags; /* TSR_SAMPLER_* */

    /* Setup: makes an instance from validated params (the descriptor's order,
     * defaults filled). *state is the plugin's; destroy frees it. */
    tsr_status (*create)(const tsr_host *host, const tsr_param_value *params,
                         const tsr_sampler_init *init, void **state, tsr_error *err);
    /* Setup: called exactly once for each create that returned TSR_OK, with
     * the *state it set (NULL too, when create set NULL), and never after a
     * failed create. */
    void (*destroy)(void *state);
    /* Hot: transforms cands (or chooses). Errors only for impossible input. */
    tsr_status (*apply)(void *state, tsr_candidates *cands, tsr_error *err);
    /* Hot, optional: the token the chain finally chose (history for
     * penalties, feedback for mirostat). */
    void (*accept)(void *state, int32_t token);
    /* Setup, optional: forget per-sequence state (a new request). */
    void (*reset)(void *state);
} tsr_sampler_vtable;

/* ---------------------------------------------------------------------------
 * spec: a speculative-decoding strategy. Each step it proposes up to
 * max_tokens continuations of the history; the target model verifies them
 * in one batch and tells the strategy how many it accepted.
 *
 * The core creates one instance per sequence it generates into (so every
 * member sees one sequence's history) and does the verification itself: it
 * scores [last, d0 .. dk-1] in one batched decode and samples the rows in
 * order with the sequence's own sampler chain, keeping drafts while the
 * sampled token equals the draft token. The text is therefore the text
 * without speculation, token for token, whatever a strategy proposes.
 * Exact match is exact for any draft; a draft that samples from its own
 * distribution q gains from the stochastic rule, which a proposal asks for
 * with dists and use_dists: row i keeps d_i with probability
 * min(1, p(d_i) / q_i(d_i)), where p is the target's final sampling
 * distribution (the sequence's chain up to its final `dist` draw:
 * temperature, top-p, penalties and the rest applied), and on a rejection
 * draws the token from max(0, p - q_i) renormalised over the whole
 * vocabulary. Each emitted token is then distributed as plain sampling's,
 * though no longer the same token for the same seed. The core uses the rule
 * only where p is defined that way (a chain ending in `dist`); for a greedy
 * or mirostat chain, and for proposals without dists, it matches exactly.
 * ------------------------------------------------------------------------- */

enum {
    TSR_SPEC_NEEDS_DRAFT = 1u << 0, /* the core must plan, load and lend a draft model */
};

typedef struct tsr_spec_init {
    uint32_t struct_size;
    uint32_t max_tokens;    /* the profile's speculative.tokens */
    int32_t n_vocab;
    const tsr_vocab *vocab;
    tsr_draft *draft;       /* non-NULL exactly when TSR_SPEC_NEEDS_DRAFT */
    /* ABI 1.1: the most positions the sequence (and the draft's) holds. */
    uint32_t max_seq_len;
} tsr_spec_init;

/* ABI 1.1: what propose_tree fills. The core owns the arrays; each has room
 * for capacity entries (dists: capacity x n_vocab floats). */
typedef struct tsr_spec_proposal {
    uint32_t struct_size;
    uint32_t capacity;     /* most tokens the core will verify now (>= 1) */
    uint32_t n_tokens;     /* set by the strategy: 0 .. capacity */
    int32_t *tokens;
    /* parents[i]: the index of the token d_i follows, or -1 for the
     * history's last token. A chain is parents[i] == i - 1; the core verifies
     * the chain that starts at token 0 and ignores tokens off it (a tree
     * strategy may fill siblings now; a later core verifies them). */
    int32_t *parents;
    /* Optional: the draft's probability of each token (NULL: none given). */
    float *probs;
    /* Optional: the distribution each token was drawn from (n_vocab floats
     * per token, token i's at dists + i * n_vocab, summing to 1), and
     * use_dists to ask for the stochastic rule (see above). The core sets
     * dists NULL before each call; a strategy that sampled points it at an
     * array of its own, which the core reads until the strategy's next call.
     * A strategy that gives dists must have drawn each token from its dist
     * with randomness independent of the target's: rng below. */
    float *dists;
    bool use_dists;
    /* ABI 1.3: the sequence's seeded generator (host->rng_uniform), for a
     * strategy that samples its proposal, so that a seed fixes the drafts
     * too. NULL where the core will match exactly (a greedy or mirostat
     * chain; an application's own loop through tsr_spec_draft): propose
     * deterministically then (greedy). Read it only when struct_size covers
     * it. */
    tsr_rng *rng;
} tsr_spec_proposal;

typedef struct tsr_spec_vtable {
    tsr_abi abi;
    uint32_t flags; /* TSR_SPEC_* */

    /* Setup. */
    tsr_status (*create)(const tsr_host *host, const tsr_param_value *params,
                         const tsr_spec_init *init, void **state, tsr_error *err);
    void (*destroy)(void *state);
    /* Hot: writes up to max_out proposed tokens following history[0..n). */
    tsr_status (*propose)(void *state, const int32_t *history, size_t n_history,
                          int32_t *out, size_t max_out, size_t *n_out, tsr_error *err);
    /* Hot, optional: of the last n_proposed tokens, the first n_accepted were kept. */
    void (*accepted)(void *state, size_t n_proposed, size_t n_accepted);
    /* Setup, optional: a new sequence. */
    void (*reset)(void *state);

    /* ABI 1.1, each optional (NULL: the 1.0 behaviour above). */
    /* Setup: a generation starts on this instance's sequence, which already
     * holds history[0..n) (a previous turn and the new prompt). Called in
     * place of reset. */
    tsr_status (*begin)(void *state, const int32_t *history, size_t n_history, tsr_error *err);
    /* Hot: called in place of propose when present; fills out (n_tokens,
     * tokens, parents, and optionally probs or dists). */
    tsr_status (*propose_tree)(void *state, const int32_t *history, size_t n_history,
                               tsr_spec_proposal *out, tsr_error *err);
    /* Hot: the tokens the sequence committed since the last call, in order:
     * the accepted drafts and the token the target sampled after them. Called
     * after accepted. */
    void (*commit)(void *state, const int32_t *tokens, size_t n_tokens);
    /* Setup: the generation on this sequence ended (its instance may be
     * reused by a later begin). */
    void (*end)(void *state);
} tsr_spec_vtable;

/* ---------------------------------------------------------------------------
 * alloc: a family of devices and their memory. The planner asks each device
 * for its capacity and overhead; the core then reserves exactly the plan.
 * Every implementation answers a reservation beyond what a device holds with
 * TSR_ERR_NOMEM and the same message shape (`tessera plugin check` tests it):
 * "DEVICE: cannot reserve N bytes: U of C bytes in use". The tree ships
 * host and sim, and with --enable-cuda cuda (NVIDIA GPUs through the CUDA
 * runtime). A device without TSR_DEVICE_HOST_MEMORY hands out arenas the
 * CPU cannot touch, which are filled through upload: an allocator offering
 * such devices has it. (This core's forward pass runs on the CPU: it plans
 * for such devices but refuses to load a model onto one, naming it.)
 * ------------------------------------------------------------------------- */

enum {
    TSR_DEVICE_HOST_MEMORY = 1u << 0, /* pointers it returns are CPU-addressable */
};

/* Filled by device_info into the core's struct: the core sets struct_size
 * (and zeroes the rest) before the call; the plugin writes the members
 * struct_size covers and leaves struct_size alone. */
typedef struct tsr_device_info {
    uint32_t struct_size;
    char name[64];           /* "cpu", "sim0"; NUL-terminated */
    char description[128];   /* "NVIDIA GeForce RTX 4090", "simulated 24.0 GiB" */
    uint64_t capacity_bytes; /* total memory */
    uint64_t free_bytes;     /* free now */
    uint64_t overhead_bytes; /* what the runtime costs on it besides our arenas (context, workspaces) */
    uint32_t flags;          /* TSR_DEVICE_* */
    /* ABI 1.2: what computes on it (TSR_DEVICE_KIND_*); 0, the CPU, for an
     * older plugin. The planner refuses to place a tensor on a device of a
     * kind its format has no kernels for (no-device-kernels). */
    uint32_t device_kind;
} tsr_device_info;

enum {
    /* The allocator simulates devices whose capacities the profile gives
     * (devices.sim): open gets them in sim_capacities. An allocator without
     * this flag gets sim_capacities NULL and n_sim_capacities 0, so
     * devices.sim, default or not, never reaches it. (ABI 1.0 allocators,
     * which cannot say, get devices.sim as they always did.) */
    TSR_ALLOC_TAKES_SIM = 1u << 0,
};

/* What open is told. Built by the core, which sets struct_size; read a
 * member only when TSR_COVERS(config->struct_size, tsr_alloc_config, member). */
typedef struct tsr_alloc_config {
    uint32_t struct_size;
    const uint64_t *sim_capacities; /* devices.sim, for TSR_ALLOC_TAKES_SIM: one capacity
                                       per simulated device; else NULL */
    uint32_t n_sim_capacities;
    /* ABI 1.1: the allocator's declared parameters (the descriptor's
     * params), validated from the profile's devices.options, complete, in
     * declaration order, defaults filled in; NULL when it declares none.
     * Owned by the core; valid during open only (copy what you keep). */
    const tsr_param_value *params;
    uint32_t n_params;
} tsr_alloc_config;

typedef struct tsr_alloc_vtable {
    tsr_abi abi;

    /* Setup: discovers the devices. config may be NULL (tests): every
     * parameter at its default, no devices.sim. */
    tsr_status (*open)(const tsr_host *host, const tsr_alloc_config *config, void **state,
                       tsr_error *err);
    /* Setup: releases whatever is still reserved, then the state. Called
     * exactly once for each open that returned TSR_OK, with its *state;
     * never after a failed open. */
    void (*close)(void *state);
    uint32_t (*device_count)(void *state);
    tsr_status (*device_info)(void *state, uint32_t device, tsr_device_info *info,
                              tsr_error *err);
    /* Setup: one arena of bytes on device, aligned to at least align (a power
     * of two; anything else is TSR_ERR_INVALID). Its contents are
     * unspecified: zero-filling is not an obligation, the core writes every
     * byte of an arena before reading it (host and sim happen to hand out
     * fresh zero pages). Beyond capacity: TSR_ERR_NOMEM with the message
     * above; an unknown device: TSR_ERR_NOT_FOUND. */
    tsr_status (*reserve)(void *state, uint32_t device, uint64_t bytes, uint64_t align,
                          void **arena, tsr_error *err);
    /* Setup: gives back an arena reserve returned. */
    void (*release)(void *state, uint32_t device, void *arena);
    /* Thread-safe: bytes reserved (and mapped) now, and the most ever at once. */
    uint64_t (*bytes_in_use)(void *state, uint32_t device);
    uint64_t (*peak_bytes)(void *state, uint32_t device);
    /* Setup, optional: makes bytes of the open file fd, from offset, readable
     * on the device as an arena without a copy (host memory: a read-only
     * private mapping that the page cache backs), counted as reserve counts
     * (and refused the same way past capacity) and given back with release.
     * offset is any byte offset, not necessarily page-aligned (a tensor's
     * place in the file: a multiple of the GGUF file's alignment, 32 by
     * default); *arena must point at the byte at offset itself, so it is as
     * aligned as offset is (a mapping starts at the page holding offset).
     * bytes may be 0. The core closes fd once the weights are loaded: the
     * mapping must outlive it. NULL, or
     * TSR_ERR_UNSUPPORTED: the core reserves an arena and reads the bytes
     * into it instead. */
    tsr_status (*map_file)(void *state, uint32_t device, int fd, uint64_t offset, uint64_t bytes,
                           const void **arena, tsr_error *err);
    /* ABI 1.1, optional: TSR_ALLOC_* */
    uint32_t flags;
    /* ABI 1.3, optional: copies bytes of host memory src into arena (one
     * that reserve returned on this device) from offset on: how the core
     * fills a device whose memory the CPU cannot address (no
     * TSR_DEVICE_HOST_MEMORY), e.g. with the weights as they load. src is
     * ordinary (pageable) memory and may be reused as soon as upload
     * returns: the copy is synchronous, and the allocator stages it through
     * pinned host memory of its own if its device wants that. bytes may be
     * 0. An arena it did not hand out on this device, or a range past the
     * end of its reserved bytes: TSR_ERR_INVALID; the device runtime
     * failing: TSR_ERR_IO (TSR_ERR_NOMEM when it has no staging memory).
     * Setup. NULL: every device is host memory, which the core writes
     * itself. */
    tsr_status (*upload)(void *state, uint32_t device, void *arena, uint64_t offset,
                         const void *src, uint64_t bytes, tsr_error *err);
} tsr_alloc_vtable;

/* ---------------------------------------------------------------------------
 * The descriptor and the entry point. A name (and a quant plugin's
 * gguf_type) is first come, first served on the search path: see Clashes at
 * the top.
 * ------------------------------------------------------------------------- */
typedef struct tsr_plugin_desc {
    tsr_abi abi;
    uint32_t kind;              /* a tsr_plugin_kind */
    const char *name;           /* unique within its kind: "q4_1", "top_k", "host" */
    const char *version;        /* the plugin's own version, e.g. "1.0.0" */
    const char *summary;        /* one line for `tessera plugins` */
    const tsr_param_desc *params; /* declared parameters (sampler, spec, and since ABI 1.1
                                     alloc), or NULL */
    uint32_t n_params;
    const void *vtable;         /* the kind's vtable: tsr_quant_vtable, ... */
} tsr_plugin_desc;

typedef const tsr_plugin_desc *(*tsr_plugin_entry_fn)(uint32_t index);
/* Every plugin object defines this, and exports nothing else. */
TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index);
#define TSR_PLUGIN_ENTRY_SYMBOL "tsr_plugin_entry"

/* The layout the frozen members promise. */
static_assert(offsetof(tsr_abi, abi_major) == 0, "abi_major first");
static_assert(offsetof(tsr_abi, abi_minor) == 4, "abi_minor second");
static_assert(offsetof(tsr_abi, struct_size) == 8, "struct_size third");
static_assert(offsetof(tsr_plugin_desc, abi) == 0, "descriptor starts with its abi");
static_assert(offsetof(tsr_quant_vtable, abi) == 0, "quant vtable starts with its abi");
static_assert(offsetof(tsr_sampler_vtable, abi) == 0, "sampler vtable starts with its abi");
static_assert(offsetof(tsr_spec_vtable, abi) == 0, "spec vtable starts with its abi");
static_assert(offsetof(tsr_alloc_vtable, abi) == 0, "alloc vtable starts with its abi");
static_assert(offsetof(tsr_host, abi) == 0, "host table starts with its abi");
/* Frozen structs: arrays of them are indexed by these sizes (LP64). */
static_assert(sizeof(void *) != 8 || sizeof(tsr_param_desc) == 72, "tsr_param_desc is frozen");
static_assert(sizeof(void *) != 8 || sizeof(tsr_param_value) == 56, "tsr_param_value is frozen");
static_assert(sizeof(tsr_candidate) == 12, "tsr_candidate is frozen");
/* ABI 1.0 layouts on LP64; appending members keeps these true. */
static_assert(sizeof(void *) != 8 || offsetof(tsr_plugin_desc, kind) == 12, "descriptor layout");
static_assert(sizeof(void *) != 8 || offsetof(tsr_plugin_desc, vtable) == 56, "descriptor layout");
static_assert(sizeof(void *) != 8 || offsetof(tsr_quant_vtable, init) == 32, "quant layout");
static_assert(offsetof(tsr_quant_device_kernels, abi) == 0, "device kernels start with their abi");
/* ABI 1.2 members follow the 1.1 ones. */
static_assert(offsetof(tsr_quant_vtable, product_rounding) >
                  offsetof(tsr_quant_vtable, device_kernels),
              "quant layout: 1.2 members appended");
static_assert(sizeof(void *) != 8 || offsetof(tsr_alloc_config, params) == 24, "alloc config");
static_assert(sizeof(void *) != 8 || offsetof(tsr_alloc_vtable, flags) == 88, "alloc layout");
static_assert(sizeof(void *) != 8 || offsetof(tsr_host, fp16_from_float) == 152, "host layout");
static_assert(offsetof(tsr_device_info, flags) == 224, "device info layout (ABI 1.0)");
static_assert(offsetof(tsr_device_info, device_kind) == 228, "device info layout (ABI 1.2)");
static_assert(sizeof(void *) != 8 || offsetof(tsr_spec_proposal, rng) == 56,
              "spec proposal layout (ABI 1.3)");
static_assert(sizeof(void *) != 8 || offsetof(tsr_alloc_vtable, upload) == 96,
              "alloc layout (ABI 1.3)");

#ifdef __cplusplus
}
#endif
#endif
