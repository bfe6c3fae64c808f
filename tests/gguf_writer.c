/* A small GGUF writer for tests and tools; see gguf_writer.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_writer.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf_writer copies host-order arrays: it needs a little-endian host"
#endif

typedef struct bytes {
    uint8_t *data;
    size_t n, cap;
} bytes;

typedef struct tensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t *dims;
    uint64_t offset;
    uint64_t n_bytes;
    uint8_t *data; /* n_bytes, or NULL */
} tensor;

struct gguf_writer {
    uint32_t version;
    uint32_t alignment;
    bool counts_set;
    uint64_t n_tensors_header, n_kvs_header;
    uint64_t n_kvs;
    bytes kv;
    tensor *tensors;
    size_t n_tensors, cap_tensors;
    uint64_t data_end; /* end of the last placed tensor, from the data section */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "gguf_writer: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

static void put(bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->n, data, n);
    b->n += n;
}

static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }

static void put_str(bytes *b, const char *s)
{
    size_t n = strlen(s);
    put_u64(b, n);
    put(b, s, n);
}

static uint64_t align_up(uint64_t x, uint64_t alignment)
{
    return (x + alignment - 1) / alignment * alignment;
}

gguf_writer *gguf_writer_new(uint32_t version)
{
    gguf_writer *w = xrealloc(NULL, sizeof *w);
    memset(w, 0, sizeof *w);
    w->version = version;
    w->alignment = 32;
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].dims);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    free(w->kv.data);
    free(w);
}

void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment) { w->alignment = alignment; }

void gguf_writer_set_counts(gguf_writer *w, uint64_t n_tensors, uint64_t n_kvs)
{
    w->counts_set = true;
    w->n_tensors_header = n_tensors;
    w->n_kvs_header = n_kvs;
}

/* ---- metadata ----------------------------------------------------------- */

void gguf_writer_key(gguf_writer *w, const char *key, tsr_gguf_type type)
{
    put_str(&w->kv, key);
    put_u32(&w->kv, (uint32_t)type);
    w->n_kvs++;
}

void gguf_writer_array_head(gguf_writer *w, tsr_gguf_type elem_type, uint64_t count)
{
    put_u32(&w->kv, (uint32_t)elem_type);
    put_u64(&w->kv, count);
}

void gguf_writer_raw_u8(gguf_writer *w, uint8_t value) { put(&w->kv, &value, 1); }
void gguf_writer_raw_u32(gguf_writer *w, uint32_t value) { put_u32(&w->kv, value); }
void gguf_writer_raw_u64(gguf_writer *w, uint64_t value) { put_u64(&w->kv, value); }
void gguf_writer_raw_f32(gguf_writer *w, float value) { put(&w->kv, &value, 4); }
void gguf_writer_raw_f64(gguf_writer *w, double value) { put(&w->kv, &value, 8); }
void gguf_writer_raw_str(gguf_writer *w, const char *value) { put_str(&w->kv, value); }
void gguf_writer_raw_bytes(gguf_writer *w, const void *data, size_t n) { put(&w->kv, data, n); }
uint64_t gguf_writer_position(const gguf_writer *w) { return 24 + w->kv.n; }

/* One key with a fixed-size value. */
static void kv_scalar(gguf_writer *w, const char *key, tsr_gguf_type type, const void *value,
                      size_t n)
{
    gguf_writer_key(w, key, type);
    put(&w->kv, value, n);
}

