/* Reads a tokenizer from a GGUF file's tokenizer.* metadata. Strings point
 * into the file's mapping while the tokenizer copies them; numeric arrays
 * are copied out first (GGUF does not align them). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

typedef struct gguf_strings {
    const char **data;
    size_t *lens;
    size_t n;
} gguf_strings;

static tsr_status read_strings(const tsr_gguf *gguf, const char *key, bool required,
                               gguf_strings *out, tsr_error *err)
{
    const char *path = tsr_gguf_path(gguf);
    tsr_gguf_array array;
    if (!tsr_gguf_find_array(gguf, key, &array)) {
        int64_t index = tsr_gguf_find_key(gguf, key);
        if (index >= 0)
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is a %s; expected an array of "
                                 "strings", path, key,
                                 tsr_gguf_type_name(tsr_gguf_key_type(gguf, index)));
        if (required)
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is missing; the file carries no "
                                 "usable tokenizer", path, key);
        return TSR_OK;
    }
    if (array.elem_type != TSR_GGUF_STRING)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is an array of %s; expected strings",
                             path, key, tsr_gguf_type_name(array.elem_type));
    if (array.count > SIZE_MAX / sizeof(char *) - 1)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s has %llu entries", path, key,
                             (unsigned long long)array.count);
    out->data = malloc((size_t)array.count * sizeof *out->data + 1);
    out->lens = malloc((size_t)array.count * sizeof *out->lens + 1);
    if (!out->data || !out->lens)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading %s of %s", key, path);
    for (uint64_t i = 0; i < array.count; i++) {
        tsr_gguf_str s;
        if (!tsr_gguf_array_elem_str(&array, i, &s))
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s[%llu] cannot be read", path, key,
                                 (unsigned long long)i);
        out->data[i] = s.data;
        out->lens[i] = (size_t)s.len;
    }
    out->n = (size_t)array.count;
    return TSR_OK;
}

/* Copies a numeric array of at least n_tokens int32 or float32 elements
 * (float32 wanted: int32 converts). */
static tsr_status read_numbers(const tsr_gguf *gguf, const char *key, size_t n_tokens,
                               bool as_float, void **out, tsr_error *err)
{
    const char *path = tsr_gguf_path(gguf);
    tsr_gguf_array array;
    if (!tsr_gguf_find_array(gguf, key, &array)) {
        int64_t index = tsr_gguf_find_key(gguf, key);
        return index >= 0 ? tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is a %s; expected an "
                                          "array", path, key,
                                          tsr_gguf_type_name(tsr_gguf_key_type(gguf, index)))
                          : TSR_OK;
    }
    bool ok_type = array.elem_type == TSR_GGUF_INT32 ||
                   (as_float && array.elem_type == TSR_GGUF_FLOAT32);
    if (!ok_type)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is an array of %s; expected %s", path,
                             key, tsr_gguf_type_name(array.elem_type),
                             as_float ? "float32 or int32" : "int32");
    if (array.count < n_tokens)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s has %llu entries for %zu tokens", path,
                             key, (unsigned long long)array.count, n_tokens);
    void *copy = malloc(n_tokens * 4 + 4);
    if (!copy)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading %s of %s", key, path);
    for (size_t i = 0; i < n_tokens; i++) {
        int32_t v;
        memcpy(&v, (const char *)array.data + 4 * i, 4);
        if (as_float && array.elem_type == TSR_GGUF_INT32) {
            float f = (float)v;
            memcpy((char *)copy + 4 * i, &f, 4);
        } else {
            memcpy((char *)copy + 4 * i, &v, 4);
        }
    }
    *out = copy;
    return TSR_OK;
}

static tsr_status read_id(const tsr_gguf *gguf, const char *key, int32_t *id, tsr_error *err)
{
    uint32_t value;
    if (tsr_gguf_get_u32(gguf, key, &value)) {
        if (value > INT32_MAX)
            return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is %u, not a token id",
                                 tsr_gguf_path(gguf), key, value);
        *id = (int32_t)value;
    } else if (tsr_gguf_find_key(gguf, key) >= 0) {
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is not an unsigned integer",
                             tsr_gguf_path(gguf), key);
    }
    return TSR_OK;
}

