/* Text through a deployment's tokenizer and chat template. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

tsr_status tsr_tokenize(const tsr_deployment *d, const char *text, size_t n_bytes,
                        uint32_t flags, tsr_token *tokens, size_t max_tokens, size_t *n_tokens,
                        tsr_error *err)
{
    *n_tokens = 0;
    if (!text && n_bytes)
        return tsr_error_set(err, TSR_ERR_INVALID, "tokenize: no text given");
    return tsr_tokenizer_encode(d->tokenizer, text ? text : "", n_bytes,
                                flags & TSR_TOKENIZE_ADD_SPECIAL,
                                flags & TSR_TOKENIZE_PARSE_SPECIAL, tokens, max_tokens, n_tokens,
                                err);
}

size_t tsr_detokenize(const tsr_deployment *d, const tsr_token *tokens, size_t n_tokens,
                      uint32_t flags, char *buf, size_t buf_bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < n_tokens; i++) {
        tsr_token_type type = tsr_tokenizer_token_type(d->tokenizer, tokens[i]);
        if (type == TSR_TOKEN_CONTROL && !(flags & TSR_DETOKENIZE_SPECIAL))
            continue;
        size_t piece_bytes;
        const char *piece = tsr_tokenizer_piece(d->tokenizer, tokens[i], &piece_bytes);
        if (!piece)
            continue;
        if (n < buf_bytes) {
            size_t room = buf_bytes - 1 - n;
            memcpy(buf + n, piece, piece_bytes < room ? piece_bytes : room);
        }
        n += piece_bytes;
    }
    if (buf_bytes)
        buf[n < buf_bytes ? n : buf_bytes - 1] = '\0';
    return n;
}

const char *tsr_token_piece(const tsr_deployment *d, tsr_token token, size_t *n_bytes)
{
    return tsr_tokenizer_piece(d->tokenizer, token, n_bytes);
}

tsr_token tsr_token_bos(const tsr_deployment *d)
{
    return tsr_tokenizer_bos(d->tokenizer);
}

tsr_token tsr_token_eos(const tsr_deployment *d)
{
    return tsr_tokenizer_eos(d->tokenizer);
}

tsr_token tsr_token_eot(const tsr_deployment *d)
{
    return tsr_tokenizer_eot(d->tokenizer);
}

bool tsr_token_is_eog(const tsr_deployment *d, tsr_token token)
{
    return tsr_tokenizer_is_eog(d->tokenizer, token);
}

const char *tsr_deployment_chat_template(const tsr_deployment *d)
{
    return d->chat_source;
}

size_t tsr_token_max_piece_bytes(const tsr_deployment *d)
{
    return tsr_tokenizer_max_piece_bytes(d->tokenizer);
}

tsr_status tsr_chat_tokenize(const tsr_deployment *d, const tsr_message *messages,
                             size_t n_messages, bool add_generation_prompt, tsr_token *tokens,
                             size_t max_tokens, size_t *n_tokens, tsr_error *err)
{
    return tsr_chat_tokenize_template(d, NULL, messages, n_messages, add_generation_prompt,
                                      tokens, max_tokens, n_tokens, err);
}

tsr_status tsr_chat_tokenize_template(const tsr_deployment *d, const char *name,
                                      const tsr_message *messages, size_t n_messages,
                                      bool add_generation_prompt, tsr_token *tokens,
                                      size_t max_tokens, size_t *n_tokens, tsr_error *err)
{
    *n_tokens = 0;
    for (size_t i = 0; i < n_messages; i++)
        if (!messages[i].role || !messages[i].content)
            return tsr_error_set(err, TSR_ERR_INVALID, "chat message %zu has no %s", i,
                                 messages[i].role ? "content" : "role");
    tsr_chat_template *tmpl;
    tsr_status s = name ? tsr_chat_template_open_name(name, &tmpl, err)
                        : tsr_chat_template_open(d->chat_source,
                                                 d->chat_source ? strlen(d->chat_source) : 0,
                                                 &tmpl, err);
    if (s != TSR_OK)
        return s;
    /* tsr_message and tsr_chat_message are the same two strings. */
    tsr_chat_message *list = calloc(n_messages ? n_messages : 1, sizeof *list);
    int32_t *all = NULL;
    size_t n_all = 0;
    if (!list)
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == TSR_OK && i < n_messages; i++)
        list[i] = (tsr_chat_message){messages[i].role, messages[i].content};
    if (s == TSR_OK)
        s = tsr_chat_encode(tmpl, d->tokenizer, list, n_messages, add_generation_prompt, &all,
                            &n_all, err);
    if (s == TSR_OK) {
        memcpy(tokens, all, (n_all < max_tokens ? n_all : max_tokens) * sizeof *tokens);
        *n_tokens = n_all;
    }
    free(all);
    free(list);
    tsr_chat_template_close(tmpl);
    return s;
}
