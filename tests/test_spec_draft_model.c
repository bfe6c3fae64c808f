/* spec/draft-model against a fake draft whose most likely next token is
 * the last one plus one: it proposes the draft's greedy continuation, after
 * a partial acceptance the draft never conditions on a rejected token, a new
 * turn re-evaluates only what changed, and p_min stops unsure drafts. */
#include <criterion/criterion.h>

#include "loader.h"
#include "testutil.h"

enum { N_VOCAB = 100, MAX_POSITIONS = 64 };

/* The draft's "cache" is the tokens it has evaluated. */
struct tsr_draft {
    int32_t tokens[MAX_POSITIONS];
    size_t n;
    size_t last_eval; /* tokens in the last eval */
    float logits[N_VOCAB];
    size_t evaluated; /* every token ever evaluated, re-evaluations included */
};

static tsr_status fake_eval(tsr_draft *d, const int32_t *tokens, size_t n, tsr_error *err)
{
    cr_assert_leq(d->n + n, (size_t)MAX_POSITIONS);
    memcpy(d->tokens + d->n, tokens, n * sizeof *tokens);
    d->n += n;
    d->last_eval = n;
    d->evaluated += n;
    return TSR_OK;
}

static const float *fake_logits(tsr_draft *d, size_t i)
{
    /* Only the last row is kept, as a model without all_logits does. */
    int32_t next = (d->tokens[d->n - 1] + 1) % N_VOCAB;
    for (int t = 0; t < N_VOCAB; t++)
        d->logits[t] = t == next ? 5.0f : (float)(t % 7) * 0.1f;
    return d->logits;
}

static void fake_rollback(tsr_draft *d, size_t n_keep)
{
    if (n_keep < d->n)
        d->n = n_keep;
}

static size_t fake_n_past(const tsr_draft *d)
{
    return d->n;
}

static tsr_registry *registry;
static const tsr_spec_vtable *vt;
static tsr_host host;

static void setup(void)
{
    tsr_error err = {0};
    const char *dirs[] = {test_path(test_builddir(), "plugins/.libs")};
    cr_assert_eq(tsr_registry_open(dirs, 1, &registry, &err), TSR_OK, "%s", err.message);
    vt = tsr_plugin_spec(tsr_registry_find(registry, TSR_PLUGIN_SPEC, "draft-model"));
    cr_assert_not_null(vt, "no spec plugin draft-model in the build");
    host = *tsr_host_services();
    host.draft_eval = fake_eval;
    host.draft_logits = fake_logits;
    host.draft_rollback = fake_rollback;
    host.draft_n_past = fake_n_past;
}

static void teardown(void)
{
    tsr_registry_close(registry);
}

TestSuite(draft_model, .init = setup, .fini = teardown);

/* p_min and n_min as the profile's options would give them (the core hands
 * every declared parameter: sample and temperature at their defaults). */
static void *create_with(tsr_draft *draft, uint32_t max_tokens, double p_min, int64_t n_min)
{
    tsr_param_value params[4] = {
        {.type = TSR_PARAM_FLOAT, .is_set = true, .number = p_min},
        {.type = TSR_PARAM_INT, .is_set = true, .integer = n_min, .number = (double)n_min},
        {.type = TSR_PARAM_BOOL, .boolean = false},
        {.type = TSR_PARAM_FLOAT, .number = 1.0},
    };
    tsr_spec_init init = {sizeof init, max_tokens, N_VOCAB, NULL, draft, MAX_POSITIONS};
    void *state = NULL;
    tsr_error err = {0};
    cr_assert_eq(vt->create(&host, params, &init, &state, &err), TSR_OK, "%s", err.message);
    return state;
}

static void *create(tsr_draft *draft, uint32_t max_tokens)
{
    return create_with(draft, max_tokens, 0.0, 0);
}

Test(draft_model, it_needs_a_draft)
{
    cr_expect(vt->abi.struct_size >= sizeof(tsr_abi));
    const tsr_plugin *p = tsr_registry_find(registry, TSR_PLUGIN_SPEC, "draft-model");
    cr_expect(tsr_plugin_spec(p)->flags & TSR_SPEC_NEEDS_DRAFT);
    tsr_spec_init init = {sizeof init, 4, N_VOCAB, NULL, NULL};
    void *state = NULL;
    tsr_error err = {0};
    tsr_param_value params[4] = {{.type = TSR_PARAM_FLOAT}, {.type = TSR_PARAM_INT},
                                 {.type = TSR_PARAM_BOOL}, {.type = TSR_PARAM_FLOAT, .number = 1}};
    cr_expect_eq(vt->create(&host, params, &init, &state, &err), TSR_ERR_UNSUPPORTED);
    cr_expect_null(state);
}

