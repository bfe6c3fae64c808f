/* llama.cpp's quantization mixes and its per-tensor rules (its
 * src/llama-quant.cpp), restated. A mix is a main type plus exceptions by
 * the tensor's role and layer: the output head (and a tied embedding, which
 * doubles as the head) gets q6_k, attention values and the first and last
 * layers' ffn_down get more bits in the _M mixes, and so on. The rules
 * count layers the way llama.cpp walks the tensors: sorted by block number,
 * then by name. Left out: the mixes of formats no tessera plugin reads
 * (tq1_0, tq2_0, q1_0, q2_0, nvfp4), and the exceptions llama.cpp makes
 * for architectures tessera does not run (Falcon's aside). */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quant_mix.h"

/* ggml type ids (GGUF's table, core/gguf/ggml_types.c). */
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14,
    T_IQ2_XXS = 16, T_IQ2_XS = 17, T_IQ3_XXS = 18, T_IQ1_S = 19, T_IQ4_NL = 20, T_IQ3_S = 21,
    T_IQ2_S = 22, T_IQ4_XS = 23, T_IQ1_M = 29, T_BF16 = 30, T_MXFP4 = 39,
};

/* llama.h's llama_ftype values: what general.file_type records. */
enum {
    F_ALL_F32 = 0, F_F16 = 1, F_Q4_0 = 2, F_Q4_1 = 3, F_Q8_0 = 7, F_Q5_0 = 8, F_Q5_1 = 9,
    F_Q2_K = 10, F_Q3_K_S = 11, F_Q3_K_M = 12, F_Q3_K_L = 13, F_Q4_K_S = 14, F_Q4_K_M = 15,
    F_Q5_K_S = 16, F_Q5_K_M = 17, F_Q6_K = 18, F_IQ2_XXS = 19, F_IQ2_XS = 20, F_Q2_K_S = 21,
    F_IQ3_XS = 22, F_IQ3_XXS = 23, F_IQ1_S = 24, F_IQ4_NL = 25, F_IQ3_S = 26, F_IQ3_M = 27,
    F_IQ2_S = 28, F_IQ2_M = 29, F_IQ4_XS = 30, F_IQ1_M = 31, F_BF16 = 32, F_MXFP4_MOE = 38,
};

static const tsr_quant_mix mixes[] = {
    {"q4_0", F_Q4_0, T_Q4_0},         {"q4_1", F_Q4_1, T_Q4_1},
    {"mxfp4_moe", F_MXFP4_MOE, T_MXFP4},
    {"q5_0", F_Q5_0, T_Q5_0},         {"q5_1", F_Q5_1, T_Q5_1},
    {"iq2_xxs", F_IQ2_XXS, T_IQ2_XXS}, {"iq2_xs", F_IQ2_XS, T_IQ2_XS},
    {"iq2_s", F_IQ2_S, T_IQ2_XS},     {"iq2_m", F_IQ2_M, T_IQ2_S},
    {"iq1_s", F_IQ1_S, T_IQ1_S},      {"iq1_m", F_IQ1_M, T_IQ1_M},
    {"q2_k", F_Q2_K, T_Q2_K},         {"q2_k_s", F_Q2_K_S, T_Q2_K},
    {"iq3_xxs", F_IQ3_XXS, T_IQ3_XXS}, {"iq3_s", F_IQ3_S, T_IQ3_S},
    {"iq3_m", F_IQ3_M, T_IQ3_S},      {"iq3_xs", F_IQ3_XS, T_IQ3_S},
    {"q3_k_s", F_Q3_K_S, T_Q3_K},
    {"q3_k_m", F_Q3_K_M, T_Q3_K},     {"q3_k_l", F_Q3_K_L, T_Q3_K},
    {"iq4_nl", F_IQ4_NL, T_IQ4_NL},   {"iq4_xs", F_IQ4_XS, T_IQ4_XS},
    {"q4_k_s", F_Q4_K_S, T_Q4_K},     {"q4_k_m", F_Q4_K_M, T_Q4_K},
    {"q5_k_s", F_Q5_K_S, T_Q5_K},     {"q5_k_m", F_Q5_K_M, T_Q5_K},
    {"q6_k", F_Q6_K, T_Q6_K},         {"q8_0", F_Q8_0, T_Q8_0},
    {"f16", F_F16, T_F16},            {"bf16", F_BF16, T_BF16},
    {"f32", F_ALL_F32, T_F32},
};
enum { N_MIXES = sizeof mixes / sizeof mixes[0] };

