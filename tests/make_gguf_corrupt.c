/* Writes the corpus of malformed GGUF files, tests/data/gguf-corrupt, and
 * its EXPECTED.txt saying what the reader must answer for each (after a
 * first line, a comment):
 *
 *     NAME <TAB> CODE <TAB> HEADERS_CODE <TAB> a piece of the error message
 *
 * CODE (ok, format, unsupported) is what tsr_gguf_open and
 * tsr_gguf_open_memory answer; HEADERS_CODE is tsr_gguf_open_headers',
 * which differs only where tensor data run past the end of the file.
 * The piece names the field and its byte offset, which this program takes
 * from the writer, not from the reader. valid.gguf is the control: every
 * other file is it, or a file like it, with one defect. The files are also
 * the fuzzer's seeds (tests/fuzz/fuzz_gguf.c).
 *
 * Usage: make_gguf_corrupt OUTDIR   (tests/gguf_corpus.sh checks that the
 * committed files are what this program writes.) The program lives here,
 * not in the corpus folder, so that no build output lands beside the
 * files `make dist` copies. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_writer.h"

enum { TYPE_F32 = 0, TYPE_Q4_0 = 2 };

static const char *out_dir;
static FILE *expected;
static int failures;

/* What the next file emitted gets from tsr_gguf_open_headers, when that
 * differs from what the others answer. */
static const char *headers_code;

/* Writes name with the first n bytes of data, and its expectation. */
static void emit_bytes(const char *name, const uint8_t *data, size_t n, const char *code,
                       const char *fmt, ...)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_gguf_corrupt: cannot write %s\n", path);
        failures++;
        return;
    }
    char piece[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(piece, sizeof piece, fmt, args);
    va_end(args);
    fprintf(expected, "%s\t%s\t%s\t%s\n", name, code, headers_code ? headers_code : code, piece);
    headers_code = NULL;
}

/* Writes w's file cut to keep bytes (SIZE_MAX: all of it). */
static void emit(const char *name, gguf_writer *w, size_t keep, const char *code,
                 const char *piece)
{
    uint8_t *data;
    size_t n;
    gguf_writer_to_memory(w, &data, &n);
    emit_bytes(name, data, keep < n ? keep : n, code, "%s", piece);
    free(data);
    gguf_writer_free(w);
}

/* The metadata every file starts with. */
static gguf_writer *base(void)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_kv_u32(w, "llama.block_count", 1);
    return w;
}

static const uint64_t dims_8[] = {8};
static const float values_8[8] = {1, 2, 3, 4, 5, 6, 7, 8};

/* A file with one tensor of 8 floats. */
static gguf_writer *with_tensor(void)
{
    gguf_writer *w = base();
    gguf_writer_tensor(w, "output_norm.weight", TYPE_F32, 1, dims_8, values_8);
    return w;
}

/* Where the value of the next key called key will be. */
static uint64_t value_at(const gguf_writer *w, const char *key)
{
    return gguf_writer_position(w) + 8 + strlen(key) + 4;
}

/* Where the n_dims field of tensor index is. */
static uint64_t n_dims_at(const gguf_writer *w, uint64_t index, const char *name)
{
    return gguf_writer_tensor_info_at(w, index) + 8 + strlen(name);
}

static char piece[512];
#define PIECE(...) (snprintf(piece, sizeof piece, __VA_ARGS__), piece)

