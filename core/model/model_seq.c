/* Sequences and batches: which rows a decode takes and where their K and V
 * go, the per-sequence cache operations, and saving one sequence's cache.
 *
 * A sequence s owns positions [0, seq_len[s]) of its own slice of every
 * layer's cache, without holes, so a batch is valid exactly when each
 * sequence's rows continue it in batch order. Everything is checked before
 * anything is written: a refused or aborted decode leaves every sequence's
 * length as it was (rows written past a length are not part of it).
 */
#include <stdlib.h>
#include <string.h>

#include "model_identity.h"
#include "model_internal.h"

uint32_t tsr_model_n_sequences(const tsr_model *m)
{
    return m->n_sequences;
}

uint32_t tsr_model_n_batch(const tsr_model *m)
{
    return m->layout.n_batch;
}

uint32_t tsr_model_n_outputs(const tsr_model *m)
{
    return m->layout.n_logit_rows;
}

uint32_t tsr_model_seq_len(const tsr_model *m, int32_t seq)
{
    return seq >= 0 && (uint32_t)seq < m->n_sequences ? m->seq_len[seq] : 0;
}

/* ---- decoding a batch ----------------------------------------------------- */

static tsr_status check_batch(tsr_model *m, const tsr_batch *b, tsr_error *err)
{
    if (b->n_tokens == 0)
        return tsr_error_set(err, TSR_ERR_INVALID, "the batch is empty");
    if (b->n_tokens > m->layout.n_batch)
        return tsr_error_set(err, TSR_ERR_INVALID, "the batch has %u rows; a decode takes at "
                             "most %u (the deployment's n_batch)", b->n_tokens,
                             m->layout.n_batch);
    memcpy(m->seq_next, m->seq_len, m->n_sequences * sizeof *m->seq_next);
    uint32_t n_out = 0;
    for (uint32_t i = 0; i < b->n_tokens; i++) {
        int32_t token = b->tokens[i], seq = b->seq_id[i], pos = b->pos[i];
        if (token < 0 || (uint32_t)token >= m->config.n_vocab)
            return tsr_error_set(err, TSR_ERR_INVALID, "batch row %u: token %d is outside the "
                                 "vocabulary of %u tokens", i, token, m->config.n_vocab);
        if (seq < 0 || (uint32_t)seq >= m->n_sequences)
            return tsr_error_set(err, TSR_ERR_INVALID, "batch row %u: sequence %d does not "
                                 "exist; the context has sequences 0 to %u", i, seq,
                                 m->n_sequences - 1);
        if (pos < 0 || (uint32_t)pos != m->seq_next[seq])
            return tsr_error_set(err, TSR_ERR_INVALID, "batch row %u: sequence %d is at "
                                 "position %u; its next row must be there, not at %d", i, seq,
                                 m->seq_next[seq], pos);
        if ((uint32_t)pos >= m->max_seq_len)
            return tsr_error_set(err, TSR_ERR_NO_KV_ROOM, "batch row %u: sequence %d is full: "
                                 "it holds %u positions, the most the plan provisioned "
                                 "(max_seq_len)", i, seq, m->max_seq_len);
        m->seq_next[seq]++;
        n_out += b->output[i] != 0;
    }
    if (n_out > m->layout.n_logit_rows)
        return tsr_error_set(err, TSR_ERR_INVALID, "the batch asks for the logits of %u rows; "
                             "a decode keeps at most %u (one per sequence; open the deployment "
                             "with all_logits for every row)", n_out, m->layout.n_logit_rows);
    return TSR_OK;
}

/* Splits a checked batch into attention's runs and lists its output rows. */
static void plan_rows(tsr_model *m, const tsr_batch *b)
{
    m->n_runs = 0;
    m->n_out = 0;
    for (uint32_t i = 0; i < b->n_tokens; i++) {
        tsr_model_run *last = m->n_runs ? &m->runs[m->n_runs - 1] : NULL;
        if (last && last->seq == b->seq_id[i] && last->pos0 + last->n_rows == b->pos[i])
            last->n_rows++;
        else
            m->runs[m->n_runs++] = (tsr_model_run){(int32_t)i, 1, b->seq_id[i], b->pos[i]};
        m->row_out[i] = b->output[i] ? m->n_out : -1;
        if (b->output[i])
            m->out_rows[m->n_out++] = (int32_t)i;
    }
    m->n_rows = (int32_t)b->n_tokens;
}

