/* sampler/dry ("Don't Repeat Yourself", by p-e-w, as in text-generation-webui,
 * koboldcpp and llama.cpp): penalizes the tokens that would extend a
 * repetition of earlier text. If the last L tokens of the sequence also
 * occurred earlier, followed there by token t, and L >= allowed_length, then
 * t's logit loses
 *     multiplier * base ^ (L - allowed_length)
 * (L being the longest such match for t, within the last last_n tokens).
 *
 * Sequence breakers stop a match from reaching back across them: a match
 * never spans the most recent occurrence of a breaker (a line break, a ':' of
 * "Name:" ...), so repeated structure such as chat turns is not punished,
 * and a token that is a breaker on its own is never penalized. Breakers are
 * text: at create each becomes the tokens whose text contains it, plus the
 * tokens whose text ends with its beginning followed by the tokenization of
 * the rest (at most 40 bytes of breaker, 20 tokens of rest). That needs the
 * model's vocabulary: with none (init->vocab NULL, or a host without vocab
 * functions) DRY still penalizes repetition but has no breakers, and says so
 * in the log; the breakers apply to chains built once a vocabulary exists.
 *
 * Matches are found with the Z-algorithm over the reversed history, linear in
 * last_n per step. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "../sampler_util.h"

enum {
    BREAKER_MAX_BYTES = 40, /* longer breakers are cut (llama.cpp's limit) */
    BREAKER_MAX_TAIL = 20,  /* tokens of a breaker after its head */
    DRY_UNKNOWN_SEQ_LEN = 4096, /* last_n = -1 without a known max_seq_len */
};

/* A breaker as tokens: head, then tail[0..n_tail) that must follow it. */
typedef struct breaker {
    int32_t head;
    int32_t n_tail;
    int32_t tail[BREAKER_MAX_TAIL];
} breaker;

typedef struct dry_state {
    const tsr_host *host;
    int32_t n_vocab;
    bool off;
    double multiplier, base;
    int64_t allowed_length;

    breaker *breakers; /* sorted by head */
    size_t n_breakers, cap_breakers;
    bool *lone_breaker; /* n_vocab: a token that is a whole breaker by itself */

    size_t capacity; /* the window: last_n tokens */
    int32_t *ring;
    size_t n_ring, next;
    int32_t *recent;  /* capacity: recent[i] = the i-th most recent token */
    int32_t *z;       /* capacity: match lengths */
    int32_t *longest; /* n_vocab: longest repetition token t would extend, 0 = none */
    int32_t *touched; /* capacity: the tokens with longest > 0 */
    size_t n_touched;
} dry_state;

static const char *const dry_default_breakers[] = {"\n", ":", "\"", "*", NULL};

static const tsr_param_desc dry_params[] = {
    SAMPLER_FLOAT("multiplier", 0, 100, 0.8,
                  "penalty scale: multiplier * base^(length - allowed_length); 0 = off"),
    SAMPLER_FLOAT("base", 1, 100, 1.75, "how fast the penalty grows with the repeat's length"),
    SAMPLER_INT("allowed_length", 1, 1000000, 2,
                "repeats this long or shorter are not penalized"),
    SAMPLER_INT("last_n", -1, 1000000, -1,
                "look for repeats in the last n tokens; -1 = the whole sequence, 0 = off"),
    SAMPLER_LIST("sequence_breakers", dry_default_breakers,
                 "text that ends a repeat (needs the model's vocabulary)"),
};

static void dry_destroy(void *state)
{
    dry_state *s = state;
    const tsr_host *host = s->host;
    host->free(s->breakers);
    host->free(s->lone_breaker);
    host->free(s->ring);
    host->free(s->recent);
    host->free(s->z);
    host->free(s->longest);
    host->free(s->touched);
    host->free(s);
}

/* ---- breakers from text (setup) ---------------------------------------- */

static bool add_breaker(dry_state *s, int32_t head, const int32_t *tail, int32_t n_tail)
{
    if (s->n_breakers == s->cap_breakers) {
        size_t cap = s->cap_breakers ? 2 * s->cap_breakers : 64;
        breaker *bigger = s->host->alloc(cap * sizeof *bigger);
        if (!bigger)
            return false;
        if (s->n_breakers)
            memcpy(bigger, s->breakers, s->n_breakers * sizeof *bigger);
        s->host->free(s->breakers);
        s->breakers = bigger;
        s->cap_breakers = cap;
    }
    breaker *b = &s->breakers[s->n_breakers++];
    memset(b, 0, sizeof *b);
    b->head = head;
    b->n_tail = n_tail < BREAKER_MAX_TAIL ? n_tail : BREAKER_MAX_TAIL;
    if (b->n_tail)
        memcpy(b->tail, tail, (size_t)b->n_tail * sizeof *tail);
    return true;
}

