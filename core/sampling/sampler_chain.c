/* The sampler chain: entries in profile order, instances, one generator and
 * one candidates array, and the command-line overrides of its entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "rng.h"
#include "sampler_chain.h"

/* The sampler a chain that ends without a choice gets appended. */
#define APPENDED_SAMPLER "dist"

typedef struct chain_link {
    const tsr_plugin *plugin;
    const tsr_sampler_vtable *vtable;
    tsr_param_set params; /* the chain's own copy: instances point into it */
    void *state;
    bool created;
} chain_link;

struct tsr_sampler_chain {
    const tsr_host *host;
    tsr_rng rng;
    uint64_t seed;
    int32_t n_vocab;
    tsr_candidate *storage; /* n_vocab entries, filled by every sample() */
    tsr_candidates cands;
    chain_link *links;
    size_t n_links;
};

/* ---- the list the profile fills -------------------------------------- */

static bool list_reserve(tsr_sampler_list *list, size_t n, tsr_error *err)
{
    if (n <= list->cap_entries)
        return true;
    size_t cap = list->cap_entries ? list->cap_entries * 2 : 8;
    while (cap < n)
        cap *= 2;
    tsr_sampler_entry *bigger = realloc(list->entries, cap * sizeof *bigger);
    if (!bigger) {
        tsr_error_set(err, TSR_ERR_NOMEM, "out of memory building the sampler list");
        return false;
    }
    list->entries = bigger;
    list->cap_entries = cap;
    return true;
}

/* Inserts an entry with default parameters at position at. */
static tsr_status list_insert(tsr_sampler_list *list, size_t at, const tsr_plugin *plugin,
                              tsr_sampler_entry **entry, tsr_error *err)
{
    if (!list_reserve(list, list->n_entries + 1, err))
        return TSR_ERR_NOMEM;
    tsr_sampler_entry fresh = {.plugin = plugin};
    tsr_status status = tsr_param_set_init(&fresh.params, plugin, err);
    if (status != TSR_OK)
        return status;
    memmove(&list->entries[at + 1], &list->entries[at],
            (list->n_entries - at) * sizeof list->entries[0]);
    list->entries[at] = fresh;
    list->n_entries++;
    if (entry)
        *entry = &list->entries[at];
    return TSR_OK;
}

tsr_status tsr_sampler_list_append(tsr_sampler_list *list, const tsr_plugin *plugin,
                                   tsr_sampler_entry **entry, tsr_error *err)
{
    if (!tsr_plugin_sampler(plugin))
        return tsr_error_set(err, TSR_ERR_INVALID, "%s is a %s plugin, not a sampler",
                             plugin ? plugin->name : "(no plugin)",
                             plugin ? tsr_plugin_kind_name(plugin->kind) : "missing");
    return list_insert(list, list->n_entries, plugin, entry, err);
}

void tsr_sampler_list_free(tsr_sampler_list *list)
{
    for (size_t i = 0; i < list->n_entries; i++)
        tsr_param_set_free(&list->entries[i].params);
    free(list->entries);
    memset(list, 0, sizeof *list);
}

static bool chooses(const tsr_plugin *plugin)
{
    const tsr_sampler_vtable *vtable = tsr_plugin_sampler(plugin);
    return vtable && (vtable->flags & TSR_SAMPLER_CHOOSES);
}

/* "a, b, c": the names of the registry's sampler plugins. */
static void sampler_names(const tsr_registry *registry, char *buf, size_t buf_bytes)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tsr_registry_count(registry); i++) {
        const tsr_plugin *p = tsr_registry_get(registry, i);
        if (p->kind != TSR_PLUGIN_SAMPLER)
            continue;
        int n = snprintf(buf + used, buf_bytes - used, "%s%s", used ? ", " : "", p->name);
        if (n < 0 || (size_t)n >= buf_bytes - used)
            break;
        used += (size_t)n;
    }
}

static void param_names(const tsr_plugin *plugin, char *buf, size_t buf_bytes)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < plugin->n_params; i++) {
        int n = snprintf(buf + used, buf_bytes - used, "%s%s", i ? ", " : "",
                         plugin->params[i].name);
        if (n < 0 || (size_t)n >= buf_bytes - used)
            break;
        used += (size_t)n;
    }
    if (plugin->n_params == 0)
        snprintf(buf, buf_bytes, "none");
}

