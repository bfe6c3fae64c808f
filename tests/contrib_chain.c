/* Runs sampler chains that use the contrib example plugin, loaded from the
 * folder given as argv[1] (its out-of-tree build) beside the build tree's
 * plugins, and checks what they leave. Called by tests/contrib-example.sh;
 * exits 0 when every check holds, 1 with a line on stderr for each that
 * does not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_chain.h"
#include "testutil.h"

static int failures;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "contrib_chain: " __VA_ARGS__);                                   \
            fputc('\n', stderr);                                                              \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

/* p = {0.5, 0.3, 0.15, 0.05}: entropy H = 1.14212 nats. */
static const float logits[] = {-0.6931472f, -1.2039728f, -1.8971200f, -2.9957323f};

/* Runs [name(settings), dist] 500 times, settings "param=value;...", set as
 * the command line would; checks that every drawn token and the candidates
 * the last step left are keep[0..n_keep), in that order. */
static void run_chain(const tsr_registry *reg, const char *name, const char *settings,
                      const int32_t *keep, size_t n_keep)
{
    tsr_sampler_list list = {0};
    tsr_error err = {0};
    char copy[256];
    snprintf(copy, sizeof copy, "%s", settings);
    for (char *save = NULL, *item = strtok_r(copy, ";", &save); item;
         item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        *eq = '\0';
        if (tsr_sampler_list_override(&list, reg, name, item, eq + 1, true, &err) != TSR_OK) {
            CHECK(false, "%s", err.message);
            tsr_sampler_list_free(&list);
            return;
        }
    }
    tsr_sampler_chain_config config = {.n_vocab = 4, .seed = 42};
    tsr_sampler_chain *chain = NULL;
    if (tsr_sampler_chain_open(reg, list.entries, list.n_entries, &config, &chain, &err) !=
        TSR_OK) {
        CHECK(false, "%s", err.message);
        tsr_sampler_list_free(&list);
        return;
    }
    CHECK(tsr_sampler_chain_length(chain) == 2 &&
              strcmp(tsr_sampler_chain_plugin(chain, 1)->name, "dist") == 0,
          "%s: dist was not appended", name);
    for (int i = 0; i < 500; i++) {
        int32_t token = -1;
        if (tsr_sampler_chain_sample(chain, logits, &token, &err) != TSR_OK) {
            CHECK(false, "%s", err.message);
            break;
        }
        bool allowed = false;
        for (size_t k = 0; k < n_keep; k++)
            allowed = allowed || token == keep[k];
        CHECK(allowed, "%s %s drew token %d", name, settings, token);
    }
    const tsr_candidates *c = tsr_sampler_chain_candidates(chain);
    CHECK(c->size == n_keep, "%s %s left %zu candidates, expected %zu", name, settings, c->size,
          n_keep);
    for (size_t k = 0; k < n_keep && k < c->size; k++)
        CHECK(c->data[k].token == keep[k], "%s: position %zu holds %d, expected %d", name, k,
              c->data[k].token, keep[k]);
    tsr_sampler_chain_close(chain);
    tsr_sampler_list_free(&list);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: contrib_chain EXAMPLE_PLUGIN_DIR\n");
        return 2;
    }
    const char *dirs[] = {argv[1], test_path(test_builddir(), "plugins/.libs")};
    tsr_registry *reg = NULL;
    tsr_error err = {0};
    if (tsr_registry_open(dirs, 2, &reg, &err) != TSR_OK) {
        fprintf(stderr, "contrib_chain: %s\n", err.message);
        return 1;
    }
    const tsr_plugin *eta = tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, "eta_cutoff");
    char *dir = realpath(argv[1], NULL);
    CHECK(eta && dir && strncmp(eta->path, dir, strlen(dir)) == 0,
          "eta_cutoff is not loaded from %s (%s)", argv[1], eta ? eta->path : "not at all");
    free(dir);
    CHECK(tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, "epsilon_cutoff"),
          "epsilon_cutoff is not loaded");

    /* epsilon 0.4 keeps p >= 0.4: token 0 alone. */
    const int32_t first[] = {0};
    run_chain(reg, "epsilon_cutoff", "epsilon=0.4", first, 1);
    /* epsilon 0.1 keeps 0.5, 0.3, 0.15. */
    const int32_t three[] = {0, 1, 2};
    run_chain(reg, "epsilon_cutoff", "epsilon=0.1", three, 3);
    /* eta 0.4: floor min(0.4, sqrt(0.4) * exp(-1.14212)) = 0.20184: 0.5, 0.3. */
    const int32_t two[] = {0, 1};
    run_chain(reg, "eta_cutoff", "eta=0.4", two, 2);
    /* eta 0.2: floor min(0.2, 0.14272) = 0.14272: 0.5, 0.3, 0.15. */
    run_chain(reg, "eta_cutoff", "eta=0.2", three, 3);
    /* A floor above everything still keeps the min_keep most likely. */
    run_chain(reg, "epsilon_cutoff", "epsilon=0.9;min_keep=2", two, 2);
    tsr_registry_close(reg);
    if (failures == 0)
        printf("contrib_chain: every check holds\n");
    return failures ? 1 : 0;
}
