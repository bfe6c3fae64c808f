/* Pipeline stages across hosts (core/dist/pipeline.h says how they work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "half.h"
#include "net.h"
#include "pipeline.h"

/* What a stage message carries. */
enum { KIND_CHUNK = 1, KIND_STOP = 2, KIND_COPY = 3, KIND_STATS = 4 };

/* The fixed header of every message between stages. */
typedef struct stage_header {
    uint32_t kind;
    uint32_t step;                /* rank 0's decode count */
    uint32_t chunk, n_chunks;     /* this chunk of the step's */
    uint32_t n_rows, n_out;       /* rows, and how many of them are outputs */
    int32_t copy_src, copy_dst;   /* KIND_COPY */
    uint32_t copy_n;
    uint32_t reserved;
} stage_header;
/* Then n_rows x (seq, pos, output) int32 triples, then n_rows activation rows. */

typedef struct slot {
    uint8_t *buf;
    tsr_net_request req;
} slot;

struct tsr_pipeline {
    tsr_model *model;
    uint32_t rank, n_ranks;
    uint32_t first_layer, end_layer;
    bool f16;
    uint32_t in_flight;
    double timeout_s;
    uint32_t n_embd, n_vocab, n_batch, n_outputs;
    size_t row_bytes, message_bytes, logits_bytes;
    slot recv[2], send[2];
    uint8_t *logits_send[2];
    tsr_net_request logits_req[2];
    int32_t *rows_pos, *rows_seq;   /* a received chunk's rows, as a batch */
    int8_t *rows_out;
    uint32_t step;
    tsr_pipeline_stage_stats stats;
    double first_chunk_at, last_chunk_at;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

tsr_status tsr_pipeline_open(tsr_model *model, const tsr_profile_dist *settings,
                             uint32_t first_layer, uint32_t end_layer, uint64_t weights_bytes,
                             tsr_pipeline **out, tsr_error *err)
{
    *out = NULL;
    if (tsr_net_size() < 2)
        return TSR_OK;
    tsr_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    const tsr_llama_config *c = tsr_model_config(model);
    p->model = model;
    p->rank = tsr_net_rank();
    p->n_ranks = tsr_net_size();
    p->first_layer = first_layer;
    p->end_layer = end_layer;
    p->f16 = settings->activations_f16;
    p->in_flight = settings->in_flight ? settings->in_flight : p->n_ranks;
    p->timeout_s = (double)settings->timeout_ms / 1000;
    p->n_embd = c->n_embd;
    p->n_vocab = c->n_vocab;
    p->n_batch = tsr_model_n_batch(model);
    p->n_outputs = tsr_model_n_outputs(model);
    p->row_bytes = (size_t)p->n_embd * (p->f16 ? sizeof(uint16_t) : sizeof(float));
    p->message_bytes = sizeof(stage_header) + (size_t)p->n_batch * (3 * sizeof(int32_t) +
                                                                    p->row_bytes);
    p->logits_bytes = (size_t)p->n_outputs * p->n_vocab * sizeof(float);
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        ok = ok && (p->recv[i].buf = malloc(p->message_bytes)) &&
             (p->send[i].buf = malloc(p->message_bytes)) &&
             (p->logits_send[i] = malloc(p->logits_bytes ? p->logits_bytes : 1));
    }
    ok = ok && (p->rows_pos = calloc(p->n_batch, sizeof *p->rows_pos)) &&
         (p->rows_seq = calloc(p->n_batch, sizeof *p->rows_seq)) &&
         (p->rows_out = calloc(p->n_batch, sizeof *p->rows_out));
    p->stats = (tsr_pipeline_stage_stats){.rank = p->rank, .first_layer = first_layer,
                                          .end_layer = end_layer,
                                          .weights_bytes = weights_bytes};
    snprintf(p->stats.host, sizeof p->stats.host, "%s", tsr_net_host());
    if (!ok) {
        tsr_pipeline_close(p);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the pipeline's buffers");
    }
    *out = p;
    return TSR_OK;
}

static bool is_last(const tsr_pipeline *p)
{
    return p->rank + 1 == p->n_ranks;
}

