/* Building a GGUF header in memory (core/gguf/gguf_write.h). Little-endian, as
 * every GGUF tessera reads; the count of keys is patched in at the end. */
#include <stdlib.h>
#include <string.h>

#include "gguf_write.h"

enum { KV_COUNT_AT = 16 }; /* magic, version, tensor count, then the key count */

static uint8_t *reserve(tsr_gguf_header *h, size_t n)
{
    if (h->out_of_memory)
        return NULL;
    if (h->n_bytes + n > h->cap) {
        size_t cap = h->cap ? h->cap : 4096;
        while (cap < h->n_bytes + n)
            cap *= 2;
        uint8_t *bytes = realloc(h->bytes, cap);
        if (!bytes) {
            h->out_of_memory = true;
            return NULL;
        }
        h->bytes = bytes;
        h->cap = cap;
    }
    uint8_t *at = h->bytes + h->n_bytes;
    h->n_bytes += n;
    return at;
}

static void put_raw(tsr_gguf_header *h, const void *data, size_t n)
{
    uint8_t *at = reserve(h, n);
    if (at)
        memcpy(at, data, n);
}

static void store_le(uint8_t *at, uint64_t v, int n_bytes)
{
    for (int i = 0; i < n_bytes; i++)
        at[i] = (uint8_t)(v >> 8 * i);
}

static void put_u32(tsr_gguf_header *h, uint32_t v)
{
    uint8_t *at = reserve(h, 4);
    if (at)
        store_le(at, v, 4);
}

static void put_u64(tsr_gguf_header *h, uint64_t v)
{
    uint8_t *at = reserve(h, 8);
    if (at)
        store_le(at, v, 8);
}

static void put_str(tsr_gguf_header *h, const char *s)
{
    size_t n = strlen(s);
    put_u64(h, n);
    put_raw(h, s, n);
}

void tsr_gguf_header_begin(tsr_gguf_header *h, uint64_t n_tensors)
{
    put_raw(h, "GGUF", 4);
    put_u32(h, 3);
    put_u64(h, n_tensors);
    put_u64(h, 0); /* the key count, patched by end() */
}

void tsr_gguf_header_copy_kv(tsr_gguf_header *h, const tsr_gguf *src, int64_t index)
{
    const void *data;
    uint64_t n;
    if (tsr_gguf_key_bytes(src, index, &data, &n)) {
        put_raw(h, data, (size_t)n);
        h->n_kvs++;
    }
}

void tsr_gguf_header_kv_u32(tsr_gguf_header *h, const char *key, uint32_t value)
{
    put_str(h, key);
    put_u32(h, TSR_GGUF_UINT32);
    put_u32(h, value);
    h->n_kvs++;
}

void tsr_gguf_header_kv_str(tsr_gguf_header *h, const char *key, const char *value)
{
    put_str(h, key);
    put_u32(h, TSR_GGUF_STRING);
    put_str(h, value);
    h->n_kvs++;
}

void tsr_gguf_header_tensor(tsr_gguf_header *h, const char *name, uint32_t n_dims,
                            const uint64_t *dims, uint32_t type, uint64_t offset)
{
    put_str(h, name);
    put_u32(h, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        put_u64(h, dims[i]);
    put_u32(h, type);
    put_u64(h, offset);
}

tsr_status tsr_gguf_header_end(tsr_gguf_header *h, uint32_t alignment, tsr_error *err)
{
    size_t padded = (size_t)tsr_gguf_align(h->n_bytes, alignment);
    uint8_t *pad = reserve(h, padded - h->n_bytes);
    if (h->out_of_memory)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    memset(pad, 0, (size_t)(h->bytes + h->n_bytes - pad));
    store_le(h->bytes + KV_COUNT_AT, h->n_kvs, 8);
    return TSR_OK;
}

void tsr_gguf_header_free(tsr_gguf_header *h)
{
    free(h->bytes);
    memset(h, 0, sizeof *h);
}
