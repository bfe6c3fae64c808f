/* Reads GGUF files (the layout is drawn in gguf.h): the header, the metadata
 * and the tensor infos, every length, count, type and offset checked
 * against the file's size and against overflow before it is used. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_private.h"

/* Everything before the tensor data may span at most this much. Real models
 * need far less (a 256k-token vocabulary with scores, types and merges
 * takes about 20 MiB); the bound keeps a hostile file, sparse or not, from
 * making the reader hold more than a few hundred MiB, and lets the index of
 * a string array keep 32-bit offsets. */
#define MAX_HEADER_BYTES ((uint64_t)128 << 20)
/* tsr_gguf_open_headers reads the headers in pieces of at least this. */
#define READ_CHUNK_BYTES ((uint64_t)1 << 20)
_Static_assert(MAX_HEADER_BYTES <= UINT32_MAX, "array_node.string_at holds 32-bit offsets");

enum {
    DEFAULT_ALIGNMENT = 32,
    MAX_KEY_BYTES = 65535, /* the GGUF spec's limit */
    MAX_TENSOR_NAME_BYTES = 1024,
    MAX_ARRAY_DEPTH = 8,
    MAX_NESTED_ARRAYS = 1 << 20,
    /* Real models carry tens of keys and at most a few thousand tensors. */
    MAX_KEYS = 1 << 16,
    MAX_TENSORS = 1 << 20,
    /* The smallest encodings, to refuse counts that cannot fit in the bytes
     * left before allocating anything for them. */
    MIN_KV_BYTES = 8 + 1 + 4 + 1,              /* key length, key, type, a 1-byte value */
    MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8, /* name length, name, n_dims, dim, type, offset */
    MIN_ARRAY_BYTES = 4 + 8,                   /* element type, count */
    MIN_STRING_BYTES = 8,                      /* length */
};

/* Bytes per value of each type; 0 for string and array. */
static const uint8_t value_bytes[GGUF_N_VALUE_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct parser {
    tsr_gguf *g;
    int fd;          /* tsr_gguf_open_headers reads more from it; -1 otherwise */
    bool strict;     /* tensor data must lie inside the file */
    uint64_t pos;
    uint64_t limit;  /* the headers end by here: min(file size, MAX_HEADER_BYTES) */
    char where[160]; /* what is being read: "header", "key 3 (general.name)", ... */
    tsr_error *err;
} parser;

/* Sets the error as "FILE: WHERE: message"; returns false. */
static bool fail(parser *p, tsr_status code, const char *fmt, ...) TSR_PRINTF(3, 4);
static bool fail(parser *p, tsr_status code, const char *fmt, ...)
{
    char message[TSR_ERROR_MESSAGE_BYTES];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    tsr_error_set(p->err, code, "%s: %s: %s", p->g->path, p->where, message);
    return false;
}

/* Names an entry in p->where, its name shown printable and cut short. */
static void set_where(parser *p, const char *kind, uint64_t index, const uint8_t *name,
                      uint64_t len)
{
    int n = snprintf(p->where, sizeof p->where, "%s %" PRIu64, kind, index);
    if (!name)
        return;
    char shown[72];
    uint64_t k = 0;
    for (; k < len && k < 64; k++)
        shown[k] = name[k] >= 0x20 && name[k] < 0x7f ? (char)name[k] : '?';
    shown[k] = '\0';
    snprintf(p->where + n, sizeof p->where - (size_t)n, " (%s%s)", shown, len > 64 ? "..." : "");
}

/* Copies more of the file in (tsr_gguf_open_headers) so that bytes up to end
 * are at g->bytes. */
static bool read_more(parser *p, uint64_t end)
{
    tsr_gguf *g = p->g;
    uint64_t want = g->n_bytes * 2;
    if (want < READ_CHUNK_BYTES)
        want = READ_CHUNK_BYTES;
    if (want < end)
        want = end;
    if (want > p->limit)
        want = p->limit;
    uint8_t *grown = realloc(g->copy, want);
    if (!grown)
        return fail(p, TSR_ERR_NOMEM, "cannot hold %" PRIu64 " bytes of headers", want);
    g->copy = grown;
    g->bytes = grown;
    while (g->n_bytes < want) {
        ssize_t got = pread(p->fd, grown + g->n_bytes, want - g->n_bytes, (off_t)g->n_bytes);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            char buf[128];
            return fail(p, TSR_ERR_IO, "reading byte %" PRIu64 ": %s", g->n_bytes,
                        strerror_r(errno, buf, sizeof buf));
        }
        if (got == 0)
            return fail(p, TSR_ERR_IO, "the file ended at byte %" PRIu64
                        " while being read; it was %" PRIu64 " bytes (changed on disk?)",
                        g->n_bytes, g->file_size);
        g->n_bytes += (uint64_t)got;
    }
    return true;
}

