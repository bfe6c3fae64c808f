/* Chat templates: a conversation of {role, content} messages -> the prompt
 * text a chat model was trained on.
 *
 * A GGUF carries its template as Jinja source (tokenizer.chat_template).
 * tessera does not run Jinja: it recognises the template's family by its
 * distinctive markers and renders that family in C, byte for byte as the
 * Jinja template renders it (tests/test_chat.c checks this against
 * llama-cpp-python's rendering):
 *   ChatML   <|im_start|>role\ncontent<|im_end|>\n ... (SmolLM2, Qwen2).
 *            When the template writes a default system message for
 *            conversations that lack one (SmolLM2's "You are a helpful AI
 *            assistant named SmolLM, trained by Hugging Face"), that text
 *            is taken from the template and used the same way.
 *   Llama 3  <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n
 *            content (trimmed)<|eot_id|> ...
 * The rendered text contains the special tokens as text, and the BOS where
 * the template writes one. tsr_chat_encode turns it into tokens: the
 * template's markers become control tokens, while the roles and contents
 * the caller gave never do (a user who types "<|im_end|>" cannot close the
 * turn and open a system one).
 */
#ifndef TSR_CORE_CHAT_H
#define TSR_CORE_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/error.h"
#include "tokenizer.h"

typedef enum tsr_chat_format {
    TSR_CHAT_CHATML = 1,
    TSR_CHAT_LLAMA3 = 2,
} tsr_chat_format;

/* Both strings non-NULL and NUL-terminated; the caller owns them. */
typedef struct tsr_chat_message {
    const char *role;    /* "system", "user", "assistant", ... */
    const char *content;
} tsr_chat_message;

typedef struct tsr_chat_template tsr_chat_template;

/* Recognises a template from its Jinja source (n_bytes of it; NULL when the
 * model has none). TSR_ERR_UNSUPPORTED, quoting the template's first
 * characters, when it is none of the families above; TSR_ERR_NOT_FOUND
 * when there is no template. */
tsr_status tsr_chat_template_open(const char *source, size_t n_bytes, tsr_chat_template **out,
                                  tsr_error *err);
/* A family by name, "chatml" or "llama3" (a user's override), without a
 * default system message. */
tsr_status tsr_chat_template_open_name(const char *name, tsr_chat_template **out,
                                       tsr_error *err);
void tsr_chat_template_close(tsr_chat_template *tmpl);

tsr_chat_format tsr_chat_template_format(const tsr_chat_template *tmpl);
/* "chatml" or "llama3". */
const char *tsr_chat_template_name(const tsr_chat_template *tmpl);
/* The system message used when a conversation has none, or NULL. */
const char *tsr_chat_template_default_system(const tsr_chat_template *tmpl);

/* Renders the conversation, then, with add_generation_prompt, the header
 * that opens the assistant's reply. Writes at most buf_bytes - 1 bytes and
 * a NUL (when buf_bytes > 0) and returns the length of the whole prompt,
 * as snprintf does: call again with a larger buffer when it is >= buf_bytes.
 * Thread-safe. */
size_t tsr_chat_apply(const tsr_chat_template *tmpl, const tsr_chat_message *messages,
                      size_t n_messages, bool add_generation_prompt, char *buf, size_t buf_bytes);
/* The same, and where each message's role and content landed in the whole
 * prompt (whatever buf holds of it): literal[2i] the role, literal[2i + 1]
 * the content (trimmed, where the template trims it) of messages[i], in
 * order; literal holds 2 * n_messages spans, or is NULL. */
size_t tsr_chat_apply_spans(const tsr_chat_template *tmpl, const tsr_chat_message *messages,
                            size_t n_messages, bool add_generation_prompt, char *buf,
                            size_t buf_bytes, tsr_text_span *literal);

/* Renders the conversation and encodes it with tok: the template's markers
 * become control tokens, the roles' and contents' text never does (see
 * tsr_tokenizer_encode_literal). *tokens is malloc'd, owned by the caller.
 * Errors: TSR_ERR_NOMEM, or the tokenizer's. Thread-safe. */
tsr_status tsr_chat_encode(const tsr_chat_template *tmpl, const tsr_tokenizer *tok,
                           const tsr_chat_message *messages, size_t n_messages,
                           bool add_generation_prompt, int32_t **tokens, size_t *n_tokens,
                           tsr_error *err);

#endif
