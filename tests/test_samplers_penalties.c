/* The samplers with a history (plugins/sampler/): repetition_penalty,
 * frequency_penalty, presence_penalty over their last_n window, and dry with
 * and without sequence breakers, against hand-worked values. */
#include "samplertest.h"

static tsr_registry *reg;

static void open_registry(void)
{
    reg = samplers_open_registry();
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

TestSuite(penalties, .init = open_registry, .fini = close_registry);

static const float six_logits[] = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f};
/* Token 1 twice, 0 and 4 once. */
static const int32_t history[] = {0, 1, 1, 4};

/* Applies s to six_logits and checks the resulting logit of each token. */
static void expect_logits(sampler_under_test *s, const float expect[6])
{
    tsr_candidate buf[6];
    tsr_candidates c = cands_of(buf, six_logits, 6);
    sut_apply(s, &c);
    cr_assert_eq(c.size, 6);
    for (int32_t t = 0; t < 6; t++)
        cr_assert_float_eq(logit_of(&c, t), expect[t], 1e-6, "token %d: %g, expected %g", t,
                           logit_of(&c, t), expect[t]);
}

Test(penalties, repetition_divides_positive_and_multiplies_negative_logits_once)
{
    sampler_under_test s;
    sut_open(&s, reg, "repetition_penalty", 6, "penalty=2;last_n=64");
    sut_accept(&s, history, ARRAY_LEN(history));
    /* 0: 2 / 2; 1: -1 * 2 (seen twice, penalized once); 4: -2 * 2. */
    const float expect[] = {1.0f, -2.0f, 0.5f, 3.0f, -4.0f, 1.0f};
    expect_logits(&s, expect);
    sut_close(&s);
}

Test(penalties, frequency_subtracts_penalty_times_count)
{
    sampler_under_test s;
    sut_open(&s, reg, "frequency_penalty", 6, "penalty=0.5;last_n=64");
    sut_accept(&s, history, ARRAY_LEN(history));
    const float expect[] = {1.5f, -2.0f, 0.5f, 3.0f, -2.5f, 1.0f};
    expect_logits(&s, expect);
    sut_close(&s);
}

Test(penalties, presence_subtracts_penalty_once_per_present_token)
{
    sampler_under_test s;
    sut_open(&s, reg, "presence_penalty", 6, "penalty=0.5;last_n=64");
    sut_accept(&s, history, ARRAY_LEN(history));
    const float expect[] = {1.5f, -1.5f, 0.5f, 3.0f, -2.5f, 1.0f};
    expect_logits(&s, expect);
    sut_close(&s);
}

Test(penalties, window_forgets_tokens_older_than_last_n)
{
    sampler_under_test s;
    sut_open(&s, reg, "frequency_penalty", 6, "penalty=0.5;last_n=2");
    sut_accept(&s, history, ARRAY_LEN(history)); /* the window holds 1, 4 */
    const float expect[] = {2.0f, -1.5f, 0.5f, 3.0f, -2.5f, 1.0f};
    expect_logits(&s, expect);
    sut_close(&s);
}

Test(penalties, window_of_minus_one_counts_everything_and_zero_is_off)
{
    sampler_under_test s;
    sut_open(&s, reg, "frequency_penalty", 6, "penalty=0.5;last_n=-1");
    for (int i = 0; i < 100; i++)
        sut_accept(&s, history, ARRAY_LEN(history));
    /* 100 times: 0 and 4 once each, 1 twice. */
    const float unbounded[] = {2.0f - 50.0f, -1.0f - 100.0f, 0.5f, 3.0f, -2.0f - 50.0f, 1.0f};
    expect_logits(&s, unbounded);
    sut_close(&s);

    sut_open(&s, reg, "frequency_penalty", 6, "penalty=0.5;last_n=0");
    sut_accept(&s, history, ARRAY_LEN(history));
    expect_logits(&s, six_logits);
    sut_close(&s);
}

