/* A copy of a model file with one tensor's bytes overwritten, for
 * tests/hostile.sh: a model whose norm or weight scales hold NaN or Inf.
 *
 *   make_hostile_model SRC DST TENSOR nan|inf
 *
 * nan fills the tensor with 0xff bytes: NaN as f32 and as f16, so every
 * block scale of a quantized tensor (f16 in every ggml block format) and
 * every value of a float one is NaN. inf writes +Inf as f32 (for f32
 * tensors: norms). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[1 << 16];
    size_t n;
    int rc = in && out ? 0 : 1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = 1;
    if (in && ferror(in))
        rc = 1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[4], "nan") != 0 && strcmp(argv[4], "inf") != 0)) {
        fprintf(stderr, "usage: make_hostile_model SRC DST TENSOR nan|inf\n");
        return 2;
    }
    tsr_gguf *gguf;
    tsr_error err = {0};
    if (tsr_gguf_open(argv[1], &gguf, &err) != TSR_OK) {
        fprintf(stderr, "make_hostile_model: %s\n", err.message);
        return 1;
    }
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(gguf, argv[3]);
    if (!t) {
        fprintf(stderr, "make_hostile_model: %s has no tensor %s\n", argv[1], argv[3]);
        tsr_gguf_close(gguf);
        return 1;
    }
    uint64_t offset = t->file_offset, n_bytes = t->n_bytes;
    bool is_f32 = strcmp(tsr_ggml_type(t->type)->name, "f32") == 0;
    tsr_gguf_close(gguf);
    if (strcmp(argv[4], "inf") == 0 && !is_f32) {
        fprintf(stderr, "make_hostile_model: inf needs an f32 tensor; %s is not\n", argv[3]);
        return 1;
    }
    if (copy_file(argv[1], argv[2]) != 0) {
        fprintf(stderr, "make_hostile_model: cannot copy %s to %s\n", argv[1], argv[2]);
        return 1;
    }
    unsigned char *bytes = malloc(n_bytes);
    if (!bytes)
        return 1;
    if (strcmp(argv[4], "nan") == 0) {
        memset(bytes, 0xff, n_bytes);
    } else {
        const unsigned char inf[4] = {0x00, 0x00, 0x80, 0x7f}; /* +Inf, little-endian */
        for (uint64_t i = 0; i < n_bytes; i++)
            bytes[i] = inf[i % 4];
    }
    FILE *out = fopen(argv[2], "r+b");
    int rc = out && fseek(out, (long)offset, SEEK_SET) == 0 &&
                     fwrite(bytes, 1, n_bytes, out) == n_bytes
                 ? 0
                 : 1;
    if (out && fclose(out) != 0)
        rc = 1;
    free(bytes);
    if (rc)
        fprintf(stderr, "make_hostile_model: cannot write %" PRIu64 " bytes at %" PRIu64 " of %s\n",
                n_bytes, offset, argv[2]);
    return rc;
}
