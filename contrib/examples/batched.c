/* batched: several prompts decoded together, each with its own sampler.
 *
 *   batched MODEL.gguf|PROFILE.yaml n_tokens "prompt" "prompt" ...
 *
 * Every prompt is a sequence of one context; each step decodes the next token
 * of every unfinished sequence in one batch (one forward pass), then samples
 * each sequence's token from its own row of logits with its own chain
 * (seeds 1, 2, ...). A sequence's logits do not depend on its company, so
 * with greedy sampling each reply is what the prompt alone would give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/tessera.h>

enum { MAX_SEQ = 16, MAX_PROMPT = 512, MAX_REPLY = 4096 };

typedef struct sequence {
    tsr_sampler *sampler;
    tsr_token next;            /* sampled, to decode in the next step */
    int32_t pos, row;          /* its position; its row in the batch */
    bool done;
    char reply[MAX_REPLY];
    size_t n_reply;
} sequence;

static int fail(const char *what, const tsr_error *err)
{
    fprintf(stderr, "batched: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 3 > MAX_SEQ) {
        fprintf(stderr, "usage: batched MODEL.gguf|PROFILE.yaml n_tokens \"prompt\"... "
                        "(1 to %d prompts)\n", MAX_SEQ);
        return 2;
    }
    int n_seq = argc - 3, n_predict = atoi(argv[2]);
    const char *greedy = getenv("BATCHED_GREEDY");
    tsr_error err;
    tsr_deployment_params params;
    tsr_deployment_params_init(&params);
    params.n_seq_max = (uint32_t)n_seq;
    params.max_seq_len = MAX_PROMPT + (uint32_t)n_predict;
    size_t n = strlen(argv[1]);
    tsr_deployment *d;
    tsr_status s = n > 5 && strcmp(argv[1] + n - 5, ".yaml") == 0
                       ? tsr_deployment_open_profile(argv[1], &params, &d, &err)
                       : tsr_deployment_open_model(argv[1], &params, &d, &err);
    if (s != TSR_OK)
        return fail(argv[1], &err);
    tsr_context *ctx;
    tsr_batch *batch;
    if (tsr_context_create(d, NULL, &ctx, &err) != TSR_OK ||
        tsr_batch_open(tsr_deployment_n_batch(d), &batch, &err) != TSR_OK)
        return fail("context", &err);

    sequence *seqs = calloc((size_t)n_seq, sizeof *seqs);
    if (!seqs) {
        fprintf(stderr, "batched: out of memory\n");
        return 1;
    }
    const char *greedy_chain[] = {"greedy"};
    for (int k = 0; k < n_seq; k++) {
        tsr_token prompt[MAX_PROMPT];
        size_t n_prompt;
        tsr_message chat[] = {{"user", argv[3 + k]}};
        if (tsr_sampler_open(d, greedy ? greedy_chain : NULL, greedy ? 1 : 0, NULL, 0,
                             (uint64_t)k + 1, &seqs[k].sampler, &err) != TSR_OK ||
            tsr_chat_tokenize(d, chat, 1, true, prompt, MAX_PROMPT, &n_prompt, &err) != TSR_OK)
            return fail(argv[3 + k], &err);
        if (n_prompt > MAX_PROMPT || n_prompt > batch->capacity) {
            fprintf(stderr, "batched: prompt %d is too long\n", k + 1);
            return 1;
        }
        /* one prompt per decode here; its last row gives the first token */
        tsr_batch_clear(batch);
        for (size_t i = 0; i < n_prompt; i++)
            tsr_batch_add(batch, prompt[i], (int32_t)i, k, i + 1 == n_prompt, &err);
        if (tsr_decode(ctx, batch, &err) != TSR_OK)
            return fail("decode", &err);
        seqs[k].pos = (int32_t)n_prompt;
        if (tsr_sample(seqs[k].sampler, ctx, (int32_t)n_prompt - 1, &seqs[k].next, &err) != TSR_OK)
            return fail("sample", &err);
    }
    for (int step = 0; step < n_predict; step++) {
        tsr_batch_clear(batch);
        for (int k = 0; k < n_seq; k++) {
            sequence *q = &seqs[k];
            tsr_token token = q->next;
            if (q->done)
                continue;
            if (tsr_token_is_eog(d, token)) {
                q->done = true;
                continue;
            }
            size_t n_bytes;
            const char *piece = tsr_token_piece(d, token, &n_bytes);
            if (q->n_reply + n_bytes < MAX_REPLY) {
                memcpy(q->reply + q->n_reply, piece, n_bytes);
                q->n_reply += n_bytes;
            }
            q->row = (int32_t)batch->n_tokens;
            tsr_batch_add(batch, token, q->pos++, k, true, &err);
        }
        if (batch->n_tokens == 0)
            break;
        if (step + 1 == n_predict)
            break;
        if (tsr_decode(ctx, batch, &err) != TSR_OK)
            return fail("decode", &err);
        for (int k = 0; k < n_seq; k++) {
            if (seqs[k].done)
                continue;
            if (tsr_sample(seqs[k].sampler, ctx, seqs[k].row, &seqs[k].next, &err) != TSR_OK)
                return fail("sample", &err);
        }
    }
    for (int k = 0; k < n_seq; k++) {
        printf("[%d] %.*s\n", k + 1, (int)seqs[k].n_reply, seqs[k].reply);
        tsr_sampler_close(seqs[k].sampler);
    }
    free(seqs);
    tsr_batch_close(batch);
    tsr_context_free(ctx);
    tsr_deployment_close(d);
    return 0;
}