void gguf_writer_kv_u8(gguf_writer *w, const char *key, uint8_t v) { kv_scalar(w, key, TSR_GGUF_UINT8, &v, 1); }
void gguf_writer_kv_i8(gguf_writer *w, const char *key, int8_t v) { kv_scalar(w, key, TSR_GGUF_INT8, &v, 1); }
void gguf_writer_kv_u16(gguf_writer *w, const char *key, uint16_t v) { kv_scalar(w, key, TSR_GGUF_UINT16, &v, 2); }
void gguf_writer_kv_i16(gguf_writer *w, const char *key, int16_t v) { kv_scalar(w, key, TSR_GGUF_INT16, &v, 2); }
void gguf_writer_kv_u32(gguf_writer *w, const char *key, uint32_t v) { kv_scalar(w, key, TSR_GGUF_UINT32, &v, 4); }
void gguf_writer_kv_i32(gguf_writer *w, const char *key, int32_t v) { kv_scalar(w, key, TSR_GGUF_INT32, &v, 4); }
void gguf_writer_kv_f32(gguf_writer *w, const char *key, float v) { kv_scalar(w, key, TSR_GGUF_FLOAT32, &v, 4); }
void gguf_writer_kv_u64(gguf_writer *w, const char *key, uint64_t v) { kv_scalar(w, key, TSR_GGUF_UINT64, &v, 8); }
void gguf_writer_kv_i64(gguf_writer *w, const char *key, int64_t v) { kv_scalar(w, key, TSR_GGUF_INT64, &v, 8); }
void gguf_writer_kv_f64(gguf_writer *w, const char *key, double v) { kv_scalar(w, key, TSR_GGUF_FLOAT64, &v, 8); }

void gguf_writer_kv_bool(gguf_writer *w, const char *key, bool value)
{
    uint8_t byte = value ? 1 : 0;
    kv_scalar(w, key, TSR_GGUF_BOOL, &byte, 1);
}

void gguf_writer_kv_str(gguf_writer *w, const char *key, const char *value)
{
    gguf_writer_key(w, key, TSR_GGUF_STRING);
    put_str(&w->kv, value);
}

static size_t value_size(tsr_gguf_type type)
{
    static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)type < sizeof sizes ? sizes[type] : 0;
}

void gguf_writer_kv_array(gguf_writer *w, const char *key, tsr_gguf_type elem_type,
                          uint64_t count, const void *elems)
{
    gguf_writer_key(w, key, TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, elem_type, count);
    put(&w->kv, elems, (size_t)count * value_size(elem_type));
}

void gguf_writer_kv_str_array(gguf_writer *w, const char *key, uint64_t count,
                              const char *const *strings)
{
    gguf_writer_key(w, key, TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, TSR_GGUF_STRING, count);
    for (uint64_t i = 0; i < count; i++)
        put_str(&w->kv, strings[i]);
}

/* ---- tensors ------------------------------------------------------------ */

uint64_t gguf_writer_tensor_bytes(uint32_t type, uint32_t n_dims, const uint64_t *dims)
{
    const tsr_ggml_type_info *info = tsr_ggml_type(type);
    if (!info)
        return 0;
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        n *= dims[d];
    return n / info->block_elems * info->block_bytes;
}

static tensor *add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                          const uint64_t *dims)
{
    if (w->n_tensors == w->cap_tensors) {
        w->cap_tensors = w->cap_tensors ? w->cap_tensors * 2 : 64;
        w->tensors = xrealloc(w->tensors, w->cap_tensors * sizeof *w->tensors);
    }
    tensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = xrealloc(NULL, strlen(name) + 1);
    strcpy(t->name, name);
    t->type = type;
    t->n_dims = n_dims;
    t->dims = xrealloc(NULL, n_dims * sizeof *dims);
    if (n_dims)
        memcpy(t->dims, dims, n_dims * sizeof *dims);
    t->n_bytes = gguf_writer_tensor_bytes(type, n_dims, dims);
    return t;
}

void gguf_writer_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const void *data)
{
    tensor *t = add_tensor(w, name, type, n_dims, dims);
    t->offset = align_up(w->data_end, w->alignment);
    w->data_end = t->offset + t->n_bytes;
    if (data) {
        t->data = xrealloc(NULL, t->n_bytes);
        memcpy(t->data, data, t->n_bytes);
    }
}

