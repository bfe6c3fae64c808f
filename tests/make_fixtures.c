/* Writes sparse GGUF files of real model shapes for the planner's tests and
 * examples: complete headers (every llama.* hyperparameter with its real
 * value, a tokenizer vocabulary of the real size) and every tensor of the
 * real architecture with its real shape and a quantization mix like
 * llama.cpp's, but the tensor data a hole: each file is its real size
 * (tens of GB) on paper and 1-3 MB on disk, and plans from headers in
 * milliseconds. Nothing here can run: the weights read as zeros.
 *
 * Usage:
 *   make_fixtures OUTDIR                  the default set below
 *   make_fixtures OUTDIR MODEL:MIX ...    OUTDIR/MODEL-MIX.gguf for each
 *   make_fixtures --list                  the models and mixes known
 *
 * The default set (what the planner's examples use):
 *   llama-3.1-70b-iq3_xxs.gguf       70.6B, ~3.1 bits per weight, 27.5 GB: the main model of
 *                                    the two-24-GB-GPU scenario in DESIGN.md
 *   llama-3.1-70b-iq3_xxs-copy.gguf  the same bytes under another name (draft-is-main by
 *                                    content)
 *   llama-3.1-70b-q4_k_m.gguf        the same model at ~4.9 bits per weight
 *   llama-3.1-8b-q4_k_m.gguf         8.0B
 *   llama-3.1-8b-f16.gguf
 *   llama-3.2-1b-q8_0.gguf           1.2B, the same vocabulary as 3.1: the right draft
 *   llama-3.2-1b-f16.gguf
 *   llama-2-7b-q4_k_m.gguf           6.7B, a 32000-token vocabulary: a draft that does not fit
 *
 * Vocabularies: the same deterministic token strings for every model of a
 * family (Llama 3: 128000 byte-level BPE tokens and 256 special ones with
 * their real names; Llama 2: SentencePiece with byte tokens and scores).
 * Token types are complete; merges are 256 where the real files carry
 * about 280000 (the planner does not read them). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_writer.h"

enum {
    TYPE_F32 = 0, TYPE_F16 = 1, TYPE_Q8_0 = 8, TYPE_Q3_K = 11, TYPE_Q4_K = 12, TYPE_Q5_K = 13,
    TYPE_Q6_K = 14, TYPE_IQ3_XXS = 18, TYPE_IQ3_S = 21, TYPE_IQ2_S = 22,
};

typedef enum family { LLAMA_2, LLAMA_3 } family;

typedef struct model_spec {
    const char *id;
    const char *name;
    const char *size_label;
    family family;
    uint32_t n_layers, n_embd, n_ff, n_head, n_head_kv, n_ctx, n_vocab;
    float rope_freq_base;
    float rms_eps;
    bool tied_embeddings; /* no output.weight: the output reuses token_embd */
    bool rope_freqs;      /* Llama 3.1's rope scaling factors, as a tensor */
    bool is_70b;          /* llama.cpp gives a 70B's attn_v more bits */
} model_spec;

static const model_spec models[] = {
    {"llama-3.1-70b", "Meta Llama 3.1 70B Instruct", "70B", LLAMA_3, 80, 8192, 28672, 64, 8,
     131072, 128256, 500000.0f, 1e-5f, false, true, true},
    {"llama-3.1-8b", "Meta Llama 3.1 8B Instruct", "8B", LLAMA_3, 32, 4096, 14336, 32, 8, 131072,
     128256, 500000.0f, 1e-5f, false, true, false},
    {"llama-3.2-1b", "Llama 3.2 1B Instruct", "1B", LLAMA_3, 16, 2048, 8192, 32, 8, 131072, 128256,
     500000.0f, 1e-5f, true, true, false},
    {"llama-2-7b", "LLaMA v2", "7B", LLAMA_2, 32, 4096, 11008, 32, 32, 4096, 32000, 10000.0f,
     1e-5f, false, false, false},
};

typedef enum mix { MIX_F16, MIX_Q8_0, MIX_Q4_K_M, MIX_IQ3_XXS } mix;
static const struct {
    const char *name;
    uint32_t file_type; /* general.file_type: llama.cpp's llama_ftype */
} mixes[] = {{"f16", 1}, {"q8_0", 7}, {"q4_k_m", 15}, {"iq3_xxs", 23}};

typedef enum role {
    ROLE_TOKEN_EMBD, ROLE_OUTPUT, ROLE_Q, ROLE_K, ROLE_V, ROLE_O, ROLE_GATE, ROLE_UP, ROLE_DOWN,
} role;

/* llama.cpp's "more bits" layers: the first and last eighth and every third
 * in between. */
