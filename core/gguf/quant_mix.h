/* llama.cpp's named quantization mixes ("q4_k_m", "q3_k_s", "iq4_xs", ...)
 * and its rules for which tensors of a model keep more precision than the
 * mix's main type, restated so that `tessera quantize` picks, tensor for
 * tensor, the types llama-quantize picks for the same file and mix.
 *
 * A mix names GGUF types, not plugins: whether some plugin can write each
 * chosen type is the caller's question (core/api/quantize.c asks the
 * registry), so a new format plugin needs nothing here unless llama.cpp
 * gives it a mix. */
#ifndef TSR_CORE_QUANT_MIX_H
#define TSR_CORE_QUANT_MIX_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"

typedef struct tsr_quant_mix {
    const char *name;        /* llama-quantize's name, lower case: "q4_k_m" */
    uint32_t file_type;      /* general.file_type (llama.h's llama_ftype) */
    uint32_t main_type;      /* the ggml type of most matrices */
} tsr_quant_mix;

/* The mix called name (case-insensitive), or NULL. */
const tsr_quant_mix *tsr_quant_mix_find(const char *name);
/* The first mix whose main type is type (for general.file_type of a file
 * of one type), or NULL. */
const tsr_quant_mix *tsr_quant_mix_of_type(uint32_t type);
/* Every mix, in llama-quantize's order of its list; NULL past the last. */
const tsr_quant_mix *tsr_quant_mix_at(uint32_t index);

/* A user's rule: tensors whose name matches pattern (a shell glob, or an
 * exact name) get type. */
typedef struct tsr_quant_keep_rule {
    const char *pattern;
    uint32_t type;
} tsr_quant_keep_rule;

/* Whether llama.cpp would quantize this tensor at all: a matrix (2 or more
 * dimensions) whose name ends in "weight" and is not a norm, an expert
 * router or a position embedding. Every other tensor is copied. */
bool tsr_quant_mix_quantizes(const tsr_gguf_tensor *t);

/* The type of every tensor of gguf under mix (pure: the main type for
 * every quantized matrix, no rules) and the rules, in file order into
 * types[tensor_count]; tensors not quantized keep their type. A row length
 * the chosen type's blocks do not divide falls back as llama.cpp's does
 * (q4_k to q5_0, q6_k to q8_0, the 256-value i-quants to iq4_nl, ..., and
 * f16 when nothing else fits). *matched[n_rules] counts the tensors each
 * rule matched. Fails (TSR_ERR_NOMEM) only when memory runs out. */
tsr_status tsr_quant_mix_types(const tsr_gguf *gguf, const tsr_quant_mix *mix, bool pure,
                               const tsr_quant_keep_rule *rules, uint32_t n_rules,
                               uint32_t *types, uint64_t *matched, tsr_error *err);

#endif