static void header_cases(void)
{
    emit("valid.gguf", with_tensor(), SIZE_MAX, "ok", "");
    emit_bytes("empty.gguf", (const uint8_t *)"", 0, "format",
               "magic at byte 0 needs 4 bytes, but the file ends at byte 0");

    gguf_writer *w = with_tensor();
    uint8_t *data;
    size_t n;
    gguf_writer_to_memory(w, &data, &n);
    memcpy(data, "GGUX", 4);
    emit_bytes("bad_magic.gguf", data, n, "format", "magic at byte 0 is 47 47 55 58");
    free(data);
    gguf_writer_free(w);

    w = base();
    gguf_writer_to_memory(w, &data, &n);
    data[4] = 1;
    emit_bytes("version1.gguf", data, n, "unsupported", "version 1 at byte 4");
    data[4] = 0;
    data[7] = 3;
    emit_bytes("big_endian.gguf", data, n, "unsupported", "version at byte 4 reads as big-endian");
    free(data);
    gguf_writer_free(w);

    emit("truncated_header.gguf", base(), 12, "format",
         "tensor count at byte 8 needs 8 bytes, but the file ends at byte 12");

    w = base();
    gguf_writer_set_counts(w, 0, (uint64_t)1 << 40);
    emit("huge_kv_count.gguf", w, SIZE_MAX, "format",
         "metadata count 1099511627776 at byte 16 is over the limit of 65536 keys");
    w = base();
    gguf_writer_set_counts(w, (uint64_t)1 << 40, 2);
    emit("huge_tensor_count.gguf", w, SIZE_MAX, "format",
         "tensor count 1099511627776 at byte 8 is over the limit of 1048576 tensors");
    /* Under the limits, but not in the bytes the file has. */
    w = base();
    gguf_writer_set_counts(w, 0, 1000);
    emit("too_many_keys.gguf", w, SIZE_MAX, "format",
         "metadata count 1000 at byte 16 cannot fit in the 78 bytes left");
    w = base();
    gguf_writer_set_counts(w, 1000, 2);
    emit("too_many_tensors.gguf", w, SIZE_MAX, "format",
         "tensor count 1000 at byte 8 cannot fit in the 50 bytes left after the metadata");
}

static void metadata_cases(void)
{
    /* One key, general.architecture, whose text starts at byte 32: cut it
     * short (one key, so the header's count still fits in what is left). */
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    emit("truncated_key.gguf", w, 24 + 8 + 10, "format",
         "key 0: key length 20 at byte 24 runs past the end of the 42-byte file");

    w = base();
    uint64_t at = value_at(w, "general.file_type");
    gguf_writer_kv_u64(w, "general.file_type", 3);
    emit("truncated_value.gguf", w, at + 3, "format",
         PIECE("key 2 (general.file_type): value at byte %" PRIu64 " needs 8 bytes, but the"
               " file ends at byte %" PRIu64, at, at + 3));

    w = base();
    at = value_at(w, "llama.layers") + 4;
    uint32_t ten[10] = {0};
    gguf_writer_kv_array(w, "llama.layers", TSR_GGUF_UINT32, 10, ten);
    emit("truncated_array.gguf", w, at + 8 + 12, "format",
         PIECE("key 2 (llama.layers): array count 10 at byte %" PRIu64 " cannot fit", at));

    w = base();
    static const char *const strings[] = {"alpha", "beta", "gamma"};
    at = value_at(w, "tokenizer.ggml.tokens") + 12; /* element 0 */
    gguf_writer_kv_str_array(w, "tokenizer.ggml.tokens", 3, strings);
    uint64_t gamma_at = at + 13 + 12;
    emit("truncated_string_array.gguf", w, gamma_at + 8 + 2, "format",
         PIECE("key 2 (tokenizer.ggml.tokens): element 2 length 5 at byte %" PRIu64 " runs past the end of the %" PRIu64
               "-byte file", gamma_at, gamma_at + 10));

    w = base();
    at = value_at(w, "general.name");
    gguf_writer_key(w, "general.name", TSR_GGUF_STRING);
    gguf_writer_raw_u64(w, (uint64_t)1 << 63);
    gguf_writer_raw_str(w, "padding");
    emit("huge_string_length.gguf", w, SIZE_MAX, "format",
         PIECE("string length 9223372036854775808 at byte %" PRIu64 " runs past the end", at));

    w = base();
    at = value_at(w, "general.tags");
    gguf_writer_key(w, "general.tags", TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, TSR_GGUF_UINT8, (uint64_t)1 << 62);
    gguf_writer_raw_u64(w, 0);
    emit("huge_array_count.gguf", w, SIZE_MAX, "format",
         PIECE("array count 4611686018427387904 at byte %" PRIu64 " cannot fit", at + 4));

    /* Arrays of one array each, 20 deep: the 9th is one too many. */
    w = base();
    at = value_at(w, "general.nested");
    gguf_writer_key(w, "general.nested", TSR_GGUF_ARRAY);
    for (int depth = 0; depth < 20; depth++)
        gguf_writer_array_head(w, TSR_GGUF_ARRAY, 1);
    gguf_writer_array_head(w, TSR_GGUF_UINT8, 0);
    emit("nested_array_deep.gguf", w, SIZE_MAX, "format",
         PIECE("array at byte %" PRIu64 " is nested more than 8 deep", at + 8 * 12));

    w = base();
    at = value_at(w, "general.nested");
    gguf_writer_key(w, "general.nested", TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, TSR_GGUF_ARRAY, (uint64_t)1 << 40);
    gguf_writer_array_head(w, TSR_GGUF_UINT8, 0);
    emit("nested_array_wide.gguf", w, SIZE_MAX, "format",
         PIECE("array count 1099511627776 at byte %" PRIu64 " cannot fit", at + 4));

    w = base();
    at = value_at(w, "general.flag");
    gguf_writer_key(w, "general.flag", TSR_GGUF_BOOL);
    gguf_writer_raw_u8(w, 2);
    emit("bad_bool.gguf", w, SIZE_MAX, "format",
         PIECE("bool value 2 at byte %" PRIu64 " is neither 0 nor 1", at));

    w = base();
    at = value_at(w, "general.odd") - 4;
    gguf_writer_key(w, "general.odd", (tsr_gguf_type)13);
    gguf_writer_raw_u32(w, 0);
    emit("unknown_value_type.gguf", w, SIZE_MAX, "format",
         PIECE("value type 13 at byte %" PRIu64 " is not a GGUF value type", at));

    w = gguf_writer_new(3);
    gguf_writer_kv_u32(w, "", 1);
    emit("empty_key.gguf", w, SIZE_MAX, "format", "key length 0 at byte 24: keys cannot be empty");

    w = base();
    uint64_t first = 24; /* general.architecture */
    at = gguf_writer_position(w);
    gguf_writer_kv_str(w, "general.architecture", "mamba");
    emit("duplicate_key.gguf", w, SIZE_MAX, "format",
         PIECE("key 2 (general.architecture): key at byte %" PRIu64 " repeats key 0 at byte %"
               PRIu64, at, first));

    static const struct {
        const char *name;
        uint32_t value;
    } bad_alignments[] = {{"alignment_zero.gguf", 0}, {"alignment_not_power_of_two.gguf", 48}};
    for (int i = 0; i < 2; i++) {
        w = base();
        at = value_at(w, "general.alignment");
        gguf_writer_kv_u32(w, "general.alignment", bad_alignments[i].value);
        emit(bad_alignments[i].name, w, SIZE_MAX, "format",
             PIECE("general.alignment): value %" PRIu32 " at byte %" PRIu64 " is not a power of"
                   " two", bad_alignments[i].value, at));
    }
    w = base();
    at = value_at(w, "general.alignment");
    gguf_writer_kv_u64(w, "general.alignment", 64);
    emit("alignment_wrong_type.gguf", w, SIZE_MAX, "format",
         PIECE("value at byte %" PRIu64 " has type uint64; general.alignment must be a uint32", at));
}