static bool more_bits(uint32_t layer, uint32_t n_layers)
{
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 ||
           (layer >= n_layers / 8 && (layer - n_layers / 8) % 3 == 2);
}

/* The type of a weight matrix, roughly as llama.cpp's quantizer picks it
 * (IQ3_XXS as made with an importance matrix). Norms are always f32. */
static uint32_t weight_type(mix m, const model_spec *spec, role r, uint32_t layer)
{
    if (r == ROLE_TOKEN_EMBD && spec->tied_embeddings)
        r = ROLE_OUTPUT;
    switch (m) {
    case MIX_F16: return TYPE_F16;
    case MIX_Q8_0: return TYPE_Q8_0;
    case MIX_Q4_K_M:
        if (r == ROLE_OUTPUT)
            return TYPE_Q6_K;
        if (r == ROLE_V && more_bits(layer, spec->n_layers))
            return TYPE_Q6_K;
        if (r == ROLE_V && spec->is_70b)
            return TYPE_Q5_K;
        if (r == ROLE_DOWN && more_bits(layer, spec->n_layers))
            return TYPE_Q6_K;
        return TYPE_Q4_K;
    case MIX_IQ3_XXS:
        switch (r) {
        case ROLE_OUTPUT: return TYPE_Q5_K;
        case ROLE_TOKEN_EMBD: return TYPE_IQ3_S;
        case ROLE_V:
            if (spec->n_head / spec->n_head_kv < 4)
                return TYPE_IQ3_XXS;
            return spec->is_70b ? TYPE_Q5_K : TYPE_Q4_K;
        case ROLE_Q:
        case ROLE_K: return TYPE_IQ2_S;
        case ROLE_O: return TYPE_IQ3_S;
        default: return TYPE_IQ3_XXS;
        }
    }
    return TYPE_F16;
}

/* ---- vocabularies ---------------------------------------------------------- */

/* Appends the UTF-8 of code point c. */
static char *put_utf8(char *p, unsigned c)
{
    if (c < 0x80) {
        *p++ = (char)c;
    } else if (c < 0x800) {
        *p++ = (char)(0xc0 | c >> 6);
        *p++ = (char)(0x80 | (c & 0x3f));
    } else {
        *p++ = (char)(0xe0 | c >> 12);
        *p++ = (char)(0x80 | (c >> 6 & 0x3f));
        *p++ = (char)(0x80 | (c & 0x3f));
    }
    return p;
}

/* A word made of syllables, one per base-64 digit of n: distinct n, distinct words. */
static char *put_word(char *p, uint32_t n)
{
    static const char consonants[] = "bcdfghklmnprstvw", vowels[] = "aeio";
    char digits[8];
    int k = 0;
    do {
        digits[k++] = (char)(n % 64);
        n /= 64;
    } while (n);
    while (k--) {
        *p++ = consonants[digits[k] / 4];
        *p++ = vowels[digits[k] % 4];
    }
    return p;
}

/* GPT-2's byte-level alphabet: printable bytes stand for themselves, the
 * others for U+0100 onwards. */
static unsigned byte_char(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
        return b;
    unsigned k = 0;
    for (unsigned x = 0; x < b; x++)
        k += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
    return 256 + k;
}

typedef struct vocab {
    char **tokens;
    int32_t *types; /* 1 normal, 2 unknown, 3 control, 6 byte */
    float *scores;  /* Llama 2 only */
    uint32_t n;
} vocab;

static void make_vocab(const model_spec *spec, vocab *v)
{
    static const char *const llama3_specials[] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
    };
    v->n = spec->n_vocab;
    v->tokens = calloc(v->n, sizeof *v->tokens);
    v->types = calloc(v->n, sizeof *v->types);
    v->scores = calloc(v->n, sizeof *v->scores);
    if (!v->tokens || !v->types || !v->scores) {
        fprintf(stderr, "make_fixtures: out of memory\n");
        exit(1);
    }
    for (uint32_t i = 0; i < v->n; i++) {
        char text[64], *p = text;
        int32_t type = 1;
        if (spec->family == LLAMA_3) {
            if (i < 256) {
                p = put_utf8(p, byte_char(i));
            } else if (i < 128000) {
                if (i % 2)
                    p = put_utf8(p, 0x120); /* 'Ġ', a leading space */
                p = put_word(p, (i - 256) / 2);
            } else {
                uint32_t k = i - 128000;
                p += k < 11 ? sprintf(p, "%s", llama3_specials[k])
                            : sprintf(p, "<|reserved_special_token_%" PRIu32 "|>", k - 8);
                type = 3;
            }
        } else {
            if (i < 3) {
                p += sprintf(p, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
                type = i == 0 ? 2 : 3;
            } else if (i < 259) {
                p += sprintf(p, "<0x%02X>", i - 3);
                type = 6;
            } else {
                if (i % 2)
                    p = put_utf8(p, 0x2581); /* '▁', a leading space */
                p = put_word(p, (i - 259) / 2);
                v->scores[i] = -(float)(i - 259);
            }
        }
        *p = '\0';
        v->tokens[i] = strdup(text);
        v->types[i] = type;
    }
}

