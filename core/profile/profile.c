/* Reading a deployment profile (PROFILE.md, version 1): YAML to a typed
 * struct, defaults first, every problem collected with its place. Checking
 * it against the plugins is profile_validate.c; writing it back is
 * profile_yaml.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile.h"
#include "profile_internal.h"
#include "text_input.h"
#include "units.h"

const char *const tsr_profile_default_sampler_yaml =
    "[repetition_penalty: {penalty: 1.1, last_n: 64}, top_k: 40, top_p: 0.95, min_p: 0.05, "
    "temperature: 0.8]";

/* The keys of each section, for unknown-key messages. */
static const char *const top_keys[] = {"version", "model",   "draft",   "speculative", "devices",
                                       "sampler", "plugins", "threads", "seed",        "server",
                                       "dist"};
static const char *const model_keys[] = {"path", "max_seq_len", "cache_type", "quantize"};
static const char *const speculative_keys[] = {"strategy", "tokens", "options"};
static const char *const devices_keys[] = {"allocator", "options", "sim", "split", "reserve",
                                           "overhead"};
static const char *const plugins_keys[] = {"path"};
static const char *const server_keys[] = {"host",  "port",    "parallel",
                                          "queue", "api_key", "model_name", "max_body"};
static const char *const dist_keys[] = {"layers", "activations", "in_flight", "timeout"};
#define N_OF(array) (sizeof array / sizeof array[0])

static const struct {
    const char *name;
    const char *const *keys;
    size_t n_keys;
} sections[] = {
    {"model", model_keys, N_OF(model_keys)},
    {"draft", model_keys, N_OF(model_keys)},
    {"speculative", speculative_keys, N_OF(speculative_keys)},
    {"devices", devices_keys, N_OF(devices_keys)},
    {"plugins", plugins_keys, N_OF(plugins_keys)},
    {"server", server_keys, N_OF(server_keys)},
    {"dist", dist_keys, N_OF(dist_keys)},
};

#define ERROR_AT(c, node, ...)                                                                     \
    tsr_profile_report(c, TSR_SEVERITY_ERROR, tsr_profile_loc_of(node), __VA_ARGS__)

/* Reports every key of mapping that is not in known[]. */
static void check_keys(tsr_profile_checker *c, const tsr_yaml_node *mapping, const char *section,
                       const char *const *known, size_t n_known)
{
    for (size_t i = 0; i < mapping->n_items; i++) {
        const tsr_yaml_node *key = mapping->keys[i];
        bool found = false;
        for (size_t k = 0; k < n_known && !found; k++)
            found = strcmp(key->text, known[k]) == 0 && key->length == strlen(known[k]);
        if (found)
            continue;
        char shown[TSR_DIAG_QUOTE_BYTES], list[512];
        tsr_diag_quote(key->text, key->length, shown, sizeof shown);
        char where[64] = "";
        if (section)
            snprintf(where, sizeof where, " in %s", section);
        const char *near = tsr_nearest_name(key->text, known, n_known);
        if (near) {
            ERROR_AT(c, key, "unknown key '%s'%s; did you mean '%s'?", shown, where, near);
            continue;
        }
        /* A key written at the wrong level: say where it belongs. */
        const char *home = NULL;
        for (size_t s = 0; s < N_OF(sections) && !home && !section; s++)
            for (size_t k = 0; k < sections[s].n_keys && !home; k++)
                if (strcmp(key->text, sections[s].keys[k]) == 0)
                    home = sections[s].name;
        tsr_profile_join(known, n_known, list, sizeof list);
        if (home)
            ERROR_AT(c, key, "unknown key '%s'; did you mean '%s.%s'? (it belongs under %s:)",
                     shown, home, shown, home);
        else
            ERROR_AT(c, key, "unknown key '%s'%s (known: %s)", shown, where, list);
    }
}

/* The value of a section: a mapping, or NULL when absent, null or wrong
 * (reported). */
static const tsr_yaml_node *section_of(tsr_profile_checker *c, const tsr_yaml_node *node,
                                       const char *name, const char *example)
{
    if (tsr_yaml_is_null(node))
        return NULL;
    if (node->kind != TSR_YAML_MAPPING) {
        char shown[TSR_DIAG_QUOTE_BYTES + 8];
        ERROR_AT(c, node, "%s must be a mapping such as %s, not %s", name, example,
                 tsr_profile_shown(node, shown, sizeof shown));
        return NULL;
    }
    return node;
}

