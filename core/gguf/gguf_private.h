/* The GGUF reader's private parts, shared by core/gguf/gguf.c (parsing) and
 * core/gguf/gguf_values.c (reading values out of an open handle). */
#ifndef TSR_CORE_GGUF_PRIVATE_H
#define TSR_CORE_GGUF_PRIVATE_H

#include "gguf.h"

enum { GGUF_N_VALUE_TYPES = 13 };

typedef struct array_node {
    tsr_gguf_type elem_type;
    uint64_t count;
    uint64_t first;            /* file offset of element 0 */
    uint32_t *string_at;       /* strings: file offset of each element's length */
    struct array_node *arrays; /* arrays: each element */
} array_node;

typedef struct kv_entry {
    uint64_t at;      /* file offset of the key's length; the key follows it */
    uint64_t key_len;
    tsr_gguf_type type;
    uint64_t value_at;
    uint64_t end;     /* file offset just past the value */
    array_node array; /* when type is TSR_GGUF_ARRAY */
} kv_entry;

typedef struct tensor_entry {
    tsr_gguf_tensor pub;
    uint64_t at;        /* file offset of the name's length; the name follows it */
    uint64_t name_len;
    uint64_t offset_at; /* file offset of the offset field */
} tensor_entry;

/* Open addressing over entry indices + 1 (0 = empty). */
typedef struct name_table {
    uint64_t *slots;
    uint64_t mask;
} name_table;

struct tsr_gguf {
    char *path;
    uint32_t version;
    uint32_t alignment;
    uint64_t file_size;
    uint64_t data_offset;
    const uint8_t *bytes; /* the file's first n_bytes bytes: all of it, or its headers */
    uint64_t n_bytes;
    void *map;            /* tsr_gguf_open's mapping */
    size_t map_bytes;
    uint8_t *copy;        /* tsr_gguf_open_headers' copy of the headers */
    kv_entry *kvs;
    uint64_t n_kvs, cap_kvs;
    tensor_entry *tensors;
    uint64_t n_tensors, cap_tensors;
    char *names;          /* the tensor names, each NUL-terminated */
    name_table keys, tensor_names;
    uint64_t n_nested;
};

static inline uint64_t gguf_le_u64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static inline uint32_t gguf_le_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* FNV-1a, for the name tables. */
static inline uint64_t gguf_hash(const void *data, uint64_t n)
{
    const uint8_t *b = data;
    uint64_t h = 0xcbf29ce484222325u;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

/* The text of key index / tensor index. */
static inline tsr_gguf_str gguf_key_text(const tsr_gguf *g, uint64_t index)
{
    const kv_entry *kv = &g->kvs[index];
    return (tsr_gguf_str){(const char *)g->bytes + kv->at + 8, kv->key_len};
}

static inline tsr_gguf_str gguf_tensor_text(const tsr_gguf *g, uint64_t index)
{
    const tensor_entry *t = &g->tensors[index];
    return (tsr_gguf_str){(const char *)g->bytes + t->at + 8, t->name_len};
}

typedef tsr_gguf_str (*gguf_text_of)(const tsr_gguf *g, uint64_t index);

/* Index of the entry named (data, len) in table, or -1. */
int64_t gguf_table_find(const tsr_gguf *g, const name_table *table, gguf_text_of text,
                        const char *data, uint64_t len);

#endif
