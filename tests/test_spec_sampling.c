/* Speculation with a draft that samples (draft-model's sample: true) on the
 * default model: the core keeps each drawn draft with probability
 * min(1, p/q) and draws a rejection's token from max(0, p - q), so every
 * emitted token follows the target's own sampling distribution p.
 *
 * p is computed here from the model's logits without the sampler chain
 * (repetition penalty over what the sequence holds, the top 3, softmax), and
 * the tokens of many seeded generations are tested against it (chi-square at
 * alpha 0.001): the first token after the prompt is a plain draw, the next
 * goes through the rule, and the one after it too where the draft was
 * kept (the penalty then seeing the kept draft). The same harness without speculation
 * calibrates the test. An adversarial draft (drawn hot, mass all over the
 * vocabulary) against a target that allows one token (top_k 1) never shows
 * through; stop strings and end-of-generation still end the text; and the
 * cache after rejected drawn drafts equals a fresh prefill. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_model.h"
#include "tessera/tessera.h"
#include "testutil.h"

enum { MAX_TOKENS = 256, TOP_K = 3, WINDOW = 64 };
#define PENALTY 1.5

typedef struct deployment {
    tsr_deployment *d;
    tsr_context *ctx;
    const char *sampler_yaml;
} deployment;

/* The main model as stored; the draft is its own file re-quantized to q4_0,
 * drawing at draft_temperature. */
static void open_deployment(deployment *dep, const char *sampler_yaml,
                            double draft_temperature, int tokens)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "model: {path: \"%s\", max_seq_len: 512}\n"
             "draft: {path: \"%s\", quantize: q4_0, max_seq_len: 512}\n"
             "speculative: {strategy: draft-model, tokens: %d, options: "
             "{p_min: 0.0, sample: true, temperature: %g}}\n"
             "sampler: %s\nthreads: 1\nseed: 1\n",
             test_model_path(), test_model_path(), tokens, draft_temperature, sampler_yaml);
    tsr_error err = {0};
    cr_assert_eq(tsr_deployment_open_profile_text(yaml, strlen(yaml), "(test)", NULL, NULL,
                                                  &dep->d, &err),
                 TSR_OK, "%s\n%s", err.message, yaml);
    cr_assert_eq(tsr_context_create(dep->d, NULL, &dep->ctx, &err), TSR_OK, "%s", err.message);
    dep->sampler_yaml = sampler_yaml;
}

static void close_deployment(deployment *dep)
{
    tsr_context_free(dep->ctx);
    tsr_deployment_close(dep->d);
}

static size_t tokenize(const deployment *dep, const char *text, tsr_token *tokens)
{
    tsr_error err = {0};
    size_t n = 0;
    cr_assert_eq(tsr_tokenize(dep->d, text, strlen(text), TSR_TOKENIZE_ADD_SPECIAL, tokens,
                              MAX_TOKENS, &n, &err),
                 TSR_OK, "%s", err.message);
    return n;
}

typedef struct capture {
    tsr_token tokens[MAX_TOKENS];
    size_t n;
    char text[4096];
    size_t n_text;
} capture;

static void on_token(void *ctx, tsr_token token)
{
    capture *c = ctx;
    if (c->n < MAX_TOKENS)
        c->tokens[c->n++] = token;
}

static bool on_text(void *ctx, const char *text, size_t n)
{
    capture *c = ctx;
    if (c->n_text + n < sizeof c->text) {
        memcpy(c->text + c->n_text, text, n);
        c->n_text += n;
        c->text[c->n_text] = '\0';
    }
    return true;
}

/* Past end-of-generation tokens (the distribution test counts them as any
 * other token). */
static bool ignore_eos;

/* One generation from an empty cache with a fresh chain seeded seed, every
 * step drafting as much as it may (no_backoff). */