/* ---- sections ----------------------------------------------------------- */

static void read_model(tsr_profile_checker *c, const tsr_yaml_node *key, const tsr_yaml_node *value,
                       tsr_profile_model *m, const char *name)
{
    const tsr_yaml_node *section = section_of(c, value, name, "{path: model.gguf}");
    if (!section)
        return;
    m->loc = tsr_profile_loc_of(key);
    check_keys(c, section, name, model_keys, N_OF(model_keys));
    char qualified[64];
    const tsr_yaml_node *node, *node_key;

    snprintf(qualified, sizeof qualified, "%s.path", name);
    node = tsr_yaml_get(section, "path", &node_key);
    const char *path = tsr_profile_string(c, node, qualified);
    if (path) {
        m->path_as_written = strdup(path);
        m->path = tsr_profile_resolve_path(path, c->profile->dir);
        m->path_loc = tsr_profile_loc_of(node);
        if (!m->path || !m->path_as_written)
            c->out_of_memory = true;
        else
            tsr_profile_check_model_file(c, m, qualified, node);
    } else if (tsr_yaml_is_null(node)) {
        ERROR_AT(c, node_key ? node_key : key,
                 "%s.path is required: a .gguf file, or a folder with config.json and "
                 "*.safetensors",
                 name);
    }

    snprintf(qualified, sizeof qualified, "%s.max_seq_len", name);
    node = tsr_yaml_get(section, "max_seq_len", NULL);
    if (!tsr_yaml_is_null(node) && !tsr_profile_is_word(node, "auto"))
        tsr_profile_set_uint32(c, node, qualified, 1, TSR_PROFILE_MAX_SEQ_LEN, &m->max_seq_len,
                               &m->max_seq_len_loc);
    snprintf(qualified, sizeof qualified, "%s.cache_type", name);
    tsr_profile_set_string(c, tsr_yaml_get(section, "cache_type", NULL), qualified, &m->cache_type,
                           &m->cache_type_loc);
    snprintf(qualified, sizeof qualified, "%s.quantize", name);
    tsr_profile_set_string(c, tsr_yaml_get(section, "quantize", NULL), qualified, &m->quantize,
                           &m->quantize_loc);
}

static void read_speculative(tsr_profile_checker *c, const tsr_yaml_node *key,
                             const tsr_yaml_node *value)
{
    tsr_profile_speculative *s = &c->profile->speculative;
    const tsr_yaml_node *section =
        section_of(c, value, "speculative", "{strategy: draft-model, tokens: 5}");
    if (!section)
        return;
    c->profile->has_speculative = true;
    s->loc = tsr_profile_loc_of(key);
    check_keys(c, section, "speculative", speculative_keys, N_OF(speculative_keys));
    tsr_profile_set_string(c, tsr_yaml_get(section, "strategy", NULL), "speculative.strategy",
                           &s->strategy, &s->strategy_loc);
    tsr_profile_set_uint32(c, tsr_yaml_get(section, "tokens", NULL), "speculative.tokens", 1,
                           TSR_PROFILE_MAX_SPEC_TOKENS, &s->tokens, &s->tokens_loc);
    const tsr_yaml_node *options = tsr_yaml_get(section, "options", NULL);
    if (tsr_yaml_is_null(options))
        return;
    if (options->kind != TSR_YAML_MAPPING) {
        char shown[TSR_DIAG_QUOTE_BYTES + 8];
        ERROR_AT(c, options,
                 "speculative.options must be a mapping of the strategy's parameters, not %s",
                 tsr_profile_shown(options, shown, sizeof shown));
        return;
    }
    s->options = (tsr_yaml_node *)options;
    s->options_loc = tsr_profile_loc_of(options);
}