const tsr_quant_mix *tsr_quant_mix_find(const char *name)
{
    for (size_t i = 0; name && i < N_MIXES; i++)
        if (strcasecmp(mixes[i].name, name) == 0)
            return &mixes[i];
    return NULL;
}

const tsr_quant_mix *tsr_quant_mix_of_type(uint32_t type)
{
    for (size_t i = 0; i < N_MIXES; i++)
        if (mixes[i].main_type == type)
            return &mixes[i];
    return NULL;
}

const tsr_quant_mix *tsr_quant_mix_at(uint32_t index)
{
    return index < N_MIXES ? &mixes[index] : NULL;
}

/* ---- which tensors, and their roles ---------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool tsr_quant_mix_quantizes(const tsr_gguf_tensor *t)
{
    return t->n_dims >= 2 && ends_with(t->name, "weight") && !strstr(t->name, "_norm.weight") &&
           !strstr(t->name, "ffn_gate_inp.weight") && strcmp(t->name, "position_embd.weight") &&
           strcmp(t->name, "token_types.weight");
}

typedef enum role {
    ROLE_OTHER, ROLE_TOKEN_EMBD, ROLE_OUTPUT, ROLE_ATTN_Q, ROLE_ATTN_K, ROLE_ATTN_V,
    ROLE_ATTN_OUTPUT, ROLE_FFN_UP, ROLE_FFN_GATE, ROLE_FFN_DOWN,
} role;

/* The role by name, in llama.cpp's order of tests. A fused qkv matrix and
 * attn_kv_b count as value projections: they hold one, and llama.cpp gives
 * them the values' rules. */
static role role_of(const char *name)
{
    static const struct { const char *part; role r; } parts[] = {
        {"attn_qkv.weight", ROLE_ATTN_V}, {"attn_kv_b.weight", ROLE_ATTN_V},
        {"attn_v.weight", ROLE_ATTN_V},     {"attn_k.weight", ROLE_ATTN_K},
        {"attn_q.weight", ROLE_ATTN_Q},     {"attn_output.weight", ROLE_ATTN_OUTPUT},
        {"ffn_up", ROLE_FFN_UP},            {"ffn_gate", ROLE_FFN_GATE},
        {"ffn_down", ROLE_FFN_DOWN},
    };
    if (strcmp(name, "output.weight") == 0)
        return ROLE_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0)
        return ROLE_TOKEN_EMBD;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(name, parts[i].part))
            return parts[i].r;
    return ROLE_OTHER;
}

/* What the rules read of the model. */
typedef struct model_facts {
    bool falcon, is_70b, tied_output; /* tied: no output.weight, the embedding serves */
    uint32_t n_gqa, n_expert, n_layer;
    uint32_t n_attn_v;                /* value projections in the file */
} model_facts;

static uint32_t arch_u32(const tsr_gguf *g, const char *arch, const char *key, uint32_t fallback)
{
    char full[256];
    uint32_t v;
    snprintf(full, sizeof full, "%s.%s", arch, key);
    return tsr_gguf_get_u32(g, full, &v) ? v : fallback;
}

static model_facts facts_of(const tsr_gguf *g)
{
    model_facts f = {.tied_output = true};
    char arch[128] = "llama";
    tsr_gguf_str s;
    if (tsr_gguf_get_str(g, "general.architecture", &s) && s.len < sizeof arch) {
        memcpy(arch, s.data, s.len);
        arch[s.len] = '\0';
    }
    uint32_t n_head = arch_u32(g, arch, "attention.head_count", 0);
    uint32_t n_head_kv = arch_u32(g, arch, "attention.head_count_kv", n_head);
    f.falcon = strcmp(arch, "falcon") == 0;
    f.n_gqa = n_head_kv ? n_head / n_head_kv : 0;
    f.n_expert = arch_u32(g, arch, "expert_count", 0);
    f.n_layer = arch_u32(g, arch, "block_count", 0);
    /* llama.cpp's LLM_TYPE_70B among the architectures tessera runs */
    f.is_70b = strcmp(arch, "llama") == 0 && f.n_layer == 80 && n_head != n_head_kv;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(g); i++) {
        const char *name = tsr_gguf_tensor_at(g, i)->name;
        f.tied_output &= strcmp(name, "output.weight") != 0;
        f.n_attn_v += role_of(name) == ROLE_ATTN_V;
    }
    return f;
}