/* Whether n bytes at p->pos are within the header bound and already at
 * g->bytes: the fast path of need(). */
static inline bool have(const parser *p, uint64_t n)
{
    return n <= p->limit - p->pos && n <= p->g->n_bytes - p->pos;
}

/* Makes sure n bytes at p->pos are in the file, within the header bound, and
 * readable at g->bytes; field names them for the message. */
static bool need(parser *p, uint64_t n, const char *field)
{
    tsr_gguf *g = p->g;
    if (have(p, n))
        return true;
    if (n > g->file_size - p->pos)
        return fail(p, TSR_ERR_FORMAT,
                    "%s at byte %" PRIu64 " needs %" PRIu64 " bytes, but the file ends at byte %" PRIu64
                    " (truncated)", field, p->pos, n, g->file_size);
    if (n > p->limit - p->pos)
        return fail(p, TSR_ERR_FORMAT,
                    "%s at byte %" PRIu64 " takes the headers past %" PRIu64
                    " MiB, more than any model needs", field, p->pos, MAX_HEADER_BYTES >> 20);
    return read_more(p, p->pos + n);
}

static bool read_u32(parser *p, const char *field, uint32_t *out)
{
    if (!need(p, 4, field))
        return false;
    *out = gguf_le_u32(p->g->bytes + p->pos);
    p->pos += 4;
    return true;
}

static bool read_u64(parser *p, const char *field, uint64_t *out)
{
    if (!need(p, 8, field))
        return false;
    *out = gguf_le_u64(p->g->bytes + p->pos);
    p->pos += 8;
    return true;
}

#define NO_INDEX UINT64_MAX

/* "what", or "what index", then suffix: a field's name, made only for a
 * message (strings are too many to name each as it is read). */
static const char *field_name(char *buf, size_t size, const char *what, uint64_t index,
                              const char *suffix)
{
    if (index == NO_INDEX)
        snprintf(buf, size, "%s%s", what, suffix);
    else
        snprintf(buf, size, "%s %" PRIu64 "%s", what, index, suffix);
    return buf;
}

/* Reads a string's length (at most max_len) and steps over its text; what
 * (and index, unless NO_INDEX) name it in messages: "key", "element 7". */
static bool read_string(parser *p, const char *what, uint64_t index, uint64_t max_len,
                        uint64_t *len)
{
    char field[64];
    uint64_t at = p->pos;
    if (!have(p, 8) && !need(p, 8, field_name(field, sizeof field, what, index, " length")))
        return false;
    *len = gguf_le_u64(p->g->bytes + p->pos);
    p->pos += 8;
    if (*len > p->g->file_size - p->pos)
        return fail(p, TSR_ERR_FORMAT, "%s %" PRIu64 " at byte %" PRIu64 " runs past the end of"
                    " the %" PRIu64 "-byte file", field_name(field, sizeof field, what, index,
                    " length"), *len, at, p->g->file_size);
    if (*len > max_len)
        return fail(p, TSR_ERR_FORMAT, "%s %" PRIu64 " at byte %" PRIu64 " is over the %" PRIu64
                    "-byte limit", field_name(field, sizeof field, what, index, " length"), *len,
                    at, max_len);
    if (!have(p, *len) && !need(p, *len, field_name(field, sizeof field, what, index, "")))
        return false;
    p->pos += *len;
    return true;
}

static bool parse_array(parser *p, array_node *node, unsigned depth);