static void read_devices(tsr_profile_checker *c, const tsr_yaml_node *key,
                         const tsr_yaml_node *value)
{
    tsr_profile_devices *d = &c->profile->devices;
    const tsr_yaml_node *section = section_of(c, value, "devices", "{allocator: host}");
    if (!section)
        return;
    d->loc = tsr_profile_loc_of(key);
    check_keys(c, section, "devices", devices_keys, N_OF(devices_keys));
    tsr_profile_set_string(c, tsr_yaml_get(section, "allocator", NULL), "devices.allocator",
                           &d->allocator, &d->allocator_loc);
    const tsr_yaml_node *node = tsr_yaml_get(section, "options", NULL);
    if (!tsr_yaml_is_null(node) && node->kind != TSR_YAML_MAPPING) {
        char shown[TSR_DIAG_QUOTE_BYTES + 8];
        ERROR_AT(c, node,
                 "devices.options must be a mapping of the allocator's parameters, not %s",
                 tsr_profile_shown(node, shown, sizeof shown));
    } else if (!tsr_yaml_is_null(node)) {
        d->options = (tsr_yaml_node *)node;
        d->options_loc = tsr_profile_loc_of(node);
    }
    node = tsr_yaml_get(section, "sim", NULL);
    if (!tsr_yaml_is_null(node))
        tsr_profile_set_size_list(c, node, "devices.sim", 0, &d->sim_bytes, &d->n_sim, &d->sim_locs,
                                  &d->sim_loc);
    node = tsr_yaml_get(section, "split", NULL);
    if (tsr_profile_is_word(node, "auto")) {
        d->split_loc = tsr_profile_loc_of(node);
    } else if (!tsr_yaml_is_null(node)) {
        tsr_profile_set_size_list(c, node, "devices.split", TSR_GIB, &d->split_bytes, &d->n_split,
                                  &d->split_locs, &d->split_loc);
        d->split_auto = d->n_split == 0;
    }
    node = tsr_yaml_get(section, "reserve", NULL);
    if (!tsr_yaml_is_null(node) &&
        tsr_profile_size(c, node, "devices.reserve", 0, &d->reserve_bytes))
        d->reserve_loc = tsr_profile_loc_of(node);
    node = tsr_yaml_get(section, "overhead", NULL);
    if (tsr_profile_is_word(node, "auto")) {
        d->overhead_loc = tsr_profile_loc_of(node);
    } else if (!tsr_yaml_is_null(node) &&
               tsr_profile_size(c, node, "devices.overhead", 0, &d->overhead_bytes)) {
        d->overhead_auto = false;
        d->overhead_loc = tsr_profile_loc_of(node);
    }
}

/* One chain entry: `name`, `name: VALUE` or `name: {params}`. */
static void read_sampler_entry(tsr_profile_checker *c, const tsr_yaml_node *item,
                               tsr_profile_sampler *entry, bool *good)
{
    char shown[TSR_DIAG_QUOTE_BYTES + 8];
    const tsr_yaml_node *name = item, *args = NULL;
    if (item->kind == TSR_YAML_MAPPING) {
        if (item->n_items != 1) {
            char list[256] = "";
            const char *names[8];
            size_t n = item->n_items < 8 ? item->n_items : 8;
            for (size_t i = 0; i < n; i++)
                names[i] = item->keys[i]->text;
            tsr_profile_join(names, n, list, sizeof list);
            ERROR_AT(c, item,
                     "each sampler entry is one `name: parameters` pair; this one has %zu%s%s%s: "
                     "write one entry per sampler",
                     item->n_items, n ? " (" : "", list, n ? ")" : "");
            *good = false;
            return;
        }
        name = item->keys[0];
        args = tsr_yaml_is_null(item->items[0]) ? NULL : item->items[0];
    } else if (item->kind != TSR_YAML_SCALAR || tsr_yaml_is_null(item)) {
        ERROR_AT(c, item, "a sampler entry must be `name` or `name: parameters`, not %s",
                 tsr_profile_shown(item, shown, sizeof shown));
        *good = false;
        return;
    }
    const char *text = tsr_profile_string(c, name, "a sampler's name");
    if (!text) {
        *good = false;
        return;
    }
    if (!(entry->name = strdup(text)))
        c->out_of_memory = true;
    entry->loc = tsr_profile_loc_of(name);
    entry->args = (tsr_yaml_node *)args;
}