static void free_vocab(vocab *v)
{
    for (uint32_t i = 0; i < v->n; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->types);
    free(v->scores);
}

static void add_tokenizer(gguf_writer *w, const model_spec *spec, const vocab *v)
{
    if (spec->family == LLAMA_3) {
        gguf_writer_kv_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_writer_kv_str(w, "tokenizer.ggml.pre", "llama-bpe");
    } else {
        gguf_writer_kv_str(w, "tokenizer.ggml.model", "llama");
        gguf_writer_kv_str(w, "tokenizer.ggml.pre", "default");
    }
    gguf_writer_kv_str_array(w, "tokenizer.ggml.tokens", v->n, (const char *const *)v->tokens);
    if (spec->family == LLAMA_2)
        gguf_writer_kv_array(w, "tokenizer.ggml.scores", TSR_GGUF_FLOAT32, v->n, v->scores);
    gguf_writer_kv_array(w, "tokenizer.ggml.token_type", TSR_GGUF_INT32, v->n, v->types);
    if (spec->family == LLAMA_3) {
        enum { N_MERGES = 256 };
        char *merges[N_MERGES];
        for (uint32_t i = 0; i < N_MERGES; i++) {
            char text[32], *p = put_word(text, i / 16);
            *p++ = ' ';
            p = put_word(p, i % 16);
            *p = '\0';
            merges[i] = strdup(text);
        }
        gguf_writer_kv_str_array(w, "tokenizer.ggml.merges", N_MERGES, (const char *const *)merges);
        for (uint32_t i = 0; i < N_MERGES; i++)
            free(merges[i]);
        gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", 128000);
        gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", 128009);
        gguf_writer_kv_str(w, "tokenizer.chat_template",
                           "{{ bos_token }}{% for message in messages %}<|start_header_id|>"
                           "{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] }}"
                           "<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
                           "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}");
    } else {
        gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", 1);
        gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", 2);
        gguf_writer_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
        gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", true);
        gguf_writer_kv_bool(w, "tokenizer.ggml.add_eos_token", false);
    }
}

/* ---- one file ---------------------------------------------------------------- */

static void add_matrix(gguf_writer *w, const char *name, uint32_t type, uint64_t cols,
                       uint64_t rows)
{
    gguf_writer_tensor(w, name, type, 2, (uint64_t[]){cols, rows}, NULL);
}

static int write_model(const char *path, const model_spec *spec, mix m, const vocab *v)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_kv_str(w, "general.type", "model");
    gguf_writer_kv_str(w, "general.name", spec->name);
    gguf_writer_kv_str(w, "general.size_label", spec->size_label);
    gguf_writer_kv_u32(w, "llama.block_count", spec->n_layers);
    gguf_writer_kv_u32(w, "llama.context_length", spec->n_ctx);
    gguf_writer_kv_u32(w, "llama.embedding_length", spec->n_embd);
    gguf_writer_kv_u32(w, "llama.feed_forward_length", spec->n_ff);
    gguf_writer_kv_u32(w, "llama.attention.head_count", spec->n_head);
    gguf_writer_kv_u32(w, "llama.attention.head_count_kv", spec->n_head_kv);
    gguf_writer_kv_f32(w, "llama.rope.freq_base", spec->rope_freq_base);
    gguf_writer_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", spec->rms_eps);
    gguf_writer_kv_u32(w, "general.file_type", mixes[m].file_type);
    gguf_writer_kv_u32(w, "llama.vocab_size", spec->n_vocab);
    gguf_writer_kv_u32(w, "llama.rope.dimension_count", spec->n_embd / spec->n_head);
    add_tokenizer(w, spec, v);
    gguf_writer_kv_u32(w, "general.quantization_version", 2);

    uint64_t head_dim = spec->n_embd / spec->n_head, kv_dim = head_dim * spec->n_head_kv;
    if (spec->rope_freqs)
        gguf_writer_tensor(w, "rope_freqs.weight", TYPE_F32, 1, (uint64_t[]){head_dim / 2}, NULL);
    add_matrix(w, "token_embd.weight", weight_type(m, spec, ROLE_TOKEN_EMBD, 0), spec->n_embd,
               spec->n_vocab);
    for (uint32_t l = 0; l < spec->n_layers; l++) {
        char name[64];
#define LAYER(suffix) (snprintf(name, sizeof name, "blk.%" PRIu32 ".%s", l, suffix), name)
        gguf_writer_tensor(w, LAYER("attn_norm.weight"), TYPE_F32, 1, (uint64_t[]){spec->n_embd}, NULL);
        add_matrix(w, LAYER("attn_q.weight"), weight_type(m, spec, ROLE_Q, l), spec->n_embd, spec->n_embd);
        add_matrix(w, LAYER("attn_k.weight"), weight_type(m, spec, ROLE_K, l), spec->n_embd, kv_dim);
        add_matrix(w, LAYER("attn_v.weight"), weight_type(m, spec, ROLE_V, l), spec->n_embd, kv_dim);
        add_matrix(w, LAYER("attn_output.weight"), weight_type(m, spec, ROLE_O, l), spec->n_embd,
                   spec->n_embd);
        gguf_writer_tensor(w, LAYER("ffn_norm.weight"), TYPE_F32, 1, (uint64_t[]){spec->n_embd}, NULL);
        add_matrix(w, LAYER("ffn_gate.weight"), weight_type(m, spec, ROLE_GATE, l), spec->n_embd,
                   spec->n_ff);
        add_matrix(w, LAYER("ffn_up.weight"), weight_type(m, spec, ROLE_UP, l), spec->n_embd,
                   spec->n_ff);
        add_matrix(w, LAYER("ffn_down.weight"), weight_type(m, spec, ROLE_DOWN, l), spec->n_ff,
                   spec->n_embd);
#undef LAYER
    }
    gguf_writer_tensor(w, "output_norm.weight", TYPE_F32, 1, (uint64_t[]){spec->n_embd}, NULL);
    if (!spec->tied_embeddings)
        add_matrix(w, "output.weight", weight_type(m, spec, ROLE_OUTPUT, 0), spec->n_embd,
                   spec->n_vocab);
    int rc = gguf_writer_write_file(w, path, true);
    if (rc != 0)
        fprintf(stderr, "make_fixtures: cannot write %s: %s\n", path, strerror(errno));
    gguf_writer_free(w);
    return rc;
}