tsr_status tsr_model_decode(tsr_model *m, const tsr_batch *b, bool (*abort)(void *ctx),
                            void *abort_ctx, tsr_error *err)
{
    m->n_rows = 0;
    m->n_out = 0;
    if (!tsr_model_is_whole(m))
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "this model holds layers %u to %u of "
                             "%u, one stage of a pipeline: it decodes through its pipeline",
                             m->plan->first_layer, m->plan->end_layer - 1, m->config.n_layer);
    tsr_status s = check_batch(m, b, err);
    if (s != TSR_OK)
        return s;
    plan_rows(m, b);
    if (!tsr_forward(m, b->tokens, b->pos, b->seq_id, b->n_tokens, abort, abort_ctx)) {
        m->n_rows = 0;
        m->n_out = 0;
        return tsr_error_set(err, TSR_ERR_ABORTED, "the decode was aborted by the caller");
    }
    memcpy(m->seq_len, m->seq_next, m->n_sequences * sizeof *m->seq_len);
    return TSR_OK;
}

/* ---- one stage of a pipeline across hosts --------------------------------- */

tsr_status tsr_model_decode_check(tsr_model *m, const tsr_batch *b, tsr_error *err)
{
    m->n_rows = 0;
    m->n_out = 0;
    return check_batch(m, b, err);
}

uint32_t tsr_model_stage_run(tsr_model *m, const tsr_batch *chunk, uint32_t first_layer,
                             uint32_t end_layer, bool embed, bool logits)
{
    plan_rows(m, chunk);
    tsr_forward_layers(m, embed ? chunk->tokens : NULL, chunk->pos, chunk->seq_id,
                       chunk->n_tokens, first_layer, end_layer, logits, NULL, NULL);
    return (uint32_t)m->n_out;
}

void tsr_model_decode_commit(tsr_model *m, const tsr_batch *b)
{
    plan_rows(m, b);
    memcpy(m->seq_len, m->seq_next, m->n_sequences * sizeof *m->seq_len);
}

float *tsr_model_stage_activations(tsr_model *m)
{
    return (float *)(m->input_scratch + m->layout.x);
}

const float *tsr_model_stage_result(const tsr_model *m)
{
    return (const float *)(m->output_scratch + m->layout.x);
}

float *tsr_model_stage_logits(tsr_model *m)
{
    return (float *)(m->output_scratch + m->layout.logits);
}

const float *tsr_model_decode_logits(const tsr_model *m, int32_t i)
{
    if (i < 0 || i >= m->n_rows || m->row_out[i] < 0)
        return NULL;
    const float *logits = (const float *)(m->output_scratch + m->layout.logits);
    return logits + (size_t)m->row_out[i] * m->config.n_vocab;
}

/* ---- sequence 0, as run and bench use it ---------------------------------- */

tsr_status tsr_model_eval(tsr_model *m, const int32_t *tokens, size_t n_tokens, tsr_error *err)
{
    if (m->seq_len[0] + n_tokens > m->max_seq_len)
        return tsr_error_set(err, TSR_ERR_NO_KV_ROOM,
                             "the context is full: %u tokens so far plus %zu new exceed "
                             "max_seq_len %u", m->seq_len[0], n_tokens, m->max_seq_len);
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= m->config.n_vocab)
            return tsr_error_set(err, TSR_ERR_INVALID, "token %d is outside the vocabulary of "
                                 "%u tokens", tokens[i], m->config.n_vocab);
    bool all = m->plan->all_logits;
    size_t n_batch = m->layout.n_batch;
    for (size_t done = 0; done < n_tokens;) {
        uint32_t n = (uint32_t)(n_tokens - done < n_batch ? n_tokens - done : n_batch);
        for (uint32_t i = 0; i < n; i++) {
            m->eval_pos[i] = (int32_t)(m->seq_len[0] + i);
            m->eval_seq[i] = 0;
            m->eval_out[i] = all || i + 1 == n;
        }
        tsr_batch batch = {.n_tokens = n,
                           .capacity = n,
                           .tokens = (int32_t *)(tokens + done),
                           .pos = m->eval_pos,
                           .seq_id = m->eval_seq,
                           .output = m->eval_out};
        tsr_status s = tsr_model_decode(m, &batch, NULL, NULL, err);
        if (s != TSR_OK)
            return s;
        done += n;
    }
    return TSR_OK;
}