static void tensor_cases(void)
{
    const char *name = "blk.0.attn_q.weight";
    gguf_writer *w = base();
    gguf_writer_tensor(w, name, TYPE_F32, 2, (uint64_t[]){8, 8}, NULL);
    uint64_t dim1_at = n_dims_at(w, 0, name) + 4 + 8;
    emit("truncated_tensor_info.gguf", w, dim1_at + 4, "format",
         PIECE("tensor 0 (blk.0.attn_q.weight): dim 1 at byte %" PRIu64 " needs 8 bytes, but"
               " the file ends at byte %" PRIu64, dim1_at, dim1_at + 4));

    w = with_tensor();
    uint64_t data = gguf_writer_data_offset(w), size = gguf_writer_file_size(w);
    uint64_t offset_at = n_dims_at(w, 0, "output_norm.weight") + 4 + 8 + 4;
    headers_code = "ok";
    emit("truncated_data.gguf", w, (size_t)size - 20, "format",
         PIECE("tensor 0 (output_norm.weight): data at byte %" PRIu64 " (offset 0 at byte %" PRIu64
               ") ends at byte %" PRIu64 ", past the end of the %" PRIu64 "-byte file", data,
               offset_at, data + 32, size - 20));

    static const struct {
        const char *file;
        uint32_t n_dims;
        uint64_t dims[5];
        uint32_t type;
        const char *fmt; /* given the byte offset of n_dims */
        unsigned skip;   /* bytes from n_dims to the field */
    } shapes[] = {
        {"n_dims_zero.gguf", 0, {0}, TYPE_F32, "n_dims 0 at byte %" PRIu64 ": a tensor has 1 to 4", 0},
        {"n_dims_five.gguf", 5, {1, 1, 1, 1, 1}, TYPE_F32, "n_dims 5 at byte %" PRIu64, 0},
        {"zero_dim.gguf", 2, {8, 0}, TYPE_F32, "dim 1 at byte %" PRIu64 " is 0", 12},
        {"dims_overflow.gguf", 2, {(uint64_t)1 << 32, (uint64_t)1 << 32}, TYPE_F32,
         "dim 1 (4294967296) at byte %" PRIu64 " makes the element count overflow", 12},
        {"unknown_type.gguf", 1, {8}, 4, "type 4 at byte %" PRIu64 " is not a ggml type id", 12},
        {"block_mismatch.gguf", 2, {33, 2}, TYPE_Q4_0,
         "dim 0 (33) at byte %" PRIu64 " is not a whole number of q4_0 blocks of 32", 4},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        w = base();
        gguf_writer_tensor_at(w, name, shapes[i].type, shapes[i].n_dims, shapes[i].dims, 0);
        uint64_t at = n_dims_at(w, 0, name) + shapes[i].skip;
        emit(shapes[i].file, w, SIZE_MAX, "format", PIECE(shapes[i].fmt, at));
    }

    w = base();
    gguf_writer_tensor_at(w, name, TYPE_F32, 1, dims_8, 7);
    offset_at = n_dims_at(w, 0, name) + 4 + 8 + 4;
    emit("misaligned_offset.gguf", w, SIZE_MAX, "format",
         PIECE("offset 7 at byte %" PRIu64 " is not a multiple of the alignment, 32", offset_at));

    w = base();
    gguf_writer_tensor_at(w, name, TYPE_F32, 1, dims_8, (uint64_t)1 << 20);
    offset_at = n_dims_at(w, 0, name) + 4 + 8 + 4;
    data = gguf_writer_data_offset(w);
    size = gguf_writer_file_size(w);
    headers_code = "ok";
    emit("offset_past_eof.gguf", w, SIZE_MAX, "format",
         PIECE("data at byte %" PRIu64 " (offset 1048576 at byte %" PRIu64 ") ends at byte %" PRIu64
               ", past the end of the %" PRIu64 "-byte file", data + (1 << 20), offset_at,
               data + (1 << 20) + 32, size));

    w = base();
    gguf_writer_tensor_at(w, name, TYPE_F32, 1, dims_8, UINT64_MAX - 31);
    offset_at = n_dims_at(w, 0, name) + 4 + 8 + 4;
    emit("offset_overflow.gguf", w, SIZE_MAX, "format",
         PIECE("offset 18446744073709551584 at byte %" PRIu64 " puts the data past byte 2^64",
               offset_at));

    /* b's data lie inside pad's. */
    w = base();
    gguf_writer_tensor(w, "pad", TYPE_F32, 1, (uint64_t[]){32}, NULL);
    gguf_writer_tensor_at(w, "b", TYPE_F32, 1, (uint64_t[]){16}, 64);
    data = gguf_writer_data_offset(w);
    offset_at = n_dims_at(w, 1, "b") + 4 + 8 + 4;
    emit("overlapping_tensors.gguf", w, SIZE_MAX, "format",
         PIECE("tensor 1 (b): data at bytes [%" PRIu64 ", %" PRIu64 ") (offset at byte %" PRIu64
               ") overlap those of tensor 0 (pad)", data + 64, data + 128, offset_at));

    w = base();
    gguf_writer_tensor(w, "a", TYPE_F32, 1, dims_8, NULL);
    gguf_writer_tensor(w, "a", TYPE_F32, 1, dims_8, NULL);
    emit("duplicate_tensor.gguf", w, SIZE_MAX, "format",
         PIECE("tensor 1 (a): name at byte %" PRIu64 " repeats tensor 0 at byte %" PRIu64,
               gguf_writer_tensor_info_at(w, 1), gguf_writer_tensor_info_at(w, 0)));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/EXPECTED.txt", out_dir);
    expected = fopen(path, "w");
    if (!expected) {
        fprintf(stderr, "make_gguf_corrupt: cannot write %s\n", path);
        return 1;
    }
    fprintf(expected, "# Written by tests/make_gguf_corrupt.c, with the files beside it:"
                      " NAME, CODE, HEADERS_CODE, PIECE.\n");
    header_cases();
    metadata_cases();
    tensor_cases();
    if (fclose(expected) != 0)
        failures++;
    return failures ? 1 : 0;
}
