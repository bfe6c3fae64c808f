/* The sampler chain: the profile's `sampler:` list, applied in order to the
 * candidates of one decode step, ending in a choice.
 *
 * A chain is built from entries (a sampler plugin and its validated
 * parameters, as the profile reader makes them), owns one instance of each
 * sampler, the sequence's seeded generator (shared by every sampler that
 * draws) and a candidates array of n_vocab entries allocated once. Each
 * sample() fills that array from the logits, applies every sampler, reads the
 * choice and tells every sampler which token was chosen; it allocates nothing.
 *
 * Rules:
 * - A chain whose last entry does not choose (TSR_SAMPLER_CHOOSES) gets the
 *   sampler plugin named `dist` appended, which draws from what is left.
 * - A choosing sampler ends the chain: one that is not the last entry is
 *   refused, since the entries after it could never run.
 * - Same registry, entries, seed and logits: the same tokens, on every run and
 *   machine. A chain is one sequence's: not thread-safe; chains are
 *   independent of one another (no global state), so each thread may run its
 *   own.
 */
#ifndef TSR_CORE_SAMPLER_CHAIN_H
#define TSR_CORE_SAMPLER_CHAIN_H

#include "params.h"
#include "tessera/tessera.h"

/* One entry of the profile's sampler list. */
typedef struct tsr_sampler_entry {
    const tsr_plugin *plugin; /* a sampler plugin of the registry the chain is built from */
    tsr_param_set params;     /* its values; params.plugin == plugin */
} tsr_sampler_entry;

/* A growable list of entries: what the profile reader fills and the command
 * line then overrides. */
typedef struct tsr_sampler_list {
    tsr_sampler_entry *entries;
    size_t n_entries, cap_entries;
} tsr_sampler_list;

/* Appends an entry for plugin with every parameter at its default and, when
 * entry is non-NULL, points *entry at it (valid until the list next grows). */
tsr_status tsr_sampler_list_append(tsr_sampler_list *list, const tsr_plugin *plugin,
                                   tsr_sampler_entry **entry, tsr_error *err);
/* Frees every entry's parameters and the list; leaves it empty. */
void tsr_sampler_list_free(tsr_sampler_list *list);

/* A command-line override, as llama.cpp users expect of `--temp 0.7`: sets
 * parameter param (NULL: the plugin's first declared parameter, the one
 * `name: SCALAR` sets) of every entry using the sampler plugin called
 * sampler, parsing text as tsr_param_set_text does ("0.7", "true", "a,b").
 *
 * When no entry uses that plugin and insert is true, one is added with its
 * defaults and this value:
 *   - a sampler that does not choose goes just before the list's final
 *     choosing entry, or at the end when the list has none (where `dist`
 *     follows it once the chain is built);
 *   - a choosing sampler (mirostat) replaces the final choosing entry, or
 *     goes at the end.
 * When insert is false (e.g. a window length shared by several penalties) a
 * list without the sampler is left as it is.
 *
 * Errors name the sampler and, for an unknown one, list the sampler plugins
 * the registry has; for an unknown parameter, the plugin's parameters; for a
 * bad value, the range or type expected. On error the list is unchanged. */
tsr_status tsr_sampler_list_override(tsr_sampler_list *list, const tsr_registry *registry,
                                     const char *sampler, const char *param, const char *text,
                                     bool insert, tsr_error *err);

typedef struct tsr_sampler_chain tsr_sampler_chain;

typedef struct tsr_sampler_chain_config {
    int32_t n_vocab;          /* length of every logits array; > 0 */
    uint64_t seed;            /* seeds the chain's generator, once (and again on reset) */
    int32_t max_seq_len;      /* the sequence's context length; 0 when unknown */
    const tsr_vocab *vocab;   /* the model's vocabulary; NULL without a model */
    const tsr_host *host;     /* NULL: tsr_host_services(); tests lend one with a fake vocab */
} tsr_sampler_chain_config;

/* Builds a chain: checks every entry, copies its parameters, appends `dist`
 * when the last entry does not choose, and creates each sampler's instance.
 * Errors: an entry that is not a sampler plugin, a choosing sampler before
 * the end, no `dist` on the search path when one is needed, or a sampler's
 * own refusal (prefixed with "sampler #i NAME"). Setup; allocates. */
tsr_status tsr_sampler_chain_open(const tsr_registry *registry, const tsr_sampler_entry *entries,
                                  size_t n_entries, const tsr_sampler_chain_config *config,
                                  tsr_sampler_chain **out, tsr_error *err);
/* Destroys every instance and frees the chain. NULL is fine. */
void tsr_sampler_chain_close(tsr_sampler_chain *chain);

/* One decode step: candidates from logits (n_vocab floats), every sampler in
 * order, the choice into *token, then accept(token) on every sampler. Errors
 * come from a sampler (e.g. one that left no candidates) and leave the
 * samplers' history untouched. Hot: allocates nothing. */
tsr_status tsr_sampler_chain_sample(tsr_sampler_chain *chain, const float *logits,
                                    int32_t *token, tsr_error *err);

/* Tells every sampler about a token the chain did not choose (the prompt,
 * a token forced by the caller), so penalties see it. TSR_ERR_INVALID for a
 * token outside [0, n_vocab). Hot. */
tsr_status tsr_sampler_chain_accept(tsr_sampler_chain *chain, int32_t token, tsr_error *err);

/* Speculative verification's stochastic rule (core/api/speculate.h) needs
 * the distribution the chain draws from rather than a draw. Defined when
 * the chain ends in `dist`, which draws from softmax(logit) of what the
 * samplers before it left: then true. (greedy and mirostat: false.) */
bool tsr_sampler_chain_has_distribution(const tsr_sampler_chain *chain);
/* That distribution for logits (n_vocab floats) into p (n_vocab floats,
 * zero for every token the samplers removed), by the same samplers as
 * sample() but the final draw, so that samplers which draw (xtc) draw
 * from the same generator. Nothing is accepted: the caller chooses the
 * token and tells the chain with accept(). Requires
 * tsr_sampler_chain_has_distribution. Hot: allocates nothing. */
tsr_status tsr_sampler_chain_distribution(tsr_sampler_chain *chain, const float *logits,
                                          float *p, tsr_error *err);
/* The chain's seeded generator: one stream for the sequence. */
tsr_rng *tsr_sampler_chain_rng(tsr_sampler_chain *chain);

/* A new request: every sampler forgets its history (penalty windows,
 * mirostat's mu) and the generator is seeded again with the same seed, so
 * the chain then behaves as a freshly opened one. Setup. */
void tsr_sampler_chain_reset(tsr_sampler_chain *chain);

/* The samplers the chain runs, in order, `dist` included when appended. */
size_t tsr_sampler_chain_length(const tsr_sampler_chain *chain);
const tsr_plugin *tsr_sampler_chain_plugin(const tsr_sampler_chain *chain, size_t index);

/* The candidates as the last sample() left them: what survived every sampler,
 * their final logits and, where the last sampler computed them, probabilities;
 * selected is the chosen index. Valid until the next sample(). */
const tsr_candidates *tsr_sampler_chain_candidates(const tsr_sampler_chain *chain);

#endif
