/* The sampler chain (core/sampling/sampler_chain.c): order, the appended dist, its
 * refusals, determinism across runs, resets and threads, and the command-line
 * overrides of its entries; with the real plugins from the build tree. */
#include <pthread.h>
#include <unistd.h>

#include "sampler_chain.h"
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

TestSuite(chain, .init = open_registry, .fini = close_registry);

/* Appends sampler name with "param=value;..." settings to list. */
static void add(tsr_sampler_list *list, const char *name, const char *settings)
{
    const tsr_plugin *plugin = tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, name);
    cr_assert_not_null(plugin, "no sampler %s", name);
    tsr_sampler_entry *entry;
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_list_append(list, plugin, &entry, &err), TSR_OK, "%s", err.message);
    set_params(&entry->params, settings);
}

static tsr_sampler_chain *open_chain(const tsr_sampler_list *list, int32_t n_vocab,
                                     uint64_t seed)
{
    tsr_sampler_chain_config config = {.n_vocab = n_vocab, .seed = seed};
    tsr_sampler_chain *chain = NULL;
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_chain_open(reg, list->entries, list->n_entries, &config, &chain,
                                        &err),
                 TSR_OK, "%s", err.message);
    return chain;
}

static int32_t sample(tsr_sampler_chain *chain, const float *logits)
{
    int32_t token = -1;
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_chain_sample(chain, logits, &token, &err), TSR_OK, "%s",
                 err.message);
    return token;
}

/* The profile's default chain (PROFILE.md). */
static void default_chain(tsr_sampler_list *list)
{
    add(list, "repetition_penalty", "penalty=1.1;last_n=64");
    add(list, "top_k", "k=40");
    add(list, "top_p", "p=0.95");
    add(list, "min_p", "p=0.05");
    add(list, "temperature", "temperature=0.8");
}

Test(chain, appends_dist_when_the_last_sampler_does_not_choose)
{
    tsr_sampler_list list = {0};
    add(&list, "top_k", "k=2");
    tsr_sampler_chain *chain = open_chain(&list, 4, 1);
    cr_assert_eq(tsr_sampler_chain_length(chain), 2);
    cr_assert_str_eq(tsr_sampler_chain_plugin(chain, 0)->name, "top_k");
    cr_assert_str_eq(tsr_sampler_chain_plugin(chain, 1)->name, "dist");
    const float logits[] = {0.0f, 5.0f, 4.9f, -3.0f};
    for (int i = 0; i < 50; i++) {
        int32_t token = sample(chain, logits);
        cr_assert(token == 1 || token == 2, "top_k 2 let %d through", token);
    }
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
}

Test(chain, ending_with_greedy_appends_nothing)
{
    tsr_sampler_list list = {0};
    add(&list, "temperature", "temperature=0.5");
    add(&list, "greedy", NULL);
    tsr_sampler_chain *chain = open_chain(&list, 4, 1);
    cr_assert_eq(tsr_sampler_chain_length(chain), 2);
    const float logits[] = {0.0f, 1.0f, 7.0f, 7.0f};
    cr_assert_eq(sample(chain, logits), 2);
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
}

Test(chain, refuses_a_choosing_sampler_before_the_end)
{
    tsr_sampler_list list = {0};
    add(&list, "greedy", NULL);
    add(&list, "top_k", NULL);
    tsr_sampler_chain_config config = {.n_vocab = 4, .seed = 1};
    tsr_sampler_chain *chain = NULL;
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_chain_open(reg, list.entries, list.n_entries, &config, &chain, &err),
                 TSR_ERR_INVALID);
    cr_assert_null(chain);
    cr_assert(strstr(err.message, "sampler #1 greedy chooses the token, so sampler #2 top_k "
                                  "after it would never run; put greedy last"),
              "%s", err.message);
    tsr_sampler_list_free(&list);
}

