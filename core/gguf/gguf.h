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
 * What the reader refuses (TSR_ERR_FORMAT unless said otherwise): a bad
 * magic; versions other than 2 and 3 (TSR_ERR_UNSUPPORTED: version 1, a
 * big-endian file, a future version); a length, count or offset running
 * past the end of the file; counts that could not fit in the bytes left;
 * an unknown value type; a bool other than 0 or 1; an empty key, a key
 * over 65535 bytes, an empty tensor name or one over 1024 bytes, or either
 * holding a NUL byte; arrays nested deeper than 8 levels or more than 2^20
 * nested arrays in one file; more than 2^16 keys or 2^20 tensors; a header
 * section (everything before the tensor data) over 128 MiB (together, the
 * limits keep what a hostile file can make the reader allocate to a few
 * hundred MiB at worst); duplicate keys and duplicate tensor names;
 * general.alignment that is not a uint32 power of two; n_dims outside 1..4,
 * a dimension of 0, an element count over INT64_MAX; a type id the ggml
 * type table does not know; a row length (dims[0]) that is not a whole
 * number of blocks; an offset that is not a multiple of the alignment; and
 * tensors whose data overlap. A tensor whose data end past the end of the
 * file is refused by tsr_gguf_open and tsr_gguf_open_memory, not by
 * tsr_gguf_open_headers (a file of headers alone can be planned).
 *
 * Messages read "FILE: WHERE: FIELD at byte N ...what is wrong", e.g.
 * "model.gguf: tensor 3 (blk.0.attn_q.weight): data at byte 1024 (offset 0
 * at byte 901) ends at byte 812345678, past the end of the 700000000-byte
 * file", "model.gguf: key 7 (tokenizer.ggml.tokens): element 12 length
 * 9000 at byte 4242 runs past the end of the 5000-byte file".
 *
 * Strings returned point into the file's bytes (the mapping, the caller's
 * buffer, or for tsr_gguf_open_headers the reader's copy of the headers)
 * and are NOT NUL-terminated, except tensor names, which the reader copies.
 * Everything returned lives until tsr_gguf_close. A handle is read-only
 * once open: any number of threads may read it at once.
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
    uint32_t type;           /* ggml type id; always one tsr_ggml_type knows */
    uint64_t offset;         /* from the start of the data section */
    uint64_t n_elems;        /* product of the dims, at most INT64_MAX */
    uint64_t n_bytes;        /* n_elems / block_elems * block_bytes */
    uint64_t file_offset;    /* absolute offset in the file */
    const void *data;        /* the n_bytes at file_offset; NULL when opened headers-only */
} tsr_gguf_tensor;

/* What the ggml type table says of a tensor type id: its name and block
 * geometry. Known for every type GGUF defines (ids 0 to 42, less the ones
 * ggml removed), whether or not a plugin computes with it (the planner
 * sizes tensors from it). NULL for an id the table does not know. The
 * table is static: any thread may call these. */
typedef struct tsr_ggml_type_info {
    uint32_t id;
    const char *name;      /* "f32", "q4_1", "iq3_xxs", ... */
    uint32_t block_elems;
    uint32_t block_bytes;
} tsr_ggml_type_info;
const tsr_ggml_type_info *tsr_ggml_type(uint32_t id);
/* The type id whose name is name (case-insensitive), or -1. */
int64_t tsr_ggml_type_by_name(const char *name);

/* Opens and parses a file; the whole file is mmapped read-only. On error
 * *out is NULL and err says why: TSR_ERR_NOT_FOUND (no such file),
 * TSR_ERR_IO (cannot open, stat, map or read; not a regular file),
 * TSR_ERR_FORMAT, TSR_ERR_UNSUPPORTED, TSR_ERR_NOMEM. */
tsr_status tsr_gguf_open(const char *path, tsr_gguf **out, tsr_error *err);
/* Parses only the header, metadata and tensor infos, copied in with plain
 * reads (no tensor data is touched; sparse files work, and so does a file
 * cut off after its headers); tensor data pointers are NULL. */
tsr_status tsr_gguf_open_headers(const char *path, tsr_gguf **out, tsr_error *err);
/* Parses a buffer (fuzzing, tests); the buffer must outlive the handle.
 * name is used in messages ("<memory>" when NULL). */
tsr_status tsr_gguf_open_memory(const void *data, size_t n_bytes, const char *name,
                                tsr_gguf **out, tsr_error *err);
