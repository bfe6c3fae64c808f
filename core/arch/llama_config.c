/* The Llama family's hyperparameters, as GGUF's {arch}.* keys give them. */
#include <stdio.h>
#include <string.h>

#include "llama_arch.h"

/* Architectures whose GGUF tensors and keys follow the Llama layout. */
static const char *const llama_like[] = {"llama", "mistral"};

static bool get_arch_u32(const tsr_gguf *gguf, const char *arch, const char *key, uint32_t *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    return tsr_gguf_get_u32(gguf, full, out);
}

static bool get_arch_f32(const tsr_gguf *gguf, const char *arch, const char *key, float *out)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    return tsr_gguf_get_f32(gguf, full, out);
}

tsr_status tsr_llama_config_read(const tsr_gguf *gguf, tsr_llama_config *c, tsr_error *err)
{
    const char *path = tsr_gguf_path(gguf);
    memset(c, 0, sizeof *c);
    tsr_gguf_str arch;
    if (!tsr_gguf_get_str(gguf, "general.architecture", &arch))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: no general.architecture key", path);
    if (arch.len == 0 || arch.len >= sizeof c->arch)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: general.architecture is %llu bytes long",
                             path, (unsigned long long)arch.len);
    memcpy(c->arch, arch.data, arch.len);
    bool known = false;
    for (size_t i = 0; i < sizeof llama_like / sizeof llama_like[0]; i++)
        known = known || strcmp(c->arch, llama_like[i]) == 0;
    if (!known)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                             "%s: architecture '%s' is not supported (tessera runs the Llama "
                             "family: llama, mistral)",
                             path, c->arch);

    struct {
        const char *key;
        uint32_t *out;
    } required[] = {
        {"embedding_length", &c->n_embd},
        {"block_count", &c->n_layer},
        {"attention.head_count", &c->n_head},
        {"feed_forward_length", &c->n_ff},
        {"context_length", &c->n_ctx_train},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!get_arch_u32(gguf, c->arch, required[i].key, required[i].out) ||
            *required[i].out == 0)
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s.%s is missing or zero", path,
                                 c->arch, required[i].key);
    if (!get_arch_u32(gguf, c->arch, "attention.head_count_kv", &c->n_head_kv))
        c->n_head_kv = c->n_head;
    if (!get_arch_u32(gguf, c->arch, "attention.key_length", &c->head_dim))
        c->head_dim = c->n_embd / c->n_head;
    if (!get_arch_f32(gguf, c->arch, "attention.layer_norm_rms_epsilon", &c->rms_eps))
        c->rms_eps = 1e-5f;

    /* The vocabulary: vocab_size, else the tokenizer's token count. */
    if (!get_arch_u32(gguf, c->arch, "vocab_size", &c->n_vocab)) {
        tsr_gguf_type elem;
        uint64_t count = 0;
        const void *data;
        if (tsr_gguf_get_array(gguf, "tokenizer.ggml.tokens", &elem, &count, &data) &&
            count <= UINT32_MAX)
            c->n_vocab = (uint32_t)count;
    }
    const char *embd_name = tsr_llama_tensor_info(TSR_LLAMA_TOKEN_EMBD)->name;
    const tsr_gguf_tensor *embd = tsr_gguf_find_tensor(gguf, embd_name);
    if (!embd)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: no tensor %s", path, embd_name);
    if (c->n_vocab == 0)
        c->n_vocab = (uint32_t)embd->dims[1];

    if (c->n_head_kv == 0 || c->n_head % c->n_head_kv != 0)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: %u attention heads cannot be shared by %u KV heads", path,
                             c->n_head, c->n_head_kv);
    if (c->head_dim == 0 || c->head_dim % 2 != 0 || c->head_dim > 1024)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: head size %u is not usable", path,
                             c->head_dim);
    if (c->n_layer > 4096 || c->n_embd > (1u << 20) || c->n_ff > (1u << 22) ||
        c->n_vocab > (1u << 24) || c->n_head > 4096)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: implausible shape (%u layers, %u embedding, %u feed-forward, "
                             "%u tokens, %u heads)",
                             path, c->n_layer, c->n_embd, c->n_ff, c->n_vocab, c->n_head);

    c->rope.mode = TSR_ROPE_NORM;
    uint32_t n_rot;
    c->rope.n_rot = get_arch_u32(gguf, c->arch, "rope.dimension_count", &n_rot)
                        ? (int32_t)n_rot
                        : (int32_t)c->head_dim;
    if (c->rope.n_rot <= 0 || c->rope.n_rot % 2 || (uint32_t)c->rope.n_rot > c->head_dim)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: rope.dimension_count %d does not fit "
                             "head size %u", path, c->rope.n_rot, c->head_dim);
    if (!get_arch_f32(gguf, c->arch, "rope.freq_base", &c->rope.freq_base))
        c->rope.freq_base = 10000.0f;
    c->rope.freq_scale = 1.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", c->arch);
    tsr_gguf_str scaling;
    if (tsr_gguf_get_str(gguf, key, &scaling) && scaling.len > 0 &&
        !(scaling.len == 4 && memcmp(scaling.data, "none", 4) == 0)) {
        float factor = 1.0f;
        if (scaling.len == 6 && memcmp(scaling.data, "linear", 6) == 0) {
            if (get_arch_f32(gguf, c->arch, "rope.scaling.factor", &factor) && factor > 0)
                c->rope.freq_scale = 1.0f / factor;
        } else if (!(scaling.len == 6 && memcmp(scaling.data, "llama3", 6) == 0)) {
            return tsr_error_set(err, TSR_ERR_UNSUPPORTED,
                                 "%s: RoPE scaling '%.*s' is not supported (none, linear, "
                                 "llama3 are)",
                                 path, (int)scaling.len, scaling.data);
        }
    }
    c->tied_output =
        tsr_gguf_find_tensor(gguf, tsr_llama_tensor_info(TSR_LLAMA_OUTPUT)->name) == NULL;
    return TSR_OK;
}