Test(draft_model, proposes_the_drafts_greedy_continuation)
{
    tsr_draft draft = {0};
    void *state = create(&draft, 4);
    const int32_t history[] = {5, 6, 7};
    int32_t out[8];
    size_t n = 0;
    tsr_error err = {0};
    cr_assert_eq(vt->propose(state, history, 3, out, 8, &n, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(n, 4, "at most speculative.tokens");
    for (int i = 0; i < 4; i++)
        cr_expect_eq(out[i], 8 + i);
    /* The history, then every proposal but the last (its logits are not needed). */
    cr_expect_eq(draft.n, 6);
    vt->destroy(state);
}

Test(draft_model, rejected_proposals_leave_the_drafts_cache)
{
    tsr_draft draft = {0};
    void *state = create(&draft, 4);
    int32_t history[16] = {5, 6, 7};
    int32_t out[4];
    size_t n = 0;
    tsr_error err = {0};
    cr_assert_eq(vt->propose(state, history, 3, out, 4, &n, &err), TSR_OK);
    /* The target kept 8 and 9, then chose 42 itself. */
    if (vt->accepted)
        vt->accepted(state, 4, 2);
    history[3] = 8;
    history[4] = 9;
    history[5] = 42;
    size_t before = draft.evaluated;
    cr_assert_eq(vt->propose(state, history, 6, out, 4, &n, &err), TSR_OK);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(out[i], 43 + i);
    const int32_t want[] = {5, 6, 7, 8, 9, 42, 43, 44, 45};
    cr_assert_eq(draft.n, 9);
    for (int i = 0; i < 9; i++)
        cr_expect_eq(draft.tokens[i], want[i], "position %d", i);
    /* Only the new token and the proposals were evaluated, not the history again. */
    cr_expect_eq(draft.evaluated - before, 1 + 3);
    vt->destroy(state);
}

Test(draft_model, another_history_starts_the_draft_over)
{
    tsr_draft draft = {0};
    void *state = create(&draft, 2);
    const int32_t a[] = {1, 2, 3}, b[] = {50, 51};
    int32_t out[2];
    size_t n;
    tsr_error err = {0};
    cr_assert_eq(vt->propose(state, a, 3, out, 2, &n, &err), TSR_OK);
    cr_assert_eq(vt->propose(state, b, 2, out, 2, &n, &err), TSR_OK);
    cr_expect_eq(draft.tokens[0], 50);
    cr_expect_eq(draft.n, 3, "50, 51 and the first proposal");
    cr_expect_eq(out[0], 52);
    vt->destroy(state);
}

Test(draft_model, a_new_turn_evaluates_only_what_changed)
{
    tsr_draft draft = {0};
    void *state = create(&draft, 2);
    int32_t history[16] = {1, 2, 3, 4, 5};
    int32_t out[2];
    size_t n;
    tsr_error err = {0};
    cr_assert_eq(vt->propose(state, history, 5, out, 2, &n, &err), TSR_OK);
    /* The next turn keeps 1..4, then differs. */
    history[4] = 30;
    history[5] = 31;
    size_t before = draft.evaluated;
    cr_assert_eq(vt->propose(state, history, 6, out, 2, &n, &err), TSR_OK);
    cr_expect_eq(draft.evaluated - before, 2 + 1, "30, 31, then one proposal");
    cr_expect_eq(out[0], 32);
    vt->destroy(state);
}

Test(draft_model, p_min_stops_unsure_drafts)
{
    /* The fake's top token has probability about 0.52. */
    tsr_draft draft = {0};
    void *state = create_with(&draft, 8, 0.9, 2);
    const int32_t history[] = {5, 6, 7};
    int32_t out[8];
    size_t n = 0;
    tsr_error err = {0};
    cr_assert_eq(vt->propose(state, history, 3, out, 8, &n, &err), TSR_OK, "%s", err.message);
    cr_expect_eq(n, 2, "n_min drafts, then p_min stops");
    vt->destroy(state);
    state = create_with(&draft, 8, 0.5, 0);
    cr_assert_eq(vt->propose(state, history, 3, out, 8, &n, &err), TSR_OK, "%s", err.message);
    cr_expect_eq(n, 8, "sure enough at p_min 0.5");
    vt->destroy(state);
}