/* Unmaps and frees everything; NULL is a no-op. */
void tsr_gguf_close(tsr_gguf *gguf);

const char *tsr_gguf_path(const tsr_gguf *gguf);
uint32_t tsr_gguf_version(const tsr_gguf *gguf);
uint64_t tsr_gguf_file_size(const tsr_gguf *gguf);
uint32_t tsr_gguf_alignment(const tsr_gguf *gguf);
/* Absolute file offset where the data section starts (the end of the
 * tensor infos rounded up to the alignment). */
uint64_t tsr_gguf_data_offset(const tsr_gguf *gguf);

/* ---- metadata ---------------------------------------------------------- */
int64_t tsr_gguf_key_count(const tsr_gguf *gguf);
/* Index of key, or -1. */
int64_t tsr_gguf_find_key(const tsr_gguf *gguf, const char *key);
/* Keys are in file order, index in [0, key_count); out of range, the name
 * is {NULL, 0}, the type one no value has (tsr_gguf_type_name says
 * "unknown") and the offset 0. */
tsr_gguf_str tsr_gguf_key_name(const tsr_gguf *gguf, int64_t index);
tsr_gguf_type tsr_gguf_key_type(const tsr_gguf *gguf, int64_t index);
/* Absolute file offset of the key (its length prefix), for messages. */
uint64_t tsr_gguf_key_offset(const tsr_gguf *gguf, int64_t index);
/* The whole key/value as the file stores it (key length, key, value type,
 * value), for a writer that copies it; false when index is out of range. */
bool tsr_gguf_key_bytes(const tsr_gguf *gguf, int64_t index, const void **data,
                        uint64_t *n_bytes);

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

/* Arrays. get_array gives the element type and count; for a numeric or
 * bool element type, *data points at count packed little-endian elements
 * (not aligned: read them with memcpy), otherwise it is NULL. For strings
 * use array_str (O(1): the reader indexes string arrays as it parses).
 * Each returns false when the key is missing, is not an array, or i is out
 * of range. */
bool tsr_gguf_get_array(const tsr_gguf *gguf, const char *key, tsr_gguf_type *elem_type,
                        uint64_t *count, const void **data);
bool tsr_gguf_array_str(const tsr_gguf *gguf, const char *key, uint64_t i, tsr_gguf_str *out);

/* An array value as a handle, for nested arrays and for walking an array
 * without looking its key up again. Fields as in get_array; the last two
 * are the reader's. Valid until tsr_gguf_close. */
typedef struct tsr_gguf_array {
    tsr_gguf_type elem_type;
    uint64_t count;
    const void *data;     /* numeric or bool elements, packed LE, unaligned; else NULL */
    const tsr_gguf *gguf; /* private */
    const void *node;     /* private */
} tsr_gguf_array;
/* The array value of key, or of the key at index; false if not an array. */
bool tsr_gguf_find_array(const tsr_gguf *gguf, const char *key, tsr_gguf_array *out);
bool tsr_gguf_key_array(const tsr_gguf *gguf, int64_t index, tsr_gguf_array *out);
/* Element i of a string array / of an array of arrays; false when the
 * element type differs or i >= count. */
bool tsr_gguf_array_elem_str(const tsr_gguf_array *array, uint64_t i, tsr_gguf_str *out);
bool tsr_gguf_array_elem_array(const tsr_gguf_array *array, uint64_t i, tsr_gguf_array *out);
/* The name of a value type ("uint32", "string", "array"; "unknown"). */
const char *tsr_gguf_type_name(tsr_gguf_type type);

/* ---- tensors ----------------------------------------------------------- */
uint64_t tsr_gguf_tensor_count(const tsr_gguf *gguf);
/* Tensors in file order; NULL when index >= tensor_count. */
const tsr_gguf_tensor *tsr_gguf_tensor_at(const tsr_gguf *gguf, uint64_t index);
/* The tensor called name, or NULL (a hash lookup). */
const tsr_gguf_tensor *tsr_gguf_find_tensor(const tsr_gguf *gguf, const char *name);
/* Lets the memory under a tensor's data go (a loader that has copied them):
 * the whole pages inside it leave the mapping and are read back from the
 * file if touched again. Only for tsr_gguf_open's mapping; a no-op for the
 * other handles. Not while another thread reads the tensor. */
void tsr_gguf_drop_tensor_pages(const tsr_gguf *gguf, const tsr_gguf_tensor *tensor);

#endif
