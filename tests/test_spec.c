/* Speculative decoding on the default model, through the public API: the
 * tokens generated with each strategy equal the tokens generated one at a
 * time, greedy and seeded sampling alike, at 1 and 2 threads, on prompts of
 * every kind; and what the cache holds after rejected drafts equals what a
 * fresh prefill of the same tokens gives. Drafting is forced at every step
 * (no_backoff), so drafts are proposed, rejected and accepted throughout. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_model.h"
#include "tessera/tessera.h"
#include "testutil.h"

enum { MAX_TOKENS = 1024, N_PROMPTS = 10 };

/* Code, prose, chat turns, lists to repeat or edit, a long document. */
static const char *const prompts[N_PROMPTS] = {
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + ",
    "The history of the printing press begins in the fifteenth century, when",
    "<chat>Repeat this list exactly: apple, banana, cherry, date, elderberry, fig, grape.",
    "<chat>Rewrite this sentence in the past tense: The cat sits on the mat and watches the "
    "birds that fly over the garden.",
    "<chat>What is the capital of France?",
    "for (int i = 0; i < n; i++) {\n    sum += values[i];\n}\nfor (int i = 0; i < n; i++) {\n",
    "Monday: swim. Tuesday: run. Wednesday: swim. Thursday: run. Friday:",
    "<chat>Write a haiku about autumn leaves.",
    "<long>",
    "<chat>Sort these numbers from smallest to largest: 42, 7, 19, 3, 88, 56, 21.",
};

/* A document to answer from: long enough to span several batches of drafts. */
static const char long_document[] =
    "Answer from the document.\n\nThe Lighthouse Keeper's Log\n\n"
    "The lighthouse stands on a rock two miles from the harbour. Its lamp is lit at dusk and "
    "put out at dawn. The keeper climbs one hundred and twelve steps to reach the lamp room. "
    "Every evening he winds the clockwork that turns the lens, cleans the glass, and trims the "
    "wick. Every morning he writes the weather, the ships he saw and the hours the lamp burned "
    "into the log. In winter the supply boat comes once a fortnight; in summer once a week. It "
    "brings oil, bread, letters and newspapers. The keeper's favourite season is autumn, when "
    "the storms come in from the west and the lamp matters most.\n\n"
    "Question: How many steps does the keeper climb to reach the lamp room, and how often does "
    "the supply boat come in winter?\nAnswer: The keeper climbs";

typedef struct deployment {
    tsr_deployment *d;
    tsr_context *ctx;
    tsr_sampler *sampler;
} deployment;

static void open_profile(deployment *dep, const char *strategy_yaml, const char *sampler_yaml,
                         int threads)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "model: {path: \"%s\", max_seq_len: 1024}\n%s\nsampler: %s\nthreads: %d\nseed: 7\n",
             test_model_path(), strategy_yaml, sampler_yaml, threads);
    tsr_error err = {0};
    cr_assert_eq(tsr_deployment_open_profile_text(yaml, strlen(yaml), "(test)", NULL, NULL,
                                                  &dep->d, &err),
                 TSR_OK, "%s\n%s", err.message, yaml);
    cr_assert_eq(tsr_context_create(dep->d, NULL, &dep->ctx, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_sampler_open(dep->d, NULL, 0, NULL, 0, 7, &dep->sampler, &err), TSR_OK,
                 "%s", err.message);
}

static void close_profile(deployment *dep)
{
    tsr_sampler_close(dep->sampler);
    tsr_context_free(dep->ctx);
    tsr_deployment_close(dep->d);
}

static size_t prompt_tokens(const deployment *dep, int i, tsr_token *tokens)
{
    tsr_error err = {0};
    size_t n = 0;
    const char *p = prompts[i];
    if (strncmp(p, "<chat>", 6) == 0) {
        tsr_message m = {"user", p + 6};
        cr_assert_eq(tsr_chat_tokenize(dep->d, &m, 1, true, tokens, MAX_TOKENS, &n, &err),
                     TSR_OK, "%s", err.message);
    } else {
        const char *text = strcmp(p, "<long>") == 0 ? long_document : p;
        cr_assert_eq(tsr_tokenize(dep->d, text, strlen(text), TSR_TOKENIZE_ADD_SPECIAL, tokens,
                                  MAX_TOKENS, &n, &err),
                     TSR_OK, "%s", err.message);
    }
    return n;
}

typedef struct capture {
    tsr_token tokens[MAX_TOKENS];
    size_t n;
} capture;

static void on_token(void *ctx, tsr_token token)
{
    capture *c = ctx;
    if (c->n < MAX_TOKENS)
        c->tokens[c->n++] = token;
}

