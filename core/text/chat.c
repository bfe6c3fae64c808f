/* Chat templates: recognise a GGUF's Jinja template by its markers, render
 * its family in C. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

struct tsr_chat_template {
    tsr_chat_format format;
    char *default_system; /* NULL when the template writes none */
};

static const char *find_bytes(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle));
}

/* A ChatML template that greets conversations without a system message
 * writes one as a string literal: '<|im_start|>system\nTEXT<|im_end|>\n'.
 * TEXT is that literal's text (no quote or Jinja expression in it), with
 * the literal's escapes read. NULL when there is none. */
static char *chatml_default_system(const char *src, size_t n)
{
    static const char marker[] = "<|im_start|>system";
    const char *end = src + n;
    for (const char *at = find_bytes(src, n, marker); at;
         at = find_bytes(at + 1, (size_t)(end - at - 1), marker)) {
        const char *p = at + sizeof marker - 1;
        if (p < end && *p == '\n')
            p += 1;
        else if (end - p >= 2 && p[0] == '\\' && p[1] == 'n')
            p += 2;
        else
            continue;
        const char *close = find_bytes(p, (size_t)(end - p), "<|im_end|>");
        if (!close)
            return NULL;
        size_t len = (size_t)(close - p);
        /* message['content'] and the like: not a literal */
        if (memchr(p, '\'', len) || memchr(p, '"', len) || memchr(p, '{', len) || len == 0)
            continue;
        char *text = malloc(len + 1);
        if (!text)
            return NULL;
        size_t w = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '\\' && i + 1 < len) {
                char c = p[++i];
                text[w++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            } else {
                text[w++] = p[i];
            }
        }
        text[w] = '\0';
        return text;
    }
    return NULL;
}

tsr_status tsr_chat_template_open(const char *source, size_t n_bytes, tsr_chat_template **out,
                                  tsr_error *err)
{
    *out = NULL;
    if (!source || n_bytes == 0)
        return tsr_error_set(err, TSR_ERR_NOT_FOUND, "the model has no tokenizer.chat_template; "
                             "name one (chatml, llama3) or send the prompt as plain text");
    tsr_chat_format format;
    if (find_bytes(source, n_bytes, "<|im_start|>")) {
        format = TSR_CHAT_CHATML;
    } else if (find_bytes(source, n_bytes, "<|start_header_id|>") &&
               find_bytes(source, n_bytes, "<|eot_id|>")) {
        format = TSR_CHAT_LLAMA3;
    } else {
        /* quote the start, newlines shown as \n, so the user can tell which it is */
        char head[81];
        size_t w = 0;
        for (size_t i = 0; i < n_bytes && w + 2 < sizeof head; i++) {
            if (source[i] == '\n') {
                head[w++] = '\\';
                head[w++] = 'n';
            } else {
                head[w++] = source[i];
            }
        }
        head[w] = '\0';
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "tokenizer.chat_template is not a template "
                             "tessera knows (ChatML with <|im_start|>, Llama 3 with "
                             "<|start_header_id|>); it begins \"%s\"%s", head,
                             w < n_bytes ? "..." : "");
    }
    tsr_chat_template *tmpl = calloc(1, sizeof *tmpl);
    if (!tmpl)
        return tsr_error_set(err, TSR_ERR_NOMEM, "chat template: out of memory");
    tmpl->format = format;
    if (format == TSR_CHAT_CHATML)
        tmpl->default_system = chatml_default_system(source, n_bytes);
    *out = tmpl;
    return TSR_OK;
}

tsr_status tsr_chat_template_open_name(const char *name, tsr_chat_template **out, tsr_error *err)
{
    *out = NULL;
    tsr_chat_format format;
    if (strcmp(name, "chatml") == 0)
        format = TSR_CHAT_CHATML;
    else if (strcmp(name, "llama3") == 0)
        format = TSR_CHAT_LLAMA3;
    else
        return tsr_error_set(err, TSR_ERR_INVALID, "unknown chat template \"%s\"; known: chatml, "
                             "llama3", name);
    tsr_chat_template *tmpl = calloc(1, sizeof *tmpl);
    if (!tmpl)
        return tsr_error_set(err, TSR_ERR_NOMEM, "chat template: out of memory");
    tmpl->format = format;
    *out = tmpl;
    return TSR_OK;
}

void tsr_chat_template_close(tsr_chat_template *tmpl)
{
    if (!tmpl)
        return;
    free(tmpl->default_system);
    free(tmpl);
}

tsr_chat_format tsr_chat_template_format(const tsr_chat_template *tmpl) { return tmpl->format; }

const char *tsr_chat_template_name(const tsr_chat_template *tmpl)
{
    return tmpl->format == TSR_CHAT_LLAMA3 ? "llama3" : "chatml";
}

const char *tsr_chat_template_default_system(const tsr_chat_template *tmpl)
{
    return tmpl->default_system;
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct writer {
    char *buf;
    size_t cap, n;
    tsr_text_span *literal; /* where what the caller gave landed; NULL: not wanted */
    size_t n_literal;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->n < w->cap) {
        size_t room = w->cap - w->n;
        memcpy(w->buf + w->n, s, n < room ? n : room);
    }
    w->n += n;
}

static void puts_(writer *w, const char *s) { put(w, s, strlen(s)); }

