/* The samplers that reshape or cut the candidates (plugins/sampler/): greedy,
 * temperature, top_k, top_p, min_p, typical_p, top_n_sigma, xtc, logit_bias,
 * each on hand-made logits, against values worked out by hand (the working
 * is in the comments). */
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

TestSuite(filters, .init = open_registry, .fini = close_registry);

/* ---- greedy ------------------------------------------------------------ */

Test(filters, greedy_chooses_the_highest_logit_and_the_lower_id_on_a_tie)
{
    sampler_under_test s;
    sut_open(&s, reg, "greedy", 4, NULL);
    const float logits[] = {1.0f, 3.0f, 3.0f, 2.0f};
    tsr_candidate buf[4];
    tsr_candidates c = cands_of(buf, logits, 4);
    sut_apply(&s, &c);
    cr_assert_eq(c.data[c.selected].token, 1);
    sut_close(&s);
}

/* ---- temperature ------------------------------------------------------- */

Test(filters, temperature_divides_every_logit)
{
    sampler_under_test s;
    sut_open(&s, reg, "temperature", 3, "temperature=0.5");
    const float logits[] = {1.0f, 2.0f, -4.0f};
    tsr_candidate buf[3];
    tsr_candidates c = cands_of(buf, logits, 3);
    sut_apply(&s, &c);
    cr_assert_eq(c.size, 3);
    cr_assert_float_eq(c.data[0].logit, 2.0f, 1e-6);
    cr_assert_float_eq(c.data[1].logit, 4.0f, 1e-6);
    cr_assert_float_eq(c.data[2].logit, -8.0f, 1e-6);
    sut_close(&s);
}

Test(filters, temperature_zero_keeps_only_the_best_token)
{
    sampler_under_test s;
    sut_open(&s, reg, "temperature", 4, "temperature=0");
    const float logits[] = {3.0f, 5.0f, 5.0f, 1.0f};
    tsr_candidate buf[4];
    tsr_candidates c = cands_of(buf, logits, 4);
    sut_apply(&s, &c);
    const int32_t expect[] = {1};
    assert_tokens(&c, expect, 1);
    sut_close(&s);
}

/* logits ln{1, 2, 4}: p = {1/7, 2/7, 4/7}, entropy H = 0.9556999 nats, out
 * of at most ln 3: normalized 0.8699155. temperature 1 +- 0.5, exponent 1:
 * T = 0.5 + (1.5 - 0.5) * 0.8699155 = 1.3699155, and logit / T =
 * {0, 0.5059780, 1.0119561}. */
Test(filters, dynamic_temperature_follows_the_entropy)
{
    sampler_under_test s;
    sut_open(&s, reg, "temperature", 3, "temperature=1;dynamic_range=0.5;exponent=1");
    const float logits[] = {0.0f, logf(2.0f), logf(4.0f)};
    tsr_candidate buf[3];
    tsr_candidates c = cands_of(buf, logits, 3);
    sut_apply(&s, &c);
    cr_assert_float_eq(logit_of(&c, 0), 0.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 1), 0.5059780f, 1e-5);
    cr_assert_float_eq(logit_of(&c, 2), 1.0119561f, 1e-5);
    sut_close(&s);
}

/* A flat distribution has the largest entropy: T = temperature + range. */
Test(filters, dynamic_temperature_is_highest_on_a_flat_distribution)
{
    sampler_under_test s;
    sut_open(&s, reg, "temperature", 4, "temperature=1;dynamic_range=0.5;exponent=2");
    const float logits[] = {3.0f, 3.0f, 3.0f, 3.0f};
    tsr_candidate buf[4];
    tsr_candidates c = cands_of(buf, logits, 4);
    sut_apply(&s, &c);
    cr_assert_float_eq(c.data[0].logit, 2.0f, 1e-5); /* 3 / 1.5 */
    sut_close(&s);
}

/* ---- top_k ------------------------------------------------------------- */