/* Generates into sequence 0 from an empty cache, with a fresh chain. */
static void generate(deployment *dep, const tsr_token *prompt, size_t n_prompt, size_t n_gen,
                     bool speculate, capture *out, tsr_generate_stats *stats)
{
    tsr_error err = {0};
    tsr_kv_clear(dep->ctx);
    tsr_sampler_reset(dep->sampler);
    out->n = 0;
    tsr_generate_params o;
    tsr_generate_params_init(&o);
    o.max_tokens = n_gen;
    o.no_speculation = !speculate;
    o.no_backoff = true;
    o.on_token = on_token;
    o.on_token_ctx = out;
    cr_assert_eq(tsr_generate(dep->ctx, dep->sampler, 0, prompt, n_prompt, &o, stats, &err),
                 TSR_OK, "%s", err.message);
}

#define NGRAM "speculative: {strategy: ngram, tokens: 6, options: {min_n: 1, max_n: 3}}"
/* A self-draft: the main model as stored (Q4_1) checks its own weights
 * re-quantized to q4_0, which disagree with it now and then. */
#define SELF_DRAFT                                                                                 \
    "draft: {path: \"%s\", quantize: q4_0, max_seq_len: 1024}\n"                                  \
    "speculative: {strategy: draft-model, tokens: 4, options: {p_min: 0.0}}"
#define GREEDY "[greedy]"
#define SEEDED "[{repetition_penalty: {penalty: 1.1, last_n: 64}}, {top_p: 0.95}, {temperature: 0.8}]"

static const char *self_draft_yaml(void)
{
    static char yaml[1024];
    snprintf(yaml, sizeof yaml, SELF_DRAFT, test_model_path());
    return yaml;
}

/* The drafts one strategy verified, kept and proposed over every prompt. */
typedef struct tally {
    size_t drafted, accepted, verifications;
} tally;

static void expect_equal(const capture *plain, const capture *spec, const char *what,
                         int threads, int prompt)
{
    cr_expect_eq(spec->n, plain->n, "%s, %d threads, prompt %d: %zu tokens, not %zu", what,
                 threads, prompt, spec->n, plain->n);
    for (size_t k = 0; k < plain->n && k < spec->n; k++)
        if (spec->tokens[k] != plain->tokens[k]) {
            cr_expect_fail("%s, %d threads, prompt %d: token %zu is %d, not %d", what, threads,
                           prompt, k, spec->tokens[k], plain->tokens[k]);
            break;
        }
}

/* The sanitizers' build runs ten times slower: there each of the three
 * comparisons takes every third prompt, starting at its own, so that the
 * three together still cover every prompt once. */
static int prompt_stride(void)
{
    return test_under_sanitizers() ? 3 : 1;
}

/* Every prompt, generated one token at a time, then with ngram and with a
 * draft model: the same tokens each time. The plain run is the ngram
 * deployment's with speculation off (the draft deployment's main model is
 * the same file, as stored). */
static void expect_same_tokens(const char *sampler_yaml, int threads, size_t n_gen, int first)
{
    deployment ngram, draft;
    open_profile(&ngram, NGRAM, sampler_yaml, threads);
    open_profile(&draft, self_draft_yaml(), sampler_yaml, threads);
    cr_assert_not_null(tsr_deployment_speculation(ngram.d));
    cr_assert_not_null(tsr_deployment_speculation(draft.d));
    static tsr_token prompt[MAX_TOKENS];
    static capture plain, spec;
    tally t[2] = {{0}};
    deployment *with[2] = {&ngram, &draft};
    const char *names[2] = {"ngram", "draft-model"};
    int stride = prompt_stride();
    size_t n_run = 0;
    for (int i = stride > 1 ? first : 0; i < N_PROMPTS; i += stride, n_run++) {
        size_t n = prompt_tokens(&ngram, i, prompt);
        tsr_generate_stats a, b;
        generate(&ngram, prompt, n, n_gen, false, &plain, &a);
        cr_expect_eq(a.n_verifications, 0u);
        for (int k = 0; k < 2; k++) {
            generate(with[k], prompt, n, n_gen, true, &spec, &b);
            expect_equal(&plain, &spec, names[k], threads, i);
            cr_expect_eq(b.stop_reason, a.stop_reason, "%s, prompt %d", names[k], i);
            t[k].drafted += b.n_drafted;
            t[k].accepted += b.n_accepted;
            t[k].verifications += b.n_verifications;
        }
    }
    /* The test means something only when drafts were both kept and rejected,
     * over more than 8 verifications for the ten prompts (fewer for the
     * sanitizers' every third prompt: an AVX-512 run there saw 6 in 4). */
    for (int k = 0; k < 2; k++) {
        cr_expect_gt(t[k].verifications, 8 * n_run / N_PROMPTS, "%s: %zu verifications in %zu prompts",
                     names[k], t[k].verifications, n_run);
        cr_expect_gt(t[k].accepted, 0u, "%s: no draft accepted", names[k]);
        cr_expect_lt(t[k].accepted, t[k].drafted, "%s: no draft rejected", names[k]);
    }
    close_profile(&draft);
    close_profile(&ngram);
}