/* Steps over one value of type, checking it; an array is indexed in node. */
static bool parse_value(parser *p, tsr_gguf_type type, array_node *node, unsigned depth)
{
    if (type == TSR_GGUF_STRING) {
        uint64_t len;
        return read_string(p, "string", NO_INDEX, UINT64_MAX, &len);
    }
    if (type == TSR_GGUF_ARRAY)
        return parse_array(p, node, depth + 1);
    if (!need(p, value_bytes[type], "value"))
        return false;
    if (type == TSR_GGUF_BOOL && p->g->bytes[p->pos] > 1)
        return fail(p, TSR_ERR_FORMAT, "bool value %u at byte %" PRIu64 " is neither 0 nor 1",
                    p->g->bytes[p->pos], p->pos);
    p->pos += value_bytes[type];
    return true;
}

static bool read_value_type(parser *p, const char *field, uint32_t *type)
{
    uint64_t at = p->pos;
    if (!read_u32(p, field, type))
        return false;
    if (*type >= GGUF_N_VALUE_TYPES)
        return fail(p, TSR_ERR_FORMAT, "%s %" PRIu32 " at byte %" PRIu64
                    " is not a GGUF value type (0 to 12)", field, *type, at);
    return true;
}

static bool parse_array(parser *p, array_node *node, unsigned depth)
{
    if (depth > MAX_ARRAY_DEPTH)
        return fail(p, TSR_ERR_FORMAT, "array at byte %" PRIu64 " is nested more than %d deep",
                    p->pos, MAX_ARRAY_DEPTH);
    uint32_t elem_type;
    if (!read_value_type(p, "array element type", &elem_type))
        return false;
    uint64_t count_at = p->pos, count;
    if (!read_u64(p, "array count", &count))
        return false;
    uint64_t min_bytes = elem_type == TSR_GGUF_STRING  ? MIN_STRING_BYTES
                         : elem_type == TSR_GGUF_ARRAY ? MIN_ARRAY_BYTES
                                                       : value_bytes[elem_type];
    uint64_t left = p->limit - p->pos;
    if (count > left / min_bytes)
        return fail(p, TSR_ERR_FORMAT, "array count %" PRIu64 " at byte %" PRIu64
                    " cannot fit: %" PRIu64 " elements of at least %" PRIu64
                    " bytes, %" PRIu64 " bytes left", count, count_at, count, min_bytes, left);
    node->elem_type = (tsr_gguf_type)elem_type;
    node->count = count;
    node->first = p->pos;

    if (elem_type == TSR_GGUF_STRING) {
        node->string_at = malloc((count ? count : 1) * sizeof *node->string_at);
        if (!node->string_at)
            return fail(p, TSR_ERR_NOMEM, "cannot index %" PRIu64 " strings", count);
        for (uint64_t i = 0; i < count; i++) {
            node->string_at[i] = (uint32_t)p->pos; /* < MAX_HEADER_BYTES */
            uint64_t len;
            if (!read_string(p, "element", i, UINT64_MAX, &len))
                return false;
        }
        return true;
    }
    if (elem_type == TSR_GGUF_ARRAY) {
        if (count > MAX_NESTED_ARRAYS - p->g->n_nested)
            return fail(p, TSR_ERR_FORMAT, "array count %" PRIu64 " at byte %" PRIu64
                        " takes the file past %d nested arrays", count, count_at,
                        MAX_NESTED_ARRAYS);
        p->g->n_nested += count;
        node->arrays = calloc(count ? count : 1, sizeof *node->arrays);
        if (!node->arrays)
            return fail(p, TSR_ERR_NOMEM, "cannot index %" PRIu64 " arrays", count);
        for (uint64_t i = 0; i < count; i++)
            if (!parse_array(p, &node->arrays[i], depth + 1))
                return false;
        return true;
    }
    uint64_t n = count * min_bytes; /* cannot overflow: count <= left / min_bytes */
    if (!need(p, n, "array elements"))
        return false;
    if (elem_type == TSR_GGUF_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (p->g->bytes[p->pos + i] > 1)
                return fail(p, TSR_ERR_FORMAT, "bool element %" PRIu64 " at byte %" PRIu64
                            " is %u, neither 0 nor 1", i, p->pos + i, p->g->bytes[p->pos + i]);
    p->pos += n;
    return true;
}

static void free_node(array_node *node)
{
    if (node->arrays)
        for (uint64_t i = 0; i < node->count; i++)
            free_node(&node->arrays[i]);
    free(node->arrays);
    free(node->string_at);
}

static bool grow(parser *p, void **array, uint64_t *cap, uint64_t needed, size_t elem)
{
    if (needed <= *cap)
        return true;
    uint64_t n = *cap ? *cap * 2 : 64;
    if (n < needed)
        n = needed;
    void *grown = realloc(*array, n * elem);
    if (!grown)
        return fail(p, TSR_ERR_NOMEM, "cannot hold %" PRIu64 " entries", n);
    *array = grown;
    *cap = n;
    return true;
}

/* ---- name tables ---------------------------------------------------------- */

static bool table_init(name_table *table, uint64_t n)
{
    uint64_t slots = 8;
    while (slots < 2 * n)
        slots *= 2;
    table->slots = calloc(slots, sizeof *table->slots);
    table->mask = slots - 1;
    return table->slots != NULL;
}

/* Adds entry index; returns the index of an earlier entry of the same name,
 * or -1. */
static int64_t table_add(const tsr_gguf *g, name_table *table, gguf_text_of text, uint64_t index)
{
    tsr_gguf_str s = text(g, index);
    uint64_t i = gguf_hash(s.data, s.len) & table->mask;
    for (; table->slots[i]; i = (i + 1) & table->mask) {
        tsr_gguf_str other = text(g, table->slots[i] - 1);
        if (other.len == s.len && memcmp(other.data, s.data, s.len) == 0)
            return (int64_t)(table->slots[i] - 1);
    }
    table->slots[i] = index + 1;
    return -1;
}

/* ---- sections --------------------------------------------------------------- */

static bool parse_header(parser *p, uint64_t *n_tensors, uint64_t *n_kvs)
{
    snprintf(p->where, sizeof p->where, "header");
    if (!need(p, 4, "magic"))
        return false;
    const uint8_t *m = p->g->bytes;
    if (memcmp(m, "GGUF", 4) != 0)
        return fail(p, TSR_ERR_FORMAT, "magic at byte 0 is %02x %02x %02x %02x, not \"GGUF\":"
                    " not a GGUF file", m[0], m[1], m[2], m[3]);
    p->pos = 4;
    uint32_t version;
    if (!read_u32(p, "version", &version))
        return false;
    if (version == 1)
        return fail(p, TSR_ERR_UNSUPPORTED, "version 1 at byte 4: GGUF version 1 (from 2023,"
                    " 32-bit counts) is not supported; convert the model again with a current"
                    " llama.cpp");
    if (version == 0x02000000u || version == 0x03000000u)
        return fail(p, TSR_ERR_UNSUPPORTED, "version at byte 4 reads as big-endian: big-endian"
                    " GGUF files are not supported");
    if (version > 3)
        return fail(p, TSR_ERR_UNSUPPORTED, "version %" PRIu32 " at byte 4 is newer than this"
                    " reader, which reads versions 2 and 3", version);
    if (version != 2 && version != 3)
        return fail(p, TSR_ERR_FORMAT, "version 0 at byte 4 is not a GGUF version");
    p->g->version = version;
    if (!read_u64(p, "tensor count", n_tensors) || !read_u64(p, "metadata count", n_kvs))
        return false;
    if (*n_kvs > MAX_KEYS)
        return fail(p, TSR_ERR_FORMAT, "metadata count %" PRIu64 " at byte 16 is over the limit"
                    " of %d keys", *n_kvs, MAX_KEYS);
    if (*n_tensors > MAX_TENSORS)
        return fail(p, TSR_ERR_FORMAT, "tensor count %" PRIu64 " at byte 8 is over the limit of"
                    " %d tensors", *n_tensors, MAX_TENSORS);
    uint64_t left = p->limit - p->pos;
    if (*n_kvs > left / MIN_KV_BYTES)
        return fail(p, TSR_ERR_FORMAT, "metadata count %" PRIu64 " at byte 16 cannot fit in the"
                    " %" PRIu64 " bytes left", *n_kvs, left);
    left -= *n_kvs * MIN_KV_BYTES;
    if (*n_tensors > left / MIN_TENSOR_INFO_BYTES)
        return fail(p, TSR_ERR_FORMAT, "tensor count %" PRIu64 " at byte 8 cannot fit in the"
                    " %" PRIu64 " bytes left after the metadata", *n_tensors, left);
    return true;
}

/* A key or tensor name: not empty, no NUL byte (names are looked up as C
 * strings). */
static bool check_name(parser *p, const char *what, uint64_t at, uint64_t len)
{
    if (len == 0)
        return fail(p, TSR_ERR_FORMAT, "%s length 0 at byte %" PRIu64 ": %ss cannot be empty",
                    what, at, what);
    if (memchr(p->g->bytes + at + 8, 0, len))
        return fail(p, TSR_ERR_FORMAT, "%s at byte %" PRIu64 " holds a NUL byte", what, at + 8);
    return true;
}

static bool check_alignment(parser *p, const kv_entry *kv)
{
    if (kv->type != TSR_GGUF_UINT32)
        return fail(p, TSR_ERR_FORMAT, "value at byte %" PRIu64 " has type %s; general.alignment"
                    " must be a uint32", kv->value_at, tsr_gguf_type_name(kv->type));
    uint32_t alignment = gguf_le_u32(p->g->bytes + kv->value_at);
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return fail(p, TSR_ERR_FORMAT, "value %" PRIu32 " at byte %" PRIu64 " is not a power of"
                    " two; general.alignment must be one", alignment, kv->value_at);
    p->g->alignment = alignment;
    return true;
}

static bool parse_metadata(parser *p, uint64_t n_kvs)
{
    tsr_gguf *g = p->g;
    for (uint64_t i = 0; i < n_kvs; i++) {
        set_where(p, "key", i, NULL, 0);
        if (!grow(p, (void **)&g->kvs, &g->cap_kvs, i + 1, sizeof *g->kvs))
            return false;
        kv_entry *kv = &g->kvs[i];
        memset(kv, 0, sizeof *kv);
        kv->at = p->pos;
        if (!read_string(p, "key", NO_INDEX, MAX_KEY_BYTES, &kv->key_len) ||
            !check_name(p, "key", kv->at, kv->key_len))
            return false;
        g->n_kvs = i + 1;
        set_where(p, "key", i, g->bytes + kv->at + 8, kv->key_len);
        uint32_t type;
        if (!read_value_type(p, "value type", &type))
            return false;
        kv->type = (tsr_gguf_type)type;
        kv->value_at = p->pos;
        if (!parse_value(p, kv->type, &kv->array, 0))
            return false;
        kv->end = p->pos;
        tsr_gguf_str key = gguf_key_text(g, i);
        if (key.len == 17 && memcmp(key.data, "general.alignment", 17) == 0 &&
            !check_alignment(p, kv))
            return false;
    }
    if (!table_init(&g->keys, g->n_kvs)) {
        snprintf(p->where, sizeof p->where, "metadata");
        return fail(p, TSR_ERR_NOMEM, "cannot index %" PRIu64 " keys", g->n_kvs);
    }
    for (uint64_t i = 0; i < g->n_kvs; i++) {
        int64_t earlier = table_add(g, &g->keys, gguf_key_text, i);
        if (earlier >= 0) {
            set_where(p, "key", i, g->bytes + g->kvs[i].at + 8, g->kvs[i].key_len);
            return fail(p, TSR_ERR_FORMAT, "key at byte %" PRIu64 " repeats key %" PRId64
                        " at byte %" PRIu64 "; keys must be unique", g->kvs[i].at, earlier,
                        g->kvs[earlier].at);
        }
    }
    return true;
}

static bool parse_tensor_info(parser *p, uint64_t i)
{
    tsr_gguf *g = p->g;
    tensor_entry *e = &g->tensors[i];
    tsr_gguf_tensor *t = &e->pub;
    memset(e, 0, sizeof *e);
    set_where(p, "tensor", i, NULL, 0);
    e->at = p->pos;
    if (!read_string(p, "name", NO_INDEX, MAX_TENSOR_NAME_BYTES, &e->name_len) ||
        !check_name(p, "name", e->at, e->name_len))
        return false;
    set_where(p, "tensor", i, g->bytes + e->at + 8, e->name_len);

    uint64_t at = p->pos;
    if (!read_u32(p, "n_dims", &t->n_dims))
        return false;
    if (t->n_dims == 0 || t->n_dims > TSR_GGUF_MAX_DIMS)
        return fail(p, TSR_ERR_FORMAT, "n_dims %" PRIu32 " at byte %" PRIu64 ": a tensor has 1"
                    " to %d dimensions", t->n_dims, at, TSR_GGUF_MAX_DIMS);
    t->n_elems = 1;
    for (uint32_t d = 0; d < TSR_GGUF_MAX_DIMS; d++)
        t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        char field[16];
        snprintf(field, sizeof field, "dim %" PRIu32, d);
        at = p->pos;
        if (!read_u64(p, field, &t->dims[d]))
            return false;
        if (t->dims[d] == 0)
            return fail(p, TSR_ERR_FORMAT, "dim %" PRIu32 " at byte %" PRIu64 " is 0", d, at);
        if (t->dims[d] > (uint64_t)INT64_MAX / t->n_elems)
            return fail(p, TSR_ERR_FORMAT, "dim %" PRIu32 " (%" PRIu64 ") at byte %" PRIu64
                        " makes the element count overflow 63 bits", d, t->dims[d], at);
        t->n_elems *= t->dims[d];
    }

    at = p->pos;
    if (!read_u32(p, "type", &t->type))
        return false;
    const tsr_ggml_type_info *info = tsr_ggml_type(t->type);
    if (!info)
        return fail(p, TSR_ERR_FORMAT, "type %" PRIu32 " at byte %" PRIu64 " is not a ggml"
                    " type id this reader knows (removed or newer than it)", t->type, at);
    if (t->dims[0] % info->block_elems != 0)
        return fail(p, TSR_ERR_FORMAT, "dim 0 (%" PRIu64 ") at byte %" PRIu64 " is not a whole"
                    " number of %s blocks of %" PRIu32 " elements", t->dims[0], e->at + 12 +
                    e->name_len, info->name, info->block_elems);
    uint64_t blocks = t->n_elems / info->block_elems;
    if (blocks > UINT64_MAX / info->block_bytes)
        return fail(p, TSR_ERR_FORMAT, "type %s at byte %" PRIu64 ": %" PRIu64 " elements"
                    " take more than 2^64 bytes", info->name, at, t->n_elems);
    t->n_bytes = blocks * info->block_bytes;

    e->offset_at = p->pos;
    if (!read_u64(p, "offset", &t->offset))
        return false;
    if (t->offset % g->alignment != 0)
        return fail(p, TSR_ERR_FORMAT, "offset %" PRIu64 " at byte %" PRIu64 " is not a multiple"
                    " of the alignment, %" PRIu32, t->offset, e->offset_at, g->alignment);
    return true;
}