/* key is NULL for the default chain. */
static void read_sampler(tsr_profile_checker *c, const tsr_yaml_node *key,
                         const tsr_yaml_node *value)
{
    tsr_profile *p = c->profile;
    if (value->kind != TSR_YAML_SEQUENCE) {
        char shown[TSR_DIAG_QUOTE_BYTES + 8];
        ERROR_AT(c, value,
                 "sampler must be a list of samplers, e.g. [top_k: 40, temperature: 0.8], not %s",
                 tsr_profile_shown(value, shown, sizeof shown));
        return;
    }
    tsr_profile_sampler *chain = calloc(value->n_items + 1, sizeof *chain);
    if (!chain) {
        c->out_of_memory = true;
        return;
    }
    /* Bad entries are reported and left out; the good ones stay, so that
     * validation still finds their problems. */
    bool good = true;
    size_t n = 0;
    for (size_t i = 0; i < value->n_items; i++) {
        read_sampler_entry(c, value->items[i], &chain[n], &good);
        n += chain[n].name != NULL;
    }
    tsr_profile_free_sampler(p);
    p->sampler = chain;
    p->n_sampler = n;
    p->sampler_loc = tsr_profile_loc_of(key);
}

/* A value that is one item or a sequence of them (plugins.path,
 * server.api_key): *items points at them; returns their count. */
static size_t items_of(const tsr_yaml_node *const *node, const tsr_yaml_node *const **items)
{
    if ((*node)->kind != TSR_YAML_SEQUENCE) {
        *items = node;
        return 1;
    }
    *items = (const tsr_yaml_node *const *)(*node)->items;
    return (*node)->n_items;
}

static void read_plugins(tsr_profile_checker *c, const tsr_yaml_node *key,
                         const tsr_yaml_node *value)
{
    tsr_profile *p = c->profile;
    const tsr_yaml_node *section = section_of(c, value, "plugins", "{path: [plugins]}");
    if (!section)
        return;
    check_keys(c, section, "plugins", plugins_keys, N_OF(plugins_keys));
    const tsr_yaml_node *node = tsr_yaml_get(section, "path", NULL);
    if (tsr_yaml_is_null(node))
        return;
    const tsr_yaml_node *const *items;
    size_t n = items_of(&node, &items);
    char **dirs = calloc(n + 1, sizeof *dirs);
    if (!dirs) {
        c->out_of_memory = true;
        return;
    }
    bool good = true;
    for (size_t i = 0; i < n; i++) {
        const char *text = tsr_profile_string(c, items[i], "plugins.path");
        if (!text) {
            good = false;
            continue;
        }
        if (!(dirs[i] = tsr_profile_resolve_path(text, p->dir))) {
            c->out_of_memory = true;
            good = false;
            continue;
        }
        struct stat st;
        if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode))
            tsr_profile_report(c, TSR_SEVERITY_WARNING, tsr_profile_loc_of(items[i]),
                               "plugins.path: %s is not a folder; it is skipped", dirs[i]);
        else if (access(dirs[i], R_OK | X_OK) != 0)
            tsr_profile_report(c, TSR_SEVERITY_WARNING, tsr_profile_loc_of(items[i]),
                               "plugins.path: %s cannot be read (%s); it is skipped", dirs[i],
                               strerror(errno));
    }
    if (!good) {
        for (size_t i = 0; i < n; i++)
            free(dirs[i]);
        free(dirs);
        return;
    }
    tsr_profile_free_strings(p->plugin_dirs, p->n_plugin_dirs);
    p->plugin_dirs = dirs;
    p->n_plugin_dirs = n;
    p->plugin_dirs_loc = tsr_profile_loc_of(node);
}

/* server.api_key: a key, or a list of keys, each a non-empty string. */
static void set_api_keys(tsr_profile_checker *c, const tsr_yaml_node *node, tsr_profile_server *s)
{
    if (tsr_yaml_is_null(node))
        return;
    const tsr_yaml_node *const *items;
    size_t n = items_of(&node, &items);
    char **keys = calloc(n + 1, sizeof *keys);
    if (!keys) {
        c->out_of_memory = true;
        return;
    }
    bool good = true;
    for (size_t i = 0; i < n; i++) {
        const char *text = tsr_profile_string(c, items[i], "server.api_key");
        if (text && !(keys[i] = strdup(text)))
            c->out_of_memory = true;
        good = good && keys[i];
    }
    if (!good) {
        tsr_profile_free_strings(keys, n);
        return;
    }
    tsr_profile_free_strings(s->api_keys, s->n_api_keys);
    s->api_keys = keys;
    s->n_api_keys = n;
    s->api_key_loc = tsr_profile_loc_of(node);
}