tsr_status tsr_sampler_list_override(tsr_sampler_list *list, const tsr_registry *registry,
                                     const char *sampler, const char *param, const char *text,
                                     bool insert, tsr_error *err)
{
    const tsr_plugin *plugin = tsr_registry_find(registry, TSR_PLUGIN_SAMPLER, sampler);
    if (!plugin) {
        char known[1024];
        sampler_names(registry, known, sizeof known);
        return tsr_error_set(err, TSR_ERR_NOT_FOUND,
                             "no sampler plugin called '%s' on the search path; known: %s",
                             sampler, known[0] ? known : "none");
    }
    int index = 0;
    if (param) {
        index = tsr_param_find(plugin, param);
    } else if (plugin->n_params == 0) {
        index = -1;
    }
    if (index < 0) {
        char known[1024];
        param_names(plugin, known, sizeof known);
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "sampler %s has no parameter '%s'; its parameters: %s", sampler,
                             param ? param : "(first)", known);
    }

    /* Parse once into a scratch set, so that a bad value changes nothing. */
    tsr_param_set scratch;
    tsr_status status = tsr_param_set_init(&scratch, plugin, err);
    if (status == TSR_OK)
        status = tsr_param_set_text(&scratch, index, text, err);
    tsr_param_set_free(&scratch);
    if (status != TSR_OK)
        return status;

    bool found = false;
    for (size_t i = 0; i < list->n_entries; i++) {
        tsr_sampler_entry *e = &list->entries[i];
        if (e->plugin != plugin)
            continue;
        found = true;
        if ((status = tsr_param_set_text(&e->params, index, text, err)) != TSR_OK)
            return status;
    }
    if (found || !insert)
        return TSR_OK;

    bool ends_with_choice =
        list->n_entries > 0 && chooses(list->entries[list->n_entries - 1].plugin);
    size_t at = ends_with_choice ? list->n_entries - 1 : list->n_entries;
    tsr_sampler_entry *entry;
    if ((status = list_insert(list, at, plugin, &entry, err)) != TSR_OK)
        return status;
    if ((status = tsr_param_set_text(&entry->params, index, text, err)) != TSR_OK)
        return status; /* cannot happen: the scratch set took the same value */
    if (chooses(plugin) && ends_with_choice) {
        /* A new choice replaces the old one, which now follows it. */
        tsr_param_set_free(&list->entries[at + 1].params);
        list->n_entries--;
    }
    return TSR_OK;
}

/* ---- the chain ------------------------------------------------------- */

void tsr_sampler_chain_close(tsr_sampler_chain *chain)
{
    if (!chain)
        return;
    for (size_t i = 0; i < chain->n_links; i++) {
        chain_link *link = &chain->links[i];
        if (link->created)
            link->vtable->destroy(link->state);
        tsr_param_set_free(&link->params);
    }
    free(chain->links);
    free(chain->storage);
    free(chain);
}

static tsr_status check_entries(const tsr_sampler_entry *entries, size_t n_entries,
                                tsr_error *err)
{
    for (size_t i = 0; i < n_entries; i++) {
        const tsr_plugin *plugin = entries[i].plugin;
        if (!plugin || !tsr_plugin_sampler(plugin))
            return tsr_error_set(err, TSR_ERR_INVALID, "sampler #%zu %s is not a sampler plugin",
                                 i + 1, plugin ? plugin->name : "(none)");
        if (entries[i].params.plugin != plugin)
            return tsr_error_set(err, TSR_ERR_INTERNAL,
                                 "sampler #%zu %s: its parameters belong to another plugin",
                                 i + 1, plugin->name);
        if (chooses(plugin) && i + 1 < n_entries)
            return tsr_error_set(err, TSR_ERR_INVALID,
                                 "sampler #%zu %s chooses the token, so sampler #%zu %s after it "
                                 "would never run; put %s last",
                                 i + 1, plugin->name, i + 2, entries[i + 1].plugin->name,
                                 plugin->name);
    }
    return TSR_OK;
}