void gguf_writer_tensor_at(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const uint64_t *dims, uint64_t offset)
{
    tensor *t = add_tensor(w, name, type, n_dims, dims);
    t->offset = offset;
}

/* ---- output ------------------------------------------------------------- */

static uint64_t tensor_info_bytes(const tensor *t)
{
    return 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
}

uint64_t gguf_writer_tensor_info_at(const gguf_writer *w, uint64_t index)
{
    uint64_t at = 24 + w->kv.n;
    for (uint64_t i = 0; i < index && i < w->n_tensors; i++)
        at += tensor_info_bytes(&w->tensors[i]);
    return at;
}

uint64_t gguf_writer_data_offset(const gguf_writer *w)
{
    return align_up(gguf_writer_tensor_info_at(w, w->n_tensors), w->alignment);
}

uint64_t gguf_writer_file_size(const gguf_writer *w)
{
    if (w->n_tensors == 0)
        return gguf_writer_tensor_info_at(w, 0);
    return gguf_writer_data_offset(w) + align_up(w->data_end, w->alignment);
}

/* Header, metadata, tensor infos and the padding up to the data section. */
static void build_headers(const gguf_writer *w, bytes *out)
{
    put(out, "GGUF", 4);
    put_u32(out, w->version);
    put_u64(out, w->counts_set ? w->n_tensors_header : w->n_tensors);
    put_u64(out, w->counts_set ? w->n_kvs_header : w->n_kvs);
    put(out, w->kv.data, w->kv.n);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const tensor *t = &w->tensors[i];
        put_str(out, t->name);
        put_u32(out, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_u64(out, t->dims[d]);
        put_u32(out, t->type);
        put_u64(out, t->offset);
    }
    if (w->n_tensors) {
        static const uint8_t zeros[64];
        uint64_t end = gguf_writer_data_offset(w);
        while (out->n < end)
            put(out, zeros, end - out->n < sizeof zeros ? end - out->n : sizeof zeros);
    }
}

void gguf_writer_to_memory(const gguf_writer *w, uint8_t **out, size_t *n_bytes)
{
    bytes b = {0};
    build_headers(w, &b);
    uint64_t size = gguf_writer_file_size(w);
    uint8_t *data = xrealloc(b.data, size);
    memset(data + b.n, 0, size - b.n);
    uint64_t base = gguf_writer_data_offset(w);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (w->tensors[i].data)
            memcpy(data + base + w->tensors[i].offset, w->tensors[i].data, w->tensors[i].n_bytes);
    *out = data;
    *n_bytes = size;
}

static int write_all(int fd, const void *data, uint64_t n, uint64_t at)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t put_n = pwrite(fd, p, n, (off_t)at);
        if (put_n < 0 && errno == EINTR)
            continue;
        if (put_n <= 0)
            return -1;
        p += put_n;
        n -= (uint64_t)put_n;
        at += (uint64_t)put_n;
    }
    return 0;
}

int gguf_writer_write_file(const gguf_writer *w, const char *path, bool sparse)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    bytes b = {0};
    build_headers(w, &b);
    int rc = write_all(fd, b.data, b.n, 0);
    free(b.data);
    uint64_t base = gguf_writer_data_offset(w);
    for (size_t i = 0; rc == 0 && i < w->n_tensors; i++) {
        const tensor *t = &w->tensors[i];
        if (t->data)
            rc = write_all(fd, t->data, t->n_bytes, base + t->offset);
        else if (!sparse) {
            static const uint8_t zeros[65536];
            for (uint64_t done = 0; rc == 0 && done < t->n_bytes; done += sizeof zeros) {
                uint64_t n = t->n_bytes - done < sizeof zeros ? t->n_bytes - done : sizeof zeros;
                rc = write_all(fd, zeros, n, base + t->offset + done);
            }
        }
    }
    /* The rest, holes included, reads as zeros. */
    if (rc == 0)
        rc = ftruncate(fd, (off_t)gguf_writer_file_size(w));
    int saved = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}