/* Waits for a transfer, counting the time as waiting. */
static tsr_status wait_for(tsr_pipeline *p, tsr_net_request *req, double timeout_s,
                           const char *what, size_t *received, tsr_error *err)
{
    double t0 = now_s();
    tsr_status s = tsr_net_wait(req, timeout_s, what, received, err);
    /* Before its first chunk a stage is not yet at work (the others load). */
    if (p->first_chunk_at > 0)
        p->stats.wait_s += now_s() - t0;
    return s;
}

/* Sends a header-only control message to the next rank. */
static tsr_status send_control(tsr_pipeline *p, const stage_header *h, tsr_error *err)
{
    slot *out = &p->send[0];
    char what[64];
    snprintf(what, sizeof what, "a send to rank %u", p->rank + 1);
    tsr_status s = wait_for(p, &out->req, p->timeout_s, what, NULL, err);
    if (s == TSR_OK)
        s = wait_for(p, &p->send[1].req, p->timeout_s, what, NULL, err);
    if (s != TSR_OK)
        return s;
    memcpy(out->buf, h, sizeof *h);
    s = tsr_net_isend(out->buf, sizeof *h, p->rank + 1, TSR_NET_TAG_STAGE, &out->req, err);
    return s == TSR_OK ? wait_for(p, &out->req, p->timeout_s, what, NULL, err) : s;
}

void tsr_pipeline_close(tsr_pipeline *p)
{
    if (!p)
        return;
    tsr_error err = {0};
    if (p->rank == 0 && p->recv[0].buf) {
        stage_header h = {.kind = KIND_STOP, .step = p->step};
        send_control(p, &h, &err);
    }
    for (int i = 0; i < 2; i++) {
        tsr_net_cancel(&p->recv[i].req);
        tsr_net_wait(&p->send[i].req, p->timeout_s, "a send", NULL, &err);
        tsr_net_wait(&p->logits_req[i], p->timeout_s, "a send", NULL, &err);
        free(p->recv[i].buf);
        free(p->send[i].buf);
        free(p->logits_send[i]);
    }
    free(p->rows_pos);
    free(p->rows_seq);
    free(p->rows_out);
    free(p);
}

/* ---- the message of a chunk ----------------------------------------------- */

static int32_t *message_rows(uint8_t *buf)
{
    return (int32_t *)(buf + sizeof(stage_header));
}

static uint8_t *message_activations(uint8_t *buf, uint32_t n_rows)
{
    return buf + sizeof(stage_header) + (size_t)n_rows * 3 * sizeof(int32_t);
}

/* Header, rows and this stage's output of chunk into buf; returns its bytes. */
static size_t pack_chunk(tsr_pipeline *p, uint8_t *buf, const stage_header *h,
                         const tsr_batch *chunk)
{
    memcpy(buf, h, sizeof *h);
    int32_t *rows = message_rows(buf);
    for (uint32_t i = 0; i < chunk->n_tokens; i++) {
        rows[3 * i] = chunk->seq_id[i];
        rows[3 * i + 1] = chunk->pos[i];
        rows[3 * i + 2] = chunk->output[i] != 0;
    }
    const float *x = tsr_model_stage_result(p->model);
    uint8_t *act = message_activations(buf, chunk->n_tokens);
    size_t n = (size_t)chunk->n_tokens * p->n_embd;
    if (p->f16)
        tsr_fp16_from_float_n(x, (uint16_t *)act, n);
    else
        memcpy(act, x, n * sizeof(float));
    return (size_t)(act - buf) + (size_t)chunk->n_tokens * p->row_bytes;
}

/* Checks a received chunk and puts its rows into p->rows_* and its
 * activations into the model's residual stream. */
