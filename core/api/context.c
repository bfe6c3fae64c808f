/* Contexts, batches, decode, and each sequence's KV cache and saved state. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "pipeline.h"
#include "speculate.h"

void tsr_context_params_init(tsr_context_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

tsr_status tsr_context_create(tsr_deployment *d, const tsr_context_params *params,
                              tsr_context **out, tsr_error *err)
{
    *out = NULL;
    tsr_context_params p;
    tsr_context_params_init(&p);
    tsr_api_copy_params(&p, sizeof p, params);
    if (d->context)
        return tsr_error_set(err, TSR_ERR_INVALID, "the deployment already has a context: it "
                             "holds the KV caches the plan reserved; free that one first");
    uint32_t provisioned = tsr_model_n_sequences(d->model);
    if (p.n_seq_max > provisioned)
        return tsr_error_set(err, TSR_ERR_REFUSED, "a context of %u sequences: the deployment "
                             "provisioned KV caches for %u; open it with n_seq_max %u (or set "
                             "server.parallel: %u in its profile)", p.n_seq_max, provisioned,
                             p.n_seq_max, p.n_seq_max);
    tsr_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    ctx->deployment = d;
    ctx->n_seq_max = p.n_seq_max ? p.n_seq_max : provisioned;
    ctx->abort = p.abort;
    ctx->abort_ctx = p.abort_ctx;
    /* Each sequence's strategy instance now, so that a strategy refusing
     * its options is told here rather than at the first generation. */
    if (tsr_deployment_speculation(d)) {
        tsr_status s = (ctx->spec = calloc(ctx->n_seq_max, sizeof *ctx->spec))
                           ? TSR_OK
                           : tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; s == TSR_OK && i < ctx->n_seq_max; i++)
            s = tsr_spec_session_open(ctx, (int32_t)i, &ctx->spec[i], err);
        if (s != TSR_OK) {
            for (uint32_t i = 0; ctx->spec && i < ctx->n_seq_max; i++)
                tsr_spec_session_close(ctx->spec[i]);
            free(ctx->spec);
            free(ctx);
            return s;
        }
    }
    tsr_model_seq_keep(d->model, -1);
    if (d->draft_model)
        tsr_model_seq_keep(d->draft_model, -1);
    d->context = ctx;
    *out = ctx;
    return TSR_OK;
}

void tsr_context_free(tsr_context *ctx)
{
    if (!ctx)
        return;
    ctx->deployment->context = NULL;
    for (uint32_t i = 0; ctx->spec && i < ctx->n_seq_max; i++)
        tsr_spec_session_close(ctx->spec[i]);
    free(ctx->spec);
    free(ctx);
}

uint32_t tsr_context_n_seq_max(const tsr_context *ctx)
{
    return ctx->n_seq_max;
}

/* ---- batches --------------------------------------------------------------- */

tsr_status tsr_batch_open(uint32_t capacity, tsr_batch **out, tsr_error *err)
{
    *out = NULL;
    if (capacity == 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "a batch needs room for at least one row");
    tsr_batch *b = calloc(1, sizeof *b);
    if (b) {
        b->capacity = capacity;
        b->tokens = calloc(capacity, sizeof *b->tokens);
        b->pos = calloc(capacity, sizeof *b->pos);
        b->seq_id = calloc(capacity, sizeof *b->seq_id);
        b->output = calloc(capacity, sizeof *b->output);
    }
    if (!b || !b->tokens || !b->pos || !b->seq_id || !b->output) {
        tsr_batch_close(b);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for a batch of %u rows",
                             capacity);
    }
    *out = b;
    return TSR_OK;
}

void tsr_batch_close(tsr_batch *b)
{
    if (!b)
        return;
    free(b->tokens);
    free(b->pos);
    free(b->seq_id);
    free(b->output);
    free(b);
}

void tsr_batch_clear(tsr_batch *b)
{
    b->n_tokens = 0;
}

tsr_status tsr_batch_add(tsr_batch *b, tsr_token token, int32_t pos, int32_t seq_id,
                         bool output, tsr_error *err)
{
    if (b->n_tokens >= b->capacity)
        return tsr_error_set(err, TSR_ERR_INVALID, "the batch is full (%u rows)", b->capacity);
    uint32_t i = b->n_tokens++;
    b->tokens[i] = token;
    b->pos[i] = pos;
    b->seq_id[i] = seq_id;
    b->output[i] = output;
    return TSR_OK;
}

/* ---- decode ---------------------------------------------------------------- */

