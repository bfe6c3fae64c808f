/* libFuzzer target: any bytes as the standard input of `run --chat`. The
 * chat-line reader (tsr_line_read) cuts it into lines under a bound; each
 * line becomes a message of a ChatML or a Llama 3 conversation (the first
 * byte picks), rendered with where each role and content landed, then
 * encoded. Never a crash, leak or hang; every line within the bound, no
 * NUL, no line end; every span inside the prompt and holding its message's
 * text; and however the lines spell the templates' markers, the encoded
 * conversation holds exactly the control tokens the template placed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "fuzz_vocab.h"
#include "text_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_LINE = 512, MAX_MESSAGES = 8 };

static tsr_tokenizer *vocab;

/* The control tokens the template places around n messages of plain text. */
static size_t template_controls(const tsr_chat_template *tmpl, size_t n)
{
    tsr_chat_message plain[MAX_MESSAGES];
    for (size_t i = 0; i < n; i++)
        plain[i] = (tsr_chat_message){i % 2 ? "assistant" : "user", "x"};
    int32_t *ids;
    size_t n_ids;
    if (tsr_chat_encode(tmpl, vocab, plain, n, true, &ids, &n_ids, NULL) != TSR_OK)
        abort();
    size_t count = fuzz_count_controls(ids, n_ids);
    free(ids);
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vocab && !(vocab = fuzz_vocab_open()))
        abort();
    if (size == 0)
        return 0;
    tsr_chat_template *tmpl;
    if (tsr_chat_template_open_name(data[0] & 1 ? "llama3" : "chatml", &tmpl, NULL) != TSR_OK)
        abort();
    /* fmemopen refuses an empty buffer: an empty input is /dev/null's. */
    FILE *f = size > 1 ? fmemopen((void *)(data + 1), size - 1, "rb") : fopen("/dev/null", "rb");
    if (!f) {
        tsr_chat_template_close(tmpl);
        return 0;
    }
    tsr_line_reader lines = {0};
    char *texts[MAX_MESSAGES];
    tsr_chat_message messages[MAX_MESSAGES];
    size_t n = 0;
    bool at_end = false;
    while (n < MAX_MESSAGES) {
        tsr_error err = {0};
        tsr_status s = tsr_line_read(&lines, f, "fuzz", MAX_LINE, "the fuzz bound", &at_end, &err);
        if (s != TSR_OK) {
            if (!err.message[0] || err.code != s)
                abort();
            break;
        }
        if (at_end)
            break;
        if (lines.n_bytes > MAX_LINE || strlen(lines.line) != lines.n_bytes ||
            memchr(lines.line, '\n', lines.n_bytes))
            abort();
        texts[n] = strdup(lines.line);
        if (!texts[n])
            abort();
        messages[n] = (tsr_chat_message){n % 2 ? "assistant" : "user", texts[n]};
        n++;
    }
    fclose(f);
    tsr_line_reader_free(&lines);

    tsr_text_span spans[2 * MAX_MESSAGES];
    size_t len = tsr_chat_apply_spans(tmpl, messages, n, true, NULL, 0, NULL);
    char *prompt = malloc(len + 1);
    if (!prompt || tsr_chat_apply_spans(tmpl, messages, n, true, prompt, len + 1, spans) != len)
        abort();
    for (size_t i = 0; i < n; i++) {
        const tsr_text_span *role = &spans[2 * i], *content = &spans[2 * i + 1];
        if (role->offset + role->n_bytes > len || content->offset + content->n_bytes > len ||
            memcmp(prompt + role->offset, messages[i].role, role->n_bytes) != 0 ||
            role->n_bytes != strlen(messages[i].role))
            abort();
        /* ChatML keeps the content whole; Llama 3 trims it. */
        if (!memmem(messages[i].content, strlen(messages[i].content), prompt + content->offset,
                    content->n_bytes) && content->n_bytes > 0)
            abort();
        if (!(data[0] & 1) && content->n_bytes != strlen(messages[i].content))
            abort();
    }
    int32_t *ids;
    size_t n_ids;
    if (tsr_chat_encode(tmpl, vocab, messages, n, true, &ids, &n_ids, NULL) != TSR_OK)
        abort();
    if (fuzz_count_controls(ids, n_ids) != template_controls(tmpl, n))
        abort(); /* a line's text became a control token */
    free(ids);
    free(prompt);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    tsr_chat_template_close(tmpl);
    return 0;
}