static tsr_status unpack_chunk(tsr_pipeline *p, uint8_t *buf, size_t bytes, tsr_batch *chunk,
                               tsr_error *err)
{
    const stage_header *h = (const stage_header *)buf;
    uint32_t from = p->rank - 1, n_seq = tsr_model_n_sequences(p->model);
    uint32_t max_len = tsr_model_max_seq_len(p->model);
    if (h->n_rows == 0 || h->n_rows > p->n_batch || h->n_out > p->n_outputs ||
        bytes != sizeof *h + (size_t)h->n_rows * (3 * sizeof(int32_t) + p->row_bytes))
        return tsr_error_set(err, TSR_ERR_PEER, "rank %u sent rank %u a malformed chunk "
                             "(%u rows, %u outputs, %zu bytes) at step %u", from, p->rank,
                             h->n_rows, h->n_out, bytes, h->step);
    const int32_t *rows = message_rows(buf);
    uint32_t n_out = 0;
    for (uint32_t i = 0; i < h->n_rows; i++) {
        int32_t seq = rows[3 * i], pos = rows[3 * i + 1];
        if (seq < 0 || (uint32_t)seq >= n_seq || pos < 0 || (uint32_t)pos >= max_len)
            return tsr_error_set(err, TSR_ERR_PEER, "rank %u sent rank %u row %u of sequence "
                                 "%d at position %d at step %u: outside the %u sequences of "
                                 "%u positions every rank provisioned", from, p->rank, i, seq,
                                 pos, h->step, n_seq, max_len);
        p->rows_seq[i] = seq;
        p->rows_pos[i] = pos;
        p->rows_out[i] = rows[3 * i + 2] != 0;
        n_out += p->rows_out[i] != 0;
    }
    if (n_out != h->n_out)
        return tsr_error_set(err, TSR_ERR_PEER, "rank %u sent rank %u a chunk whose header "
                             "says %u outputs and whose rows %u", from, p->rank, h->n_out, n_out);
    const uint8_t *act = message_activations(buf, h->n_rows);
    float *x = tsr_model_stage_activations(p->model);
    size_t n = (size_t)h->n_rows * p->n_embd;
    if (p->f16)
        tsr_fp16_to_float_n((const uint16_t *)act, x, n);
    else
        memcpy(x, act, n * sizeof(float));
    *chunk = (tsr_batch){.n_tokens = h->n_rows, .capacity = h->n_rows, .tokens = NULL,
                         .pos = p->rows_pos, .seq_id = p->rows_seq, .output = p->rows_out};
    return TSR_OK;
}

/* Runs this stage's layers over chunk, counting the time. */
static uint32_t compute(tsr_pipeline *p, const tsr_batch *chunk, bool embed)
{
    double t0 = now_s();
    if (p->first_chunk_at == 0)
        p->first_chunk_at = t0;
    uint32_t n_out = tsr_model_stage_run(p->model, chunk, p->first_layer, p->end_layer, embed,
                                         is_last(p));
    double t1 = now_s();
    if (t1 > p->last_chunk_at)
        p->last_chunk_at = t1;
    p->stats.compute_s += t1 - t0;
    p->stats.rows += chunk->n_tokens;
    return n_out;
}

/* Sends chunk on from slot k: the previous send from that slot first. */
static tsr_status send_chunk(tsr_pipeline *p, uint32_t k, const stage_header *h,
                             const tsr_batch *chunk, tsr_error *err)
{
    slot *out = &p->send[k % 2];
    char what[96];
    snprintf(what, sizeof what, "rank %u to take the activations of step %u", p->rank + 1,
             h->step);
    tsr_status s = wait_for(p, &out->req, p->timeout_s, what, NULL, err);
    if (s != TSR_OK)
        return s;
    size_t bytes = pack_chunk(p, out->buf, h, chunk);
    p->stats.bytes_sent += bytes;
    return tsr_net_isend(out->buf, bytes, p->rank + 1, TSR_NET_TAG_STAGE, &out->req, err);
}

/* ---- rank 0 --------------------------------------------------------------- */