static int by_offset(const void *a, const void *b)
{
    const tensor_entry *x = *(const tensor_entry *const *)a, *y = *(const tensor_entry *const *)b;
    return x->pub.offset < y->pub.offset ? -1 : x->pub.offset > y->pub.offset;
}

/* Places each tensor's data after the data section start and checks the
 * data lie inside the file (when strict) and do not overlap. */
static bool place_tensors(parser *p)
{
    tsr_gguf *g = p->g;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tensor_entry *e = &g->tensors[i];
        tsr_gguf_tensor *t = &e->pub;
        set_where(p, "tensor", i, g->bytes + e->at + 8, e->name_len);
        if (t->n_bytes > UINT64_MAX - g->data_offset ||
            t->offset > UINT64_MAX - g->data_offset - t->n_bytes)
            return fail(p, TSR_ERR_FORMAT, "offset %" PRIu64 " at byte %" PRIu64 " puts the data"
                        " past byte 2^64", t->offset, e->offset_at);
        t->file_offset = g->data_offset + t->offset;
        uint64_t end = t->file_offset + t->n_bytes;
        if (p->strict && end > g->file_size)
            return fail(p, TSR_ERR_FORMAT, "data at byte %" PRIu64 " (offset %" PRIu64 " at byte %"
                        PRIu64 ") ends at byte %" PRIu64 ", past the end of the %" PRIu64
                        "-byte file", t->file_offset, t->offset, e->offset_at, end, g->file_size);
        t->data = p->strict ? g->bytes + t->file_offset : NULL;
    }
    if (g->n_tensors < 2)
        return true;
    tensor_entry **order = malloc(g->n_tensors * sizeof *order);
    if (!order)
        return fail(p, TSR_ERR_NOMEM, "cannot sort %" PRIu64 " tensors", g->n_tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, by_offset);
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const tensor_entry *a = order[i - 1], *b = order[i];
        if (a->pub.file_offset + a->pub.n_bytes > b->pub.file_offset) {
            set_where(p, "tensor", (uint64_t)(b - g->tensors), g->bytes + b->at + 8, b->name_len);
            fail(p, TSR_ERR_FORMAT, "data at bytes [%" PRIu64 ", %" PRIu64 ") (offset at byte %"
                 PRIu64 ") overlap those of tensor %" PRIu64 " (%s) at [%" PRIu64 ", %" PRIu64 ")",
                 b->pub.file_offset, b->pub.file_offset + b->pub.n_bytes, b->offset_at,
                 (uint64_t)(a - g->tensors), a->pub.name, a->pub.file_offset,
                 a->pub.file_offset + a->pub.n_bytes);
            free(order);
            return false;
        }
    }
    free(order);
    return true;
}

