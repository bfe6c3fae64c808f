/* A small GGUF writer for tests and tools (never part of libtessera).
 *
 * It builds a file's metadata and tensor infos in memory and writes them,
 * with the tensor data, to a buffer or to a file. It checks nothing on
 * purpose: tests use it to make malformed files as well as good ones. The
 * writer aborts on running out of memory (it serves tests and tools only).
 *
 *     gguf_writer *w = gguf_writer_new(3);
 *     gguf_writer_kv_str(w, "general.architecture", "llama");
 *     gguf_writer_tensor(w, "output_norm.weight", 0, 1, (uint64_t[]){576}, NULL);
 *     gguf_writer_write_file(w, "x.gguf", false);
 *     gguf_writer_free(w);
 *
 * Layout: header (magic, version, tensor count, metadata count), the
 * metadata as added, the tensor infos, zero padding to the alignment, the
 * data of each tensor at its offset, and zero padding at the end up to the
 * alignment (as gguf-py writes it).
 */
#ifndef TSR_TESTS_GGUF_WRITER_H
#define TSR_TESTS_GGUF_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct gguf_writer gguf_writer;

/* version: 2 or 3 for a good file; any number is written as given. */
gguf_writer *gguf_writer_new(uint32_t version);
void gguf_writer_free(gguf_writer *w);

/* The padding the writer applies (default 32). It does not add the
 * general.alignment key: add it with gguf_writer_kv_u32 (or not, or of
 * another type, for a malformed file). */
void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment);
/* Overrides the counts written in the header (by default, what was added). */
void gguf_writer_set_counts(gguf_writer *w, uint64_t n_tensors, uint64_t n_kvs);

/* ---- metadata: one key and its value ------------------------------------ */
void gguf_writer_kv_u8(gguf_writer *w, const char *key, uint8_t value);
void gguf_writer_kv_i8(gguf_writer *w, const char *key, int8_t value);
void gguf_writer_kv_u16(gguf_writer *w, const char *key, uint16_t value);
void gguf_writer_kv_i16(gguf_writer *w, const char *key, int16_t value);
void gguf_writer_kv_u32(gguf_writer *w, const char *key, uint32_t value);
void gguf_writer_kv_i32(gguf_writer *w, const char *key, int32_t value);
void gguf_writer_kv_f32(gguf_writer *w, const char *key, float value);
void gguf_writer_kv_bool(gguf_writer *w, const char *key, bool value);
void gguf_writer_kv_str(gguf_writer *w, const char *key, const char *value);
void gguf_writer_kv_u64(gguf_writer *w, const char *key, uint64_t value);
void gguf_writer_kv_i64(gguf_writer *w, const char *key, int64_t value);
void gguf_writer_kv_f64(gguf_writer *w, const char *key, double value);
/* An array of numbers or bools: count packed elements in host order (the
 * host is little-endian, as GGUF). */
void gguf_writer_kv_array(gguf_writer *w, const char *key, tsr_gguf_type elem_type,
                          uint64_t count, const void *elems);
void gguf_writer_kv_str_array(gguf_writer *w, const char *key, uint64_t count,
                              const char *const *strings);

/* ---- metadata, piece by piece (nested arrays, malformed values) ---------
 * gguf_writer_key writes a key and its value type and counts one entry;
 * the raw writers append bytes after it: a value, an array head (element
 * type and count) and then its elements, each of which may be an array
 * head again. */
void gguf_writer_key(gguf_writer *w, const char *key, tsr_gguf_type type);
void gguf_writer_array_head(gguf_writer *w, tsr_gguf_type elem_type, uint64_t count);
void gguf_writer_raw_u8(gguf_writer *w, uint8_t value);
void gguf_writer_raw_u32(gguf_writer *w, uint32_t value);
void gguf_writer_raw_u64(gguf_writer *w, uint64_t value);
void gguf_writer_raw_f32(gguf_writer *w, float value);
void gguf_writer_raw_f64(gguf_writer *w, double value);
/* A string: its 64-bit length and its bytes. */
void gguf_writer_raw_str(gguf_writer *w, const char *value);
void gguf_writer_raw_bytes(gguf_writer *w, const void *data, size_t n);
/* File offset where the next metadata byte goes. */
uint64_t gguf_writer_position(const gguf_writer *w);

/* ---- tensors -----------------------------------------------------------
 * gguf_writer_tensor places the tensor after the previous one, at the next
 * multiple of the alignment; its size comes from the ggml type table (0
 * for a type the table does not know). data (n_bytes, copied) may be NULL:
 * zeros in a buffer, nothing (a hole) in a sparse file. dims has n_dims
 * entries, any number of them. */
void gguf_writer_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const void *data);
/* The same with the offset given (from the data section), no data, and no
 * room made for it: the file ends where the placed tensors end. */
void gguf_writer_tensor_at(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const uint64_t *dims, uint64_t offset);
/* Bytes a tensor of this type and shape takes (0 if the type is unknown). */
uint64_t gguf_writer_tensor_bytes(uint32_t type, uint32_t n_dims, const uint64_t *dims);

/* ---- output ------------------------------------------------------------ */
/* File offsets, valid once everything is added: tensor index's info, the
 * data section, and the end of the file. */
uint64_t gguf_writer_tensor_info_at(const gguf_writer *w, uint64_t index);
uint64_t gguf_writer_data_offset(const gguf_writer *w);
uint64_t gguf_writer_file_size(const gguf_writer *w);
/* The whole file in a malloc'd buffer the caller frees. */
void gguf_writer_to_memory(const gguf_writer *w, uint8_t **out, size_t *n_bytes);
/* Writes the file; sparse: headers only, then the file is extended to its
 * full size without writing the data (a hole). Returns 0, or -1 with errno. */
int gguf_writer_write_file(const gguf_writer *w, const char *path, bool sparse);

#endif