static void generate(deployment *dep, const tsr_token *prompt, size_t n_prompt, size_t n_gen,
                     uint64_t seed, bool speculate, const char *stop, capture *out,
                     tsr_generate_stats *stats)
{
    tsr_error err = {0};
    tsr_sampler *sampler;
    cr_assert_eq(tsr_sampler_open(dep->d, NULL, 0, NULL, 0, seed, &sampler, &err), TSR_OK,
                 "%s", err.message);
    tsr_kv_clear(dep->ctx);
    memset(out, 0, sizeof *out);
    tsr_generate_params o;
    tsr_generate_params_init(&o);
    o.max_tokens = n_gen;
    o.no_speculation = !speculate;
    o.no_backoff = true;
    o.ignore_eos = ignore_eos;
    o.on_token = on_token;
    o.on_token_ctx = out;
    o.on_text = on_text;
    o.on_text_ctx = out;
    if (stop) {
        o.stop = &stop;
        o.n_stop = 1;
    }
    cr_assert_eq(tsr_generate(dep->ctx, sampler, 0, prompt, n_prompt, &o, stats, &err), TSR_OK,
                 "%s", err.message);
    tsr_sampler_close(sampler);
}

/* ---- the target's distribution, computed here ---------------------------- */

/* The last row's logits after decoding tokens[0..n) into an empty cache. */
static void logits_after(deployment *dep, const tsr_token *tokens, size_t n, float *logits)
{
    tsr_error err = {0};
    tsr_batch *batch;
    cr_assert_eq(tsr_batch_open(tsr_deployment_n_batch(dep->d), &batch, &err), TSR_OK);
    tsr_kv_clear(dep->ctx);
    for (size_t i = 0; i < n; i++)
        tsr_batch_add(batch, tokens[i], (int32_t)i, 0, i + 1 == n, &err);
    cr_assert_eq(tsr_decode(dep->ctx, batch, &err), TSR_OK, "%s", err.message);
    memcpy(logits, tsr_logits(dep->ctx, (int32_t)n - 1),
           tsr_deployment_n_vocab(dep->d) * sizeof *logits);
    tsr_batch_close(batch);
}

/* The chain [repetition_penalty (PENALTY, WINDOW), top_k TOP_K, dist] after
 * tokens[0..n): each token seen in the last WINDOW has its logit divided by
 * PENALTY when positive, multiplied when not (CTRL); then the TOP_K largest,
 * softmax. support[] gets those tokens, p[] their probabilities. */
static void target_distribution(deployment *dep, const tsr_token *tokens, size_t n,
                                tsr_token *support, double *p)
{
    uint32_t n_vocab = tsr_deployment_n_vocab(dep->d);
    float *logits = malloc(n_vocab * sizeof *logits);
    bool *seen = calloc(n_vocab, sizeof *seen);
    logits_after(dep, tokens, n, logits);
    for (size_t i = n > WINDOW ? n - WINDOW : 0; i < n; i++)
        seen[tokens[i]] = true;
    for (uint32_t t = 0; t < n_vocab; t++)
        if (seen[t])
            logits[t] = logits[t] > 0 ? logits[t] / (float)PENALTY : logits[t] * (float)PENALTY;
    for (int k = 0; k < TOP_K; k++) {
        tsr_token best = -1;
        for (uint32_t t = 0; t < n_vocab; t++) {
            bool taken = false;
            for (int j = 0; j < k; j++)
                taken |= support[j] == (tsr_token)t;
            if (!taken && (best < 0 || logits[t] > logits[best]))
                best = (tsr_token)t;
        }
        support[k] = best;
    }
    double sum = 0;
    for (int k = 0; k < TOP_K; k++)
        sum += (p[k] = exp((double)logits[support[k]] - logits[support[0]]));
    for (int k = 0; k < TOP_K; k++)
        p[k] /= sum;
    free(seen);
    free(logits);
}

/* ---- chi-square over groups of generations with the same prefix ------------ */

enum { MAX_GROUPS = 64 };

/* The generations whose first `at` tokens were the same, and what came
 * next in each. */
typedef struct group {
    tsr_token prefix[2];
    size_t at;
    tsr_token support[TOP_K];
    double p[TOP_K];
    uint64_t counts[TOP_K];
    uint64_t n;
} group;