static bool parse_tensors(parser *p, uint64_t n_tensors)
{
    tsr_gguf *g = p->g;
    uint64_t name_bytes = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (!grow(p, (void **)&g->tensors, &g->cap_tensors, i + 1, sizeof *g->tensors) ||
            !parse_tensor_info(p, i))
            return false;
        g->n_tensors = i + 1;
        name_bytes += g->tensors[i].name_len + 1;
    }
    /* The data section starts at the next multiple of the alignment. */
    g->data_offset = (p->pos + g->alignment - 1) / g->alignment * g->alignment;

    snprintf(p->where, sizeof p->where, "tensor infos");
    g->names = malloc(name_bytes ? name_bytes : 1);
    if (!g->names || !table_init(&g->tensor_names, g->n_tensors))
        return fail(p, TSR_ERR_NOMEM, "cannot index %" PRIu64 " tensors", g->n_tensors);
    char *name = g->names;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tensor_entry *e = &g->tensors[i];
        memcpy(name, g->bytes + e->at + 8, e->name_len);
        name[e->name_len] = '\0';
        e->pub.name = name;
        name += e->name_len + 1;
        int64_t earlier = table_add(g, &g->tensor_names, gguf_tensor_text, i);
        if (earlier >= 0) {
            set_where(p, "tensor", i, g->bytes + e->at + 8, e->name_len);
            return fail(p, TSR_ERR_FORMAT, "name at byte %" PRIu64 " repeats tensor %" PRId64
                        " at byte %" PRIu64 "; tensor names must be unique", e->at, earlier,
                        g->tensors[earlier].at);
        }
    }
    return place_tensors(p);
}