Test(filters, top_k_keeps_the_k_highest_sorted_ties_to_the_lower_id)
{
    const float logits[] = {0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 3.0f};
    tsr_candidate buf[6];
    sampler_under_test s;

    sut_open(&s, reg, "top_k", 6, "k=3");
    tsr_candidates c = cands_of(buf, logits, 6);
    sut_apply(&s, &c);
    const int32_t three[] = {5, 1, 3};
    assert_tokens(&c, three, 3);
    cr_assert(c.sorted);
    sut_close(&s);

    sut_open(&s, reg, "top_k", 6, "k=2");
    c = cands_of(buf, logits, 6);
    sut_apply(&s, &c);
    const int32_t two[] = {5, 1};
    assert_tokens(&c, two, 2);
    sut_close(&s);
}

Test(filters, top_k_zero_or_larger_than_the_array_keeps_all)
{
    const float logits[] = {0.5f, 2.0f, 1.0f};
    tsr_candidate buf[3];
    const char *settings[] = {"k=0", "k=3", "k=100"};
    for (size_t i = 0; i < 3; i++) {
        sampler_under_test s;
        sut_open(&s, reg, "top_k", 3, settings[i]);
        tsr_candidates c = cands_of(buf, logits, 3);
        sut_apply(&s, &c);
        const int32_t all[] = {0, 1, 2};
        assert_tokens(&c, all, 3);
        sut_close(&s);
    }
}

Test(filters, top_k_on_a_large_vocabulary_matches_a_full_sort)
{
    enum { N = 50000 };
    static float logits[N];
    static tsr_candidate buf[N], sorted[N];
    tsr_rng rng;
    tsr_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) /* coarse values, so ties are common */
        logits[i] = (float)(int)(tsr_rng_uniform(&rng) * 2000.0) / 100.0f;
    tsr_candidates all = cands_of(sorted, logits, N);
    tsr_candidates_sort(&all);
    sampler_under_test s;
    sut_open(&s, reg, "top_k", N, "k=40");
    tsr_candidates c = cands_of(buf, logits, N);
    sut_apply(&s, &c);
    cr_assert_eq(c.size, 40);
    for (size_t i = 0; i < 40; i++)
        cr_assert_eq(c.data[i].token, sorted[i].token, "rank %zu", i);
    sut_close(&s);
}

/* ---- top_p ------------------------------------------------------------- */

/* p = {0.05, 0.4, 0.1, 0.3, 0.15} for tokens 0..4; sorted: 1 (0.4), 3 (0.3),
 * 4 (0.15), 2 (0.1), 0 (0.05); running sums 0.4, 0.7, 0.85, 0.95, 1. */
static const float nucleus_logits[] = {-2.9957323f, -0.9162907f, -2.3025851f, -1.2039728f,
                                       -1.8971200f};

Test(filters, top_p_keeps_the_smallest_set_reaching_p)
{
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "top_p", 5, "p=0.75");
    tsr_candidates c = cands_of(buf, nucleus_logits, 5);
    sut_apply(&s, &c);
    const int32_t expect[] = {1, 3, 4}; /* 0.7 < 0.75 <= 0.85 */
    assert_tokens(&c, expect, 3);
    cr_assert_float_eq(c.data[0].p, 0.4f, 1e-6);
    cr_assert_float_eq(c.data[1].p, 0.3f, 1e-6);
    cr_assert_float_eq(c.data[2].p, 0.15f, 1e-6);
    sut_close(&s);

    sut_open(&s, reg, "top_p", 5, "p=0.35");
    c = cands_of(buf, nucleus_logits, 5);
    sut_apply(&s, &c);
    const int32_t one[] = {1};
    assert_tokens(&c, one, 1);
    sut_close(&s);
}

Test(filters, top_p_honours_min_keep_and_p_one_changes_nothing)
{
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "top_p", 5, "p=0.35;min_keep=4");
    tsr_candidates c = cands_of(buf, nucleus_logits, 5);
    sut_apply(&s, &c);
    const int32_t four[] = {1, 3, 4, 2};
    assert_tokens(&c, four, 4);
    sut_close(&s);

    sut_open(&s, reg, "top_p", 5, "p=1");
    c = cands_of(buf, nucleus_logits, 5);
    sut_apply(&s, &c);
    const int32_t all[] = {0, 1, 2, 3, 4};
    assert_tokens(&c, all, 5);
    sut_close(&s);
}