static group *group_of(group *groups, size_t *n_groups, const tsr_token *generated, size_t at)
{
    for (size_t i = 0; i < *n_groups; i++)
        if (groups[i].at == at &&
            memcmp(groups[i].prefix, generated, at * sizeof *generated) == 0)
            return &groups[i];
    cr_assert_lt(*n_groups, (size_t)MAX_GROUPS, "more prefixes than a top-%d target allows",
                 TOP_K);
    group *g = &groups[(*n_groups)++];
    memset(g, 0, sizeof *g);
    memcpy(g->prefix, generated, at * sizeof *generated);
    g->at = at;
    return g;
}

/* The chi-square value at alpha 0.001 for df degrees of freedom
 * (Wilson-Hilferty; within a percent for df >= 3). */
static double chi2_critical(double df)
{
    double z = 3.0902, a = 2.0 / (9.0 * df);
    return df * pow(1.0 - a + z * sqrt(a), 3.0);
}

/* One group's statistic: cells with an expected count under 5 are merged,
 * smallest first, until the merged cell reaches 5. *df gets its degrees of
 * freedom (0: too few generations to say anything). */
static double group_chi2(const group *g, double *df)
{
    double e[TOP_K], o[TOP_K];
    int order[TOP_K];
    for (int k = 0; k < TOP_K; k++) {
        e[k] = g->p[k] * (double)g->n;
        o[k] = (double)g->counts[k];
        order[k] = k;
    }
    for (int i = 0; i < TOP_K; i++)
        for (int j = i + 1; j < TOP_K; j++)
            if (e[order[j]] < e[order[i]]) {
                int x = order[i];
                order[i] = order[j];
                order[j] = x;
            }
    double chi = 0, merged_e = 0, merged_o = 0;
    int cells = 0, i = 0;
    for (; i < TOP_K && merged_e < 5; i++) {
        merged_e += e[order[i]];
        merged_o += o[order[i]];
    }
    if (merged_e >= 5) {
        chi += (merged_o - merged_e) * (merged_o - merged_e) / merged_e;
        cells++;
    }
    for (; i < TOP_K; i++, cells++)
        chi += (o[order[i]] - e[order[i]]) * (o[order[i]] - e[order[i]]) / e[order[i]];
    *df = cells > 1 ? cells - 1 : 0;
    return cells > 1 ? chi : 0;
}

#define PENALIZED "[{repetition_penalty: {penalty: 1.5, last_n: 64}}, {top_k: 3}]"

/* n_runs seeded generations of four tokens after prompt (the first a plain
 * draw, then two drafts verified: the second token by the rule, the third
 * too where the second was a kept draft); for the second and third token, the chi-square of what came out against the target's
 * distribution after the same prefix. */
