/* Reading a tokenizer from GGUF metadata: small files made with the test
 * writer, good ones and ones with a key missing or of the wrong type, whose
 * refusals must name the file and the key. */
#include <criterion/criterion.h>

#include "gguf_writer.h"
#include "tokenizer.h"

static const char *const tokens[] = {"a", "b", "ab", "\xc4\xa0", "<s>", "</s>"};
static const int32_t types[] = {1, 1, 1, 1, 3, 3};
static const char *const merges[] = {"a b"};

/* A GPT-2 style vocabulary; `skip` names a key to leave out. */
static gguf_writer *vocab_writer(const char *skip)
{
    gguf_writer *w = gguf_writer_new(3);
    if (!skip || strcmp(skip, "model"))
        gguf_writer_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_kv_str(w, "tokenizer.ggml.pre", "gpt-2");
    if (!skip || strcmp(skip, "tokens"))
        gguf_writer_kv_str_array(w, "tokenizer.ggml.tokens", 6, tokens);
    if (!skip || strcmp(skip, "token_type"))
        gguf_writer_kv_array(w, "tokenizer.ggml.token_type", TSR_GGUF_INT32, 6, types);
    if (!skip || strcmp(skip, "merges"))
        gguf_writer_kv_str_array(w, "tokenizer.ggml.merges", 1, merges);
    if (!skip || strcmp(skip, "bos"))
        gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", 4);
    gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", 5);
    gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_writer_kv_str(w, "tokenizer.chat_template", "{{ '<|im_start|>' }}");
    return w;
}

/* Opens the tokenizer of the file w describes; returns the status. */
static tsr_status open_from(gguf_writer *w, tsr_tokenizer **tok, tsr_error *err)
{
    uint8_t *bytes;
    size_t n;
    gguf_writer_to_memory(w, &bytes, &n);
    gguf_writer_free(w);
    tsr_gguf *gguf;
    tsr_error gerr = {0};
    cr_assert_eq(tsr_gguf_open_memory(bytes, n, "tiny.gguf", &gguf, &gerr), TSR_OK, "%s",
                 gerr.message);
    tsr_status st = tsr_tokenizer_open(gguf, tok, err);
    /* the tokenizer copies what it keeps: the file may go */
    tsr_gguf_close(gguf);
    free(bytes);
    return st;
}

Test(tokenizer_gguf, reads_vocabulary_merges_ids_flags_and_template)
{
    tsr_tokenizer *tok;
    tsr_error err = {0};
    cr_assert_eq(open_from(vocab_writer(NULL), &tok, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_tokenizer_n_tokens(tok), 6);
    cr_assert_eq(tsr_tokenizer_bos(tok), 4);
    cr_assert_eq(tsr_tokenizer_eos(tok), 5);
    cr_assert(tsr_tokenizer_adds_bos(tok));
    cr_assert_eq(tsr_tokenizer_token_type(tok, 4), TSR_TOKEN_CONTROL);
    int32_t ids[8];
    size_t n;
    cr_assert_eq(tsr_tokenizer_encode(tok, "ab ab<s>", 8, true, true, ids, 8, &n, NULL), TSR_OK);
    cr_assert_eq(n, 5);
    cr_assert(ids[0] == 4 && ids[1] == 2 && ids[2] == 3 && ids[3] == 2 && ids[4] == 4,
              "<s> ab Ġ ab <s>: %d %d %d %d %d", ids[0], ids[1], ids[2], ids[3], ids[4]);
    size_t n_template;
    const char *chat = tsr_tokenizer_chat_template(tok, &n_template);
    cr_assert(n_template == 20 && memcmp(chat, "{{ '<|im_start|>' }}", 20) == 0);
    tsr_tokenizer_close(tok);
}

static void assert_refused(gguf_writer *w, tsr_status code, const char *needle)
{
    tsr_tokenizer *tok = (tsr_tokenizer *)1;
    tsr_error err = {0};
    cr_assert_eq(open_from(w, &tok, &err), code, "%s", err.message);
    cr_assert_null(tok);
    cr_assert(strstr(err.message, "tiny.gguf: ") == err.message, "names the file: %s",
              err.message);
    cr_assert(strstr(err.message, needle), "\"%s\" not in: %s", needle, err.message);
}

Test(tokenizer_gguf, refuses_a_file_without_a_tokenizer)
{
    assert_refused(vocab_writer("model"), TSR_ERR_FORMAT, "tokenizer.ggml.model is missing");
    assert_refused(vocab_writer("tokens"), TSR_ERR_FORMAT, "tokenizer.ggml.tokens is missing");
    assert_refused(vocab_writer("merges"), TSR_ERR_FORMAT, "tokenizer.ggml.merges is missing");
}

Test(tokenizer_gguf, refuses_keys_of_the_wrong_type)
{
    gguf_writer *w = vocab_writer("tokens");
    gguf_writer_kv_array(w, "tokenizer.ggml.tokens", TSR_GGUF_INT32, 6, types);
    assert_refused(w, TSR_ERR_FORMAT, "tokenizer.ggml.tokens is an array of int32");
    w = vocab_writer("bos");
    gguf_writer_kv_str(w, "tokenizer.ggml.bos_token_id", "4");
    assert_refused(w, TSR_ERR_FORMAT, "tokenizer.ggml.bos_token_id is not an unsigned integer");
    w = vocab_writer("token_type");
    gguf_writer_kv_array(w, "tokenizer.ggml.token_type", TSR_GGUF_INT32, 5, types);
    assert_refused(w, TSR_ERR_FORMAT, "tokenizer.ggml.token_type has 5 entries for 6 tokens");
}

Test(tokenizer_gguf, refuses_an_id_outside_the_vocabulary)
{
    gguf_writer *w = vocab_writer("bos");
    gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", 6);
    assert_refused(w, TSR_ERR_FORMAT, "tokenizer.ggml.bos_token_id is 6, outside the "
                   "vocabulary of 6 tokens");
}

Test(tokenizer_gguf, reads_sentencepiece_with_integer_scores)
{
    static const char *const spm[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a",
                                      "\xe2\x96\x81" "a"};
    static const int32_t scores[] = {0, 0, 0, -3, -3, -1};
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_kv_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_kv_str_array(w, "tokenizer.ggml.tokens", 6, spm);
    gguf_writer_kv_array(w, "tokenizer.ggml.scores", TSR_GGUF_INT32, 6, scores);
    tsr_tokenizer *tok;
    tsr_error err = {0};
    cr_assert_eq(open_from(w, &tok, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_tokenizer_kind_of(tok), TSR_TOKENIZER_SPM);
    int32_t ids[4];
    size_t n;
    cr_assert_eq(tsr_tokenizer_encode(tok, "a", 1, true, false, ids, 4, &n, NULL), TSR_OK);
    cr_assert(n == 2 && ids[0] == 1 && ids[1] == 5, "<s> ▁a");
    tsr_tokenizer_close(tok);
}