/* ---- the rules -------------------------------------------------------------- */

/* Where the walk is: how many value projections and ffn matrices came
 * before (llama.cpp's counters). */
typedef struct walk {
    const model_facts *m;
    uint32_t file_type;
    uint32_t i_attn_v, i_ffn_down, i_ffn_gate, i_ffn_up;
} walk;

/* The _M mixes' layers that get more bits: the first and last eighth, and
 * every third layer between. */
static bool more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* The layer of an ffn matrix: the counter, except in a mixture of experts,
 * whose expert tensors are not in layer order: there, the name's block. */
static int ffn_layer(const walk *w, uint32_t counter, const char *name)
{
    int layer = (int)counter;
    if (w->m->n_expert > 1 && sscanf(name, "blk.%d.", &layer) != 1)
        layer = (int)counter;
    return layer;
}

static bool ft_in(uint32_t ft, const uint32_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == ft)
            return true;
    return false;
}
#define FT_IN(ft, ...) \
    ft_in(ft, (const uint32_t[]){__VA_ARGS__}, sizeof((const uint32_t[]){__VA_ARGS__}) / 4)

/* The mixes under 2.5 bits, which share one set of exceptions. */
static bool below_3_bits(uint32_t ft)
{
    return FT_IN(ft, F_IQ2_XXS, F_IQ2_XS, F_IQ1_S, F_IQ2_S, F_IQ2_M, F_IQ1_M);
}

static uint32_t output_head_type(const walk *w, const tsr_gguf_tensor *t, uint32_t type)
{
    uint32_t ft = w->file_type;
    const tsr_ggml_type_info *info = tsr_ggml_type(type);
    if (ft == F_MXFP4_MOE || w->m->falcon || !info || t->dims[0] % info->block_elems)
        return T_Q8_0;
    if (below_3_bits(ft) || ft == F_IQ3_XXS)
        return T_Q5_K;
    return type == T_Q8_0 ? T_Q8_0 : T_Q6_K;
}

static uint32_t below_3_bits_type(walk *w, role r, uint32_t type)
{
    uint32_t ft = w->file_type;
    bool s_or_m = ft == F_IQ2_S || ft == F_IQ2_M;
    if (r == ROLE_ATTN_V) {
        w->i_attn_v++;
        if (w->m->n_gqa >= 4 || w->m->n_expert >= 4)
            return T_Q4_K;
        return s_or_m ? T_IQ3_S : T_Q2_K;
    }
    if (w->m->n_expert == 8 && r == ROLE_ATTN_K)
        return T_Q4_K;
    if (r == ROLE_FFN_DOWN) {
        if (w->i_ffn_down++ < w->m->n_layer / 8)
            return s_or_m ? T_IQ3_S : T_Q2_K;
        return type;
    }
    if (r == ROLE_ATTN_OUTPUT) {
        if (w->m->n_expert == 8)
            return T_Q5_K;
        if (ft == F_IQ1_S || ft == F_IQ1_M)
            return T_IQ2_XXS;
        if (s_or_m)
            return T_IQ3_S;
    }
    return type;
}

static uint32_t attn_v_type(walk *w, uint32_t type)
{
    const model_facts *m = w->m;
    uint32_t ft = w->file_type;
    bool gqa4 = m->n_gqa >= 4;
    if (ft == F_Q2_K)
        type = gqa4 ? T_Q4_K : T_Q3_K;
    else if (ft == F_Q2_K_S && gqa4)
        type = T_Q4_K;
    else if (ft == F_IQ3_XXS)
        type = gqa4 ? T_Q4_K : T_IQ3_S; /* T_IQ3_XXS with an importance matrix */
    else if ((ft == F_IQ3_XS || ft == F_IQ3_S) && gqa4)
        type = T_Q4_K;
    else if (ft == F_IQ3_M)
        type = T_Q4_K;
    else if (ft == F_Q3_K_M)
        type = w->i_attn_v < 2 ? T_Q5_K : T_Q4_K;
    else if (ft == F_Q3_K_L)
        type = T_Q5_K;
    else if ((ft == F_IQ4_NL || ft == F_IQ4_XS) && gqa4)
        type = T_Q5_K;
    else if ((ft == F_Q4_K_M || ft == F_Q5_K_M) && more_bits((int)w->i_attn_v, (int)m->n_attn_v))
        type = T_Q6_K;
    else if (ft == F_Q4_K_S && w->i_attn_v < 4)
        type = T_Q5_K;
    /* a 70B's values are shared by 8 heads: 8 times smaller than its
     * queries, so more bits there cost little */
    if (m->is_70b && (type == T_Q3_K || type == T_Q4_K))
        type = T_Q5_K;
    if (m->n_expert == 8)
        type = T_Q8_0;
    w->i_attn_v++;
    return type;
}