static void expect_target_distribution(bool speculate, size_t n_runs)
{
    deployment dep;
    open_deployment(&dep, PENALIZED, 1.0, 2);
    ignore_eos = true;
    static tsr_token prompt[MAX_TOKENS], prefix[MAX_TOKENS];
    size_t n = tokenize(&dep, "My favourite fruit is", prompt);
    tsr_token (*runs)[3] = calloc(n_runs, sizeof *runs);
    size_t drafted = 0, accepted = 0;
    for (size_t r = 0; r < n_runs; r++) {
        static capture out;
        tsr_generate_stats st;
        generate(&dep, prompt, n, 4, 1000 + r, speculate, NULL, &out, &st);
        cr_assert_eq(out.n, 4u, "run %zu: %zu tokens", r, out.n);
        memcpy(runs[r], out.tokens, sizeof runs[r]);
        drafted += st.n_drafted;
        accepted += st.n_accepted;
    }
    /* Group by prefix, then the target's distribution after each. */
    static group groups[MAX_GROUPS];
    size_t n_groups = 0;
    for (size_t r = 0; r < n_runs; r++)
        for (size_t at = 1; at <= 2; at++)
            group_of(groups, &n_groups, runs[r], at)->n++;
    memcpy(prefix, prompt, n * sizeof *prompt);
    for (size_t i = 0; i < n_groups; i++) {
        memcpy(prefix + n, groups[i].prefix, groups[i].at * sizeof *prefix);
        target_distribution(&dep, prefix, n + groups[i].at, groups[i].support, groups[i].p);
    }
    uint64_t outside = 0;
    for (size_t r = 0; r < n_runs; r++)
        for (size_t at = 1; at <= 2; at++) {
            group *g = group_of(groups, &n_groups, runs[r], at);
            bool in = false;
            for (int k = 0; k < TOP_K; k++)
                if (g->support[k] == runs[r][at]) {
                    g->counts[k]++;
                    in = true;
                }
            outside += !in;
        }
    double chi = 0, df = 0;
    for (size_t i = 0; i < n_groups; i++) {
        double gdf;
        chi += group_chi2(&groups[i], &gdf);
        df += gdf;
    }
    cr_expect_eq(outside, 0u, "%s: %llu tokens outside the target's top %d",
                 speculate ? "speculative" : "plain", (unsigned long long)outside, TOP_K);
    cr_assert_gt(df, 0, "too few generations per prefix for a test");
    cr_expect_lt(chi, chi2_critical(df), "%s: chi-square %.2f on %.0f degrees of freedom "
                 "(critical %.2f at alpha 0.001), %zu prefixes, %zu of %zu drafts kept",
                 speculate ? "speculative" : "plain", chi, df, chi2_critical(df), n_groups,
                 accepted, drafted);
    cr_log_info("%s: chi-square %.2f on %.0f degrees of freedom (critical %.2f), %zu of %zu "
                "drafts kept", speculate ? "speculative" : "plain", chi, df,
                chi2_critical(df), accepted, drafted);
    if (speculate) {
        /* The rule decided both ways. */
        cr_expect_gt(accepted, 0u, "no drawn draft kept");
        cr_expect_lt(accepted, drafted, "no drawn draft rejected");
    }
    free(runs);
    ignore_eos = false;
    close_deployment(&dep);
}

/* Generations under the sanitizers run ten times slower: fewer, a weaker
 * test there (which still runs every path). */
static size_t n_runs(void)
{
    return test_under_sanitizers() ? 40 : 600;
}

Test(spec_sampling, drawn_drafts_keep_the_target_distribution)
{
    expect_target_distribution(true, n_runs());
}

Test(spec_sampling, the_test_passes_plain_sampling)
{
    expect_target_distribution(false, test_under_sanitizers() ? n_runs() : n_runs() / 3);
}

/* The target allows one token per position (top_k 1, then a draw); the
 * draft draws hot (temperature 3), its mass all over the vocabulary, where
 * the target has none: what comes out is the greedy text, token for token. */
Test(spec_sampling, an_adversarial_draft_never_shows_through)
{
    deployment dep;
    open_deployment(&dep, "[{top_k: 1}]", 3.0, 4);
    static tsr_token prompt[MAX_TOKENS];
    static capture plain, spec;
    const char *texts[] = {"The history of the printing press begins in",
                           "Monday: swim. Tuesday: run. Wednesday: swim. Thursday:",
                           "def add(a, b):\n    return"};
    size_t drafted = 0, accepted = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = tokenize(&dep, texts[i], prompt);
        tsr_generate_stats a, b;
        generate(&dep, prompt, n, 24, 5, false, NULL, &plain, &a);
        generate(&dep, prompt, n, 24, 6 + i, true, NULL, &spec, &b);
        cr_expect_eq(spec.n, plain.n, "prompt %zu: %zu tokens, not %zu", i, spec.n, plain.n);
        cr_expect_eq(memcmp(spec.tokens, plain.tokens, plain.n * sizeof *plain.tokens), 0,
                     "prompt %zu: a token the target rules out came out", i);
        drafted += b.n_drafted;
        accepted += b.n_accepted;
    }
    cr_expect_gt(drafted, accepted + 20, "the hot draft was rejected %zu of %zu times",
                 drafted - accepted, drafted);
    close_deployment(&dep);
}

/* A stop string inside a run of kept drafts ends the text before it; an
 * end-of-generation token ends it and is never handed out. */