static void read_server(tsr_profile_checker *c, const tsr_yaml_node *key,
                        const tsr_yaml_node *value)
{
    tsr_profile_server *s = &c->profile->server;
    const tsr_yaml_node *section = section_of(c, value, "server", "{host: 127.0.0.1, port: 8080}");
    if (!section)
        return;
    s->loc = tsr_profile_loc_of(key);
    c->profile->has_server = true;
    check_keys(c, section, "server", server_keys, N_OF(server_keys));
    tsr_profile_set_string(c, tsr_yaml_get(section, "host", NULL), "server.host", &s->host,
                           &s->host_loc);
    tsr_profile_set_uint32(c, tsr_yaml_get(section, "port", NULL), "server.port", 1, 65535,
                           &s->port, &s->port_loc);
    tsr_profile_set_uint32(c, tsr_yaml_get(section, "parallel", NULL), "server.parallel", 1,
                           TSR_PROFILE_MAX_PARALLEL, &s->parallel, &s->parallel_loc);
    tsr_profile_set_uint32(c, tsr_yaml_get(section, "queue", NULL), "server.queue", 0,
                           TSR_PROFILE_MAX_QUEUE, &s->queue, &s->queue_loc);
    set_api_keys(c, tsr_yaml_get(section, "api_key", NULL), s);
    tsr_profile_set_string(c, tsr_yaml_get(section, "model_name", NULL), "server.model_name",
                           &s->model_name, &s->model_name_loc);
    const tsr_yaml_node *node = tsr_yaml_get(section, "max_body", NULL);
    if (!tsr_yaml_is_null(node) && tsr_profile_size(c, node, "server.max_body", 0, &s->max_body_bytes))
        s->max_body_loc = tsr_profile_loc_of(node);
}

/* dist.layers: `auto`, or [first, last] per rank, contiguous from layer 0
 * (whether they end at the model's last layer, and whether there is one
 * per rank, is checked when the job starts). */
static void read_dist_layers(tsr_profile_checker *c, const tsr_yaml_node *node,
                             tsr_profile_dist *d)
{
    if (tsr_yaml_is_null(node) || tsr_profile_is_word(node, "auto"))
        return;
    if (node->kind != TSR_YAML_SEQUENCE || node->n_items == 0 ||
        node->n_items > TSR_PROFILE_MAX_RANKS) {
        ERROR_AT(c, node, "dist.layers must be auto or a list of [first, last] layer ranges, "
                 "one per rank, e.g. [[0, 14], [15, 29]]");
        return;
    }
    tsr_profile_dist_range *ranges = calloc(node->n_items, sizeof *ranges);
    if (!ranges) {
        c->out_of_memory = true;
        return;
    }
    bool good = true;
    for (size_t i = 0; i < node->n_items; i++) {
        const tsr_yaml_node *item = node->items[i];
        tsr_profile_dist_range *r = &ranges[i];
        r->loc = tsr_profile_loc_of(item);
        if (item->kind != TSR_YAML_SEQUENCE || item->n_items != 2) {
            ERROR_AT(c, item, "dist.layers[%zu] must be a range [first, last] of layers", i);
            good = false;
            continue;
        }
        uint32_t ends[2] = {UINT32_MAX, UINT32_MAX};
        tsr_profile_loc unused;
        tsr_profile_set_uint32(c, item->items[0], "dist.layers first", 0, UINT32_MAX - 1,
                               &ends[0], &unused);
        tsr_profile_set_uint32(c, item->items[1], "dist.layers last", 0, UINT32_MAX - 1,
                               &ends[1], &unused);
        if (ends[0] == UINT32_MAX || ends[1] == UINT32_MAX) {
            good = false;
            continue;
        }
        r->first = ends[0];
        r->last = ends[1];
        uint32_t want = i == 0 ? 0 : ranges[i - 1].last + 1;
        if (r->first > r->last) {
            ERROR_AT(c, item, "dist.layers[%zu] = [%u, %u] is empty: its first layer is after "
                     "its last", i, r->first, r->last);
            good = false;
        } else if (good && r->first != want) {
            ERROR_AT(c, item, "dist.layers[%zu] starts at layer %u; the ranges must follow one "
                     "another from layer 0, so it starts at %u", i, r->first, want);
            good = false;
        }
    }
    if (!good) {
        free(ranges);
        return;
    }
    d->layers_auto = false;
    d->layers = ranges;
    d->n_layers = node->n_items;
    d->layers_loc = tsr_profile_loc_of(node);
}