static uint32_t ffn_down_type(walk *w, const char *name, uint32_t type)
{
    const model_facts *m = w->m;
    uint32_t ft = w->file_type;
    int i = ffn_layer(w, w->i_ffn_down++, name), n = (int)m->n_layer;
    if (ft == F_Q2_K)
        return T_Q3_K;
    if (ft == F_Q2_K_S)
        return i < n / 8 ? T_Q4_K : type;
    if (ft == F_IQ3_XXS) /* without an importance matrix */
        return i < n / 8 ? T_Q4_K : T_Q3_K;
    if (ft == F_Q3_K_M)
        return i < n / 16 ? T_Q5_K : !m->falcon || more_bits(i, n) ? T_Q4_K : T_Q3_K;
    if (ft == F_IQ3_M && (i < n / 8 || (m->n_expert == 8 && more_bits(i, n))))
        return T_Q4_K;
    if (ft == F_Q3_K_L)
        return m->falcon ? T_Q4_K : T_Q5_K;
    if (ft == F_Q4_K_M) {
        if (m->falcon)
            return i < n / 16 ? T_Q6_K : more_bits(i, n) ? T_Q5_K : T_Q4_K;
        return more_bits(i, n) ? T_Q6_K : type;
    }
    if (i < n / 8 && (ft == F_IQ4_NL || ft == F_IQ4_XS)) /* without an importance matrix */
        return T_Q5_K;
    if (ft == F_Q5_K_M && more_bits(i, n))
        return T_Q6_K;
    if (ft == F_Q4_K_S && !m->falcon && i < n / 8)
        return T_Q5_K;
    return type;
}

static uint32_t attn_output_type(const walk *w, uint32_t type)
{
    uint32_t ft = w->file_type;
    if (w->m->falcon)
        return ft == F_Q3_K_L ? T_Q4_K : type;
    if (w->m->n_expert == 8)
        return FT_IN(ft, F_Q2_K, F_IQ3_XS, F_IQ3_XXS, F_Q3_K_S, F_Q3_K_M, F_IQ4_NL, F_Q4_K_S,
                     F_Q4_K_M, F_IQ3_S, F_IQ3_M, F_IQ4_XS) ? T_Q5_K : type;
    switch (ft) {
    case F_Q2_K: return T_Q3_K;
    case F_IQ3_XXS: return T_IQ3_S;
    case F_Q3_K_M: return T_Q4_K;
    case F_Q3_K_L: return T_Q5_K;
    case F_IQ3_M: return T_Q4_K;
    default: return type;
    }
}