tsr_status tsr_pipeline_decode(tsr_pipeline *p, const tsr_batch *b, tsr_error *err)
{
    tsr_status s = tsr_model_decode_check(p->model, b, err);
    if (s != TSR_OK)
        return s;
    p->step++;
    uint32_t n_chunks = b->n_tokens < p->in_flight ? b->n_tokens : p->in_flight;
    float *logits = tsr_model_stage_logits(p->model);
    /* Each chunk's logits land after the previous chunk's: in output order.
     * Receives from one rank with one tag match in the order posted. */
    uint32_t out_before = 0;
    tsr_net_request *pending = calloc(n_chunks, sizeof *pending);
    if (!pending)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (uint32_t c = 0; s == TSR_OK && c < n_chunks; c++) {
        uint32_t begin = (uint32_t)((uint64_t)b->n_tokens * c / n_chunks);
        uint32_t end = (uint32_t)((uint64_t)b->n_tokens * (c + 1) / n_chunks);
        uint32_t n_out = 0;
        for (uint32_t i = begin; i < end; i++)
            n_out += b->output[i] != 0;
        if (n_out)
            s = tsr_net_irecv(logits + (size_t)out_before * p->n_vocab,
                              (size_t)n_out * p->n_vocab * sizeof(float), p->n_ranks - 1,
                              TSR_NET_TAG_LOGITS, &pending[c], err);
        out_before += n_out;
    }
    for (uint32_t c = 0; s == TSR_OK && c < n_chunks; c++) {
        uint32_t begin = (uint32_t)((uint64_t)b->n_tokens * c / n_chunks);
        uint32_t end = (uint32_t)((uint64_t)b->n_tokens * (c + 1) / n_chunks);
        tsr_batch chunk = {.n_tokens = end - begin, .capacity = end - begin,
                           .tokens = b->tokens + begin, .pos = b->pos + begin,
                           .seq_id = b->seq_id + begin, .output = b->output + begin};
        uint32_t n_out = 0;
        for (uint32_t i = 0; i < chunk.n_tokens; i++)
            n_out += chunk.output[i] != 0;
        compute(p, &chunk, true);
        stage_header h = {.kind = KIND_CHUNK, .step = p->step, .chunk = c, .n_chunks = n_chunks,
                          .n_rows = chunk.n_tokens, .n_out = n_out};
        s = send_chunk(p, c, &h, &chunk, err);
    }
    for (uint32_t c = 0; s == TSR_OK && c < n_chunks; c++) {
        char what[96];
        snprintf(what, sizeof what, "the logits of step %u, chunk %u", p->step, c);
        s = wait_for(p, &pending[c], p->timeout_s, what, NULL, err);
    }
    /* Rank 0's step ends when the logits are in. */
    p->last_chunk_at = now_s();
    for (uint32_t c = 0; c < n_chunks; c++)
        tsr_net_cancel(&pending[c]);
    free(pending);
    if (s != TSR_OK)
        return s;
    tsr_model_decode_commit(p->model, b);
    return TSR_OK;
}

tsr_status tsr_pipeline_seq_copy(tsr_pipeline *p, int32_t src, int32_t dst, uint32_t n_tokens,
                                 tsr_error *err)
{
    stage_header h = {.kind = KIND_COPY, .step = p->step, .copy_src = src, .copy_dst = dst,
                      .copy_n = n_tokens};
    return send_control(p, &h, err);
}

/* ---- every other rank ----------------------------------------------------- */

/* The last stage: chunk's logits (n_out rows) back to rank 0, from slot k. */
static tsr_status send_logits(tsr_pipeline *p, uint32_t k, uint32_t n_out, uint32_t step,
                              tsr_error *err)
{
    if (n_out == 0)
        return TSR_OK;
    tsr_net_request *req = &p->logits_req[k % 2];
    char what[96];
    snprintf(what, sizeof what, "rank 0 to take the logits of step %u", step);
    tsr_status s = wait_for(p, req, p->timeout_s, what, NULL, err);
    if (s != TSR_OK)
        return s;
    size_t bytes = (size_t)n_out * p->n_vocab * sizeof(float);
    memcpy(p->logits_send[k % 2], tsr_model_stage_logits(p->model), bytes);
    p->stats.bytes_sent += bytes;
    return tsr_net_isend(p->logits_send[k % 2], bytes, 0, TSR_NET_TAG_LOGITS, req, err);
}

