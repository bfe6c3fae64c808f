/* What the sampler tests share: the real sampler plugins from the build tree,
 * one instance of one sampler on hand-made candidates, a fake vocabulary for
 * the samplers that read token text, and Pearson's chi-square. */
#ifndef TSR_SAMPLERTEST_H
#define TSR_SAMPLERTEST_H

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "candidates.h"
#include "loader.h"
#include "params.h"
#include "rng.h"
#include "testutil.h"

/* Opens the build tree's plugins (plugins/.libs), as the loader test does. */
static inline tsr_registry *samplers_open_registry(void)
{
    const char *dirs[] = {test_path(test_builddir(), "plugins/.libs")};
    tsr_registry *reg = NULL;
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 1, &reg, &err), TSR_OK, "%s", err.message);
    return reg;
}

/* One sampler instance, made as the chain makes them. */
typedef struct sampler_under_test {
    const tsr_plugin *plugin;
    const tsr_sampler_vtable *vtable;
    const tsr_host *host;
    tsr_param_set params;
    tsr_rng rng;
    void *state;
} sampler_under_test;

/* Sets "name=value;name=value" through tsr_param_set_text (lists: a,b,c). */
static inline void set_params(tsr_param_set *set, const char *settings)
{
    if (!settings)
        return;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", settings);
    for (char *save = NULL, *item = strtok_r(copy, ";", &save); item;
         item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        cr_assert_not_null(eq, "setting '%s' lacks '='", item);
        *eq = '\0';
        int index = tsr_param_find(set->plugin, item);
        cr_assert_geq(index, 0, "%s has no parameter %s", set->plugin->name, item);
        tsr_error err = {0};
        cr_assert_eq(tsr_param_set_text(set, index, eq + 1, &err), TSR_OK, "%s", err.message);
    }
}

/* Creates sampler name with settings over a vocabulary of n_vocab tokens;
 * host NULL = the real one. Returns the status of create (err filled). */
static inline tsr_status sut_try_open(sampler_under_test *s, tsr_registry *reg, const char *name,
                                      int32_t n_vocab, const char *settings,
                                      const tsr_host *host, const tsr_vocab *vocab,
                                      tsr_error *err)
{
    memset(s, 0, sizeof *s);
    s->plugin = tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, name);
    cr_assert_not_null(s->plugin, "no sampler plugin %s in the build tree", name);
    s->vtable = tsr_plugin_sampler(s->plugin);
    s->host = host ? host : tsr_host_services();
    cr_assert_eq(tsr_param_set_init(&s->params, s->plugin, err), TSR_OK);
    set_params(&s->params, settings);
    tsr_rng_seed(&s->rng, 42);
    tsr_sampler_init init = {.struct_size = sizeof init,
                             .n_vocab = n_vocab,
                             .seed = 42,
                             .rng = &s->rng,
                             .vocab = vocab};
    tsr_status status = s->vtable->create(s->host, s->params.values, &init, &s->state, err);
    if (status != TSR_OK) {
        tsr_param_set_free(&s->params);
        s->state = NULL;
    }
    return status;
}

static inline void sut_open(sampler_under_test *s, tsr_registry *reg, const char *name,
                            int32_t n_vocab, const char *settings)
{
    tsr_error err = {0};
    cr_assert_eq(sut_try_open(s, reg, name, n_vocab, settings, NULL, NULL, &err), TSR_OK,
                 "%s: %s", name, err.message);
}

static inline void sut_close(sampler_under_test *s)
{
    if (s->state)
        s->vtable->destroy(s->state);
    tsr_param_set_free(&s->params);
    memset(s, 0, sizeof *s);
}

static inline void sut_apply(sampler_under_test *s, tsr_candidates *cands)
{
    tsr_error err = {0};
    cr_assert_eq(s->vtable->apply(s->state, cands, &err), TSR_OK, "%s: %s", s->plugin->name,
                 err.message);
}

static inline void sut_accept(sampler_under_test *s, const int32_t *tokens, size_t n)
{
    cr_assert_not_null(s->vtable->accept, "%s has no accept", s->plugin->name);
    for (size_t i = 0; i < n; i++)
        s->vtable->accept(s->state, tokens[i]);
}

/* Candidates data[i] = {i, logits[i]} in buf (n entries), unsorted. */
static inline tsr_candidates cands_of(tsr_candidate *buf, const float *logits, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (tsr_candidate){.token = (int32_t)i, .logit = logits[i], .p = 0.0f};
    return (tsr_candidates){.data = buf, .size = n, .selected = -1, .sorted = false};
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The survivors are exactly these tokens, in this order. */
static inline void assert_tokens(const tsr_candidates *cands, const int32_t *expect, size_t n)
{
    cr_assert_eq(cands->size, n, "%zu candidates survive, expected %zu", cands->size, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(cands->data[i].token, expect[i], "position %zu holds token %d, expected %d",
                     i, cands->data[i].token, expect[i]);
}

/* The logit of token in cands (which must hold it). */
static inline float logit_of(const tsr_candidates *cands, int32_t token)
{
    for (size_t i = 0; i < cands->size; i++)
        if (cands->data[i].token == token)
            return cands->data[i].logit;
    cr_assert_fail("token %d is not among the candidates", token);
    return NAN;
}

/* Pearson's chi-square of observed counts against expected probabilities. */
static inline double chi_square(const long *observed, const double *expected_p, size_t n,
                                long draws)
{
    double chi2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = expected_p[i] * (double)draws;
        chi2 += (observed[i] - e) * (observed[i] - e) / e;
    }
    return chi2;
}

/* Upper critical values of chi-square at significance 0.001, by degrees of
 * freedom (1..7): a correct sampler fails a test only one time in a thousand
 * seeds; the fixed seed makes each test's verdict the same on every run. */
static const double CHI2_CRITICAL_0_001[] = {0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458,
                                             24.322};

/* ---- a fake vocabulary for samplers that read token text --------------
 * Token i's text is texts[i]; tokenize is greedy longest match. */
struct tsr_vocab {
    const char *const *texts;
    int32_t n;
};

static inline int32_t fake_n_tokens(const tsr_vocab *vocab)
{
    return vocab->n;
}

static inline const char *fake_token_bytes(const tsr_vocab *vocab, int32_t token,
                                           size_t *n_bytes)
{
    if (token < 0 || token >= vocab->n)
        return NULL;
    *n_bytes = strlen(vocab->texts[token]);
    return vocab->texts[token];
}

static inline int32_t fake_tokenize(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                                    int32_t *tokens, int32_t max_tokens)
{
    int32_t n = 0;
    for (size_t at = 0; at < n_bytes;) {
        int32_t best = -1;
        size_t best_len = 0;
        for (int32_t t = 0; t < vocab->n; t++) {
            size_t len = strlen(vocab->texts[t]);
            if (len > best_len && len <= n_bytes - at && memcmp(text + at, vocab->texts[t], len) == 0) {
                best = t;
                best_len = len;
            }
        }
        if (best < 0)
            return -1;
        if (n < max_tokens)
            tokens[n] = best;
        n++;
        at += best_len;
    }
    return n;
}

/* The real host table with the fake vocabulary's functions. */
static inline const tsr_host *host_with_fake_vocab(void)
{
    static tsr_host host;
    host = *tsr_host_services();
    host.vocab_n_tokens = fake_n_tokens;
    host.vocab_token_bytes = fake_token_bytes;
    host.vocab_tokenize = fake_tokenize;
    return &host;
}

#endif
