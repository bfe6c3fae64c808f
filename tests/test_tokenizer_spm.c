/* SentencePiece BPE on a hand-made Llama-2-style vocabulary. There is no
 * Llama 2 file here, so the expected ids are derived from the algorithm:
 * spaces are U+2581 (▁), one is put before the text and after each special
 * token; the adjacent pair whose text is a token with the highest score
 * merges first (leftmost on a tie); characters without a token are spelled
 * with <0xNN> byte tokens. Each test's comment traces the merges. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "tokenizer_internal.h"

#define SP "\xe2\x96\x81" /* ▁ */

/* ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then these */
enum {
    BYTE0 = 3,
    SPACE = 259, H, E, L, O, W, R, D,
    LL, HE, HELL, HELLO, SPACE_HELLO, OR, SPACE_W, SPACE_WOR, LD, SPACE_WORLD, TOOL,
    N_TOKENS
};

static char token_text[N_TOKENS][16];
static const char *token_ptrs[N_TOKENS];
static float scores[N_TOKENS];
static int32_t types[N_TOKENS];

static void set(int id, const char *text, float score, int32_t type)
{
    snprintf(token_text[id], sizeof token_text[id], "%s", text);
    token_ptrs[id] = token_text[id];
    scores[id] = score;
    types[id] = type;
}

static tsr_tokenizer *open_spm(int add_space_prefix, bool with_byte_tokens)
{
    set(0, "<unk>", 0, TSR_TOKEN_UNKNOWN);
    set(1, "<s>", 0, TSR_TOKEN_CONTROL);
    set(2, "</s>", 0, TSR_TOKEN_CONTROL);
    for (int b = 0; b < 256; b++) {
        char hex[16];
        snprintf(hex, sizeof hex, with_byte_tokens ? "<0x%02X>" : "<unused%02X>", b);
        set(BYTE0 + b, hex, 0, with_byte_tokens ? TSR_TOKEN_BYTE : TSR_TOKEN_UNUSED);
    }
    /* single characters score lowest: they are never merge results */
    set(SPACE, SP, -10, TSR_TOKEN_NORMAL);
    set(H, "h", -10, TSR_TOKEN_NORMAL);
    set(E, "e", -10, TSR_TOKEN_NORMAL);
    set(L, "l", -10, TSR_TOKEN_NORMAL);
    set(O, "o", -10, TSR_TOKEN_NORMAL);
    set(W, "w", -10, TSR_TOKEN_NORMAL);
    set(R, "r", -10, TSR_TOKEN_NORMAL);
    set(D, "d", -10, TSR_TOKEN_NORMAL);
    set(LL, "ll", -1.0f, TSR_TOKEN_NORMAL);
    set(HE, "he", -1.5f, TSR_TOKEN_NORMAL);
    set(HELL, "hell", -2.0f, TSR_TOKEN_NORMAL);
    set(HELLO, "hello", -2.5f, TSR_TOKEN_NORMAL);
    set(SPACE_HELLO, SP "hello", -3.0f, TSR_TOKEN_NORMAL);
    set(OR, "or", -1.2f, TSR_TOKEN_NORMAL);
    set(SPACE_W, SP "w", -0.5f, TSR_TOKEN_NORMAL);
    set(SPACE_WOR, SP "wor", -5.0f, TSR_TOKEN_NORMAL);
    set(LD, "ld", -2.2f, TSR_TOKEN_NORMAL);
    set(SPACE_WORLD, SP "world", -6.0f, TSR_TOKEN_NORMAL);
    set(TOOL, "<tool>", 0, TSR_TOKEN_USER_DEFINED);
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "llama";
    spec.tokens = token_ptrs;
    spec.n_tokens = N_TOKENS;
    spec.scores = scores;
    spec.token_types = types;
    spec.add_space_prefix = add_space_prefix;
    tsr_tokenizer *tok;
    tsr_error err = {0};
    cr_assert_eq(tsr_tokenizer_open_spec(&spec, &tok, &err), TSR_OK, "%s", err.message);
    return tok;
}

static void assert_ids(tsr_tokenizer *tok, const char *text, bool add_special,
                       bool parse_special, const int32_t *expected, size_t n_expected)
{
    int32_t ids[64];
    size_t n;
    tsr_error err = {0};
    cr_assert_eq(tsr_tokenizer_encode(tok, text, strlen(text), add_special, parse_special, ids, 64,
                                      &n, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(n, n_expected, "\"%s\": %zu ids, expected %zu", text, n, n_expected);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], expected[i], "\"%s\": id %zu is %d, expected %d", text, i, ids[i],
                     expected[i]);
}

#define IDS(...) (const int32_t[]){__VA_ARGS__}, sizeof((const int32_t[]){__VA_ARGS__}) / 4

Test(spm, defaults_follow_llama_cpp)
{
    tsr_tokenizer *tok = open_spm(-1, true);
    cr_assert_eq(tsr_tokenizer_kind_of(tok), TSR_TOKENIZER_SPM);
    cr_assert_eq(tsr_tokenizer_bos(tok), 1);
    cr_assert_eq(tsr_tokenizer_eos(tok), 2);
    cr_assert(tsr_tokenizer_adds_bos(tok));
    cr_assert(tsr_tokenizer_is_eog(tok, 2), "</s> ends generation");
    tsr_tokenizer_close(tok);
}

