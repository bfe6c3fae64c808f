/* What tessera's own sampler plugins share: parameter declarations that read
 * as a table, a zeroed state allocation, drawing from the candidates, and
 * finding a few tokens among them. Header-only (static functions), compiled
 * into each plugin; it is no part of the ABI, and a third-party sampler needs
 * none of it (contrib/example-sampler uses tessera/plugin.h alone). */
#ifndef TSR_SAMPLER_UTIL_H
#define TSR_SAMPLER_UTIL_H

#include <string.h>

#include "tessera/plugin.h"

#define SAMPLER_FLOAT(name_, min_, max_, default_, doc_)                                      \
    {.name = (name_), .type = TSR_PARAM_FLOAT, .min = (min_), .max = (max_),                   \
     .default_number = (default_), .doc = (doc_)}
#define SAMPLER_INT(name_, min_, max_, default_, doc_)                                        \
    {.name = (name_), .type = TSR_PARAM_INT, .min = (min_), .max = (max_),                     \
     .default_number = (default_), .doc = (doc_)}
#define SAMPLER_LIST(name_, default_, doc_)                                                   \
    {.name = (name_), .type = TSR_PARAM_STRING_LIST, .default_list = (default_), .doc = (doc_)}
#define SAMPLER_MAP(name_, doc_) {.name = (name_), .type = TSR_PARAM_FLOAT_MAP, .doc = (doc_)}

/* The `min_keep` every truncating sampler takes, as llama.cpp has it. */
#define SAMPLER_MIN_KEEP                                                                      \
    SAMPLER_INT("min_keep", 0, 1e9, 1, "keep at least this many candidates (0 acts as 1)")

/* The largest count an INT parameter may hold here. */
#define SAMPLER_BIG 1e9

#define SAMPLER_DESC(name_, summary_, params_, vtable_)                                       \
    {.abi = TSR_ABI_INIT(tsr_plugin_desc), .kind = TSR_PLUGIN_SAMPLER, .name = (name_),       \
     .version = "1.0.0", .summary = (summary_), .params = (params_),                          \
     .n_params = (uint32_t)(sizeof(params_) / sizeof((params_)[0])), .vtable = &(vtable_)}

/* A zeroed block of bytes from the host, or NULL with err filled. */
static inline void *sampler_alloc(const tsr_host *host, size_t bytes, tsr_error *err)
{
    void *block = host->alloc(bytes ? bytes : 1);
    if (!block) {
        host->error_set(err, TSR_ERR_NOMEM, "out of memory for %zu bytes of sampler state",
                        bytes);
        return NULL;
    }
    memset(block, 0, bytes);
    return block;
}

/* Draws an index with probability p, after setting p = softmax(logit). The
 * running sum walks the array in its order and must exceed u * total, so a
 * token of probability 0 is never drawn; same rng state and array, same
 * index. */
static inline size_t sampler_draw(const tsr_host *host, tsr_rng *rng, tsr_candidates *cands)
{
    host->candidates_softmax(cands);
    double total = 0.0;
    for (size_t i = 0; i < cands->size; i++)
        total += cands->data[i].p;
    double target = host->rng_uniform(rng) * total, running = 0.0;
    size_t last_possible = 0;
    for (size_t i = 0; i < cands->size; i++) {
        if (cands->data[i].p <= 0.0f)
            continue;
        running += cands->data[i].p;
        last_possible = i;
        if (running > target)
            return i;
    }
    return last_possible;
}

/* Calls touch(ctx, candidate) once for each candidate whose token is one of
 * tokens[0..n) (distinct ids). At the head of a chain the array is still in
 * vocabulary order (data[t].token == t), so each token is found in one step;
 * otherwise one pass over the array asks listed(ctx, token) of each. */
static inline void sampler_for_each_listed(tsr_candidates *cands, const int32_t *tokens,
                                           size_t n, bool (*listed)(const void *ctx, int32_t),
                                           void (*touch)(void *ctx, tsr_candidate *), void *ctx)
{
    bool in_place = true;
    for (size_t i = 0; i < n && in_place; i++) {
        size_t t = (size_t)tokens[i];
        in_place = t < cands->size && cands->data[t].token == tokens[i];
    }
    if (in_place) {
        for (size_t i = 0; i < n; i++)
            touch(ctx, &cands->data[tokens[i]]);
        return;
    }
    for (size_t i = 0; i < cands->size; i++)
        if (listed(ctx, cands->data[i].token))
            touch(ctx, &cands->data[i]);
}

/* The index of the highest logit (ties to the lower id), as greedy chooses. */
static inline size_t sampler_argmax(const tsr_candidates *cands)
{
    if (cands->sorted)
        return 0;
    size_t best = 0;
    for (size_t i = 1; i < cands->size; i++) {
        const tsr_candidate *c = &cands->data[i], *b = &cands->data[best];
        if (c->logit > b->logit || (c->logit == b->logit && c->token < b->token))
            best = i;
    }
    return best;
}

#endif
