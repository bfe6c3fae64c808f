/* GGUF: the llama.cpp ecosystem's model file, read through mmap.
 *
 * Layout (little-endian): magic "GGUF", uint32 version (2 or 3), uint64
 * tensor count, uint64 metadata count; the metadata key/values; the tensor
 * infos (name, n_dims, dims, ggml type, offset); padding to
 * general.alignment (default 32); the tensor data, each tensor at its offset
 * from the data section's start. Every length, count, dimension, type and
 * offset is checked against the file's size and against overflow before it
 * is used: a hostile or truncated file gives an error naming the field and
 * the byte offset, never a crash.
 *
 * Strings returned point into the mapping and are NOT NUL-terminated,
 * except tensor names, which the reader copies. Everything returned lives
 * until tsr_gguf_close.
 */
#ifndef TSR_CORE_GGUF_H
#define TSR_CORE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

typedef struct tsr_gguf tsr_gguf;

/* Metadata value types, as GGUF numbers them. */
typedef enum tsr_gguf_type {
    TSR_GGUF_UINT8 = 0,
    TSR_GGUF_INT8 = 1,
    TSR_GGUF_UINT16 = 2,
    TSR_GGUF_INT16 = 3,
    TSR_GGUF_UINT32 = 4,
    TSR_GGUF_INT32 = 5,
    TSR_GGUF_FLOAT32 = 6,
    TSR_GGUF_BOOL = 7,
    TSR_GGUF_STRING = 8,
    TSR_GGUF_ARRAY = 9,
    TSR_GGUF_UINT64 = 10,
    TSR_GGUF_INT64 = 11,
    TSR_GGUF_FLOAT64 = 12,
} tsr_gguf_type;

typedef struct tsr_gguf_str {
    const char *data; /* not NUL-terminated */
    uint64_t len;
} tsr_gguf_str;

enum { TSR_GGUF_MAX_DIMS = 4 };

typedef struct tsr_gguf_tensor {
    const char *name;        /* NUL-terminated copy */
    uint32_t n_dims;
    uint64_t dims[TSR_GGUF_MAX_DIMS]; /* dims[0] is the row length (contiguous); unused = 1 */
    uint32_t type;           /* ggml type id (tsr_ggml_type_info describes it) */
    uint64_t offset;         /* from the start of the data section */
    uint64_t n_elems;
    uint64_t n_bytes;        /* from the type table; 0 for a type the table does not know */
    uint64_t file_offset;    /* absolute offset in the file */
    const void *data;        /* into the mapping; NULL when opened headers-only */
} tsr_gguf_tensor;

/* What the ggml type table says of a tensor type id: its name and block
 * geometry. Known for every type GGUF defines, whether or not a plugin
 * computes with it (the planner sizes tensors from it). NULL for an id the
 * table does not know. */
typedef struct tsr_ggml_type_info {
    uint32_t id;
    const char *name;      /* "f32", "q4_1", "iq3_xxs", ... */
    uint32_t block_elems;
    uint32_t block_bytes;
} tsr_ggml_type_info;
const tsr_ggml_type_info *tsr_ggml_type(uint32_t id);
/* The type id whose name is name (case-insensitive), or -1. */
int64_t tsr_ggml_type_by_name(const char *name);

/* Opens and parses a file; the whole file is mmapped read-only. */
tsr_status tsr_gguf_open(const char *path, tsr_gguf **out, tsr_error *err);
/* Parses only the header, metadata and tensor infos with plain reads (no
 * tensor data is touched; sparse files work); tensor data pointers are NULL. */
tsr_status tsr_gguf_open_headers(const char *path, tsr_gguf **out, tsr_error *err);
/* Parses a buffer (fuzzing, tests); the buffer must outlive the handle. */
tsr_status tsr_gguf_open_memory(const void *data, size_t n_bytes, const char *name,
                                tsr_gguf **out, tsr_error *err);
void tsr_gguf_close(tsr_gguf *gguf);

const char *tsr_gguf_path(const tsr_gguf *gguf);
uint32_t tsr_gguf_version(const tsr_gguf *gguf);
uint64_t tsr_gguf_file_size(const tsr_gguf *gguf);
uint32_t tsr_gguf_alignment(const tsr_gguf *gguf);
/* Absolute file offset where the data section starts. */
uint64_t tsr_gguf_data_offset(const tsr_gguf *gguf);

/* ---- metadata ---------------------------------------------------------- */
int64_t tsr_gguf_key_count(const tsr_gguf *gguf);
/* Index of key, or -1. */
int64_t tsr_gguf_find_key(const tsr_gguf *gguf, const char *key);
tsr_gguf_str tsr_gguf_key_name(const tsr_gguf *gguf, int64_t index);
tsr_gguf_type tsr_gguf_key_type(const tsr_gguf *gguf, int64_t index);

/* Typed getters by key name. They return false when the key is missing or
 * its value cannot be represented as asked (get_u64 accepts any
 * non-negative integer type, get_i64 any integer, get_f64/get_f32 any
 * number, get_bool a bool). */
bool tsr_gguf_get_u64(const tsr_gguf *gguf, const char *key, uint64_t *out);
bool tsr_gguf_get_u32(const tsr_gguf *gguf, const char *key, uint32_t *out);
bool tsr_gguf_get_i64(const tsr_gguf *gguf, const char *key, int64_t *out);
bool tsr_gguf_get_f64(const tsr_gguf *gguf, const char *key, double *out);
bool tsr_gguf_get_f32(const tsr_gguf *gguf, const char *key, float *out);
bool tsr_gguf_get_bool(const tsr_gguf *gguf, const char *key, bool *out);
bool tsr_gguf_get_str(const tsr_gguf *gguf, const char *key, tsr_gguf_str *out);

/* Arrays. get_array gives the element type and count; for a numeric
 * element type, *data points at count packed little-endian elements. For
 * strings use array_str (O(1): the reader indexes string arrays as it
 * parses). Nested arrays: array_nested returns the i-th element's array. */
bool tsr_gguf_get_array(const tsr_gguf *gguf, const char *key, tsr_gguf_type *elem_type,
                        uint64_t *count, const void **data);
bool tsr_gguf_array_str(const tsr_gguf *gguf, const char *key, uint64_t i, tsr_gguf_str *out);

/* ---- tensors ----------------------------------------------------------- */
uint64_t tsr_gguf_tensor_count(const tsr_gguf *gguf);
const tsr_gguf_tensor *tsr_gguf_tensor_at(const tsr_gguf *gguf, uint64_t index);
/* The tensor called name, or NULL. */
const tsr_gguf_tensor *tsr_gguf_find_tensor(const tsr_gguf *gguf, const char *name);

#endif