static void read_dist(tsr_profile_checker *c, const tsr_yaml_node *key,
                      const tsr_yaml_node *value)
{
    tsr_profile_dist *d = &c->profile->dist;
    const tsr_yaml_node *section = section_of(c, value, "dist", "{layers: auto, timeout: 10s}");
    if (!section)
        return;
    d->loc = tsr_profile_loc_of(key);
    c->profile->has_dist = true;
    check_keys(c, section, "dist", dist_keys, N_OF(dist_keys));
    read_dist_layers(c, tsr_yaml_get(section, "layers", NULL), d);
    const tsr_yaml_node *node = tsr_yaml_get(section, "activations", NULL);
    if (!tsr_yaml_is_null(node)) {
        if (tsr_profile_is_word(node, "f32") || tsr_profile_is_word(node, "f16")) {
            d->activations_f16 = tsr_profile_is_word(node, "f16");
            d->activations_loc = tsr_profile_loc_of(node);
        } else {
            char shown[TSR_DIAG_QUOTE_BYTES + 8];
            ERROR_AT(c, node, "dist.activations must be f32 (bit-identical to one host) or "
                     "f16 (half the bytes per hop), not %s",
                     tsr_profile_shown(node, shown, sizeof shown));
        }
    }
    tsr_profile_set_uint32(c, tsr_yaml_get(section, "in_flight", NULL), "dist.in_flight", 0,
                           TSR_PROFILE_MAX_IN_FLIGHT, &d->in_flight, &d->in_flight_loc);
    node = tsr_yaml_get(section, "timeout", NULL);
    if (!tsr_yaml_is_null(node)) {
        char shown[TSR_DIAG_QUOTE_BYTES + 8];
        tsr_error err = {0};
        uint64_t ms = 0;
        if (node->kind != TSR_YAML_SCALAR || node->length != strlen(node->text))
            ERROR_AT(c, node, "dist.timeout must be a duration such as 10s or 500ms, not %s",
                     tsr_profile_shown(node, shown, sizeof shown));
        else if (tsr_duration_parse(node->text, &ms, &err) != TSR_OK)
            ERROR_AT(c, node, "dist.timeout: %s", err.message);
        else if (ms < 100 || ms > 3600000)
            ERROR_AT(c, node, "dist.timeout = %s is out of range: 100ms to 60min",
                     tsr_profile_shown(node, shown, sizeof shown));
        else {
            d->timeout_ms = ms;
            d->timeout_loc = tsr_profile_loc_of(node);
        }
    }
}

/* ---- the whole profile -------------------------------------------------- */

static bool set_defaults(tsr_profile *p)
{
    p->version = TSR_PROFILE_VERSION;
    p->model.cache_type = strdup("f16");
    p->devices.allocator = strdup("host");
    p->devices.n_sim = 2;
    p->devices.sim_bytes = calloc(2, sizeof *p->devices.sim_bytes);
    p->devices.sim_locs = calloc(2, sizeof *p->devices.sim_locs);
    if (p->devices.sim_bytes)
        p->devices.sim_bytes[0] = p->devices.sim_bytes[1] = 24 * TSR_GIB;
    p->devices.split_auto = true;
    p->devices.reserve_bytes = 256 * TSR_MIB;
    p->devices.overhead_auto = true;
    p->speculative.strategy = strdup("draft-model");
    p->speculative.tokens = 5;
    /* plugins.path is empty by default: a folder relative to wherever
     * tessera happens to run would load whatever shared objects sit there. */
    p->n_plugin_dirs = 0;
    p->seed = 42;
    p->server.host = strdup("127.0.0.1");
    p->server.port = 8080;
    p->server.parallel = 4;
    p->server.queue = 64;
    p->server.max_body_bytes = 8 * TSR_MIB;
    p->dist.layers_auto = true;
    p->dist.timeout_ms = 10000;
    return p->model.cache_type && p->devices.allocator && p->devices.sim_bytes &&
           p->devices.sim_locs && p->speculative.strategy && p->server.host;
}

/* The draft's unset keys follow the main model's. */
static bool inherit_draft(tsr_profile *p)
{
    if (!p->has_draft)
        return true;
    if (!p->draft.max_seq_len_loc.line)
        p->draft.max_seq_len = p->model.max_seq_len;
    if (!p->draft.cache_type) {
        p->draft.cache_type = strdup(p->model.cache_type);
        return p->draft.cache_type != NULL;
    }
    return true;
}

