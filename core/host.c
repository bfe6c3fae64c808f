/* The host-services table: the core's functions as plugins see them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "host.h"
#include "log.h"
#include "rng.h"
#include "tokenizer.h"

static size_t host_bytes;

/* Each block carries its size in a 64-byte header so free can count it and
 * the payload stays 64-byte aligned. */
enum { HOST_HEADER_BYTES = 64 };

static void *host_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * HOST_HEADER_BYTES)
        return NULL;
    size_t total = (bytes + HOST_HEADER_BYTES + 63) & ~(size_t)63;
    unsigned char *block = aligned_alloc(64, total);
    if (!block)
        return NULL;
    memcpy(block, &bytes, sizeof bytes);
    __atomic_add_fetch(&host_bytes, bytes, __ATOMIC_RELAXED);
    return block + HOST_HEADER_BYTES;
}

static void host_free(void *ptr)
{
    if (!ptr)
        return;
    unsigned char *block = (unsigned char *)ptr - HOST_HEADER_BYTES;
    size_t bytes;
    memcpy(&bytes, block, sizeof bytes);
    __atomic_sub_fetch(&host_bytes, bytes, __ATOMIC_RELAXED);
    free(block);
}

size_t tsr_host_bytes_in_use(void)
{
    return __atomic_load_n(&host_bytes, __ATOMIC_RELAXED);
}

static void host_log(int level, const char *source, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    tsr_log(level, source, "%s", message);
}

static tsr_status host_error_set(tsr_error *err, tsr_status code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    tsr_error_setv(err, code, fmt, args);
    va_end(args);
    return code;
}

/* Plugins tokenize plain text: no BOS or EOS added, and special-token text
 * such as "<|im_end|>" read as ordinary characters. */
static int32_t host_vocab_tokenize(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                                   int32_t *tokens, int32_t max_tokens)
{
    size_t n_needed;
    if (!vocab || max_tokens < 0 ||
        tsr_tokenizer_encode(vocab, text, n_bytes, false, false, tokens, (size_t)max_tokens,
                             &n_needed, NULL) != TSR_OK ||
        n_needed > INT32_MAX)
        return -1;
    return (int32_t)n_needed;
}

static tsr_host host_table = {
    .abi = TSR_ABI_INIT(tsr_host),
    .log = host_log,
    .error_set = host_error_set,
    .alloc = host_alloc,
    .free = host_free,
    .rng_uniform = tsr_rng_uniform,
    .rng_next = tsr_rng_next,
    .candidates_sort = tsr_candidates_sort,
    .candidates_softmax = tsr_candidates_softmax,
    .candidates_partial_sort = tsr_candidates_partial_sort,
    .vocab_n_tokens = tsr_tokenizer_n_tokens,
    .vocab_token_bytes = tsr_tokenizer_piece,
    .vocab_tokenize = host_vocab_tokenize,
    .vocab_is_end_of_generation = tsr_tokenizer_is_eog,
};

const tsr_host *tsr_host_services(void)
{
    host_table.cpu_features = tsr_cpu_features();
    return &host_table;
}