Test(penalties, reset_forgets_the_history)
{
    sampler_under_test s;
    sut_open(&s, reg, "repetition_penalty", 6, "penalty=2;last_n=64");
    sut_accept(&s, history, ARRAY_LEN(history));
    s.vtable->reset(s.state);
    expect_logits(&s, six_logits);
    const int32_t again[] = {3};
    sut_accept(&s, again, 1);
    const float expect[] = {2.0f, -1.0f, 0.5f, 1.5f, -2.0f, 1.0f};
    expect_logits(&s, expect);
    sut_close(&s);
}

/* After top_k and friends the array is no longer in vocabulary order and
 * misses tokens: penalties find their tokens wherever they are. */
Test(penalties, penalties_find_tokens_in_a_reordered_shrunk_array)
{
    sampler_under_test s;
    sut_open(&s, reg, "presence_penalty", 6, "penalty=0.5;last_n=64");
    sut_accept(&s, history, ARRAY_LEN(history));
    tsr_candidate buf[6];
    tsr_candidates c = cands_of(buf, six_logits, 6);
    tsr_candidates_sort(&c); /* 3, 0, 5, 2, 1, 4 */
    c.size = 5;              /* token 4 is gone */
    sut_apply(&s, &c);
    cr_assert_float_eq(logit_of(&c, 0), 1.5f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 1), -1.5f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 3), 3.0f, 1e-6);
    cr_assert_eq(c.size, 5);
    cr_assert_not(c.sorted);
    sut_close(&s);
}

/* ---- dry --------------------------------------------------------------- */

/* Tokens of the fake vocabulary the DRY tests use. */
enum { A, B, C, D, NL, X, AB, N_DRY_VOCAB };
static const char *const dry_texts[] = {"a", "b", "c", "d", "\n", "x", "ab"};

/* Opens dry over the fake vocabulary (with_vocab) or none, feeds it history
 * and returns the penalty each token gets (its logit drop from 0). */
static void dry_penalties(const char *settings, bool with_vocab, const int32_t *tokens, size_t n,
                          float out[N_DRY_VOCAB])
{
    static const tsr_vocab vocab = {dry_texts, N_DRY_VOCAB};
    sampler_under_test s;
    tsr_error err = {0};
    cr_assert_eq(sut_try_open(&s, reg, "dry", N_DRY_VOCAB, settings,
                              with_vocab ? host_with_fake_vocab() : NULL,
                              with_vocab ? &vocab : NULL, &err),
                 TSR_OK, "%s", err.message);
    sut_accept(&s, tokens, n);
    const float zeros[N_DRY_VOCAB] = {0};
    tsr_candidate buf[N_DRY_VOCAB];
    tsr_candidates c = cands_of(buf, zeros, N_DRY_VOCAB);
    sut_apply(&s, &c);
    for (int32_t t = 0; t < N_DRY_VOCAB; t++)
        out[t] = -logit_of(&c, t);
    sut_close(&s);
}

/* a b c d a b c: the last three tokens, "a b c", occurred before, followed by
 * d; d would make it a repeat of 4, so d loses 1 * 2^(3 - 2) = 2. Nothing
 * else extends a repeat of at least 2. */
Test(penalties, dry_penalizes_the_token_that_extends_a_repeat)
{
    const int32_t text[] = {A, B, C, D, A, B, C};
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=2;allowed_length=2", false, text, ARRAY_LEN(text), penalty);
    for (int32_t t = 0; t < N_DRY_VOCAB; t++)
        cr_assert_float_eq(penalty[t], t == D ? 2.0f : 0.0f, 1e-6, "token %d: %g", t,
                           penalty[t]);
}

/* The penalty grows with the repeat: x a b c d x a b c repeats 4 tokens:
 * d loses 1 * 2^(4 - 2) = 4. And allowed_length 4 still allows it: 2^0. */
Test(penalties, dry_penalty_grows_exponentially_past_allowed_length)
{
    const int32_t text[] = {X, A, B, C, D, X, A, B, C};
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=2;allowed_length=2", false, text, ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[D], 4.0f, 1e-6);
    dry_penalties("multiplier=0.5;base=3;allowed_length=4", false, text, ARRAY_LEN(text),
                  penalty);
    cr_assert_float_eq(penalty[D], 0.5f, 1e-6);
    dry_penalties("multiplier=1;base=2;allowed_length=5", false, text, ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[D], 0.0f, 1e-6);
}