/* ---- opening -------------------------------------------------------------- */

static tsr_gguf *new_handle(const char *path)
{
    tsr_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->path = strdup(path);
    if (!g->path) {
        free(g);
        return NULL;
    }
    g->alignment = DEFAULT_ALIGNMENT;
    return g;
}

static tsr_status parse(tsr_gguf *g, int fd, bool strict, tsr_error *err)
{
    parser p = {.g = g, .fd = fd, .strict = strict, .err = err};
    p.limit = g->file_size < MAX_HEADER_BYTES ? g->file_size : MAX_HEADER_BYTES;
    uint64_t n_tensors, n_kvs;
    if (!parse_header(&p, &n_tensors, &n_kvs) || !parse_metadata(&p, n_kvs) ||
        !parse_tensors(&p, n_tensors))
        return err ? err->code : TSR_ERR_FORMAT;
    return TSR_OK;
}

static tsr_status open_error(const char *path, const char *what, int errnum, tsr_error *err)
{
    char buf[128];
    /* mmap fails with ENOMEM under a memory limit: the machine's fault, not the file's. */
    if (errnum == ENOMEM)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory: cannot %s %s: %s", what, path,
                             strerror_r(errnum, buf, sizeof buf));
    return tsr_error_set(err, errnum == ENOENT ? TSR_ERR_NOT_FOUND : TSR_ERR_IO, "%s: cannot %s: %s",
                         path, what, strerror_r(errnum, buf, sizeof buf));
}