const float *tsr_model_logits(const tsr_model *m, size_t i)
{
    if (m->n_out == 0)
        return NULL;
    if (i >= (size_t)m->n_out)
        i = (size_t)m->n_out - 1;
    return (const float *)(m->output_scratch + m->layout.logits) + i * m->config.n_vocab;
}

void tsr_model_rollback(tsr_model *m, size_t n_keep)
{
    if (n_keep < m->seq_len[0])
        m->seq_len[0] = (uint32_t)n_keep;
}

/* ---- per-sequence cache operations ---------------------------------------- */

static tsr_status check_seq(const tsr_model *m, int32_t seq, const char *what, tsr_error *err)
{
    if (seq < 0 || (uint32_t)seq >= m->n_sequences)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: sequence %d does not exist; the context "
                             "has sequences 0 to %u", what, seq, m->n_sequences - 1);
    return TSR_OK;
}

tsr_status tsr_model_seq_remove(tsr_model *m, int32_t seq, int32_t p0, int32_t p1,
                                tsr_error *err)
{
    if (p0 < 0)
        p0 = 0;
    if (seq < 0) {
        for (uint32_t s = 0; s < m->n_sequences; s++)
            if (p1 >= 0 && (uint32_t)p1 < m->seq_len[s] && (uint32_t)p0 < m->seq_len[s])
                return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "removing positions [%d, %d) of "
                                     "sequence %u would leave a hole: remove up to its end "
                                     "(%u)", p0, p1, s, m->seq_len[s]);
        for (uint32_t s = 0; s < m->n_sequences; s++)
            if ((uint32_t)p0 < m->seq_len[s])
                m->seq_len[s] = (uint32_t)p0;
        return TSR_OK;
    }
    tsr_status s = check_seq(m, seq, "remove", err);
    if (s != TSR_OK)
        return s;
    uint32_t len = m->seq_len[seq];
    if ((uint32_t)p0 >= len || (p1 >= 0 && p1 <= p0))
        return TSR_OK;
    if (p1 >= 0 && (uint32_t)p1 < len)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "removing positions [%d, %d) of sequence "
                             "%d would leave a hole: remove up to its end (%u)", p0, p1, seq,
                             len);
    m->seq_len[seq] = (uint32_t)p0;
    return TSR_OK;
}

tsr_status tsr_model_seq_copy(tsr_model *m, int32_t src, int32_t dst, uint32_t n_tokens,
                              tsr_error *err)
{
    tsr_status s = check_seq(m, src, "copy", err);
    if (s == TSR_OK)
        s = check_seq(m, dst, "copy", err);
    if (s != TSR_OK)
        return s;
    if (n_tokens > m->seq_len[src])
        return tsr_error_set(err, TSR_ERR_INVALID, "copy: sequence %d holds %u positions, "
                             "fewer than the %u asked for", src, m->seq_len[src], n_tokens);
    if (src == dst) {
        m->seq_len[dst] = n_tokens;
        return TSR_OK;
    }
    size_t bytes = (size_t)n_tokens * m->kv_pos_bytes;
    for (uint32_t i = m->plan->first_layer; i < m->plan->end_layer; i++) {
        tsr_layer *l = &m->layers[i];
        memcpy(l->k_cache + (size_t)dst * m->kv_seq_bytes,
               l->k_cache + (size_t)src * m->kv_seq_bytes, bytes);
        memcpy(l->v_cache + (size_t)dst * m->kv_seq_bytes,
               l->v_cache + (size_t)src * m->kv_seq_bytes, bytes);
    }
    m->seq_len[dst] = n_tokens;
    return TSR_OK;
}

void tsr_model_seq_keep(tsr_model *m, int32_t seq)
{
    for (uint32_t s = 0; s < m->n_sequences; s++)
        if ((int32_t)s != seq)
            m->seq_len[s] = 0;
}

/* ---- saving and restoring one sequence -------------------------------------
 * The file, little-endian as the machine writes it (a state file is for the
 * machine and build that wrote it):
 *
 *   "TSRSEQST"  magic                       8 bytes
 *   version (1), header bytes               2 x u32
 *   model fingerprint (header FNV-1a), model file size, quantize target
 *   (32 bytes, NUL-padded), cache type (32 bytes), n_layer, n_head_kv,
 *   head_dim, kv_pos_bytes, n_tokens
 *   tokens                                  n_tokens x i32
 *   for every layer: K rows, then V rows    n_tokens x kv_pos_bytes each
 *   checksum: FNV-1a 64 of every byte before it
 */