static tsr_status add_link(tsr_sampler_chain *chain, const tsr_plugin *plugin,
                           const tsr_param_set *params, tsr_error *err)
{
    chain_link *link = &chain->links[chain->n_links];
    link->plugin = plugin;
    link->vtable = tsr_plugin_sampler(plugin);
    tsr_status status = params ? tsr_param_set_copy(&link->params, params, err)
                               : tsr_param_set_init(&link->params, plugin, err);
    if (status == TSR_OK)
        chain->n_links++;
    return status;
}

static tsr_status create_instances(tsr_sampler_chain *chain,
                                   const tsr_sampler_chain_config *config, tsr_error *err)
{
    const tsr_sampler_init init = {
        .struct_size = sizeof init,
        .n_vocab = config->n_vocab,
        .seed = config->seed,
        .rng = &chain->rng,
        .vocab = config->vocab,
        .max_seq_len = config->max_seq_len,
    };
    for (size_t i = 0; i < chain->n_links; i++) {
        chain_link *link = &chain->links[i];
        tsr_status status = link->vtable->create(chain->host, link->params.values, &init,
                                                 &link->state, err);
        if (status != TSR_OK) {
            tsr_error_prefix(err, "sampler #%zu %s", i + 1, link->plugin->name);
            return status;
        }
        link->created = true;
    }
    return TSR_OK;
}

tsr_status tsr_sampler_chain_open(const tsr_registry *registry, const tsr_sampler_entry *entries,
                                  size_t n_entries, const tsr_sampler_chain_config *config,
                                  tsr_sampler_chain **out, tsr_error *err)
{
    *out = NULL;
    if (config->n_vocab <= 0)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "a sampler chain needs a vocabulary of at least one token, not %d",
                             config->n_vocab);
    tsr_status status = check_entries(entries, n_entries, err);
    if (status != TSR_OK)
        return status;
    const tsr_plugin *appended = NULL;
    if (n_entries == 0 || !chooses(entries[n_entries - 1].plugin)) {
        appended = tsr_registry_find(registry, TSR_PLUGIN_SAMPLER, APPENDED_SAMPLER);
        if (!appended || !chooses(appended)) {
            char known[1024];
            sampler_names(registry, known, sizeof known);
            return tsr_error_set(
                err, TSR_ERR_NOT_FOUND,
                "the sampler chain ends without a sampler that chooses the token, so '%s' is "
                "appended, but %s; sampler plugins found: %s (end the chain with one that "
                "chooses, e.g. greedy, or add the plugin's folder to the search path)",
                APPENDED_SAMPLER,
                appended ? "that plugin does not choose a token"
                         : "no sampler plugin of that name is on the search path",
                known[0] ? known : "none");
        }
    }

    tsr_sampler_chain *chain = calloc(1, sizeof *chain);
    if (!chain)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory building the sampler chain");
    chain->host = config->host ? config->host : tsr_host_services();
    chain->seed = config->seed;
    chain->n_vocab = config->n_vocab;
    tsr_rng_seed(&chain->rng, config->seed);
    chain->links = calloc(n_entries + 1, sizeof *chain->links);
    chain->storage = malloc((size_t)config->n_vocab * sizeof *chain->storage);
    if (!chain->links || !chain->storage) {
        tsr_sampler_chain_close(chain);
        return tsr_error_set(err, TSR_ERR_NOMEM,
                             "out of memory for a sampler chain over %d tokens", config->n_vocab);
    }
    for (size_t i = 0; i < n_entries && status == TSR_OK; i++)
        status = add_link(chain, entries[i].plugin, &entries[i].params, err);
    if (status == TSR_OK && appended)
        status = add_link(chain, appended, NULL, err);
    if (status == TSR_OK)
        status = create_instances(chain, config, err);
    if (status != TSR_OK) {
        tsr_sampler_chain_close(chain);
        return status;
    }
    *out = chain;
    return TSR_OK;
}