/* Opens path and stats it as a regular file. */
static tsr_status open_file(const char *path, int *fd, uint64_t *size, tsr_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return open_error(path, "open", errno, err);
    struct stat st;
    if (fstat(*fd, &st) != 0) {
        int errnum = errno;
        close(*fd);
        return open_error(path, "stat", errnum, err);
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return tsr_error_set(err, TSR_ERR_IO, "%s: not a regular file", path);
    }
    *size = (uint64_t)st.st_size;
    return TSR_OK;
}

static tsr_status finish(tsr_gguf *g, tsr_status status, tsr_gguf **out)
{
    if (status != TSR_OK) {
        tsr_gguf_close(g);
        return status;
    }
    *out = g;
    return TSR_OK;
}

tsr_status tsr_gguf_open(const char *path, tsr_gguf **out, tsr_error *err)
{
    if (!out || !path)
        return tsr_error_set(err, TSR_ERR_INVALID, "tsr_gguf_open: no path or no result pointer");
    *out = NULL;
    int fd;
    uint64_t size;
    tsr_status status = open_file(path, &fd, &size, err);
    if (status != TSR_OK)
        return status;
    tsr_gguf *g = new_handle(path);
    if (!g) {
        close(fd);
        return tsr_error_set(err, TSR_ERR_NOMEM, "%s: out of memory", path);
    }
    g->file_size = size;
    if (size > SIZE_MAX) {
        close(fd);
        tsr_error_set(err, TSR_ERR_IO, "%s: %" PRIu64 " bytes are too many to map", path, size);
        return finish(g, TSR_ERR_IO, out);
    }
    if (size > 0) {
        void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int errnum = errno;
            close(fd);
            return finish(g, open_error(path, "map", errnum, err), out);
        }
        g->map = map;
        g->map_bytes = (size_t)size;
        g->bytes = map;
        g->n_bytes = size;
    }
    close(fd);
    return finish(g, parse(g, -1, true, err), out);
}