static tsr_status read_flag(const tsr_gguf *gguf, const char *key, int *flag, tsr_error *err)
{
    bool value;
    if (tsr_gguf_get_bool(gguf, key, &value))
        *flag = value;
    else if (tsr_gguf_find_key(gguf, key) >= 0)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s is not a bool", tsr_gguf_path(gguf),
                             key);
    return TSR_OK;
}

/* A metadata string copied NUL-terminated into buf, or NULL when absent. */
static const char *read_short_string(const tsr_gguf *gguf, const char *key, char *buf,
                                     size_t buf_bytes)
{
    tsr_gguf_str s;
    if (!tsr_gguf_get_str(gguf, key, &s))
        return NULL;
    size_t n = s.len < buf_bytes - 1 ? (size_t)s.len : buf_bytes - 1;
    memcpy(buf, s.data, n);
    buf[n] = '\0';
    return buf;
}

tsr_status tsr_tokenizer_open(const tsr_gguf *gguf, tsr_tokenizer **out, tsr_error *err)
{
    *out = NULL;
    const char *path = tsr_gguf_path(gguf);
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.source = path;
    char model[64], pre[64];
    spec.model = read_short_string(gguf, "tokenizer.ggml.model", model, sizeof model);
    if (!spec.model)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.model is missing or not a "
                             "string; the file carries no tokenizer", path);
    spec.pre = read_short_string(gguf, "tokenizer.ggml.pre", pre, sizeof pre);

    gguf_strings tokens = {0}, merges = {0};
    float *scores = NULL;
    int32_t *types = NULL;
    tsr_status st;
    if ((st = read_strings(gguf, "tokenizer.ggml.tokens", true, &tokens, err)) != TSR_OK ||
        (st = read_strings(gguf, "tokenizer.ggml.merges", strcmp(model, "gpt2") == 0, &merges,
                           err)) != TSR_OK ||
        (st = read_numbers(gguf, "tokenizer.ggml.scores", tokens.n, true, (void **)&scores,
                           err)) != TSR_OK ||
        (st = read_numbers(gguf, "tokenizer.ggml.token_type", tokens.n, false, (void **)&types,
                           err)) != TSR_OK)
        goto done;
    spec.n_tokens = tokens.n;
    spec.tokens = tokens.data;
    spec.token_lens = tokens.lens;
    spec.n_merges = merges.n;
    spec.merges = merges.data;
    spec.merge_lens = merges.lens;
    spec.scores = scores;
    spec.token_types = types;

    const struct { const char *key; int32_t *id; } ids[] = {
        {"tokenizer.ggml.bos_token_id", &spec.bos},
        {"tokenizer.ggml.eos_token_id", &spec.eos},
        {"tokenizer.ggml.eot_token_id", &spec.eot},
        {"tokenizer.ggml.eom_token_id", &spec.eom},
        {"tokenizer.ggml.unknown_token_id", &spec.unk},
        {"tokenizer.ggml.padding_token_id", &spec.pad},
        {"tokenizer.ggml.fim_pad_token_id", &spec.fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &spec.fim_rep},
        {"tokenizer.ggml.fim_sep_token_id", &spec.fim_sep},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if ((st = read_id(gguf, ids[i].key, ids[i].id, err)) != TSR_OK)
            goto done;
    if ((st = read_flag(gguf, "tokenizer.ggml.add_bos_token", &spec.add_bos, err)) != TSR_OK ||
        (st = read_flag(gguf, "tokenizer.ggml.add_eos_token", &spec.add_eos, err)) != TSR_OK ||
        (st = read_flag(gguf, "tokenizer.ggml.add_space_prefix", &spec.add_space_prefix, err)) !=
            TSR_OK)
        goto done;
    tsr_gguf_str chat;
    if (tsr_gguf_get_str(gguf, "tokenizer.chat_template", &chat)) {
        spec.chat_template = chat.data;
        spec.chat_template_len = (size_t)chat.len;
    }
    st = tsr_tokenizer_open_spec(&spec, out, err);
done:
    free(tokens.data);
    free(tokens.lens);
    free(merges.data);
    free(merges.lens);
    free(scores);
    free(types);
    return st;
}
