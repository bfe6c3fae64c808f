/* Writing GGUF: the header of a file (magic, version 3, counts, the
 * metadata, the tensor infos, padding to the alignment) built in memory;
 * the caller writes it and then each tensor's data at its offset, padded
 * to the alignment (as the gguf package and llama.cpp write files). Layout
 * as core/gguf/gguf.h draws it. Metadata can be copied from an open file as it
 * is stored there. */
#ifndef TSR_CORE_GGUF_WRITE_H
#define TSR_CORE_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct tsr_gguf_header {
    uint8_t *bytes;
    size_t n_bytes, cap;
    bool out_of_memory;   /* a call could not grow the buffer: end() fails */
    uint64_t n_kvs;
} tsr_gguf_header;

/* Starts a header of n_tensors tensors; h must be zeroed. */
void tsr_gguf_header_begin(tsr_gguf_header *h, uint64_t n_tensors);
/* Metadata: key index of src as src stores it; or a new uint32 / string. */
void tsr_gguf_header_copy_kv(tsr_gguf_header *h, const tsr_gguf *src, int64_t index);
void tsr_gguf_header_kv_u32(tsr_gguf_header *h, const char *key, uint32_t value);
void tsr_gguf_header_kv_str(tsr_gguf_header *h, const char *key, const char *value);
/* A tensor info; every metadata key comes before the first. offset: from
 * the start of the data section, a multiple of the alignment. */
void tsr_gguf_header_tensor(tsr_gguf_header *h, const char *name, uint32_t n_dims,
                            const uint64_t *dims, uint32_t type, uint64_t offset);
/* Pads to alignment and fixes the key count: h->bytes[0, n_bytes) is the
 * file's start, the data section follows. TSR_ERR_NOMEM when a call ran out. */
tsr_status tsr_gguf_header_end(tsr_gguf_header *h, uint32_t alignment, tsr_error *err);
void tsr_gguf_header_free(tsr_gguf_header *h);

/* n rounded up to a multiple of alignment (a power of two). */
static inline uint64_t tsr_gguf_align(uint64_t n, uint32_t alignment)
{
    return (n + alignment - 1) & ~(uint64_t)(alignment - 1);
}

#endif