static void read_top(tsr_profile_checker *c, const tsr_yaml_node *root)
{
    tsr_profile *p = c->profile;
    check_keys(c, root, NULL, top_keys, N_OF(top_keys));
    const tsr_yaml_node *key, *node;

    node = tsr_yaml_get(root, "version", &key);
    uint32_t version = TSR_PROFILE_VERSION;
    tsr_profile_set_uint32(c, node, "version", 0, UINT32_MAX, &version, &p->version_loc);
    if (version != TSR_PROFILE_VERSION)
        ERROR_AT(c, node, "profile version %u is not supported: this tessera reads version %d",
                 version, TSR_PROFILE_VERSION);

    node = tsr_yaml_get(root, "model", &key);
    if (tsr_yaml_is_null(node))
        tsr_profile_report(
            c, TSR_SEVERITY_ERROR, key ? tsr_profile_loc_of(key) : (tsr_profile_loc){1, 1},
            "model is required; the smallest profile is `model: {path: model.gguf}`");
    else
        read_model(c, key, node, &p->model, "model");

    if ((node = tsr_yaml_get(root, "draft", &key)) && !tsr_yaml_is_null(node)) {
        p->has_draft = node->kind == TSR_YAML_MAPPING;
        read_model(c, key, node, &p->draft, "draft");
    }
    if ((node = tsr_yaml_get(root, "speculative", &key)))
        read_speculative(c, key, node);
    /* A draft is there to speculate with: it brings speculation's defaults. */
    if (p->has_draft)
        p->has_speculative = true;
    if ((node = tsr_yaml_get(root, "devices", &key)))
        read_devices(c, key, node);
    if ((node = tsr_yaml_get(root, "sampler", &key)) && !tsr_yaml_is_null(node))
        read_sampler(c, key, node);
    if ((node = tsr_yaml_get(root, "plugins", &key)))
        read_plugins(c, key, node);
    tsr_profile_set_uint32(c, tsr_yaml_get(root, "threads", NULL), "threads", 0,
                           TSR_PROFILE_MAX_THREADS, &p->threads, &p->threads_loc);
    tsr_profile_set_uint(c, tsr_yaml_get(root, "seed", NULL), "seed", 0, UINT64_MAX, &p->seed,
                         &p->seed_loc);
    if ((node = tsr_yaml_get(root, "server", &key)))
        read_server(c, key, node);
    if ((node = tsr_yaml_get(root, "dist", &key)))
        read_dist(c, key, node);
}

/* The default chain, read as if written, with no places. */
static tsr_status read_default_sampler(tsr_profile_checker *c, tsr_error *err)
{
    tsr_diagnostics scratch = {0};
    tsr_yaml_node *tree = NULL;
    const char *text = tsr_profile_default_sampler_yaml;
    tsr_status status = tsr_yaml_read(text, strlen(text), "default", &tree, &scratch, err);
    tsr_diagnostics_free(&scratch);
    if (status != TSR_OK || !tree) {
        tsr_yaml_free(tree);
        return status == TSR_ERR_NOMEM
                   ? status
                   : tsr_error_set(err, TSR_ERR_INTERNAL, "the default sampler chain is not YAML");
    }
    c->profile->default_tree_ = tree;
    tsr_profile_zero_places(tree);
    read_sampler(c, NULL, tree);
    return c->out_of_memory ? tsr_error_set(err, TSR_ERR_NOMEM, "out of memory") : TSR_OK;
}

tsr_status tsr_profile_parse(const char *text, size_t n_bytes, const char *file,
                             const char *base_dir, tsr_profile **out, tsr_diagnostics *diags,
                             tsr_error *err)
{
    *out = NULL;
    tsr_profile *p = calloc(1, sizeof *p);
    if (!p)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading a profile");
    char cwd[PATH_MAX];
    if (!base_dir)
        base_dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    p->file = strdup(file ? file : "<profile>");
    p->dir = strdup(base_dir);
    if (!p->file || !p->dir || !set_defaults(p)) {
        tsr_profile_free(p);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading a profile");
    }
    tsr_profile_checker c = {.profile = p, .diags = diags};
    tsr_status status = read_default_sampler(&c, err);
    if (status != TSR_OK) {
        tsr_profile_free(p);
        return status;
    }

    tsr_yaml_node *root = NULL;
    status = tsr_yaml_read(text, n_bytes, p->file, &root, diags, err);
    p->tree_ = root;
    if (status == TSR_ERR_NOMEM || (status != TSR_OK && !root)) {
        tsr_profile_free(p);
        return status;
    }
    c.failed = status != TSR_OK;
    if (!root || tsr_yaml_is_null(root))
        tsr_profile_report(&c, TSR_SEVERITY_ERROR, (tsr_profile_loc){1, 1},
                           "the profile is empty; the smallest profile is "
                           "`model: {path: model.gguf}`");
    else if (root->kind != TSR_YAML_MAPPING)
        ERROR_AT(&c, root,
                 "a profile is a mapping of sections (model:, devices:, sampler:, ...), not %s",
                 tsr_yaml_describe(root));
    else
        read_top(&c, root);
    if (!inherit_draft(p))
        c.out_of_memory = true;
    if (c.out_of_memory || diags->out_of_memory) {
        tsr_profile_free(p);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading a profile");
    }
    *out = p;
    return c.failed ? TSR_ERR_INVALID : TSR_OK;
}