tsr_status tsr_gguf_open_headers(const char *path, tsr_gguf **out, tsr_error *err)
{
    if (!out || !path)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "tsr_gguf_open_headers: no path or no result pointer");
    *out = NULL;
    int fd;
    uint64_t size;
    tsr_status status = open_file(path, &fd, &size, err);
    if (status != TSR_OK)
        return status;
    tsr_gguf *g = new_handle(path);
    if (!g) {
        close(fd);
        return tsr_error_set(err, TSR_ERR_NOMEM, "%s: out of memory", path);
    }
    g->file_size = size;
    status = parse(g, fd, false, err);
    close(fd);
    return finish(g, status, out);
}

tsr_status tsr_gguf_open_memory(const void *data, size_t n_bytes, const char *name,
                                tsr_gguf **out, tsr_error *err)
{
    if (!out || (!data && n_bytes))
        return tsr_error_set(err, TSR_ERR_INVALID, "tsr_gguf_open_memory: no buffer or no result"
                             " pointer");
    *out = NULL;
    tsr_gguf *g = new_handle(name ? name : "<memory>");
    if (!g)
        return tsr_error_set(err, TSR_ERR_NOMEM, "%s: out of memory", name ? name : "<memory>");
    g->file_size = n_bytes;
    g->bytes = data;
    g->n_bytes = n_bytes;
    return finish(g, parse(g, -1, true, err), out);
}

void tsr_gguf_close(tsr_gguf *g)
{
    if (!g)
        return;
    for (uint64_t i = 0; i < g->n_kvs; i++)
        free_node(&g->kvs[i].array);
    free(g->kvs);
    free(g->tensors);
    free(g->names);
    free(g->keys.slots);
    free(g->tensor_names.slots);
    if (g->map)
        munmap(g->map, g->map_bytes);
    free(g->copy);
    free(g->path);
    free(g);
}

void tsr_gguf_drop_tensor_pages(const tsr_gguf *g, const tsr_gguf_tensor *t)
{
    if (!g->map || !t->data)
        return;
    /* Whole pages only: a page shared with a neighbour stays. */
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t begin = ((uintptr_t)t->data + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)t->data + t->n_bytes) & ~(page - 1);
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_DONTNEED);
}