static const char state_magic[8] = {'T', 'S', 'R', 'S', 'E', 'Q', 'S', 'T'};
enum { STATE_VERSION = 1, STATE_NAME_BYTES = 32 };

typedef struct state_header {
    char magic[8];
    uint32_t version, header_bytes;
    uint64_t fingerprint, file_bytes;
    char quantize[STATE_NAME_BYTES], cache_type[STATE_NAME_BYTES];
    uint32_t n_layer, n_head_kv, head_dim, n_tokens;
    uint64_t kv_pos_bytes;
} state_header;

typedef struct state_io {
    FILE *f;
    uint64_t hash;
    const char *path;
} state_io;

static void hash_bytes(uint64_t *hash, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        *hash = (*hash ^ p[i]) * 1099511628211ull;
}

static tsr_status state_write(state_io *io, const void *data, size_t n, tsr_error *err)
{
    hash_bytes(&io->hash, data, n);
    if (n && fwrite(data, 1, n, io->f) != n)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %m", io->path);
    return TSR_OK;
}

static tsr_status state_read(state_io *io, void *data, size_t n, tsr_error *err)
{
    if (n && fread(data, 1, n, io->f) != n)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: the state file is truncated", io->path);
    hash_bytes(&io->hash, data, n);
    return TSR_OK;
}

static tsr_status fill_header(const tsr_model *m, uint32_t n_tokens, state_header *h,
                              tsr_error *err)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, state_magic, sizeof h->magic);
    h->version = STATE_VERSION;
    h->header_bytes = sizeof *h;
    tsr_status s = tsr_gguf_header_fingerprint(m->gguf, &h->fingerprint, err);
    if (s != TSR_OK)
        return s;
    h->file_bytes = tsr_gguf_file_size(m->gguf);
    snprintf(h->quantize, sizeof h->quantize, "%s", m->plan->quantize ? m->plan->quantize : "");
    snprintf(h->cache_type, sizeof h->cache_type, "%s", m->plan->cache_type);
    h->n_layer = m->config.n_layer;
    h->n_head_kv = m->config.n_head_kv;
    h->head_dim = m->config.head_dim;
    h->n_tokens = n_tokens;
    h->kv_pos_bytes = m->kv_pos_bytes;
    return TSR_OK;
}

tsr_status tsr_model_seq_save(const tsr_model *m, int32_t seq, const int32_t *tokens,
                              size_t n_tokens, FILE *f, const char *path, tsr_error *err)
{
    tsr_status s = check_seq(m, seq, "save", err);
    if (s != TSR_OK)
        return s;
    if (!tsr_model_is_whole(m))
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "save: this model holds one stage of a "
                             "pipeline, not a sequence's whole state");
    if (n_tokens > m->max_seq_len)
        return tsr_error_set(err, TSR_ERR_INVALID, "save: %zu tokens are more than a sequence "
                             "holds (%u)", n_tokens, m->max_seq_len);
    uint32_t len = m->seq_len[seq];
    state_header h;
    if ((s = fill_header(m, len, &h, err)) != TSR_OK)
        return s;
    state_io io = {f, 14695981039346656037ull, path};
    uint32_t n = (uint32_t)n_tokens;
    s = state_write(&io, &h, sizeof h, err);
    if (s == TSR_OK)
        s = state_write(&io, &n, sizeof n, err);
    if (s == TSR_OK)
        s = state_write(&io, tokens, n_tokens * sizeof *tokens, err);
    size_t bytes = (size_t)len * m->kv_pos_bytes;
    for (uint32_t i = 0; s == TSR_OK && i < m->config.n_layer; i++) {
        const tsr_layer *l = &m->layers[i];
        s = state_write(&io, l->k_cache + (size_t)seq * m->kv_seq_bytes, bytes, err);
        if (s == TSR_OK)
            s = state_write(&io, l->v_cache + (size_t)seq * m->kv_seq_bytes, bytes, err);
    }
    uint64_t hash = io.hash;
    if (s == TSR_OK)
        s = state_write(&io, &hash, sizeof hash, err);
    if (s == TSR_OK && fflush(f) != 0)
        s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %m", path);
    return s;
}