Test(spec, greedy_with_each_strategy_equals_plain_at_1_thread)
{
    expect_same_tokens(GREEDY, 1, 20, 0);
}

Test(spec, greedy_with_each_strategy_equals_plain_at_2_threads)
{
    expect_same_tokens(GREEDY, 2, 20, 1);
}

Test(spec, seeded_sampling_with_each_strategy_equals_plain)
{
    expect_same_tokens(SEEDED, 2, 20, 2);
}

Test(spec, the_cache_after_rejections_is_a_fresh_prefill)
{
    deployment dep;
    open_profile(&dep, NGRAM, GREEDY, 2);
    static tsr_token all[MAX_TOKENS];
    static capture spec;
    size_t n = prompt_tokens(&dep, 6, all);
    tsr_generate_stats st;
    generate(&dep, all, n, 48, true, &spec, &st);
    cr_assert_gt(st.n_drafted, st.n_accepted, "some drafts were rejected");
    cr_assert_geq(spec.n, 2u);
    /* The cache holds the prompt and every generated token but the last. */
    cr_assert_eq((size_t)(tsr_kv_seq_pos_max(dep.ctx, 0) + 1), n + spec.n - 1);
    memcpy(all + n, spec.tokens, spec.n * sizeof *all);
    size_t total = n + spec.n;
    tsr_error err = {0};
    tsr_batch *batch;
    cr_assert_eq(tsr_batch_open(tsr_deployment_n_batch(dep.d), &batch, &err), TSR_OK);
    tsr_batch_add(batch, all[total - 1], (int32_t)(total - 1), 0, true, &err);
    cr_assert_eq(tsr_decode(dep.ctx, batch, &err), TSR_OK, "%s", err.message);
    uint32_t n_vocab = tsr_deployment_n_vocab(dep.d);
    float *after = malloc(n_vocab * sizeof *after);
    memcpy(after, tsr_logits(dep.ctx, 0), n_vocab * sizeof *after);
    /* The same tokens from an empty cache, one forward pass. */
    tsr_kv_clear(dep.ctx);
    tsr_batch_clear(batch);
    for (size_t i = 0; i < total; i++)
        tsr_batch_add(batch, all[i], (int32_t)i, 0, i + 1 == total, &err);
    cr_assert_eq(tsr_decode(dep.ctx, batch, &err), TSR_OK, "%s", err.message);
    cr_expect_eq(memcmp(after, tsr_logits(dep.ctx, (int32_t)total - 1), n_vocab * sizeof *after),
                 0, "the logits after speculation differ from a fresh prefill's");
    free(after);
    tsr_batch_close(batch);
    close_profile(&dep);
}

/* The example self-draft (the model re-quantized to f16 answers, its Q4_1
 * file drafts), with back-off on: a verification costs about one row here
 * and a draft row a third of one, so the controller drafts throughout. The
 * draft's catch-up on the prompt, charged per draft, once made the first
 * proposal look dearer than decoding and drafting never started (4
 * verifications in 128 tokens). */
Test(spec, the_self_draft_drafts_with_back_off_on)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "model: {path: \"%s\", quantize: f16, max_seq_len: 1024}\n"
             "draft: {path: \"%s\"}\n"
             "speculative: {strategy: draft-model, tokens: 4, options: {p_min: 0.5}}\n"
             "sampler: [greedy]\nthreads: 2\n",
             test_model_path(), test_model_path());
    deployment dep;
    tsr_error err = {0};
    cr_assert_eq(tsr_deployment_open_profile_text(yaml, strlen(yaml), "(test)", NULL, NULL,
                                                  &dep.d, &err),
                 TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_context_create(dep.d, NULL, &dep.ctx, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_sampler_open(dep.d, NULL, 0, NULL, 0, 7, &dep.sampler, &err), TSR_OK);
    static tsr_token prompt[MAX_TOKENS];
    static capture out;
    size_t n = prompt_tokens(&dep, 8, prompt); /* the long document */
    tsr_generate_params o;
    tsr_generate_params_init(&o);
    o.max_tokens = 64;
    o.on_token = on_token;
    o.on_token_ctx = &out;
    tsr_generate_stats st;
    cr_assert_eq(tsr_generate(dep.ctx, dep.sampler, 0, prompt, n, &o, &st, &err), TSR_OK,
                 "%s", err.message);
    cr_expect_gt(st.n_verifications, 12u, "%zu verifications, %zu one-row steps in %zu tokens",
                 st.n_verifications, st.n_plain_steps, st.n_generated);
    close_profile(&dep);
}