/* Over 1024 unsorted candidates top_p sorts the best 256 first and the rest
 * only when needed: both ways must give what a fully sorted array gives. */
Test(filters, top_p_on_a_large_unsorted_array_matches_the_sorted_array)
{
    enum { N = 5000 };
    static float logits[N];
    static tsr_candidate buf[N], ref[N];
    tsr_rng rng;
    tsr_rng_seed(&rng, 11);
    for (int i = 0; i < N; i++)
        logits[i] = (float)(tsr_rng_uniform(&rng) * 4.0);
    const char *settings[] = {"p=0.02", "p=0.9"}; /* within the first 256, and far past */
    for (size_t k = 0; k < 2; k++) {
        sampler_under_test s;
        sut_open(&s, reg, "top_p", N, settings[k]);
        tsr_candidates c = cands_of(buf, logits, N);
        sut_apply(&s, &c);
        tsr_candidates r = cands_of(ref, logits, N);
        tsr_candidates_sort(&r);
        sut_apply(&s, &r);
        cr_assert_eq(c.size, r.size, "%s: %zu vs %zu", settings[k], c.size, r.size);
        cr_assert(k == 0 ? c.size < 256 : c.size > 256, "%s keeps %zu", settings[k], c.size);
        for (size_t i = 0; i < c.size; i++)
            cr_assert_eq(c.data[i].token, r.data[i].token);
        sut_close(&s);
    }
}

/* ---- min_p ------------------------------------------------------------- */

/* p = {0.5, 0.02, 0.3, 0.03, 0.15}: with p = 0.1 the bar is 0.1 * 0.5 = 0.05. */
static const float min_p_logits[] = {-0.6931472f, -3.9120231f, -1.2039728f, -3.5065579f,
                                     -1.8971200f};

Test(filters, min_p_keeps_tokens_at_least_p_times_the_best_in_their_order)
{
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "min_p", 5, "p=0.1");
    tsr_candidates c = cands_of(buf, min_p_logits, 5);
    sut_apply(&s, &c);
    const int32_t expect[] = {0, 2, 4};
    assert_tokens(&c, expect, 3);
    sut_close(&s);
}

Test(filters, min_p_falls_back_to_the_min_keep_best)
{
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "min_p", 5, "p=0.1;min_keep=4");
    tsr_candidates c = cands_of(buf, min_p_logits, 5);
    sut_apply(&s, &c);
    const int32_t expect[] = {0, 2, 4, 3};
    assert_tokens(&c, expect, 4);
    sut_close(&s);

    sut_open(&s, reg, "min_p", 5, "p=0");
    c = cands_of(buf, min_p_logits, 5);
    sut_apply(&s, &c);
    cr_assert_eq(c.size, 5);
    sut_close(&s);
}

/* ---- typical_p --------------------------------------------------------- */

/* p = {1/2, 1/4, 1/8, 1/16, 1/16}: surprises 1, 2, 3, 4, 4 bits, entropy
 * 1.875 bits. Distances from it: 0.875, 0.125, 1.125, 2.125, 2.125 bits, so
 * the most typical order is 1, 0, 2, 3, 4 with running sums 0.25, 0.75,
 * 0.875, 0.9375, 1. */
static const float typical_logits[] = {-0.6931472f, -1.3862944f, -2.0794415f, -2.7725887f,
                                       -2.7725887f};

Test(filters, typical_p_keeps_the_most_typical_tokens_covering_p)
{
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "typical_p", 5, "p=0.5");
    tsr_candidates c = cands_of(buf, typical_logits, 5);
    sut_apply(&s, &c);
    const int32_t two[] = {1, 0};
    assert_tokens(&c, two, 2);
    cr_assert_float_eq(c.data[0].p, 0.25f, 1e-6);
    cr_assert_float_eq(c.data[1].p, 0.5f, 1e-6);
    sut_close(&s);

    sut_open(&s, reg, "typical_p", 5, "p=0.8");
    c = cands_of(buf, typical_logits, 5);
    sut_apply(&s, &c);
    const int32_t three[] = {1, 0, 2};
    assert_tokens(&c, three, 3);
    sut_close(&s);

    sut_open(&s, reg, "typical_p", 5, "p=0.1;min_keep=3");
    c = cands_of(buf, typical_logits, 5);
    sut_apply(&s, &c);
    assert_tokens(&c, three, 3);
    sut_close(&s);
}

