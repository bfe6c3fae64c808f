/* Byte-level BPE on tiny hand-made vocabularies: merges go by rank, ties to
 * the leftmost pair, merged text without a token falls back to byte
 * tokens; and the pre-tokenizer of each family cuts words where the
 * model's tokenizer.json regex does (the expected words were checked with
 * Python's `regex` module, which implements the same \p classes). */
#include <criterion/criterion.h>

#include "tokenizer_internal.h"

/* Tokens in GPT-2's byte map: "Ġ" is a space, "Ċ" a newline. */
static tsr_tokenizer *open_bpe(const char *pre, const char *const *tokens, size_t n_tokens,
                               const char *const *merges, size_t n_merges)
{
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.pre = pre;
    spec.tokens = tokens;
    spec.n_tokens = n_tokens;
    spec.merges = merges;
    spec.n_merges = n_merges;
    tsr_tokenizer *tok;
    tsr_error err = {0};
    cr_assert_eq(tsr_tokenizer_open_spec(&spec, &tok, &err), TSR_OK, "%s", err.message);
    return tok;
}

static size_t encode(tsr_tokenizer *tok, const char *text, int32_t *ids, size_t max)
{
    size_t n;
    tsr_error err = {0};
    cr_assert_eq(tsr_tokenizer_encode(tok, text, strlen(text), false, false, ids, max, &n, &err),
                 TSR_OK, "%s", err.message);
    cr_assert_leq(n, max);
    return n;
}

static void assert_ids(tsr_tokenizer *tok, const char *text, const int32_t *expected,
                       size_t n_expected)
{
    int32_t ids[64];
    size_t n = encode(tok, text, ids, 64);
    cr_assert_eq(n, n_expected, "\"%s\": %zu ids, expected %zu", text, n, n_expected);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], expected[i], "\"%s\": id %zu is %d, expected %d", text, i, ids[i],
                     expected[i]);
}

#define IDS(...) (const int32_t[]){__VA_ARGS__}, sizeof((const int32_t[]){__VA_ARGS__}) / 4

static const char *const abc_tokens[] = {"a", "b", "c", "x", "y", "\xc4\xa0" /* Ġ */,
                                         "ab", "bc", "abc", "aa", "\xc4\xa0" "a"};
enum { A, B, C, X, Y, SPACE, AB, BC, ABC, AA, SPACE_A };

Test(bpe, lower_rank_merges_first)
{
    /* "b c" outranks "a b": abc -> a bc */
    const char *const bc_first[] = {"b c", "a b"};
    tsr_tokenizer *tok = open_bpe("gpt-2", abc_tokens, 11, bc_first, 2);
    assert_ids(tok, "abc", IDS(A, BC));
    tsr_tokenizer_close(tok);
    /* the other order: abc -> ab c */
    const char *const ab_first[] = {"a b", "b c"};
    tok = open_bpe("gpt-2", abc_tokens, 11, ab_first, 2);
    assert_ids(tok, "abc", IDS(AB, C));
    tsr_tokenizer_close(tok);
}

Test(bpe, merges_chain_into_longer_tokens)
{
    const char *const merges[] = {"a b", "ab c", "\xc4\xa0 a"};
    tsr_tokenizer *tok = open_bpe("gpt-2", abc_tokens, 11, merges, 3);
    assert_ids(tok, "abc", IDS(ABC));
    /* the pre-tokenizer keeps the space with the word: " abc" is one word,
     * and Ġ+a merges before a+b can */
    const char *const space_first[] = {"\xc4\xa0 a", "a b", "ab c"};
    tsr_tokenizer_close(tok);
    tok = open_bpe("gpt-2", abc_tokens, 11, space_first, 3);
    assert_ids(tok, " abc", IDS(SPACE_A, B, C));
    assert_ids(tok, "abc abc", IDS(ABC, SPACE_A, B, C));
    tsr_tokenizer_close(tok);
}

Test(bpe, equal_ranks_merge_the_leftmost_pair_first)
{
    const char *const merges[] = {"a a"};
    tsr_tokenizer *tok = open_bpe("gpt-2", abc_tokens, 11, merges, 1);
    assert_ids(tok, "aaa", IDS(AA, A));
    assert_ids(tok, "aaaa", IDS(AA, AA));
    assert_ids(tok, "aaaaa", IDS(AA, AA, A));
    tsr_tokenizer_close(tok);
}

Test(bpe, merged_text_without_a_token_falls_back_to_bytes)
{
    /* "x y" merges, but there is no token "xy" */
    const char *const merges[] = {"x y"};
    tsr_tokenizer *tok = open_bpe("gpt-2", abc_tokens, 11, merges, 1);
    assert_ids(tok, "xy", IDS(X, Y));
    /* a byte without any token is dropped, as llama.cpp drops it */
    assert_ids(tok, "xzy", IDS(X, Y));
    tsr_tokenizer_close(tok);
}