/* ▁hello▁world: pairs that are tokens, best first: ▁w -0.5, ll -1.0, or -1.2,
 * he -1.5, ld -2.2. Merging them makes hell (-2.0), then hello (-2.5),
 * ▁hello (-3.0), ▁wor (-5.0) and last ▁world (-6.0). */
Test(spm, merges_by_score_with_a_space_prefix)
{
    tsr_tokenizer *tok = open_spm(-1, true);
    assert_ids(tok, "hello world", false, false, IDS(SPACE_HELLO, SPACE_WORLD));
    assert_ids(tok, "hello world", true, false, IDS(1, SPACE_HELLO, SPACE_WORLD));
    /* no ▁ before "hello" once the prefix is off: hello stops at -2.5 */
    tsr_tokenizer_close(tok);
    tok = open_spm(0, true);
    assert_ids(tok, "hello world", false, false, IDS(HELLO, SPACE_WORLD));
    tsr_tokenizer_close(tok);
}

/* ▁hi▁☃: no pair is a token; i and ☃ (e2 98 83) have no token of their own
 * and are spelled in bytes. */
Test(spm, falls_back_to_byte_tokens)
{
    tsr_tokenizer *tok = open_spm(-1, true);
    assert_ids(tok, "hi \xe2\x98\x83", false, false,
               IDS(SPACE, H, BYTE0 + 'i', SPACE, BYTE0 + 0xe2, BYTE0 + 0x98, BYTE0 + 0x83));
    tsr_tokenizer_close(tok);
    /* without byte tokens, an unknown character is <unk>, byte by byte */
    tok = open_spm(-1, false);
    assert_ids(tok, "hi", false, false, IDS(SPACE, H, 0));
    tsr_tokenizer_close(tok);
}

/* After a special token the text gets its ▁ again. Unparsed, "<s>" is three
 * unknown characters (bytes), and "hello" no longer follows a ▁. */
Test(spm, special_tokens_restart_the_space_prefix)
{
    tsr_tokenizer *tok = open_spm(-1, true);
    assert_ids(tok, "<s>hello", false, true, IDS(1, SPACE_HELLO));
    assert_ids(tok, "<s>hello", false, false,
               IDS(SPACE, BYTE0 + '<', BYTE0 + 's', BYTE0 + '>', HELLO));
    /* user-defined tokens are cut out even without parse_special */
    assert_ids(tok, "hello<tool>hello", false, false, IDS(SPACE_HELLO, TOOL, SPACE_HELLO));
    tsr_tokenizer_close(tok);
}

Test(spm, equal_scores_merge_the_leftmost_pair)
{
    const char *tokens[] = {"<unk>", "a", "b", "ab", "bb"};
    float tie[] = {0, -5, -5, -1, -1};
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "llama";
    spec.tokens = tokens;
    spec.n_tokens = 5;
    spec.scores = tie;
    spec.add_space_prefix = 0;
    tsr_tokenizer *tok;
    cr_assert_eq(tsr_tokenizer_open_spec(&spec, &tok, NULL), TSR_OK);
    assert_ids(tok, "abb", false, false, IDS(3, 2)); /* ab|b, not a|bb */
    tsr_tokenizer_close(tok);
    float bb_better[] = {0, -5, -5, -1, -0.5f};
    spec.scores = bb_better;
    cr_assert_eq(tsr_tokenizer_open_spec(&spec, &tok, NULL), TSR_OK);
    assert_ids(tok, "abb", false, false, IDS(1, 4));
    tsr_tokenizer_close(tok);
}

Test(spm, pieces_turn_the_marker_back_into_spaces)
{
    tsr_tokenizer *tok = open_spm(-1, true);
    size_t n;
    const char *piece = tsr_tokenizer_piece(tok, SPACE_HELLO, &n);
    cr_assert(n == 6 && memcmp(piece, " hello", 6) == 0);
    piece = tsr_tokenizer_piece(tok, BYTE0 + 0x0a, &n);
    cr_assert(n == 1 && piece[0] == '\n', "<0x0A> is a newline");
    tsr_detokenizer *detok;
    cr_assert_eq(tsr_detokenizer_open(tok, TSR_DETOKENIZE_STRIP_SPACE, &detok, NULL), TSR_OK);
    const char *text = tsr_detokenizer_push(detok, 1, &n);
    cr_assert_eq(n, 0, "<s> shows nothing");
    text = tsr_detokenizer_push(detok, SPACE_HELLO, &n);
    cr_assert(n == 5 && memcmp(text, "hello", 5) == 0, "the prefix space is dropped");
    text = tsr_detokenizer_push(detok, SPACE_WORLD, &n);
    cr_assert(n == 6 && memcmp(text, " world", 6) == 0);
    /* ☃ in three byte tokens comes out whole, once */
    tsr_detokenizer_push(detok, BYTE0 + 0xe2, &n);
    cr_assert_eq(n, 0);
    tsr_detokenizer_push(detok, BYTE0 + 0x98, &n);
    cr_assert_eq(n, 0);
    text = tsr_detokenizer_push(detok, BYTE0 + 0x83, &n);
    cr_assert(n == 3 && memcmp(text, "\xe2\x98\x83", 3) == 0);
    tsr_detokenizer_close(detok);
    tsr_tokenizer_close(tok);
}