/* Why a header does not belong to this model, or NULL when it does. */
static const char *header_mismatch(const state_header *got, const state_header *want)
{
    if (memcmp(got->magic, state_magic, sizeof got->magic) != 0)
        return "it is not a tessera sequence state file";
    if (got->version != STATE_VERSION || got->header_bytes != sizeof *got)
        return "it was written by another version of tessera";
    if (got->fingerprint != want->fingerprint || got->file_bytes != want->file_bytes ||
        got->n_layer != want->n_layer || got->n_head_kv != want->n_head_kv ||
        got->head_dim != want->head_dim)
        return "it was saved from another model";
    if (memcmp(got->quantize, want->quantize, sizeof got->quantize) != 0)
        return "it was saved with the weights re-quantized otherwise (model.quantize)";
    if (memcmp(got->cache_type, want->cache_type, sizeof got->cache_type) != 0 ||
        got->kv_pos_bytes != want->kv_pos_bytes)
        return "it was saved with another cache type";
    return NULL;
}

static tsr_status load_body(tsr_model *m, int32_t seq, state_io *io, const state_header *h,
                            int32_t *tokens, size_t max_tokens, size_t *n_tokens, tsr_error *err)
{
    uint32_t n;
    tsr_status s = state_read(io, &n, sizeof n, err);
    if (s != TSR_OK)
        return s;
    if (n > m->max_seq_len)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: the state file holds %u tokens, more "
                             "than a sequence of this deployment holds (%u)", io->path, n,
                             m->max_seq_len);
    if (n > max_tokens)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: the state file holds %u tokens; the "
                             "buffer given takes %zu", io->path, n, max_tokens);
    if ((s = state_read(io, tokens, (size_t)n * sizeof *tokens, err)) != TSR_OK)
        return s;
    size_t bytes = (size_t)h->n_tokens * m->kv_pos_bytes;
    for (uint32_t i = 0; s == TSR_OK && i < m->config.n_layer; i++) {
        tsr_layer *l = &m->layers[i];
        s = state_read(io, l->k_cache + (size_t)seq * m->kv_seq_bytes, bytes, err);
        if (s == TSR_OK)
            s = state_read(io, l->v_cache + (size_t)seq * m->kv_seq_bytes, bytes, err);
    }
    uint64_t want = io->hash, got;
    if (s == TSR_OK && fread(&got, 1, sizeof got, io->f) != sizeof got)
        s = tsr_error_set(err, TSR_ERR_FORMAT, "%s: the state file is truncated", io->path);
    if (s == TSR_OK && got != want)
        s = tsr_error_set(err, TSR_ERR_FORMAT, "%s: the state file is corrupt (its checksum "
                          "does not match its contents)", io->path);
    if (s == TSR_OK && fgetc(io->f) != EOF)
        s = tsr_error_set(err, TSR_ERR_FORMAT, "%s: the state file has bytes past its end",
                          io->path);
    if (s == TSR_OK)
        *n_tokens = n;
    return s;
}

tsr_status tsr_model_seq_load(tsr_model *m, int32_t seq, int32_t *tokens, size_t max_tokens,
                              size_t *n_tokens, FILE *f, const char *path, tsr_error *err)
{
    *n_tokens = 0;
    tsr_status s = check_seq(m, seq, "load", err);
    if (s != TSR_OK)
        return s;
    if (!tsr_model_is_whole(m))
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "load: this model holds one stage of a "
                             "pipeline, not a sequence's whole state");
    state_header want, got;
    if ((s = fill_header(m, 0, &want, err)) != TSR_OK)
        return s;
    state_io io = {f, 14695981039346656037ull, path};
    m->seq_len[seq] = 0;
    if ((s = state_read(&io, &got, sizeof got, err)) != TSR_OK)
        return s;
    const char *why = header_mismatch(&got, &want);
    if (why)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: cannot restore: %s", path, why);
    if (got.n_tokens > m->max_seq_len)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: the state file holds %u positions, more "
                             "than a sequence of this deployment holds (%u)", path, got.n_tokens,
                             m->max_seq_len);
    s = load_body(m, seq, &io, &got, tokens, max_tokens, n_tokens, err);
    if (s == TSR_OK)
        m->seq_len[seq] = got.n_tokens;
    return s;
}