Test(chain, without_dist_on_the_search_path_is_refused_naming_what_exists)
{
    char dir[] = "/tmp/tsr-chain-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *names[] = {"sampler_top_k.so", "sampler_greedy.so"};
    char link[512], target[512];
    for (int i = 0; i < 2; i++) {
        snprintf(target, sizeof target, "%s/plugins/.libs/%s", test_builddir(), names[i]);
        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        cr_assert_eq(symlink(target, link), 0);
    }
    const char *dirs[] = {dir};
    tsr_registry *small;
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 1, &small, &err), TSR_OK, "%s", err.message);
    tsr_sampler_list list = {0};
    tsr_sampler_list_append(&list, tsr_registry_find(small, TSR_PLUGIN_SAMPLER, "top_k"), NULL,
                            &err);
    tsr_sampler_chain_config config = {.n_vocab = 4, .seed = 1};
    tsr_sampler_chain *chain = NULL;
    cr_assert_eq(tsr_sampler_chain_open(small, list.entries, list.n_entries, &config, &chain,
                                        &err),
                 TSR_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "so 'dist' is appended, but no sampler plugin of that name"),
              "%s", err.message);
    cr_assert(strstr(err.message, "top_k") && strstr(err.message, "greedy"), "%s", err.message);
    tsr_sampler_list_free(&list);
    tsr_registry_close(small);
    for (int i = 0; i < 2; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        unlink(link);
    }
    rmdir(dir);
}

Test(chain, prefixes_a_samplers_refusal_with_its_place_and_name)
{
    tsr_sampler_list list = {0};
    add(&list, "top_k", NULL);
    add(&list, "logit_bias", NULL);
    const char *keys[] = {"9"};
    const double values[] = {1.0};
    tsr_error err = {0};
    cr_assert_eq(tsr_param_set_map(&list.entries[1].params, 0, keys, values, 1, &err), TSR_OK);
    tsr_sampler_chain_config config = {.n_vocab = 4, .seed = 1};
    tsr_sampler_chain *chain = NULL;
    cr_assert_eq(tsr_sampler_chain_open(reg, list.entries, list.n_entries, &config, &chain, &err),
                 TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "sampler #2 logit_bias: bias: token id 9 is outside"), "%s",
              err.message);
    tsr_sampler_list_free(&list);
}

/* logits {2, 1, 0.5, 3, -1, 2.5}, p = softmax = {.166, .061, .037, .452,
 * .008, .274}. top_k 40 keeps all; top_p 0.95 keeps 3, 5, 0, 1 (sums .452,
 * .727, .893, .955); min_p 0.05 keeps all four (.061 >= .05 * .452);
 * temperature 0.8 makes the logits {3.75, 3.125, 2.5, 1.25}, and dist's
 * softmax of those is {.52525, .28115, .15049, .04312}. */
Test(chain, default_chain_leaves_the_hand_computed_distribution)
{
    const float logits[] = {2.0f, 1.0f, 0.5f, 3.0f, -1.0f, 2.5f};
    tsr_sampler_list list = {0};
    default_chain(&list);
    tsr_sampler_chain *chain = open_chain(&list, 6, 42);
    sample(chain, logits);
    const tsr_candidates *c = tsr_sampler_chain_candidates(chain);
    const int32_t tokens[] = {3, 5, 0, 1};
    const float p[] = {0.52525113f, 0.28114667f, 0.15048697f, 0.04311524f};
    assert_tokens(c, tokens, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(c->data[i].p, p[i], 1e-6, "p of token %d", tokens[i]);
    cr_assert_float_eq(c->data[0].logit, 3.75f, 1e-6);

    /* Token 3 in the window: its logit 3 becomes 3 / 1.1, the nucleus then
     * needs token 2 too (sums .386, .694, .880, .949, .991), and the final
     * distribution is softmax({3.409, 3.125, 2.5, 1.25, 0.625}). */
    tsr_sampler_chain_reset(chain);
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_chain_accept(chain, 3, &err), TSR_OK);
    sample(chain, logits);
    const int32_t tokens2[] = {3, 5, 0, 1, 2};
    const float p2[] = {0.42866872f, 0.32265818f, 0.17270648f, 0.04948123f, 0.0264854f};
    assert_tokens(c, tokens2, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(c->data[i].p, p2[i], 1e-6, "p of token %d", tokens2[i]);
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
}

Test(chain, accept_refuses_a_token_outside_the_vocabulary)
{
    tsr_sampler_list list = {0};
    default_chain(&list);
    tsr_sampler_chain *chain = open_chain(&list, 6, 42);
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_chain_accept(chain, 6, &err), TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "token 6 is outside the vocabulary of 6 tokens"), "%s",
              err.message);
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
}

/* ---- determinism ------------------------------------------------------- */

