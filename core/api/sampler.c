/* Per-sequence sampler chains over a deployment's sampler plugins. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* The list a chain is built from: the names given, else the profile's. */
static tsr_status fill_list(const tsr_deployment *d, const char *const *names, size_t n_names,
                            tsr_sampler_list *list, tsr_error *err)
{
    tsr_status s = TSR_OK;
    for (size_t i = 0; s == TSR_OK && i < n_names; i++) {
        const tsr_plugin *p = names[i] ? tsr_registry_find(d->registry, TSR_PLUGIN_SAMPLER,
                                                            names[i])
                                       : NULL;
        s = p ? tsr_sampler_list_append(list, p, NULL, err)
              : tsr_error_set(err, TSR_ERR_NOT_FOUND, "no sampler plugin '%s' is loaded "
                              "(`tessera plugins` lists them)", names[i] ? names[i] : "(null)");
    }
    const tsr_profile *profile = d->profile;
    for (size_t i = 0; s == TSR_OK && n_names == 0 && i < profile->n_sampler; i++) {
        tsr_sampler_entry *entry;
        s = tsr_sampler_list_append(list, profile->sampler[i].plugin, &entry, err);
        if (s == TSR_OK) {
            tsr_param_set_free(&entry->params);
            s = tsr_param_set_copy(&entry->params, &profile->sampler[i].params, err);
        }
    }
    return s;
}

tsr_status tsr_sampler_open(const tsr_deployment *d, const char *const *names, size_t n_names,
                            const tsr_sampler_setting *settings, size_t n_settings,
                            uint64_t seed, tsr_sampler **out, tsr_error *err)
{
    *out = NULL;
    tsr_sampler_list list = {0};
    tsr_status s = fill_list(d, names, n_names, &list, err);
    for (size_t i = 0; s == TSR_OK && i < n_settings; i++) {
        const tsr_sampler_setting *set = &settings[i];
        if (!set->sampler || !set->value)
            s = tsr_error_set(err, TSR_ERR_INVALID, "sampler setting %zu has no %s", i,
                              set->sampler ? "value" : "sampler name");
        else
            s = tsr_sampler_list_override(&list, d->registry, set->sampler, set->param,
                                          set->value, !set->if_present, err);
    }
    tsr_sampler *sampler = NULL;
    if (s == TSR_OK && !(sampler = calloc(1, sizeof *sampler)))
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK) {
        tsr_sampler_chain_config config = {
            .n_vocab = (int32_t)tsr_model_config(d->model)->n_vocab,
            .seed = seed,
            .max_seq_len = (int32_t)tsr_model_max_seq_len(d->model),
            .vocab = d->tokenizer,
        };
        sampler->deployment = d;
        s = tsr_sampler_chain_open(d->registry, list.entries, list.n_entries, &config,
                                   &sampler->chain, err);
    }
    tsr_sampler_list_free(&list);
    if (s != TSR_OK) {
        free(sampler);
        return s;
    }
    *out = sampler;
    return TSR_OK;
}

void tsr_sampler_close(tsr_sampler *s)
{
    if (!s)
        return;
    tsr_sampler_chain_close(s->chain);
    free(s);
}

tsr_status tsr_sample(tsr_sampler *s, const tsr_context *ctx, int32_t i, tsr_token *token,
                      tsr_error *err)
{
    const float *logits = tsr_logits(ctx, i);
    if (!logits)
        return tsr_error_set(err, TSR_ERR_INVALID, "sample: batch row %d of the last decode "
                             "was not an output", i);
    return tsr_sampler_chain_sample(s->chain, logits, token, err);
}

tsr_status tsr_sample_logits(tsr_sampler *s, const float *logits, tsr_token *token,
                             tsr_error *err)
{
    if (!logits)
        return tsr_error_set(err, TSR_ERR_INVALID, "sample: no logits given");
    return tsr_sampler_chain_sample(s->chain, logits, token, err);
}

tsr_status tsr_sampler_accept(tsr_sampler *s, tsr_token token, tsr_error *err)
{
    return tsr_sampler_chain_accept(s->chain, token, err);
}

void tsr_sampler_reset(tsr_sampler *s)
{
    tsr_sampler_chain_reset(s->chain);
}