tsr_status tsr_profile_load(const char *path, tsr_profile **out, tsr_diagnostics *diags,
                            tsr_error *err)
{
    *out = NULL;
    char *text;
    size_t n;
    tsr_error why = {0};
    tsr_status read = tsr_text_read_file(path, "a profile", TSR_PROFILE_MAX_FILE_BYTES,
                                         "the most a profile may hold", &text, &n, &why);
    if (read == TSR_ERR_NOMEM)
        return tsr_error_set(err, read, "%s", why.message);
    if (read != TSR_OK) {
        /* The diagnostic names the file itself: keep the reason alone. */
        const char *reason = why.message;
        size_t path_len = strlen(path);
        if (strncmp(reason, path, path_len) == 0 && strncmp(reason + path_len, ": ", 2) == 0)
            reason += path_len + 2;
        if (strncmp(reason, "cannot open: ", 13) == 0)
            reason += 13;
        tsr_diag_add(diags, TSR_SEVERITY_ERROR, path, 0, 0, "cannot read the profile: %s",
                     reason);
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot read the profile: %s", path, reason);
    }
    /* Relative paths in the profile are relative to its folder. */
    char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    char *absolute = dir ? realpath(dir, NULL) : NULL;
    tsr_status status;
    if (!dir)
        status = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    else
        status = tsr_profile_parse(text, n, path, absolute ? absolute : dir, out, diags, err);
    free(absolute);
    free(dir);
    free(text);
    return status;
}

/* ---- lifetime ----------------------------------------------------------- */

void tsr_profile_free_strings(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

void tsr_profile_free_sampler(tsr_profile *p)
{
    for (size_t i = 0; i < p->n_sampler; i++) {
        free(p->sampler[i].name);
        tsr_param_set_free(&p->sampler[i].params);
        free(p->sampler[i].param_locs);
    }
    free(p->sampler);
    p->sampler = NULL;
    p->n_sampler = 0;
}

void tsr_profile_zero_places(tsr_yaml_node *node)
{
    if (!node)
        return;
    node->line = node->column = 0;
    for (size_t i = 0; i < node->n_items; i++) {
        if (node->keys)
            tsr_profile_zero_places(node->keys[i]);
        tsr_profile_zero_places(node->items[i]);
    }
}

static void free_model(tsr_profile_model *m)
{
    free(m->path);
    free(m->path_as_written);
    free(m->cache_type);
    free(m->quantize);
}

void tsr_profile_free(tsr_profile *p)
{
    if (!p)
        return;
    free(p->file);
    free(p->dir);
    free_model(&p->model);
    free_model(&p->draft);
    free(p->speculative.strategy);
    tsr_param_set_free(&p->speculative.params);
    free(p->speculative.param_locs);
    tsr_param_set_free(&p->devices.params);
    free(p->devices.param_locs);
    free(p->devices.allocator);
    free(p->devices.sim_bytes);
    free(p->devices.sim_locs);
    free(p->devices.split_bytes);
    free(p->devices.split_locs);
    tsr_profile_free_sampler(p);
    tsr_profile_free_strings(p->plugin_dirs, p->n_plugin_dirs);
    free(p->server.host);
    tsr_profile_free_strings(p->server.api_keys, p->server.n_api_keys);
    free(p->server.model_name);
    free(p->dist.layers);
    tsr_yaml_free(p->tree_);
    tsr_yaml_free(p->default_tree_);
    free(p);
}