enum { VOCAB = 3000, STEPS = 200 };

/* Logits of step i: the same for every run (their own generator). */
static void step_logits(float *logits, int step)
{
    tsr_rng rng;
    tsr_rng_seed(&rng, 1000 + (uint64_t)step);
    for (int i = 0; i < VOCAB; i++)
        logits[i] = (float)(6.0 * tsr_rng_uniform(&rng) * tsr_rng_uniform(&rng));
}

/* Every sampler of the set in one chain, ending with mirostat when asked. */
static void every_sampler(tsr_sampler_list *list, bool mirostat)
{
    add(list, "logit_bias", NULL);
    add(list, "repetition_penalty", "penalty=1.1;last_n=64");
    add(list, "frequency_penalty", "penalty=0.1");
    add(list, "presence_penalty", "penalty=0.1");
    add(list, "dry", "multiplier=0.8");
    add(list, "top_n_sigma", "n=3");
    add(list, "top_k", "k=200");
    add(list, "typical_p", "p=0.99");
    add(list, "top_p", "p=0.98");
    add(list, "min_p", "p=0.01");
    add(list, "xtc", "probability=0.5;threshold=0.1");
    add(list, "temperature", "temperature=0.9;dynamic_range=0.3");
    if (mirostat)
        add(list, "mirostat", "version=2;tau=5");
}

static void run_steps(tsr_sampler_chain *chain, int32_t *tokens)
{
    static _Thread_local float logits[VOCAB];
    for (int i = 0; i < STEPS; i++) {
        step_logits(logits, i);
        tsr_error err = {0};
        tsr_status status = tsr_sampler_chain_sample(chain, logits, &tokens[i], &err);
        if (status != TSR_OK)
            tokens[i] = -1;
    }
}

Test(chain, same_seed_same_tokens_and_reset_starts_over)
{
    for (int mirostat = 0; mirostat < 2; mirostat++) {
        tsr_sampler_list list = {0};
        every_sampler(&list, mirostat);
        static int32_t first[STEPS], second[STEPS], again[STEPS], other[STEPS];
        tsr_sampler_chain *a = open_chain(&list, VOCAB, 42);
        tsr_sampler_chain *b = open_chain(&list, VOCAB, 42);
        tsr_sampler_chain *c = open_chain(&list, VOCAB, 43);
        run_steps(a, first);
        run_steps(b, second);
        run_steps(c, other);
        tsr_sampler_chain_reset(a);
        run_steps(a, again);
        for (int i = 0; i < STEPS; i++)
            cr_assert(first[i] >= 0 && first[i] < VOCAB, "step %d failed", i);
        cr_assert_arr_eq(first, second, sizeof first);
        cr_assert_arr_eq(first, again, sizeof first);
        cr_assert(memcmp(first, other, sizeof first) != 0, "seed 43 gave seed 42's tokens");
        tsr_sampler_chain_close(a);
        tsr_sampler_chain_close(b);
        tsr_sampler_chain_close(c);
        tsr_sampler_list_free(&list);
    }
}

typedef struct thread_run {
    const tsr_sampler_list *list;
    int32_t tokens[STEPS];
    tsr_status status;
} thread_run;

static void *run_in_thread(void *arg)
{
    thread_run *run = arg;
    tsr_sampler_chain_config config = {.n_vocab = VOCAB, .seed = 42};
    tsr_sampler_chain *chain = NULL;
    tsr_error err = {0};
    run->status = tsr_sampler_chain_open(reg, run->list->entries, run->list->n_entries, &config,
                                         &chain, &err);
    if (run->status == TSR_OK)
        run_steps(chain, run->tokens);
    tsr_sampler_chain_close(chain);
    return NULL;
}

/* Chains share nothing: four at once on four threads give what one alone
 * gives, so the thread count cannot change the text. */
Test(chain, chains_on_parallel_threads_give_the_serial_tokens)
{
    tsr_sampler_list list = {0};
    every_sampler(&list, false);
    static thread_run serial, parallel[4];
    serial.list = &list;
    run_in_thread(&serial);
    cr_assert_eq(serial.status, TSR_OK);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        parallel[i].list = &list;
        cr_assert_eq(pthread_create(&threads[i], NULL, run_in_thread, &parallel[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(parallel[i].status, TSR_OK);
        cr_assert_arr_eq(parallel[i].tokens, serial.tokens, sizeof serial.tokens, "thread %d",
                         i);
    }
    tsr_sampler_list_free(&list);
}

/* ---- overrides --------------------------------------------------------- */

static void override_ok(tsr_sampler_list *list, const char *sampler, const char *param,
                        const char *text, bool insert)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_list_override(list, reg, sampler, param, text, insert, &err), TSR_OK,
                 "%s", err.message);
}