/* Text the caller gave (a role, a message's content): the template never
 * reads markers in it, and the tokenizer must not either. */
static void put_literal(writer *w, const char *s, size_t n)
{
    if (w->literal)
        w->literal[w->n_literal++] = (tsr_text_span){w->n, n};
    put(w, s, n);
}

/* Whether s[i..] starts with a code point Python's str.strip() removes
 * (what Jinja's trim filter calls); its length in *len. */
static bool whitespace_at(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    if (s[i] == ' ' || (s[i] >= 0x09 && s[i] <= 0x0d) || (s[i] >= 0x1c && s[i] <= 0x1f)) {
        *len = 1;
        return true;
    }
    uint32_t cp;
    if (s[i] >= 0xc2 && s[i] <= 0xdf && i + 1 < n) {
        cp = (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f);
        *len = 2;
    } else if (s[i] >= 0xe0 && s[i] <= 0xef && i + 2 < n) {
        cp = (uint32_t)(s[i] & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
        *len = 3;
    } else {
        return false;
    }
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static void put_trimmed(writer *w, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), begin = 0, end = n, len;
    while (begin < n && whitespace_at(s, n, begin, &len))
        begin += len;
    /* from the end: step back to each code point's first byte */
    while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (s[start] & 0xc0) == 0x80 && end - start < 3)
            start--;
        if (!whitespace_at(s, end, start, &len) || start + len != end)
            break;
        end = start;
    }
    put_literal(w, text + begin, end - begin);
}

size_t tsr_chat_apply_spans(const tsr_chat_template *tmpl, const tsr_chat_message *messages,
                            size_t n_messages, bool add_generation_prompt, char *buf,
                            size_t buf_bytes, tsr_text_span *literal)
{
    writer w = {buf, buf_bytes ? buf_bytes - 1 : 0, 0, literal, 0};
    if (tmpl->format == TSR_CHAT_CHATML) {
        if (n_messages > 0 && tmpl->default_system && strcmp(messages[0].role, "system") != 0) {
            puts_(&w, "<|im_start|>system\n");
            puts_(&w, tmpl->default_system);
            puts_(&w, "<|im_end|>\n");
        }
        for (size_t i = 0; i < n_messages; i++) {
            puts_(&w, "<|im_start|>");
            put_literal(&w, messages[i].role, strlen(messages[i].role));
            puts_(&w, "\n");
            put_literal(&w, messages[i].content, strlen(messages[i].content));
            puts_(&w, "<|im_end|>\n");
        }
        if (add_generation_prompt)
            puts_(&w, "<|im_start|>assistant\n");
    } else {
        for (size_t i = 0; i < n_messages; i++) {
            if (i == 0)
                puts_(&w, "<|begin_of_text|>");
            puts_(&w, "<|start_header_id|>");
            put_literal(&w, messages[i].role, strlen(messages[i].role));
            puts_(&w, "<|end_header_id|>\n\n");
            put_trimmed(&w, messages[i].content);
            puts_(&w, "<|eot_id|>");
        }
        if (add_generation_prompt)
            puts_(&w, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }
    if (buf_bytes > 0)
        buf[w.n < w.cap ? w.n : w.cap] = '\0';
    return w.n;
}

size_t tsr_chat_apply(const tsr_chat_template *tmpl, const tsr_chat_message *messages,
                      size_t n_messages, bool add_generation_prompt, char *buf, size_t buf_bytes)
{
    return tsr_chat_apply_spans(tmpl, messages, n_messages, add_generation_prompt, buf,
                                buf_bytes, NULL);
}

tsr_status tsr_chat_encode(const tsr_chat_template *tmpl, const tsr_tokenizer *tok,
                           const tsr_chat_message *messages, size_t n_messages,
                           bool add_generation_prompt, int32_t **tokens, size_t *n_tokens,
                           tsr_error *err)
{
    *tokens = NULL;
    *n_tokens = 0;
    size_t len = tsr_chat_apply(tmpl, messages, n_messages, add_generation_prompt, NULL, 0);
    char *text = malloc(len + 1);
    tsr_text_span *literal = malloc((2 * n_messages + 1) * sizeof *literal);
    /* About a token per byte is the most BPE and SentencePiece make of
     * text; a second pass covers what byte fallback adds. */
    size_t cap = len + 16, needed = 0;
    int32_t *out = malloc(cap * sizeof *out);
    tsr_status s = TSR_OK;
    if (!text || !literal || !out) {
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory rendering a chat of %zu messages "
                          "(%zu bytes)", n_messages, len);
        goto done;
    }
    tsr_chat_apply_spans(tmpl, messages, n_messages, add_generation_prompt, text, len + 1,
                         literal);
    s = tsr_tokenizer_encode_literal(tok, text, len, false, literal, 2 * n_messages, out, cap,
                                     &needed, err);
    if (s == TSR_OK && needed > cap) {
        int32_t *bigger = realloc(out, needed * sizeof *out);
        if (!bigger) {
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the %zu tokens of a chat",
                              needed);
            goto done;
        }
        out = bigger;
        s = tsr_tokenizer_encode_literal(tok, text, len, false, literal, 2 * n_messages, out,
                                         needed, &needed, err);
    }
    if (s == TSR_OK) {
        *tokens = out;
        *n_tokens = needed;
        out = NULL;
    }
done:
    free(out);
    free(literal);
    free(text);
    return s;
}