/* The mix's type for one quantized tensor, before the shape fallback. */
static uint32_t mix_type(walk *w, const tsr_gguf_tensor *t, uint32_t type)
{
    uint32_t ft = w->file_type;
    role r = role_of(t->name);
    if (r == ROLE_OUTPUT || (w->m->tied_output && r == ROLE_TOKEN_EMBD))
        return output_head_type(w, t, type);
    if (ft == F_MXFP4_MOE) /* expert tensors (3-d) in mxfp4, the rest in q8_0 */
        return t->n_dims >= 3 && t->dims[2] > 1 ? T_MXFP4 : T_Q8_0;
    if (r == ROLE_TOKEN_EMBD) {
        if (FT_IN(ft, F_IQ2_XXS, F_IQ2_XS, F_IQ1_S, F_IQ1_M))
            return T_Q2_K;
        if (FT_IN(ft, F_IQ2_S, F_IQ2_M, F_IQ3_XXS))
            return T_IQ3_S;
        return type;
    }
    if (below_3_bits(ft))
        return below_3_bits_type(w, r, type);
    switch (r) {
    case ROLE_ATTN_V:
        return attn_v_type(w, type);
    case ROLE_ATTN_K:
        if (w->m->n_expert == 8)
            return T_Q8_0;
        return ft == F_IQ3_XS ? T_IQ3_XXS : ft == F_IQ3_XXS ? T_IQ2_S : type;
    case ROLE_ATTN_Q:
        return ft == F_IQ3_XS ? T_IQ3_XXS : ft == F_IQ3_XXS ? T_IQ2_S : type;
    case ROLE_FFN_DOWN:
        return ffn_down_type(w, t->name, type);
    case ROLE_ATTN_OUTPUT:
        return attn_output_type(w, type);
    case ROLE_FFN_GATE:
    case ROLE_FFN_UP: {
        uint32_t *counter = r == ROLE_FFN_GATE ? &w->i_ffn_gate : &w->i_ffn_up;
        int i = ffn_layer(w, (*counter)++, t->name), n = (int)w->m->n_layer;
        return ft == F_IQ3_XS && i >= n / 8 && i < 7 * n / 8 ? T_IQ3_XXS : type;
    }
    default:
        return type;
    }
}

/* A row length the type's blocks do not divide: the nearest type of
 * 32-value blocks, and f16 when even those do not fit. */
static uint32_t shape_fallback(const tsr_gguf_tensor *t, uint32_t type)
{
    const tsr_ggml_type_info *info = tsr_ggml_type(type);
    if (!info || t->dims[0] % info->block_elems == 0)
        return type;
    uint32_t next = type;
    switch (type) {
    case T_IQ1_S: case T_IQ1_M: case T_IQ2_XXS: case T_IQ2_XS: case T_IQ2_S:
    case T_IQ3_XXS: case T_IQ3_S: case T_IQ4_XS:
        next = T_IQ4_NL;
        break;
    case T_Q2_K: case T_Q3_K:
        next = T_Q4_0;
        break;
    case T_Q4_K: next = T_Q5_0; break;
    case T_Q5_K: next = T_Q5_1; break;
    case T_Q6_K: next = T_Q8_0; break;
    default: break;
    }
    info = tsr_ggml_type(next);
    return info && t->dims[0] % info->block_elems == 0 ? next : T_F16;
}

static bool type_is_quantized(uint32_t type)
{
    return type != T_F32 && type != T_F16 && type != T_BF16;
}

/* llama.cpp's walk order: tensors outside blocks first, then block by
 * block, by name inside each. */
typedef struct walk_entry {
    int layer;
    const char *name;
    uint64_t index;
} walk_entry;

static int compare_walk(const void *a, const void *b)
{
    const walk_entry *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

tsr_status tsr_quant_mix_types(const tsr_gguf *gguf, const tsr_quant_mix *mix, bool pure,
                               const tsr_quant_keep_rule *rules, uint32_t n_rules,
                               uint32_t *types, uint64_t *matched, tsr_error *err)
{
    uint64_t n = tsr_gguf_tensor_count(gguf);
    walk_entry *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(gguf, i);
        order[i] = (walk_entry){-1, t->name, i};
        sscanf(t->name, "blk.%d.", &order[i].layer);
    }
    qsort(order, n, sizeof *order, compare_walk);
    model_facts facts = facts_of(gguf);
    walk w = {.m = &facts, .file_type = mix->file_type};
    for (uint32_t r = 0; r < n_rules; r++)
        matched[r] = 0;
    for (uint64_t k = 0; k < n; k++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(gguf, order[k].index);
        uint32_t type = t->type;
        if (tsr_quant_mix_quantizes(t)) {
            type = mix->main_type;
            bool kept = false;
            for (uint32_t r = 0; r < n_rules && !kept; r++)
                if (fnmatch(rules[r].pattern, t->name, 0) == 0 ||
                    strcmp(rules[r].pattern, t->name) == 0) {
                    type = rules[r].type;
                    matched[r]++;
                    kept = true;
                }
            /* f16, bf16 and f32 files have no exceptions, as in llama.cpp */
            if (!kept && !pure && type_is_quantized(mix->main_type))
                type = mix_type(&w, t, type);
            type = shape_fallback(t, type);
        }
        types[order[k].index] = type;
    }
    free(order);
    return TSR_OK;
}