static const model_spec *find_model(const char *id, size_t len)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strlen(models[i].id) == len && strncmp(models[i].id, id, len) == 0)
            return &models[i];
    return NULL;
}

static int find_mix(const char *name)
{
    for (int i = 0; i < (int)(sizeof mixes / sizeof mixes[0]); i++)
        if (strcmp(mixes[i].name, name) == 0)
            return i;
    return -1;
}

/* Writes OUTDIR/MODEL-MIX.gguf for "MODEL:MIX"; the vocabulary is made once
 * per family. */
static int write_one(const char *out_dir, const char *what, vocab vocabs[2])
{
    const char *colon = strchr(what, ':');
    const model_spec *spec = colon ? find_model(what, (size_t)(colon - what)) : NULL;
    int m = colon ? find_mix(colon + 1) : -1;
    if (!spec || m < 0) {
        fprintf(stderr, "make_fixtures: %s is not MODEL:MIX (see --list)\n", what);
        return 2;
    }
    vocab *v = &vocabs[spec->family];
    if (!v->tokens)
        make_vocab(spec, v);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%s.gguf", out_dir, spec->id, mixes[m].name);
    return write_model(path, spec, (mix)m, v) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
            printf("model %s\n", models[i].id);
        for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
            printf("mix %s\n", mixes[i].name);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s OUTDIR [MODEL:MIX...] | --list\n", argv[0]);
        return 2;
    }
    static const char *const default_set[] = {
        "llama-3.1-70b:iq3_xxs", "llama-3.1-70b:q4_k_m", "llama-3.1-8b:q4_k_m",
        "llama-3.1-8b:f16", "llama-3.2-1b:q8_0", "llama-3.2-1b:f16", "llama-2-7b:q4_k_m",
    };
    vocab vocabs[2] = {{0}};
    int rc = 0;
    if (argc > 2) {
        for (int i = 2; i < argc && rc == 0; i++)
            rc = write_one(argv[1], argv[i], vocabs);
    } else {
        for (size_t i = 0; i < sizeof default_set / sizeof default_set[0] && rc == 0; i++)
            rc = write_one(argv[1], default_set[i], vocabs);
        /* The main model again under another name, byte for byte. */
        const model_spec *spec = find_model("llama-3.1-70b", 13);
        char path[4096];
        snprintf(path, sizeof path, "%s/llama-3.1-70b-iq3_xxs-copy.gguf", argv[1]);
        if (rc == 0)
            rc = write_model(path, spec, MIX_IQ3_XXS, &vocabs[LLAMA_3]) == 0 ? 0 : 1;
    }
    for (int f = 0; f < 2; f++)
        if (vocabs[f].tokens)
            free_vocab(&vocabs[f]);
    return rc;
}