/* a \n b c d a \n b c: the repeat "a \n b c" is 4 long, but a line break is a
 * sequence breaker: a repeat may reach back only to the latest \n, 2 tokens
 * (b c), so d loses 2^0 = 1 instead of 2^2 = 4. Without a vocabulary the
 * breakers cannot be resolved and the full 4 is charged. */
Test(penalties, dry_sequence_breaker_stops_a_repeat_from_reaching_back)
{
    const int32_t text[] = {A, NL, B, C, D, A, NL, B, C};
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=2;allowed_length=2", true, text, ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[D], 1.0f, 1e-6);
    dry_penalties("multiplier=1;base=2;allowed_length=2", false, text, ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[D], 4.0f, 1e-6);
}

/* \n a b \n a b: \n would extend the repeat "a b", but a token that is a
 * breaker by itself is never penalized. */
Test(penalties, dry_never_penalizes_a_breaker_token)
{
    const int32_t text[] = {NL, A, B, NL, A, B};
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=2;allowed_length=2", true, text, ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[NL], 0.0f, 1e-6);
    dry_penalties("multiplier=1;base=2;allowed_length=2", false, text, ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[NL], 2.0f, 1e-6); /* 2^(3 - 2): "\n a b" repeats */
}

/* A breaker of several tokens: "ab" is the token ab, and also a followed by b
 * (the token a ends with the breaker's start; the rest, "b", tokenizes to b).
 * In x a b c d x a b c the latest "a b" is 2 back, so the repeat may cover
 * only c: shorter than allowed_length, no penalty at all. */
Test(penalties, dry_breaker_of_several_tokens_is_matched_as_a_sequence)
{
    const int32_t text[] = {X, A, B, C, D, X, A, B, C};
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=2;allowed_length=2;sequence_breakers=ab", true, text,
                  ARRAY_LEN(text), penalty);
    for (int32_t t = 0; t < N_DRY_VOCAB; t++)
        cr_assert_float_eq(penalty[t], 0.0f, 1e-6, "token %d: %g", t, penalty[t]);
    dry_penalties("multiplier=1;base=2;allowed_length=2;sequence_breakers=zz", true, text,
                  ARRAY_LEN(text), penalty);
    cr_assert_float_eq(penalty[D], 4.0f, 1e-6);
}

/* last_n bounds the search: with the last 5 tokens (d x a b c) the earlier
 * "x a b c" is out of sight. */
Test(penalties, dry_looks_only_at_the_last_n_tokens_and_resets)
{
    const int32_t text[] = {X, A, B, C, D, X, A, B, C};
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=2;allowed_length=2;last_n=5", false, text, ARRAY_LEN(text),
                  penalty);
    cr_assert_float_eq(penalty[D], 0.0f, 1e-6);
    dry_penalties("multiplier=1;base=2;allowed_length=2;last_n=9", false, text, ARRAY_LEN(text),
                  penalty);
    cr_assert_float_eq(penalty[D], 4.0f, 1e-6);

    sampler_under_test s;
    sut_open(&s, reg, "dry", N_DRY_VOCAB, "multiplier=1;base=2;allowed_length=2");
    sut_accept(&s, text, ARRAY_LEN(text));
    s.vtable->reset(s.state);
    const float zeros[N_DRY_VOCAB] = {0};
    tsr_candidate buf[N_DRY_VOCAB];
    tsr_candidates c = cands_of(buf, zeros, N_DRY_VOCAB);
    sut_apply(&s, &c);
    cr_assert_float_eq(logit_of(&c, D), 0.0f, 1e-6);
    sut_close(&s);
}

/* A long repetition cannot overflow: the exponent stops where base^e would
 * leave the float range. */
Test(penalties, dry_penalty_stays_finite_for_long_repeats)
{
    int32_t text[400];
    for (int i = 0; i < 400; i++)
        text[i] = i % 2 ? A : B;
    float penalty[N_DRY_VOCAB];
    dry_penalties("multiplier=1;base=4;allowed_length=2", false, text, 400, penalty);
    cr_assert(isfinite(penalty[B]) && penalty[B] > 1e30f, "%g", penalty[B]);
}