/* Handles one message; *stop when it was the last. */
static tsr_status serve_one(tsr_pipeline *p, uint32_t k, uint8_t *buf, size_t bytes, bool *stop,
                            bool *in_step, tsr_error *err)
{
    const stage_header *h = (const stage_header *)buf;
    if (bytes < sizeof *h)
        return tsr_error_set(err, TSR_ERR_PEER, "rank %u sent rank %u a message of %zu bytes, "
                             "shorter than a header", p->rank - 1, p->rank, bytes);
    stage_header head = *h;
    switch (head.kind) {
    case KIND_STOP:
        *stop = true;
        return is_last(p) ? TSR_OK : send_control(p, &head, err);
    case KIND_STATS: {
        tsr_status s = is_last(p) ? TSR_OK : send_control(p, &head, err);
        if (s != TSR_OK)
            return s;
        p->stats.busy_s = p->last_chunk_at - p->first_chunk_at;
        tsr_net_request req = {0};
        s = tsr_net_isend(&p->stats, sizeof p->stats, 0, TSR_NET_TAG_STATS, &req, err);
        return s == TSR_OK ? wait_for(p, &req, p->timeout_s, "rank 0 to take this stage's "
                                      "figures", NULL, err)
                           : s;
    }
    case KIND_COPY: {
        tsr_status s = tsr_model_seq_copy(p->model, head.copy_src, head.copy_dst, head.copy_n,
                                          err);
        if (s == TSR_OK && !is_last(p))
            s = send_control(p, &head, err);
        return s;
    }
    case KIND_CHUNK: {
        tsr_batch chunk;
        tsr_status s = unpack_chunk(p, buf, bytes, &chunk, err);
        if (s != TSR_OK)
            return s;
        uint32_t n_out = compute(p, &chunk, false);
        *in_step = head.chunk + 1 < head.n_chunks;
        if (is_last(p))
            return send_logits(p, k, n_out, head.step, err);
        return send_chunk(p, k, &head, &chunk, err);
    }
    default:
        return tsr_error_set(err, TSR_ERR_PEER, "rank %u sent rank %u a message of unknown "
                             "kind %u", p->rank - 1, p->rank, head.kind);
    }
}

tsr_status tsr_pipeline_serve(tsr_pipeline *p, tsr_error *err)
{
    uint32_t from = p->rank - 1;
    tsr_status s = tsr_net_irecv(p->recv[0].buf, p->message_bytes, from, TSR_NET_TAG_STAGE,
                                 &p->recv[0].req, err);
    bool stop = false, in_step = false;
    for (uint32_t k = 0; s == TSR_OK && !stop; k++) {
        slot *in = &p->recv[k % 2];
        size_t bytes = 0;
        char what[96];
        snprintf(what, sizeof what, "the next chunk of step %u", p->step);
        /* Between steps rank 0 may be idle (a server without requests). */
        s = wait_for(p, &in->req, in_step ? p->timeout_s : -1, what, &bytes, err);
        if (s != TSR_OK)
            break;
        p->step = ((const stage_header *)in->buf)->step;
        slot *next = &p->recv[(k + 1) % 2];
        s = tsr_net_irecv(next->buf, p->message_bytes, from, TSR_NET_TAG_STAGE, &next->req,
                          err);
        if (s == TSR_OK)
            s = serve_one(p, k, in->buf, bytes, &stop, &in_step, err);
    }
    for (int i = 0; i < 2; i++)
        tsr_net_cancel(&p->recv[i].req);
    return s;
}

tsr_status tsr_pipeline_stats(tsr_pipeline *p, tsr_pipeline_stage_stats *out, tsr_error *err)
{
    p->stats.busy_s = p->last_chunk_at - p->first_chunk_at;
    out[0] = p->stats;
    tsr_net_request *reqs = calloc(p->n_ranks, sizeof *reqs);
    if (!reqs)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_status s = TSR_OK;
    for (uint32_t r = 1; s == TSR_OK && r < p->n_ranks; r++)
        s = tsr_net_irecv(&out[r], sizeof *out, r, TSR_NET_TAG_STATS, &reqs[r], err);
    stage_header h = {.kind = KIND_STATS, .step = p->step};
    if (s == TSR_OK)
        s = send_control(p, &h, err);
    for (uint32_t r = 1; s == TSR_OK && r < p->n_ranks; r++) {
        char what[64];
        snprintf(what, sizeof what, "the figures of rank %u's stage", r);
        size_t got = 0;
        s = tsr_net_wait(&reqs[r], p->timeout_s, what, &got, err);
        if (s == TSR_OK && (got != sizeof *out || out[r].rank != r))
            s = tsr_error_set(err, TSR_ERR_PEER, "rank %u sent rank 0 malformed figures "
                              "(%zu bytes)", r, got);
        if (s == TSR_OK)
            out[r].host[sizeof out[r].host - 1] = '\0';
    }
    for (uint32_t r = 1; r < p->n_ranks; r++)
        tsr_net_cancel(&reqs[r]);
    free(reqs);
    return s;
}