/* ---- top_n_sigma ------------------------------------------------------- */

/* logits {4, 3, 2, 1, 0, -inf}: over the finite ones mean 2, standard
 * deviation sqrt(2) = 1.414; n = 1 keeps logit >= 2.586, n = 2 >= 1.172. */
Test(filters, top_n_sigma_keeps_logits_within_n_deviations_of_the_best)
{
    const float logits[] = {4.0f, 3.0f, 2.0f, 1.0f, 0.0f, -INFINITY};
    tsr_candidate buf[6];
    sampler_under_test s;
    sut_open(&s, reg, "top_n_sigma", 6, "n=1");
    tsr_candidates c = cands_of(buf, logits, 6);
    sut_apply(&s, &c);
    const int32_t one[] = {0, 1};
    assert_tokens(&c, one, 2);
    sut_close(&s);

    sut_open(&s, reg, "top_n_sigma", 6, "n=2");
    c = cands_of(buf, logits, 6);
    sut_apply(&s, &c);
    const int32_t two[] = {0, 1, 2};
    assert_tokens(&c, two, 3);
    sut_close(&s);
}

Test(filters, top_n_sigma_does_not_depend_on_temperature)
{
    const float logits[] = {4.0f, 3.0f, 2.0f, 1.0f, 0.0f};
    float cooled[5];
    for (int i = 0; i < 5; i++)
        cooled[i] = logits[i] / 0.3f;
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "top_n_sigma", 5, "n=1");
    tsr_candidates c = cands_of(buf, cooled, 5);
    sut_apply(&s, &c);
    const int32_t expect[] = {0, 1};
    assert_tokens(&c, expect, 2);
    sut_close(&s);
}

/* ---- xtc --------------------------------------------------------------- */

/* The top_p probabilities again: {0.05, 0.4, 0.1, 0.3, 0.15}. At threshold
 * 0.12 tokens 1, 3 and 4 pass; all but the least likely of them (4) go. */
Test(filters, xtc_removes_all_top_choices_but_the_least_likely)
{
    tsr_candidate buf[5];
    sampler_under_test s;
    sut_open(&s, reg, "xtc", 5, "probability=1;threshold=0.12");
    tsr_candidates c = cands_of(buf, nucleus_logits, 5);
    sut_apply(&s, &c);
    const int32_t expect[] = {0, 2, 4};
    assert_tokens(&c, expect, 3);
    sut_close(&s);
}

Test(filters, xtc_does_nothing_below_two_choices_or_min_keep_or_probability)
{
    const char *settings[] = {
        "probability=1;threshold=0.35",            /* only token 1 passes */
        "probability=1;threshold=0.12;min_keep=4", /* 3 would remain */
        "probability=0;threshold=0.12",
    };
    for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
        tsr_candidate buf[5];
        sampler_under_test s;
        sut_open(&s, reg, "xtc", 5, settings[i]);
        tsr_rng before = s.rng;
        tsr_candidates c = cands_of(buf, nucleus_logits, 5);
        sut_apply(&s, &c);
        cr_assert_eq(c.size, 5, "%s", settings[i]);
        if (i == 2) /* probability 0 draws nothing */
            cr_assert_eq(memcmp(&before, &s.rng, sizeof before), 0);
        sut_close(&s);
    }
}

/* ---- logit_bias -------------------------------------------------------- */

static void set_bias(sampler_under_test *s, const char *const *keys, const double *values,
                     size_t n)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_param_set_map(&s->params, 0, keys, values, n, &err), TSR_OK, "%s",
                 err.message);
}