static int by_head_then_tail(const void *a, const void *b)
{
    const breaker *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    if (x->n_tail != y->n_tail)
        return x->n_tail < y->n_tail ? -1 : 1;
    return memcmp(x->tail, y->tail, (size_t)x->n_tail * sizeof x->tail[0]);
}

/* The tokens of one breaker text: every token containing it, and every token
 * ending with its first bytes, followed by the rest's tokenization. */
static bool resolve_breaker(dry_state *s, const tsr_vocab *vocab, const char *text)
{
    const tsr_host *host = s->host;
    size_t len = strlen(text);
    if (len > BREAKER_MAX_BYTES)
        len = BREAKER_MAX_BYTES;
    if (len == 0)
        return true;
    for (int32_t token = 0; token < s->n_vocab; token++) {
        size_t n = 0;
        const char *word = host->vocab_token_bytes(vocab, token, &n);
        if (!word || n == 0)
            continue;
        if (n >= len && memmem(word, n, text, len)) {
            if (!add_breaker(s, token, NULL, 0))
                return false;
            continue;
        }
        for (size_t pos = 0; pos < n; pos++) {
            size_t overlap = n - pos;
            if (overlap >= len || memcmp(word + pos, text, overlap) != 0)
                continue;
            int32_t rest[2 * BREAKER_MAX_BYTES];
            int32_t n_rest = host->vocab_tokenize(vocab, text + overlap, len - overlap, rest,
                                                  2 * BREAKER_MAX_BYTES);
            if (n_rest < 0 || n_rest > 2 * BREAKER_MAX_BYTES)
                continue;
            if (!add_breaker(s, token, rest, n_rest))
                return false;
        }
    }
    return true;
}

static tsr_status resolve_breakers(dry_state *s, const tsr_param_value *list,
                                   const tsr_sampler_init *init, tsr_error *err)
{
    const tsr_host *host = s->host;
    if (list->n_items == 0)
        return TSR_OK;
    if (!init->vocab || !host->vocab_token_bytes || !host->vocab_tokenize) {
        host->log(TSR_LOG_INFO, "dry",
                  "no vocabulary: the %u sequence breakers are not applied (they need the "
                  "model's tokens)",
                  list->n_items);
        return TSR_OK;
    }
    for (uint32_t i = 0; i < list->n_items; i++)
        if (!resolve_breaker(s, init->vocab, list->items[i]))
            return host->error_set(err, TSR_ERR_NOMEM, "out of memory for sequence breakers");
    if (s->n_breakers == 0)
        return TSR_OK;
    qsort(s->breakers, s->n_breakers, sizeof s->breakers[0], by_head_then_tail);
    size_t unique = 1;
    for (size_t i = 1; i < s->n_breakers; i++)
        if (by_head_then_tail(&s->breakers[i], &s->breakers[unique - 1]) != 0)
            s->breakers[unique++] = s->breakers[i];
    s->n_breakers = unique;
    for (size_t i = 0; i < s->n_breakers; i++)
        if (s->breakers[i].n_tail == 0)
            s->lone_breaker[s->breakers[i].head] = true;
    return TSR_OK;
}

/* ---- create ------------------------------------------------------------ */

static size_t window_for(int64_t last_n, const tsr_sampler_init *init)
{
    if (last_n >= 0)
        return (size_t)last_n;
    bool knows_len = init->struct_size >= offsetof(tsr_sampler_init, max_seq_len) +
                                               sizeof init->max_seq_len &&
                     init->max_seq_len > 0;
    return knows_len ? (size_t)init->max_seq_len : DRY_UNKNOWN_SEQ_LEN;
}

static tsr_status dry_create(const tsr_host *host, const tsr_param_value *params,
                             const tsr_sampler_init *init, void **state, tsr_error *err)
{
    dry_state *s = sampler_alloc(host, sizeof *s, err);
    if (!s)
        return TSR_ERR_NOMEM;
    s->host = host;
    s->n_vocab = init->n_vocab;
    s->multiplier = params[0].number;
    s->base = params[1].number;
    s->allowed_length = params[2].integer;
    s->capacity = window_for(params[3].integer, init);
    s->off = s->multiplier == 0.0 || s->capacity == 0;
    *state = s;
    if (s->off)
        return TSR_OK;

    size_t window_bytes = s->capacity * sizeof(int32_t);
    s->ring = sampler_alloc(host, window_bytes, err);
    s->recent = sampler_alloc(host, window_bytes, err);
    s->z = sampler_alloc(host, window_bytes, err);
    s->touched = sampler_alloc(host, window_bytes, err);
    s->longest = sampler_alloc(host, (size_t)s->n_vocab * sizeof *s->longest, err);
    s->lone_breaker = sampler_alloc(host, (size_t)s->n_vocab * sizeof *s->lone_breaker, err);
    tsr_status status = s->ring && s->recent && s->z && s->touched && s->longest &&
                                s->lone_breaker
                            ? resolve_breakers(s, &params[4], init, err)
                            : TSR_ERR_NOMEM;
    if (status != TSR_OK) {
        dry_destroy(s);
        *state = NULL;
    }
    return status;
}

