/* simple: load a model, generate a reply, print it as it comes.
 *
 *   simple MODEL.gguf|PROFILE.yaml "prompt" [n_tokens]
 *
 * The whole of an application's use of tessera in one screen: open a
 * deployment, make a context, render the prompt with the model's chat
 * template, decode it, then sample and decode one token at a time. Only
 * <tessera/tessera.h>: build with `cc simple.c $(pkg-config --cflags --libs tessera)`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/tessera.h>

static int fail(const char *what, const tsr_error *err)
{
    fprintf(stderr, "simple: %s: %s\n", what, err->message);
    return 1;
}

static bool is_profile(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && strcmp(path + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(path + n - 4, ".yml") == 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: simple MODEL.gguf|PROFILE.yaml \"prompt\" [n_tokens]\n");
        return 2;
    }
    int n_predict = argc > 3 ? atoi(argv[3]) : 64;
    tsr_error err;
    tsr_deployment_params params;
    tsr_deployment_params_init(&params);
    params.max_seq_len = 1024;
    tsr_deployment *d;
    tsr_status s = is_profile(argv[1]) ? tsr_deployment_open_profile(argv[1], &params, &d, &err)
                                       : tsr_deployment_open_model(argv[1], &params, &d, &err);
    if (s != TSR_OK)
        return fail(argv[1], &err);

    tsr_context *ctx;
    tsr_sampler *sampler;
    tsr_batch *batch;
    tsr_token prompt[1024];
    size_t n_prompt;
    tsr_message chat[] = {{"user", argv[2]}};
    if (tsr_context_create(d, NULL, &ctx, &err) != TSR_OK)
        return fail("context", &err);
    /* the profile's sampler chain (the defaults without one), its seed */
    if (tsr_sampler_open(d, NULL, 0, NULL, 0, tsr_deployment_seed(d), &sampler, &err) != TSR_OK)
        return fail("sampler", &err);
    if (tsr_chat_tokenize(d, chat, 1, true, prompt, 1024, &n_prompt, &err) != TSR_OK)
        return fail("prompt", &err);
    if (n_prompt > 1024 || n_prompt + (size_t)n_predict > tsr_deployment_max_seq_len(d)) {
        fprintf(stderr, "simple: the prompt and the reply do not fit the context\n");
        return 1;
    }
    if (tsr_batch_open(tsr_deployment_n_batch(d), &batch, &err) != TSR_OK)
        return fail("batch", &err);

    /* the prompt, in batches of at most n_batch rows; logits of the last */
    int32_t pos = 0;
    for (size_t i = 0; i < n_prompt; i++) {
        tsr_batch_add(batch, prompt[i], pos++, 0, i + 1 == n_prompt, &err);
        tsr_sampler_accept(sampler, prompt[i], &err);
        if ((batch->n_tokens == batch->capacity || i + 1 == n_prompt) &&
            (s = tsr_decode(ctx, batch, &err)) == TSR_OK)
            tsr_batch_clear(batch);
        if (s != TSR_OK)
            return fail("decode", &err);
    }
    int32_t row = (int32_t)((n_prompt - 1) % batch->capacity);
    for (int i = 0; i < n_predict; i++) {
        tsr_token token;
        if (tsr_sample(sampler, ctx, row, &token, &err) != TSR_OK)
            return fail("sample", &err);
        if (tsr_token_is_eog(d, token))
            break;
        size_t n_bytes;
        const char *piece = tsr_token_piece(d, token, &n_bytes);
        fwrite(piece, 1, n_bytes, stdout);
        fflush(stdout);
        tsr_batch_clear(batch);
        tsr_batch_add(batch, token, pos++, 0, true, &err);
        if (tsr_decode(ctx, batch, &err) != TSR_OK)
            return fail("decode", &err);
        row = 0;
    }
    putchar('\n');
    tsr_batch_close(batch);
    tsr_sampler_close(sampler);
    tsr_context_free(ctx);
    tsr_deployment_close(d);
    return 0;
}
