/* The generation loop. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *tsr_stop_reason_name(tsr_stop_reason reason)
{
    static const char *const names[] = {"eos", "length", "stop", "context", "caller"};
    return (unsigned)reason < 5 ? names[reason] : "unknown";
}

/* Text not yet handed out: kept while its end could begin a stop string. */
typedef struct pending_text {
    char *data;
    size_t len, cap;
} pending_text;

static bool pending_append(pending_text *p, const char *s, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        while (cap < p->len + n)
            cap *= 2;
        char *bigger = realloc(p->data, cap);
        if (!bigger)
            return false;
        p->data = bigger;
        p->cap = cap;
    }
    memcpy(p->data + p->len, s, n);
    p->len += n;
    return true;
}

/* The longest suffix of text that is a proper prefix of some stop string. */
static size_t held_suffix(const char *text, size_t len, const tsr_generate_options *o)
{
    size_t hold = 0;
    for (size_t s = 0; s < o->n_stop; s++) {
        size_t slen = strlen(o->stop[s]);
        for (size_t k = slen > len ? len : slen - 1; k > hold; k--)
            if (memcmp(text + len - k, o->stop[s], k) == 0) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Hands out what is final. Returns false when the caller or a stop string
 * ends generation (*stopped says which). */
static bool flush_pending(pending_text *p, const tsr_generate_options *o, bool at_end,
                          tsr_stop_reason *stopped)
{
    size_t emit = p->len;
    for (size_t s = 0; s < o->n_stop; s++) {
        size_t slen = strlen(o->stop[s]);
        if (slen == 0 || slen > p->len)
            continue;
        const char *hit = memmem(p->data, p->len, o->stop[s], slen);
        if (hit && (size_t)(hit - p->data) < emit) {
            emit = (size_t)(hit - p->data);
            *stopped = TSR_STOP_STRING;
        }
    }
    if (*stopped != TSR_STOP_STRING && !at_end)
        emit -= held_suffix(p->data, p->len, o);
    bool go_on = true;
    if (emit > 0 && o->on_text && !o->on_text(o->on_text_ctx, p->data, emit)) {
        *stopped = TSR_STOP_CALLER;
        go_on = false;
    }
    memmove(p->data, p->data + emit, p->len - emit);
    p->len -= emit;
    return go_on && *stopped != TSR_STOP_STRING;
}

tsr_status tsr_generate(tsr_model *model, const tsr_tokenizer *tok, tsr_sampler_chain *chain,
                        const int32_t *prompt, size_t n_prompt, const tsr_generate_options *o,
                        tsr_generate_stats *stats, tsr_error *err)
{
    memset(stats, 0, sizeof *stats);
    stats->n_prompt = n_prompt;
    if (n_prompt == 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "the prompt is empty: nothing to continue");
    double t0 = now_seconds();
    tsr_status s = tsr_model_eval(model, prompt, n_prompt, err);
    for (size_t i = 0; s == TSR_OK && i < n_prompt; i++)
        s = tsr_sampler_chain_accept(chain, prompt[i], err);
    stats->prompt_seconds = now_seconds() - t0;
    if (s != TSR_OK)
        return s;

    tsr_detokenizer *detok;
    if ((s = tsr_detokenizer_open(tok, 0, &detok, err)) != TSR_OK)
        return s;
    pending_text pending = {0};
    tsr_stop_reason stopped = TSR_STOP_LENGTH;
    bool done = false;
    double t1 = now_seconds();
    while (!done) {
        if (o->max_tokens && stats->n_generated >= o->max_tokens) {
            stopped = TSR_STOP_LENGTH;
            break;
        }
        int32_t token;
        const float *logits = tsr_model_logits(model, 0);
        if ((s = tsr_sampler_chain_sample(chain, logits, &token, err)) != TSR_OK)
            break;
        if (!o->ignore_eos && tsr_tokenizer_is_eog(tok, token)) {
            stopped = TSR_STOP_EOG;
            break;
        }
        stats->n_generated++;
        if (o->on_token)
            o->on_token(o->on_token_ctx, token);
        size_t n;
        const char *text = tsr_detokenizer_push(detok, token, &n);
        if (n && !pending_append(&pending, text, n)) {
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
            break;
        }
        tsr_stop_reason why = TSR_STOP_LENGTH;
        if (!flush_pending(&pending, o, false, &why)) {
            stopped = why;
            break;
        }
        if (tsr_model_n_past(model) >= tsr_model_max_seq_len(model)) {
            stopped = TSR_STOP_CONTEXT;
            break;
        }
        if ((o->max_tokens && stats->n_generated >= o->max_tokens)) {
            stopped = TSR_STOP_LENGTH;
            break;
        }
        if ((s = tsr_model_eval(model, &token, 1, err)) != TSR_OK)
            break;
    }
    stats->generate_seconds = now_seconds() - t1;
    if (s == TSR_OK && stopped != TSR_STOP_STRING && stopped != TSR_STOP_CALLER) {
        size_t n;
        const char *rest = tsr_detokenizer_flush(detok, &n);
        if (n && !pending_append(&pending, rest, n))
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        tsr_stop_reason why = stopped;
        if (s == TSR_OK)
            flush_pending(&pending, o, true, &why);
        stopped = why;
    }
    stats->stop_reason = stopped;
    free(pending.data);
    tsr_detokenizer_close(detok);
    return s;
}