/* The candidates from logits through links [0, n_links). */
static tsr_status apply_links(tsr_sampler_chain *chain, const float *logits, size_t n_links,
                              tsr_error *err)
{
    tsr_candidate *data = chain->storage;
    for (int32_t i = 0; i < chain->n_vocab; i++)
        data[i] = (tsr_candidate){.token = i, .logit = logits[i], .p = 0.0f};
    tsr_candidates *cands = &chain->cands;
    *cands = (tsr_candidates){
        .data = data, .size = (size_t)chain->n_vocab, .selected = -1, .sorted = false};

    for (size_t i = 0; i < n_links; i++) {
        chain_link *link = &chain->links[i];
        size_t before = cands->size;
        tsr_status status = link->vtable->apply(link->state, cands, err);
        if (status != TSR_OK) {
            tsr_error_prefix(err, "sampler #%zu %s", i + 1, link->plugin->name);
            return status;
        }
        /* The contract plugins promise, checked because a third party's
         * mistake must not become an out-of-bounds read here. */
        if (cands->data != data || cands->size > before || cands->size == 0)
            return tsr_error_set(err, TSR_ERR_INTERNAL,
                                 "sampler #%zu %s left %zu of %zu candidates%s", i + 1,
                                 link->plugin->name, cands->size, before,
                                 cands->data != data ? " and moved the array" : "");
    }
    return TSR_OK;
}

tsr_status tsr_sampler_chain_sample(tsr_sampler_chain *chain, const float *logits,
                                    int32_t *token, tsr_error *err)
{
    tsr_status status = apply_links(chain, logits, chain->n_links, err);
    if (status != TSR_OK)
        return status;
    const tsr_candidates *cands = &chain->cands;
    const chain_link *last = &chain->links[chain->n_links - 1];
    if (cands->selected < 0 || (size_t)cands->selected >= cands->size)
        return tsr_error_set(err, TSR_ERR_INTERNAL,
                             "sampler %s chooses the token but chose index %lld of %zu "
                             "candidates",
                             last->plugin->name, (long long)cands->selected, cands->size);
    *token = cands->data[cands->selected].token;
    for (size_t i = 0; i < chain->n_links; i++)
        if (chain->links[i].vtable->accept)
            chain->links[i].vtable->accept(chain->links[i].state, *token);
    return TSR_OK;
}

tsr_status tsr_sampler_chain_accept(tsr_sampler_chain *chain, int32_t token, tsr_error *err)
{
    if (token < 0 || token >= chain->n_vocab)
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "token %d is outside the vocabulary of %d tokens", token,
                             chain->n_vocab);
    for (size_t i = 0; i < chain->n_links; i++)
        if (chain->links[i].vtable->accept)
            chain->links[i].vtable->accept(chain->links[i].state, token);
    return TSR_OK;
}

bool tsr_sampler_chain_has_distribution(const tsr_sampler_chain *chain)
{
    return chain->n_links > 0 &&
           strcmp(chain->links[chain->n_links - 1].plugin->name, APPENDED_SAMPLER) == 0;
}

tsr_status tsr_sampler_chain_distribution(tsr_sampler_chain *chain, const float *logits,
                                          float *p, tsr_error *err)
{
    if (!tsr_sampler_chain_has_distribution(chain))
        return tsr_error_set(err, TSR_ERR_INTERNAL, "the sampler chain does not end in %s: "
                             "no distribution to verify drafts against", APPENDED_SAMPLER);
    tsr_status status = apply_links(chain, logits, chain->n_links - 1, err);
    if (status != TSR_OK)
        return status;
    tsr_candidates *cands = &chain->cands;
    chain->host->candidates_softmax(cands);
    memset(p, 0, (size_t)chain->n_vocab * sizeof *p);
    for (size_t i = 0; i < cands->size; i++)
        p[cands->data[i].token] = cands->data[i].p;
    return TSR_OK;
}

tsr_rng *tsr_sampler_chain_rng(tsr_sampler_chain *chain)
{
    return &chain->rng;
}

void tsr_sampler_chain_reset(tsr_sampler_chain *chain)
{
    tsr_rng_seed(&chain->rng, chain->seed);
    for (size_t i = 0; i < chain->n_links; i++)
        if (chain->links[i].vtable->reset)
            chain->links[i].vtable->reset(chain->links[i].state);
}

size_t tsr_sampler_chain_length(const tsr_sampler_chain *chain)
{
    return chain->n_links;
}

const tsr_plugin *tsr_sampler_chain_plugin(const tsr_sampler_chain *chain, size_t index)
{
    return index < chain->n_links ? chain->links[index].plugin : NULL;
}

const tsr_candidates *tsr_sampler_chain_candidates(const tsr_sampler_chain *chain)
{
    return &chain->cands;
}