Test(bpe, pieces_are_raw_bytes)
{
    tsr_tokenizer *tok = open_bpe("gpt-2", abc_tokens, 11, NULL, 0);
    size_t n;
    const char *piece = tsr_tokenizer_piece(tok, SPACE_A, &n);
    cr_assert(n == 2 && memcmp(piece, " a", 2) == 0, "Ġa decodes to \" a\"");
    cr_assert_null(tsr_tokenizer_piece(tok, 11, &n));
    cr_assert_eq(tsr_tokenizer_find(tok, "\xc4\xa0" "a", 3), SPACE_A);
    cr_assert_eq(tsr_tokenizer_find(tok, " a", 2), TSR_TOKEN_NONE, "find takes the stored text");
    tsr_tokenizer_close(tok);
}

/* ---- pre-tokenizers ------------------------------------------------------------ */

static void assert_words(const char *pre, const char *text, const char *const *words,
                         size_t n_words)
{
    tsr_tokenizer *tok = open_bpe(pre, abc_tokens, 11, NULL, 0);
    size_t ends[64];
    long n = tsr_bpe_split(tok, text, strlen(text), ends, 64);
    cr_assert_eq(n, (long)n_words, "%s: %ld words, expected %zu", pre, n, n_words);
    size_t start = 0;
    for (size_t i = 0; i < n_words; i++) {
        size_t len = ends[i] - start;
        cr_assert(len == strlen(words[i]) && memcmp(text + start, words[i], len) == 0,
                  "%s: word %zu is \"%.*s\", expected \"%s\"", pre, i, (int)len, text + start,
                  words[i]);
        start = ends[i];
    }
    tsr_tokenizer_close(tok);
}

#define WORDS(...) (const char *const[]){__VA_ARGS__}, \
    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

Test(pre_tokenizer, gpt2_keeps_spaces_with_the_next_word)
{
    assert_words("gpt-2", "Hello world's  12345!!\n\n x",
                 WORDS("Hello", " world", "'s", " ", " 12345", "!!", "\n\n", " x"));
}

Test(pre_tokenizer, smollm_cuts_every_digit)
{
    assert_words("smollm", "Hello world's  12345!!\n\n x",
                 WORDS("Hello", " world", "'s", "  ", "1", "2", "3", "4", "5", "!!", "\n\n", " x"));
}

Test(pre_tokenizer, llama3_groups_three_digits_and_newline_runs)
{
    assert_words("llama-bpe", "Hello WORLD'S 12345\r\n\n x\tWe'RE \xe4\xb8\xad\xe6\x96\x87!",
                 WORDS("Hello", " WORLD", "'S", " ", "123", "45", "\r\n\n", " x", "\tWe", "'RE",
                       " \xe4\xb8\xad\xe6\x96\x87", "!"));
}

Test(pre_tokenizer, qwen2_cuts_every_digit)
{
    assert_words("qwen2", "Hello WORLD'S 12345\r\n\n x",
                 WORDS("Hello", " WORLD", "'S", " ", "1", "2", "3", "4", "5", "\r\n\n", " x"));
}

Test(pre_tokenizer, invalid_utf8_reads_as_replacement_characters)
{
    /* \xff is U+FFFD (3 bytes once re-encoded): a symbol, not a letter */
    tsr_tokenizer *tok = open_bpe("gpt-2", abc_tokens, 11, NULL, 0);
    size_t ends[8];
    cr_assert_eq(tsr_bpe_split(tok, "ab\xff" "cd", 5, ends, 8), 3);
    cr_assert_eq(ends[0], 2);
    cr_assert_eq(ends[1], 5);
    cr_assert_eq(ends[2], 7);
    tsr_tokenizer_close(tok);
}

Test(pre_tokenizer, llama3_adds_bos_and_others_do_not)
{
    tsr_tokenizer *tok = open_bpe("llama-bpe", abc_tokens, 11, NULL, 0);
    cr_assert_not(tsr_tokenizer_adds_bos(tok), "no BOS id: nothing to add");
    tsr_tokenizer_close(tok);
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.pre = "llama-bpe";
    spec.tokens = abc_tokens;
    spec.n_tokens = 11;
    spec.bos = X;
    cr_assert_eq(tsr_tokenizer_open_spec(&spec, &tok, NULL), TSR_OK);
    cr_assert(tsr_tokenizer_adds_bos(tok));
    int32_t ids[4];
    size_t n;
    cr_assert_eq(tsr_tokenizer_encode(tok, "a", 1, true, false, ids, 4, &n, NULL), TSR_OK);
    cr_assert(n == 2 && ids[0] == X && ids[1] == A);
    tsr_tokenizer_close(tok);
}