tsr_status tsr_decode(tsr_context *ctx, const tsr_batch *batch, tsr_error *err)
{
    if (!batch)
        return tsr_error_set(err, TSR_ERR_INVALID, "no batch given");
    if (batch->n_tokens > batch->capacity)
        return tsr_error_set(err, TSR_ERR_INVALID, "the batch says it has %u rows, more than "
                             "its capacity of %u", batch->n_tokens, batch->capacity);
    for (uint32_t i = 0; i < batch->n_tokens; i++)
        if (batch->seq_id[i] >= 0 && (uint32_t)batch->seq_id[i] >= ctx->n_seq_max)
            return tsr_error_set(err, TSR_ERR_INVALID, "batch row %u: sequence %d does not "
                                 "exist; the context has sequences 0 to %u", i,
                                 batch->seq_id[i], ctx->n_seq_max - 1);
    if (ctx->deployment->pipeline)
        return tsr_pipeline_decode(ctx->deployment->pipeline, batch, err);
    return tsr_model_decode(ctx->deployment->model, batch, ctx->abort, ctx->abort_ctx, err);
}

const float *tsr_logits(const tsr_context *ctx, int32_t i)
{
    return tsr_model_decode_logits(ctx->deployment->model, i);
}

/* ---- KV cache ---------------------------------------------------------------- */

static tsr_status check_seq(const tsr_context *ctx, int32_t seq, const char *what,
                            tsr_error *err)
{
    if (seq < 0 || (uint32_t)seq >= ctx->n_seq_max)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: sequence %d does not exist; the context "
                             "has sequences 0 to %u", what, seq, ctx->n_seq_max - 1);
    return TSR_OK;
}

int32_t tsr_kv_seq_pos_max(const tsr_context *ctx, int32_t seq)
{
    if (seq < 0 || (uint32_t)seq >= ctx->n_seq_max)
        return -1;
    return (int32_t)tsr_model_seq_len(ctx->deployment->model, seq) - 1;
}

tsr_status tsr_kv_seq_remove(tsr_context *ctx, int32_t seq, int32_t p0, int32_t p1,
                             tsr_error *err)
{
    tsr_status s = seq < 0 ? TSR_OK : check_seq(ctx, seq, "remove", err);
    if (s != TSR_OK)
        return s;
    return tsr_model_seq_remove(ctx->deployment->model, seq, p0, p1, err);
}

tsr_status tsr_kv_seq_copy(tsr_context *ctx, int32_t src, int32_t dst, uint32_t n_tokens,
                           tsr_error *err)
{
    tsr_status s = check_seq(ctx, src, "copy", err);
    if (s == TSR_OK)
        s = check_seq(ctx, dst, "copy", err);
    if (s != TSR_OK)
        return s;
    if (ctx->deployment->pipeline && src != dst &&
        (s = tsr_pipeline_seq_copy(ctx->deployment->pipeline, src, dst, n_tokens, err)) != TSR_OK)
        return s;
    return tsr_model_seq_copy(ctx->deployment->model, src, dst, n_tokens, err);
}

tsr_status tsr_kv_seq_keep(tsr_context *ctx, int32_t seq, tsr_error *err)
{
    tsr_status s = check_seq(ctx, seq, "keep", err);
    if (s == TSR_OK)
        tsr_model_seq_keep(ctx->deployment->model, seq);
    return s;
}

void tsr_kv_clear(tsr_context *ctx)
{
    tsr_model_seq_keep(ctx->deployment->model, -1);
}

/* ---- state files ------------------------------------------------------------- */

tsr_status tsr_state_seq_save(const tsr_context *ctx, int32_t seq, const char *path,
                              const tsr_token *tokens, size_t n_tokens, tsr_error *err)
{
    tsr_status s = check_seq(ctx, seq, "save", err);
    if (s != TSR_OK)
        return s;
    if (ctx->deployment->pipeline)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "save: a sequence's state across hosts "
                             "is spread over every rank; saving it is not supported yet");
    if (!path || (!tokens && n_tokens))
        return tsr_error_set(err, TSR_ERR_INVALID, "save: no %s given", path ? "tokens" : "path");
    FILE *f = fopen(path, "wb");
    if (!f)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot create: %m", path);
    s = tsr_model_seq_save(ctx->deployment->model, seq, tokens, n_tokens, f, path, err);
    if (fclose(f) != 0 && s == TSR_OK)
        s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %m", path);
    if (s != TSR_OK)
        remove(path);
    return s;
}

tsr_status tsr_state_seq_load(tsr_context *ctx, int32_t seq, const char *path,
                              tsr_token *tokens, size_t max_tokens, size_t *n_tokens,
                              tsr_error *err)
{
    *n_tokens = 0;
    tsr_status s = check_seq(ctx, seq, "load", err);
    if (s != TSR_OK)
        return s;
    if (ctx->deployment->pipeline)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "load: a sequence's state across hosts "
                             "is spread over every rank; loading it is not supported yet");
    if (!path || (!tokens && max_tokens))
        return tsr_error_set(err, TSR_ERR_INVALID, "load: no %s given", path ? "tokens" : "path");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot open: %m", path);
    s = tsr_model_seq_load(ctx->deployment->model, seq, tokens, max_tokens, n_tokens, f, path,
                           err);
    fclose(f);
    return s;
}
