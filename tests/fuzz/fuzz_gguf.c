/* libFuzzer target: tsr_gguf_open_memory over any bytes, then every value
 * and tensor read back (a parse that passed but checked too little shows
 * up as a sanitizer report here); then the same bytes as a file through
 * tsr_gguf_open_headers, which must accept whatever open_memory accepted.
 * Seeds: tests/data/gguf-corrupt (malformed files and valid.gguf). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the reads go, so that the compiler keeps them. */
static volatile uint64_t sink;

/* Touches every byte an array handle claims. */
static uint64_t walk_array(const tsr_gguf_array *a, unsigned depth)
{
    static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    uint64_t sum = 0;
    for (uint64_t i = 0; i < a->count; i++) {
        tsr_gguf_str s;
        tsr_gguf_array inner;
        if (tsr_gguf_array_elem_str(a, i, &s))
            sum += s.len ? (uint8_t)s.data[s.len - 1] : 0;
        else if (tsr_gguf_array_elem_array(a, i, &inner))
            sum += walk_array(&inner, depth + 1);
        else if (a->data && a->elem_type < sizeof sizes)
            sum += ((const uint8_t *)a->data)[i * sizes[a->elem_type] + sizes[a->elem_type] - 1];
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tsr_gguf *g;
    tsr_error err;
    if (tsr_gguf_open_memory(data, size, "fuzz.gguf", &g, &err) != TSR_OK)
        return 0;
    uint64_t sum = 0;
    for (int64_t k = 0; k < tsr_gguf_key_count(g); k++) {
        tsr_gguf_str name = tsr_gguf_key_name(g, k);
        char key[256];
        size_t n = name.len < sizeof key - 1 ? (size_t)name.len : sizeof key - 1;
        memcpy(key, name.data, n);
        key[n] = '\0';
        uint64_t u;
        int64_t i;
        double f;
        bool b;
        tsr_gguf_str s;
        sum += tsr_gguf_get_u64(g, key, &u) + tsr_gguf_get_i64(g, key, &i) +
               tsr_gguf_get_f64(g, key, &f) + tsr_gguf_get_bool(g, key, &b);
        if (tsr_gguf_get_str(g, key, &s) && s.len)
            sum += (uint8_t)s.data[s.len - 1];
        tsr_gguf_array a;
        if (tsr_gguf_key_array(g, k, &a))
            sum += walk_array(&a, 0);
    }
    for (uint64_t t = 0; t < tsr_gguf_tensor_count(g); t++) {
        const tsr_gguf_tensor *tensor = tsr_gguf_tensor_at(g, t);
        if (tsr_gguf_find_tensor(g, tensor->name) != tensor)
            __builtin_trap();
        const uint8_t *bytes = tensor->data;
        sum += bytes[0] + bytes[tensor->n_bytes - 1];
    }
    sink = sum;
    uint64_t n_tensors = tsr_gguf_tensor_count(g);
    int64_t n_keys = tsr_gguf_key_count(g);
    tsr_gguf_close(g);

    /* The plain-read path, from a file in memory. */
    int fd = memfd_create("fuzz.gguf", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (write(fd, data, size) == (ssize_t)size) {
        if (tsr_gguf_open_headers(path, &g, &err) != TSR_OK)
            __builtin_trap();
        if (tsr_gguf_tensor_count(g) != n_tensors || tsr_gguf_key_count(g) != n_keys)
            __builtin_trap();
        tsr_gguf_close(g);
    }
    close(fd);
    return 0;
}
