/* Reading values out of an open GGUF handle: metadata by key or index,
 * arrays (nested ones too) and tensors by name. Everything here only reads
 * what core/gguf/gguf.c checked while parsing. */
#include <string.h>

#include "gguf_private.h"

/* Index of the entry named (data, len), or -1. */
int64_t gguf_table_find(const tsr_gguf *g, const name_table *table, gguf_text_of text,
                        const char *data, uint64_t len)
{
    if (!table->slots)
        return -1;
    for (uint64_t i = gguf_hash(data, len) & table->mask; table->slots[i];
         i = (i + 1) & table->mask) {
        uint64_t index = table->slots[i] - 1;
        tsr_gguf_str s = text(g, index);
        if (s.len == len && memcmp(s.data, data, len) == 0)
            return (int64_t)index;
    }
    return -1;
}

const char *tsr_gguf_path(const tsr_gguf *g) { return g->path; }
uint32_t tsr_gguf_version(const tsr_gguf *g) { return g->version; }
uint64_t tsr_gguf_file_size(const tsr_gguf *g) { return g->file_size; }
uint32_t tsr_gguf_alignment(const tsr_gguf *g) { return g->alignment; }
uint64_t tsr_gguf_data_offset(const tsr_gguf *g) { return g->data_offset; }
int64_t tsr_gguf_key_count(const tsr_gguf *g) { return (int64_t)g->n_kvs; }

const char *tsr_gguf_type_name(tsr_gguf_type type)
{
    static const char *const names[GGUF_N_VALUE_TYPES] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64",
    };
    return (unsigned)type < GGUF_N_VALUE_TYPES ? names[type] : "unknown";
}

int64_t tsr_gguf_find_key(const tsr_gguf *g, const char *key)
{
    return key ? gguf_table_find(g, &g->keys, gguf_key_text, key, strlen(key)) : -1;
}

static bool key_in_range(const tsr_gguf *g, int64_t index)
{
    return index >= 0 && (uint64_t)index < g->n_kvs;
}

tsr_gguf_str tsr_gguf_key_name(const tsr_gguf *g, int64_t index)
{
    return key_in_range(g, index) ? gguf_key_text(g, (uint64_t)index) : (tsr_gguf_str){NULL, 0};
}

tsr_gguf_type tsr_gguf_key_type(const tsr_gguf *g, int64_t index)
{
    return key_in_range(g, index) ? g->kvs[index].type : (tsr_gguf_type)GGUF_N_VALUE_TYPES;
}

uint64_t tsr_gguf_key_offset(const tsr_gguf *g, int64_t index)
{
    return key_in_range(g, index) ? g->kvs[index].at : 0;
}

bool tsr_gguf_key_bytes(const tsr_gguf *g, int64_t index, const void **data, uint64_t *n_bytes)
{
    if (!key_in_range(g, index))
        return false;
    *data = g->bytes + g->kvs[index].at;
    *n_bytes = g->kvs[index].end - g->kvs[index].at;
    return true;
}

static const kv_entry *find_kv(const tsr_gguf *g, const char *key)
{
    int64_t index = tsr_gguf_find_key(g, key);
    return index < 0 ? NULL : &g->kvs[index];
}

/* A numeric value widened: exactly one of the three is meaningful. */
typedef struct number {
    enum { NUMBER_UNSIGNED, NUMBER_SIGNED, NUMBER_FLOAT } kind;
    uint64_t u;
    int64_t i;
    double f;
} number;

static bool read_number(const tsr_gguf *g, const kv_entry *kv, number *n)
{
    if (!kv)
        return false;
    const uint8_t *b = g->bytes + kv->value_at;
    float f32;
    double f64;
    uint64_t u64;
    switch (kv->type) {
    case TSR_GGUF_UINT8: *n = (number){NUMBER_UNSIGNED, .u = b[0]}; return true;
    case TSR_GGUF_UINT16: *n = (number){NUMBER_UNSIGNED, .u = (uint16_t)(b[0] | b[1] << 8)}; return true;
    case TSR_GGUF_UINT32: *n = (number){NUMBER_UNSIGNED, .u = gguf_le_u32(b)}; return true;
    case TSR_GGUF_UINT64: *n = (number){NUMBER_UNSIGNED, .u = gguf_le_u64(b)}; return true;
    case TSR_GGUF_INT8: *n = (number){NUMBER_SIGNED, .i = (int8_t)b[0]}; return true;
    case TSR_GGUF_INT16: *n = (number){NUMBER_SIGNED, .i = (int16_t)(uint16_t)(b[0] | b[1] << 8)}; return true;
    case TSR_GGUF_INT32: *n = (number){NUMBER_SIGNED, .i = (int32_t)gguf_le_u32(b)}; return true;
    case TSR_GGUF_INT64: *n = (number){NUMBER_SIGNED, .i = (int64_t)gguf_le_u64(b)}; return true;
    case TSR_GGUF_FLOAT32: {
        uint32_t bits = gguf_le_u32(b);
        memcpy(&f32, &bits, 4);
        *n = (number){NUMBER_FLOAT, .f = f32};
        return true;
    }
    case TSR_GGUF_FLOAT64:
        u64 = gguf_le_u64(b);
        memcpy(&f64, &u64, 8);
        *n = (number){NUMBER_FLOAT, .f = f64};
        return true;
    default: return false;
    }
}