static const char *name_at(const tsr_sampler_list *list, size_t i)
{
    return list->entries[i].plugin->name;
}

Test(chain, override_sets_the_entry_that_uses_the_sampler)
{
    tsr_sampler_list list = {0};
    default_chain(&list);
    override_ok(&list, "temperature", NULL, "0.3", true); /* --temp 0.3: the first parameter */
    override_ok(&list, "top_k", "k", "7", true);
    cr_assert_eq(list.n_entries, 5);
    cr_assert_float_eq(list.entries[4].params.values[0].number, 0.3, 1e-12);
    cr_assert_eq(list.entries[1].params.values[0].integer, 7);
    tsr_sampler_list_free(&list);
}

Test(chain, override_inserts_a_missing_sampler_before_the_final_choice)
{
    tsr_sampler_list list = {0};
    add(&list, "top_k", NULL);
    add(&list, "greedy", NULL);
    override_ok(&list, "temperature", NULL, "0.7", true);
    cr_assert_eq(list.n_entries, 3);
    cr_assert_str_eq(name_at(&list, 1), "temperature");
    cr_assert_str_eq(name_at(&list, 2), "greedy");
    cr_assert_float_eq(list.entries[1].params.values[0].number, 0.7, 1e-12);

    /* Without a final choice it goes last (dist follows once built). */
    tsr_sampler_list_free(&list);
    add(&list, "top_k", NULL);
    override_ok(&list, "min_p", NULL, "0.1", true);
    cr_assert_eq(list.n_entries, 2);
    cr_assert_str_eq(name_at(&list, 1), "min_p");
    tsr_sampler_list_free(&list);
}

Test(chain, override_of_a_choosing_sampler_replaces_the_final_choice)
{
    tsr_sampler_list list = {0};
    add(&list, "top_k", NULL);
    add(&list, "greedy", NULL);
    override_ok(&list, "mirostat", NULL, "2", true); /* --mirostat 2 */
    cr_assert_eq(list.n_entries, 2);
    cr_assert_str_eq(name_at(&list, 1), "mirostat");
    tsr_sampler_chain *chain = open_chain(&list, 4, 1);
    cr_assert_eq(tsr_sampler_chain_length(chain), 2);
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
}

Test(chain, override_without_insert_leaves_a_chain_lacking_the_sampler)
{
    tsr_sampler_list list = {0};
    add(&list, "top_k", NULL);
    override_ok(&list, "frequency_penalty", "last_n", "128", false);
    cr_assert_eq(list.n_entries, 1);
    tsr_sampler_list_free(&list);
}

Test(chain, override_refusals_name_what_is_known_and_change_nothing)
{
    tsr_sampler_list list = {0};
    default_chain(&list);
    tsr_error err = {0};
    cr_assert_eq(tsr_sampler_list_override(&list, reg, "tmep", NULL, "1", true, &err),
                 TSR_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "no sampler plugin called 'tmep'") &&
                  strstr(err.message, "temperature") && strstr(err.message, "top_k"),
              "%s", err.message);
    cr_assert_eq(tsr_sampler_list_override(&list, reg, "top_k", "kk", "1", true, &err),
                 TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "sampler top_k has no parameter 'kk'; its parameters: k"),
              "%s", err.message);
    cr_assert_eq(tsr_sampler_list_override(&list, reg, "top_p", NULL, "1.5", true, &err),
                 TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "top_p.p = 1.5 is out of range [0, 1]"), "%s", err.message);
    cr_assert_eq(tsr_sampler_list_override(&list, reg, "xtc", NULL, "lots", true, &err),
                 TSR_ERR_INVALID);
    cr_assert_eq(list.n_entries, 5, "a refused override added an entry");
    cr_assert_float_eq(list.entries[2].params.values[0].number, 0.95, 1e-12);
    tsr_sampler_list_free(&list);
}