/* ---- the step ---------------------------------------------------------- */

static void dry_accept(void *state, int32_t token)
{
    dry_state *s = state;
    if (s->off || token < 0 || token >= s->n_vocab)
        return;
    s->ring[s->next] = token;
    s->next = (s->next + 1) % s->capacity;
    if (s->n_ring < s->capacity)
        s->n_ring++;
}

static void dry_reset(void *state)
{
    dry_state *s = state;
    s->n_ring = s->next = 0;
}

/* How far back a repeat may reach: up to the most recent breaker. A breaker
 * whose head is i tokens back and whose whole tail follows it caps repeats at
 * i - n_tail tokens (the tokens after it). */
static size_t repeat_limit(const dry_state *s, size_t n)
{
    const int32_t *recent = s->recent;
    for (size_t i = 0; i < n; i++) {
        int64_t longest = -1;
        size_t lo = 0, hi = s->n_breakers;
        while (lo < hi) { /* the first breaker with this head */
            size_t mid = lo + (hi - lo) / 2;
            if (s->breakers[mid].head < recent[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t b = lo; b < s->n_breakers && s->breakers[b].head == recent[i]; b++) {
            const breaker *br = &s->breakers[b];
            if (br->n_tail <= longest || (size_t)br->n_tail > i)
                continue;
            bool match = true;
            for (int32_t o = 0; o < br->n_tail && match; o++)
                match = br->tail[o] == recent[i - (size_t)o - 1];
            if (match)
                longest = br->n_tail;
        }
        if (longest >= 0)
            return i - (size_t)longest;
    }
    return n;
}

/* z[k] = how many of the most recent tokens recent[0..] equal recent[k..]:
 * the length of the repeat that ends k tokens back. */
static void match_lengths(dry_state *s, size_t n)
{
    const int32_t *r = s->recent;
    size_t left = 0, right = 0; /* the rightmost match found: r[left..right) */
    for (size_t k = 1; k < n; k++) {
        size_t len = 0;
        if (k < right) {
            len = right - k;
            if ((size_t)s->z[k - left] < len)
                len = (size_t)s->z[k - left];
        }
        while (k + len < n && r[len] == r[k + len])
            len++;
        s->z[k] = (int32_t)len;
        if (k + len > right) {
            left = k;
            right = k + len;
        }
    }
}

static bool dry_listed(const void *ctx, int32_t token)
{
    return ((const dry_state *)ctx)->longest[token] > 0;
}

static void dry_touch(void *ctx, tsr_candidate *c)
{
    const dry_state *s = ctx;
    if (s->lone_breaker[c->token])
        return;
    double exponent = (double)(s->longest[c->token] - s->allowed_length);
    /* A long repeat must not turn the logit into -inf (or NaN beside an
     * +inf): the penalty stops at the largest float. */
    c->logit -= (float)fmin(s->multiplier * pow(s->base, exponent), FLT_MAX);
}

static tsr_status dry_apply(void *state, tsr_candidates *cands, tsr_error *err)
{
    dry_state *s = state;
    size_t n = s->n_ring;
    if (s->off || n <= (size_t)s->allowed_length)
        return TSR_OK;
    for (size_t i = 0; i < n; i++)
        s->recent[i] = s->ring[(s->next + s->capacity - 1 - i) % s->capacity];
    size_t limit = repeat_limit(s, n);
    if (limit < (size_t)s->allowed_length)
        return TSR_OK;
    match_lengths(s, n);
    /* The token that followed a repeat ending k back would extend it. */
    for (size_t k = 1; k < n; k++) {
        size_t len = (size_t)s->z[k] < limit ? (size_t)s->z[k] : limit;
        if (len < (size_t)s->allowed_length || len == 0)
            continue;
        int32_t next = s->recent[k - 1];
        if (s->longest[next] == 0)
            s->touched[s->n_touched++] = next;
        if ((size_t)s->longest[next] < len)
            s->longest[next] = (int32_t)len;
    }
    if (s->n_touched == 0)
        return TSR_OK;
    sampler_for_each_listed(cands, s->touched, s->n_touched, dry_listed, dry_touch, s);
    for (size_t i = 0; i < s->n_touched; i++)
        s->longest[s->touched[i]] = 0;
    s->n_touched = 0;
    cands->sorted = false;
    return TSR_OK;
}

static const tsr_sampler_vtable dry_vtable = {
    .abi = TSR_ABI_INIT(tsr_sampler_vtable),
    .create = dry_create,
    .destroy = dry_destroy,
    .apply = dry_apply,
    .accept = dry_accept,
    .reset = dry_reset,
};

static const tsr_plugin_desc dry_desc =
    SAMPLER_DESC("dry", "don't repeat yourself: penalize tokens that extend a repeated sequence",
                 dry_params, dry_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &dry_desc : NULL;
}