Test(spec_sampling, stop_strings_and_end_of_generation_still_end_the_text)
{
    deployment dep;
    open_deployment(&dep, "[{temperature: 0.7}]", 0.7, 4);
    static tsr_token prompt[MAX_TOKENS];
    static capture out;
    size_t n = 0;
    tsr_error err = {0};
    tsr_message m = {"user", "List three colours, one word each."};
    cr_assert_eq(tsr_chat_tokenize(dep.d, &m, 1, true, prompt, MAX_TOKENS, &n, &err), TSR_OK,
                 "%s", err.message);
    size_t stopped = 0, ended = 0;
    /* Under the sanitizers two seeds (each generation is ten times slower). */
    const uint64_t n_seeds = test_under_sanitizers() ? 2 : 6;
    for (uint64_t seed = 1; seed <= n_seeds; seed++) {
        tsr_generate_stats st;
        generate(&dep, prompt, n, 120, seed, true, "e", &out, &st);
        cr_expect_null(strchr(out.text, 'e'), "seed %llu: the stop string came out: %s",
                       (unsigned long long)seed, out.text);
        stopped += st.stop_reason == TSR_STOP_STRING;
        generate(&dep, prompt, n, 120, seed, true, NULL, &out, &st);
        for (size_t k = 0; k < out.n; k++)
            cr_expect_not(tsr_token_is_eog(dep.d, out.tokens[k]),
                          "seed %llu: end-of-generation token %d handed out at %zu",
                          (unsigned long long)seed, out.tokens[k], k);
        ended += st.stop_reason == TSR_STOP_EOG;
        cr_expect_gt(st.n_verifications, 0u);
    }
    cr_expect_eq(stopped, n_seeds, "%zu of %llu generations stopped at the string", stopped,
                 (unsigned long long)n_seeds);
    cr_expect_geq(ended, n_seeds / 2, "%zu of %llu generations ended by themselves", ended,
                  (unsigned long long)n_seeds);
    close_deployment(&dep);
}

/* The same seed, drafting at every step: the same tokens (the draft draws
 * from the sequence's generator too). */
Test(spec_sampling, the_same_seed_gives_the_same_tokens)
{
    deployment dep;
    open_deployment(&dep, "[{top_p: 0.95}, {temperature: 0.8}]", 0.8, 4);
    static tsr_token prompt[MAX_TOKENS];
    static capture a, b;
    size_t n = tokenize(&dep, "Once upon a time, in a small village,", prompt);
    tsr_generate_stats sa, sb;
    generate(&dep, prompt, n, 40, 11, true, NULL, &a, &sa);
    generate(&dep, prompt, n, 40, 11, true, NULL, &b, &sb);
    cr_expect_eq(a.n, b.n);
    cr_expect_eq(memcmp(a.tokens, b.tokens, a.n * sizeof *a.tokens), 0);
    cr_expect_eq(sa.n_accepted, sb.n_accepted);
    close_deployment(&dep);
}

Test(spec_sampling, the_cache_after_rejected_drawn_drafts_is_a_fresh_prefill)
{
    deployment dep;
    open_deployment(&dep, "[{temperature: 1.0}]", 1.5, 4);
    static tsr_token all[MAX_TOKENS];
    static capture spec;
    size_t n = tokenize(&dep, "Monday: swim. Tuesday: run. Wednesday: swim. Thursday:", all);
    tsr_generate_stats st;
    generate(&dep, all, n, 40, 3, true, NULL, &spec, &st);
    cr_assert_gt(st.n_drafted, st.n_accepted, "some drafts were rejected");
    cr_assert_gt(st.n_accepted, 0u, "some drafts were kept");
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
    float *fresh = malloc(n_vocab * sizeof *fresh);
    logits_after(&dep, all, total, fresh);
    cr_expect_eq(memcmp(after, fresh, n_vocab * sizeof *after), 0,
                 "the logits after speculation differ from a fresh prefill's");
    free(fresh);
    free(after);
    tsr_batch_close(batch);
    close_deployment(&dep);
}
