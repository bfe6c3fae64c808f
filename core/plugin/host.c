/* The host-services table: the core's functions as plugins see them. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "cpu.h"
#include "half.h"
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

/* The draft members: through the functions the draft carries (host.h). */
static const tsr_draft_ops *draft_ops(const tsr_draft *draft)
{
    return ((const tsr_draft_head *)(const void *)draft)->ops;
}

static tsr_status host_draft_eval(tsr_draft *draft, const int32_t *tokens, size_t n_tokens,
                                  tsr_error *err)
{
    return draft_ops(draft)->eval(draft, tokens, n_tokens, err);
}

static const float *host_draft_logits(tsr_draft *draft, size_t i)
{
    return draft_ops(draft)->logits(draft, i);
}

static void host_draft_rollback(tsr_draft *draft, size_t n_keep)
{
    draft_ops(draft)->rollback(draft, n_keep);
}

static size_t host_draft_n_past(const tsr_draft *draft)
{
    return draft_ops(draft)->n_past(draft);
}

/* Everything but cpu_features, which each published table adds. */
static const tsr_host host_template = {
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
    .fp16_from_float = tsr_fp16_from_float_n,
    .fp16_to_float = tsr_fp16_to_float_n,
    .bf16_from_float = tsr_bf16_from_float_n,
    .bf16_to_float = tsr_bf16_to_float_n,
    .draft_eval = host_draft_eval,
    .draft_logits = host_draft_logits,
    .draft_rollback = host_draft_rollback,
    .draft_n_past = host_draft_n_past,
};

/* One immutable table per CPU-feature set ever asked for. A table is
 * written once, before it is published under the lock, and never again, so
 * a plugin may read the one it holds from any thread while another user of
 * the library lowers the ISA limit and gets a table of its own. The sets
 * come from tsr_cpu_set_limit's five levels, so the slots never run out; if
 * they did, a table would be allocated (and kept: plugins may hold it). */
enum { HOST_TABLE_SLOTS = 16 };
static tsr_host host_tables[HOST_TABLE_SLOTS];
static const tsr_host *published[HOST_TABLE_SLOTS];
static size_t n_published;
static pthread_mutex_t host_tables_lock = PTHREAD_MUTEX_INITIALIZER;

const tsr_host *tsr_host_services(void)
{
    uint32_t features = tsr_cpu_features();
    pthread_mutex_lock(&host_tables_lock);
    const tsr_host *found = NULL;
    for (size_t i = 0; i < n_published && !found; i++)
        if (published[i]->cpu_features == features)
            found = published[i];
    if (!found) {
        tsr_host *table = n_published < HOST_TABLE_SLOTS ? &host_tables[n_published]
                                                         : malloc(sizeof *table);
        if (table) {
            *table = host_template;
            table->cpu_features = features;
            if (n_published < HOST_TABLE_SLOTS)
                published[n_published++] = table;
            found = table;
        }
    }
    pthread_mutex_unlock(&host_tables_lock);
    /* Out of memory past sixteen feature sets: the scalar table is safe. */
    return found ? found : &host_tables[0];
}