bool tsr_gguf_get_u64(const tsr_gguf *g, const char *key, uint64_t *out)
{
    number n;
    if (!read_number(g, find_kv(g, key), &n) || n.kind == NUMBER_FLOAT ||
        (n.kind == NUMBER_SIGNED && n.i < 0))
        return false;
    *out = n.kind == NUMBER_UNSIGNED ? n.u : (uint64_t)n.i;
    return true;
}

bool tsr_gguf_get_u32(const tsr_gguf *g, const char *key, uint32_t *out)
{
    uint64_t v;
    if (!tsr_gguf_get_u64(g, key, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool tsr_gguf_get_i64(const tsr_gguf *g, const char *key, int64_t *out)
{
    number n;
    if (!read_number(g, find_kv(g, key), &n) || n.kind == NUMBER_FLOAT ||
        (n.kind == NUMBER_UNSIGNED && n.u > INT64_MAX))
        return false;
    *out = n.kind == NUMBER_SIGNED ? n.i : (int64_t)n.u;
    return true;
}

bool tsr_gguf_get_f64(const tsr_gguf *g, const char *key, double *out)
{
    number n;
    if (!read_number(g, find_kv(g, key), &n))
        return false;
    *out = n.kind == NUMBER_FLOAT ? n.f : n.kind == NUMBER_SIGNED ? (double)n.i : (double)n.u;
    return true;
}

bool tsr_gguf_get_f32(const tsr_gguf *g, const char *key, float *out)
{
    double v;
    if (!tsr_gguf_get_f64(g, key, &v))
        return false;
    *out = (float)v;
    return true;
}

bool tsr_gguf_get_bool(const tsr_gguf *g, const char *key, bool *out)
{
    const kv_entry *kv = find_kv(g, key);
    if (!kv || kv->type != TSR_GGUF_BOOL)
        return false;
    *out = g->bytes[kv->value_at] != 0;
    return true;
}

static tsr_gguf_str string_at(const tsr_gguf *g, uint64_t at)
{
    return (tsr_gguf_str){(const char *)g->bytes + at + 8, gguf_le_u64(g->bytes + at)};
}

bool tsr_gguf_get_str(const tsr_gguf *g, const char *key, tsr_gguf_str *out)
{
    const kv_entry *kv = find_kv(g, key);
    if (!kv || kv->type != TSR_GGUF_STRING)
        return false;
    *out = string_at(g, kv->value_at);
    return true;
}

static void array_handle(const tsr_gguf *g, const array_node *node, tsr_gguf_array *out)
{
    bool packed = node->elem_type != TSR_GGUF_STRING && node->elem_type != TSR_GGUF_ARRAY;
    *out = (tsr_gguf_array){node->elem_type, node->count, packed ? g->bytes + node->first : NULL,
                            g, node};
}

bool tsr_gguf_key_array(const tsr_gguf *g, int64_t index, tsr_gguf_array *out)
{
    if (!key_in_range(g, index) || g->kvs[index].type != TSR_GGUF_ARRAY)
        return false;
    array_handle(g, &g->kvs[index].array, out);
    return true;
}

bool tsr_gguf_find_array(const tsr_gguf *g, const char *key, tsr_gguf_array *out)
{
    return tsr_gguf_key_array(g, tsr_gguf_find_key(g, key), out);
}

bool tsr_gguf_array_elem_str(const tsr_gguf_array *array, uint64_t i, tsr_gguf_str *out)
{
    const array_node *node = array->node;
    if (array->elem_type != TSR_GGUF_STRING || i >= array->count)
        return false;
    *out = string_at(array->gguf, node->string_at[i]);
    return true;
}

bool tsr_gguf_array_elem_array(const tsr_gguf_array *array, uint64_t i, tsr_gguf_array *out)
{
    const array_node *node = array->node;
    if (array->elem_type != TSR_GGUF_ARRAY || i >= array->count)
        return false;
    array_handle(array->gguf, &node->arrays[i], out);
    return true;
}

bool tsr_gguf_get_array(const tsr_gguf *g, const char *key, tsr_gguf_type *elem_type,
                        uint64_t *count, const void **data)
{
    tsr_gguf_array array;
    if (!tsr_gguf_find_array(g, key, &array))
        return false;
    *elem_type = array.elem_type;
    *count = array.count;
    *data = array.data;
    return true;
}

bool tsr_gguf_array_str(const tsr_gguf *g, const char *key, uint64_t i, tsr_gguf_str *out)
{
    tsr_gguf_array array;
    return tsr_gguf_find_array(g, key, &array) && tsr_gguf_array_elem_str(&array, i, out);
}

uint64_t tsr_gguf_tensor_count(const tsr_gguf *g) { return g->n_tensors; }

const tsr_gguf_tensor *tsr_gguf_tensor_at(const tsr_gguf *g, uint64_t index)
{
    return index < g->n_tensors ? &g->tensors[index].pub : NULL;
}

const tsr_gguf_tensor *tsr_gguf_find_tensor(const tsr_gguf *g, const char *name)
{
    int64_t index = name ? gguf_table_find(g, &g->tensor_names, gguf_tensor_text, name, strlen(name)) : -1;
    return index < 0 ? NULL : &g->tensors[index].pub;
}