/* Creates logit_bias with a map, over n_vocab tokens and maybe a vocabulary. */
static tsr_status open_bias(sampler_under_test *s, const char *const *keys, const double *values,
                            size_t n, int32_t n_vocab, const tsr_host *host,
                            const tsr_vocab *vocab, tsr_error *err)
{
    memset(s, 0, sizeof *s);
    s->plugin = tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, "logit_bias");
    cr_assert_not_null(s->plugin);
    s->vtable = tsr_plugin_sampler(s->plugin);
    cr_assert_eq(tsr_param_set_init(&s->params, s->plugin, err), TSR_OK);
    set_bias(s, keys, values, n);
    tsr_rng_seed(&s->rng, 1);
    tsr_sampler_init init = {
        .struct_size = sizeof init, .n_vocab = n_vocab, .rng = &s->rng, .vocab = vocab};
    s->host = host ? host : tsr_host_services();
    return s->vtable->create(s->host, s->params.values, &init, &s->state, err);
}

Test(filters, logit_bias_adds_to_token_ids_and_minus_infinity_bans)
{
    const char *keys[] = {"1", "3"};
    const double values[] = {2.5, -INFINITY};
    sampler_under_test s;
    tsr_error err = {0};
    cr_assert_eq(open_bias(&s, keys, values, 2, 4, NULL, NULL, &err), TSR_OK, "%s",
                 err.message);
    const float logits[] = {0.0f, 0.5f, 1.0f, 7.0f};
    tsr_candidate buf[4];
    tsr_candidates c = cands_of(buf, logits, 4);
    sut_apply(&s, &c);
    cr_assert_float_eq(logit_of(&c, 0), 0.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 1), 3.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 2), 1.0f, 1e-6);
    cr_assert(isinf(logit_of(&c, 3)) && logit_of(&c, 3) < 0);

    /* The same on a reordered, shrunk array (no longer in vocabulary order). */
    c = cands_of(buf, logits, 4);
    tsr_candidates_sort(&c);
    c.size = 3; /* tokens 3, 2, 1 */
    sut_apply(&s, &c);
    cr_assert_float_eq(logit_of(&c, 1), 3.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 2), 1.0f, 1e-6);
    sut_close(&s);
}

Test(filters, logit_bias_refuses_an_id_outside_the_vocabulary)
{
    const char *keys[] = {"4"};
    const double values[] = {1.0};
    sampler_under_test s;
    tsr_error err = {0};
    cr_assert_eq(open_bias(&s, keys, values, 1, 4, NULL, NULL, &err), TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "token id 4 is outside the vocabulary of 4 tokens"), "%s",
              err.message);
    tsr_param_set_free(&s.params);
}

Test(filters, logit_bias_refuses_text_without_a_vocabulary)
{
    const char *keys[] = {"hello"};
    const double values[] = {1.0};
    sampler_under_test s;
    tsr_error err = {0};
    cr_assert_eq(open_bias(&s, keys, values, 1, 4, NULL, NULL, &err), TSR_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "'hello' is text") && strstr(err.message, "token ids"), "%s",
              err.message);
    tsr_param_set_free(&s.params);
}

Test(filters, logit_bias_tokenizes_text_keys_with_the_vocabulary)
{
    static const char *const texts[] = {"a", "b", "ab", "x"};
    const tsr_vocab vocab = {texts, 4};
    const char *keys[] = {"ab", "xa"}; /* "ab" is token 2; "xa" is x, a */
    const double values[] = {1.0, -2.0};
    sampler_under_test s;
    tsr_error err = {0};
    cr_assert_eq(open_bias(&s, keys, values, 2, 4, host_with_fake_vocab(), &vocab, &err), TSR_OK,
                 "%s", err.message);
    const float logits[] = {0.0f, 0.0f, 0.0f, 0.0f};
    tsr_candidate buf[4];
    tsr_candidates c = cands_of(buf, logits, 4);
    sut_apply(&s, &c);
    cr_assert_float_eq(logit_of(&c, 0), -2.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 1), 0.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 2), 1.0f, 1e-6);
    cr_assert_float_eq(logit_of(&c, 3), -2.0f, 1e-6);
    sut_close(&s);
}
