/* Checking a profile against the plugins on the search path: every plugin it
 * names exists and can do what it is named for, parameters match their
 * declarations, the split matches the allocator's devices. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "loader.h"
#include "profile_internal.h"

/* A location, or the fallback when the value was a default (no place): the
 * section it belongs to, else the top of the file. */
static tsr_profile_loc place_or(tsr_profile_loc loc, tsr_profile_loc fallback)
{
    if (loc.line)
        return loc;
    if (fallback.line)
        return fallback;
    return (tsr_profile_loc){1, 1};
}

#define ERROR_AT(c, loc, ...) tsr_profile_report(c, TSR_SEVERITY_ERROR, loc, __VA_ARGS__)

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of the plugins of one kind that pass accept (NULL: all), sorted,
 * joined into buf; "none" when there are none. */
static void names_of_kind(const tsr_registry *registry, tsr_plugin_kind kind,
                          bool (*accept)(const tsr_plugin *), char *buf, size_t buf_bytes)
{
    size_t n = 0, total = tsr_registry_count(registry);
    const char **names = calloc(total + 1, sizeof *names);
    if (names)
        for (size_t i = 0; i < total; i++) {
            const tsr_plugin *p = tsr_registry_get(registry, i);
            if (p->kind == kind && (!accept || accept(p)))
                names[n++] = p->name;
        }
    qsort(names, n, sizeof *names, compare_strings);
    tsr_profile_join(names, n, buf, buf_bytes);
    if (n == 0)
        snprintf(buf, buf_bytes, "none");
    free(names);
}

/* Finds the plugin name of kind, or reports it as unknown with the nearest
 * name and every name on the search path. */
static const tsr_plugin *find_plugin(tsr_profile_checker *c, const tsr_registry *registry,
                                     tsr_plugin_kind kind, const char *name, const char *key,
                                     tsr_profile_loc at)
{
    const tsr_plugin *plugin = tsr_registry_find(registry, kind, name);
    if (plugin)
        return plugin;
    size_t total = tsr_registry_count(registry), n = 0;
    const char **names = calloc(total + 1, sizeof *names);
    if (!names) {
        c->out_of_memory = true;
        return NULL;
    }
    for (size_t i = 0; i < total; i++) {
        const tsr_plugin *p = tsr_registry_get(registry, i);
        if (p->kind == kind)
            names[n++] = p->name;
    }
    const char *near = tsr_nearest_name(name, names, n);
    free(names);
    char known[1024], suggestion[128] = "", refused[128] = "", shown[TSR_DIAG_QUOTE_BYTES];
    names_of_kind(registry, kind, NULL, known, sizeof known);
    if (near)
        snprintf(suggestion, sizeof suggestion, "; did you mean '%s'?", near);
    size_t n_refused = tsr_registry_refusal_count(registry);
    if (n_refused)
        snprintf(refused, sizeof refused, "; %zu plugin file%s refused (see `tessera plugins`)",
                 n_refused, n_refused == 1 ? " was" : "s were");
    /* No place: the name came from the command line, not from the file. */
    tsr_diagnostic *diag = tsr_diag_add(
        c->diags, TSR_SEVERITY_ERROR, at.line ? c->profile->file : NULL, at.line, at.column,
        "%s: no %s plugin '%s' on the search path%s (%s plugins: %s)%s", key,
        tsr_plugin_kind_name(kind), tsr_diag_quote(name, strlen(name), shown, sizeof shown),
        suggestion, tsr_plugin_kind_name(kind), known, refused);
    c->failed = true;
    /* The folders searched, for the reader who expected the plugin there. */
    char dirs[1024] = "";
    size_t used = 0;
    for (size_t i = 0; diag && i < tsr_registry_dir_count(registry) && used < sizeof dirs; i++) {
        int k = snprintf(dirs + used, sizeof dirs - used, "%s%s", i ? ", " : "",
                         tsr_registry_dir(registry, i));
        used += k > 0 ? (size_t)k : 0;
    }
    if (diag && !tsr_diag_set_hint(diag, "searched: %s", dirs[0] ? dirs : "no folder"))
        c->out_of_memory = true;
    return NULL;
}

static bool holds_kv_cache(const tsr_plugin *p)
{
    const tsr_quant_vtable *q = tsr_plugin_quant(p);
    return q && (q->flags & TSR_QUANT_KV_CACHE);
}

static bool can_quantize(const tsr_plugin *p)
{
    const tsr_quant_vtable *q = tsr_plugin_quant(p);
    return q && q->quantize && !(q->flags & TSR_QUANT_ACTIVATION);
}

/* An error at a place of the file, or, at {0, 0}, about a value the
 * command line gave (no file named). */
static void error_at_or_option(tsr_profile_checker *c, tsr_profile_loc at, const char *fmt, ...)
    TSR_PRINTF(3, 4);

static void error_at_or_option(tsr_profile_checker *c, tsr_profile_loc at, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    tsr_diag_addv(c->diags, TSR_SEVERITY_ERROR, at.line ? c->profile->file : NULL, at.line,
                  at.column, fmt, args);
    va_end(args);
    c->failed = true;
}

/* The key a message names, and where: the option that replaced the value
 * ("--cache-type (model.cache_type)", no place), or the file's key. */
static tsr_profile_loc model_key(const tsr_profile_model *m, const char *section,
                                 const char *name, const char *option, tsr_profile_loc loc,
                                 char *key, size_t key_bytes)
{
    if (option) {
        snprintf(key, key_bytes, "%s (%s.%s)", option, section, name);
        return (tsr_profile_loc){0, 0};
    }
    snprintf(key, key_bytes, "%s.%s%s", section, name, loc.line ? "" : " (by default)");
    return place_or(loc, m->loc);
}

static void check_model_plugins(tsr_profile_checker *c, const tsr_registry *registry,
                                const tsr_profile_model *m, const char *section)
{
    char key[96], names[1024];
    tsr_profile_loc at = model_key(m, section, "cache_type", m->cache_type_option,
                                   m->cache_type_loc, key, sizeof key);
    const tsr_plugin *p = find_plugin(c, registry, TSR_PLUGIN_QUANT, m->cache_type, key, at);
    if (p && !holds_kv_cache(p)) {
        names_of_kind(registry, TSR_PLUGIN_QUANT, holds_kv_cache, names, sizeof names);
        error_at_or_option(c, at, "%s: quant plugin '%s' cannot hold the KV cache (those that "
                           "can: %s)", key, p->name, names);
    }
    if (!m->quantize)
        return;
    at = model_key(m, section, "quantize", m->quantize_option, m->quantize_loc, key, sizeof key);
    p = find_plugin(c, registry, TSR_PLUGIN_QUANT, m->quantize, key, at);
    if (p && !can_quantize(p)) {
        names_of_kind(registry, TSR_PLUGIN_QUANT, can_quantize, names, sizeof names);
        error_at_or_option(c, at, "%s: quant plugin '%s' cannot quantize weights (those that "
                           "can: %s)", key, p->name, names);
    }
}

/* ---- parameters --------------------------------------------------------- */

/* Sets parameter index from a YAML value; reports what is wrong with it. */
static void set_param(tsr_profile_checker *c, tsr_param_set *set, int index,
                      const tsr_yaml_node *value, tsr_profile_loc *loc)
{
    const tsr_param_desc *d = &set->plugin->params[index];
    const char *plugin = set->plugin->name;
    char shown[TSR_DIAG_QUOTE_BYTES + 8];
    tsr_profile_shown(value, shown, sizeof shown);
    tsr_profile_loc at = tsr_profile_loc_of(value);
    if (tsr_yaml_is_null(value) && d->type != TSR_PARAM_STRING)
        return; /* null: the default */
    tsr_error err = {0};
    tsr_status status = TSR_OK;
    bool flag;
    double number;
    switch (d->type) {
    case TSR_PARAM_BOOL:
        if (!tsr_yaml_bool(value, &flag)) {
            ERROR_AT(c, at, "%s.%s must be true or false, not %s", plugin, d->name, shown);
            return;
        }
        status = tsr_param_set_bool(set, index, flag, &err);
        break;
    case TSR_PARAM_INT:
    case TSR_PARAM_FLOAT:
        if (!tsr_yaml_number(value, &number)) {
            ERROR_AT(c, at, "%s.%s must be %s, not %s", plugin, d->name,
                     d->type == TSR_PARAM_INT ? "a whole number" : "a number", shown);
            return;
        }
        status = tsr_param_set_number(set, index, number, &err);
        break;
    case TSR_PARAM_STRING:
        if (tsr_yaml_is_null(value)) {
            status = tsr_param_set_string(set, index, NULL, &err);
        } else if (value->kind != TSR_YAML_SCALAR || value->length != strlen(value->text)) {
            ERROR_AT(c, at, "%s.%s must be a string, not %s", plugin, d->name, shown);
            return;
        } else {
            status = tsr_param_set_string(set, index, value->text, &err);
        }
        break;
    case TSR_PARAM_STRING_LIST: {
        const tsr_yaml_node *const *items = &value;
        size_t n = 1;
        if (value->kind == TSR_YAML_SEQUENCE) {
            items = (const tsr_yaml_node *const *)value->items;
            n = value->n_items;
        }
        const char **texts = calloc(n + 1, sizeof *texts);
        if (!texts) {
            c->out_of_memory = true;
            return;
        }
        bool good = true;
        for (size_t i = 0; i < n; i++) {
            const tsr_yaml_node *item = items[i];
            if (item->kind != TSR_YAML_SCALAR || tsr_yaml_is_null(item) ||
                item->length != strlen(item->text)) {
                ERROR_AT(c, tsr_profile_loc_of(item), "%s.%s[%zu] must be a string, not %s",
                         plugin, d->name, i, tsr_profile_shown(item, shown, sizeof shown));
                good = false;
            } else {
                texts[i] = item->text;
            }
        }
        if (good)
            status = tsr_param_set_list(set, index, texts, n, &err);
        free(texts);
        if (!good)
            return;
        break;
    }
    case TSR_PARAM_FLOAT_MAP: {
        if (value->kind != TSR_YAML_MAPPING) {
            ERROR_AT(c, at,
                     "%s.%s must be a mapping of keys to numbers such as {\"15\": -100}, "
                     "not %s",
                     plugin, d->name, shown);
            return;
        }
        size_t n = value->n_items;
        const char **keys = calloc(n + 1, sizeof *keys);
        double *numbers = calloc(n + 1, sizeof *numbers);
        bool good = keys && numbers;
        if (!good)
            c->out_of_memory = true;
        for (size_t i = 0; good && i < n; i++) {
            keys[i] = value->keys[i]->text;
            if (value->keys[i]->length != strlen(keys[i])) {
                ERROR_AT(c, tsr_profile_loc_of(value->keys[i]), "%s.%s: a key contains a NUL byte",
                         plugin, d->name);
                good = false;
            } else if (!tsr_yaml_number(value->items[i], &numbers[i])) {
                char key[TSR_DIAG_QUOTE_BYTES];
                tsr_diag_quote(keys[i], value->keys[i]->length, key, sizeof key);
                ERROR_AT(c, tsr_profile_loc_of(value->items[i]),
                         "%s.%s['%s'] must be a number, not %s", plugin, d->name, key,
                         tsr_profile_shown(value->items[i], shown, sizeof shown));
                good = false;
            }
        }
        if (good)
            status = tsr_param_set_map(set, index, keys, numbers, n, &err);
        free(keys);
        free(numbers);
        if (!good)
            return;
        break;
    }
    default: return; /* the loader refuses undeclared types */
    }
    if (status == TSR_ERR_NOMEM)
        c->out_of_memory = true;
    else if (status != TSR_OK)
        ERROR_AT(c, at, "%s", err.message);
    else
        *loc = at;
}

/* Fills set (defaults first) from what the profile wrote after a plugin's
 * name: nothing, a value for the first parameter, or a mapping of names. */
static void apply_args(tsr_profile_checker *c, const tsr_plugin *plugin, const tsr_yaml_node *args,
                       tsr_param_set *set, tsr_profile_loc **locs, tsr_profile_loc args_at)
{
    tsr_error err = {0};
    if (tsr_param_set_init(set, plugin, &err) != TSR_OK ||
        !(*locs = calloc(plugin->n_params + 1, sizeof **locs))) {
        c->out_of_memory = true;
        return;
    }
    if (tsr_yaml_is_null(args))
        return;
    char known[1024];
    const char **names = calloc(plugin->n_params + 1, sizeof *names);
    if (!names) {
        c->out_of_memory = true;
        return;
    }
    for (uint32_t i = 0; i < plugin->n_params; i++)
        names[i] = plugin->params[i].name;
    tsr_profile_join(names, plugin->n_params, known, sizeof known);
    if (args->kind != TSR_YAML_MAPPING) {
        if (plugin->n_params == 0)
            ERROR_AT(c, place_or(tsr_profile_loc_of(args), args_at),
                     "%s takes no parameters; write just `%s`", plugin->name, plugin->name);
        else
            set_param(c, set, 0, args, &(*locs)[0]);
        free(names);
        return;
    }
    for (size_t i = 0; i < args->n_items; i++) {
        const tsr_yaml_node *key = args->keys[i];
        int index = tsr_param_find(plugin, key->text);
        if (index >= 0 && key->length == strlen(key->text)) {
            set_param(c, set, index, args->items[i], &(*locs)[index]);
            continue;
        }
        char shown[TSR_DIAG_QUOTE_BYTES];
        tsr_diag_quote(key->text, key->length, shown, sizeof shown);
        const char *near = tsr_nearest_name(key->text, names, plugin->n_params);
        if (plugin->n_params == 0)
            ERROR_AT(c, tsr_profile_loc_of(key), "%s takes no parameters, so not '%s'",
                     plugin->name, shown);
        else if (near)
            ERROR_AT(c, tsr_profile_loc_of(key),
                     "%s has no parameter '%s'; did you mean '%s'? (its parameters: %s)",
                     plugin->name, shown, near, known);
        else
            ERROR_AT(c, tsr_profile_loc_of(key), "%s has no parameter '%s' (its parameters: %s)",
                     plugin->name, shown, known);
    }
    free(names);
}

/* ---- sections ----------------------------------------------------------- */

static void check_devices(tsr_profile_checker *c, const tsr_registry *registry)
{
    tsr_profile_devices *d = &c->profile->devices;
    tsr_profile_loc at = place_or(d->allocator_loc, d->loc);
    d->plugin = find_plugin(
        c, registry, TSR_PLUGIN_ALLOC, d->allocator,
        d->allocator_loc.line ? "devices.allocator" : "devices.allocator (by default)", at);
    const tsr_alloc_vtable *vt = d->plugin ? tsr_plugin_alloc(d->plugin) : NULL;
    if (!vt)
        return;
    bool was_failed = c->failed;
    c->failed = false;
    apply_args(c, d->plugin, d->options, &d->params, &d->param_locs,
               place_or(d->options_loc, at));
    bool options_bad = c->failed || c->out_of_memory;
    c->failed = c->failed || was_failed;
    if (options_bad)
        return; /* open would only repeat what was just said */
    tsr_alloc_config config;
    tsr_profile_alloc_config(d, &config);
    void *state = NULL;
    tsr_error err = {0};
    tsr_status opened = vt->open(tsr_host_services(), &config, &state, &err);
    if (opened != TSR_OK) {
        size_t before = c->diags->count;
        ERROR_AT(c, at, "devices.allocator: %s cannot open its devices: %s", d->allocator,
                 err.message);
        /* TSR_ERR_NOT_FOUND: the hardware is not here (alloc/cuda without a
         * GPU or driver). Planning for it needs no hardware. */
        bool gpu = strcmp(d->allocator, "cuda") == 0;
        if (opened == TSR_ERR_NOT_FOUND && c->diags->count > before &&
            !tsr_diag_set_hint(&c->diags->items[c->diags->count - 1],
                               "this machine has no %s; to plan for %s you do not have, "
                               "run `tessera plan PROFILE --devices 2x24GiB` (simulated %s "
                               "of those sizes) or write devices.allocator: sim with "
                               "devices.sim: [24GiB, 24GiB]%s",
                               gpu ? "usable GPU (the CUDA runtime's words above)" :
                                     "devices for it",
                               gpu ? "GPUs" : "devices", gpu ? "CUDA devices" : "devices",
                               gpu ? " and devices.options: {kind: cuda}" : ""))
            c->out_of_memory = true;
        return;
    }
    d->n_devices = vt->device_count(state);
    char names[512] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < d->n_devices && used < sizeof names; i++) {
        tsr_device_info info = {.struct_size = sizeof info};
        if (vt->device_info(state, i, &info, &err) != TSR_OK)
            snprintf(info.name, sizeof info.name, "#%u", i);
        info.name[sizeof info.name - 1] = '\0';
        int k = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", info.name);
        used += k > 0 ? (size_t)k : 0;
    }
    vt->close(state);
    if (!d->split_auto && d->n_split != d->n_devices)
        ERROR_AT(c, place_or(d->split_loc, d->loc),
                 "devices.split names %zu device%s, but allocator %s has %u (%s); give one "
                 "budget per device, or write split: auto",
                 d->n_split, d->n_split == 1 ? "" : "s", d->allocator, d->n_devices,
                 d->n_devices ? names : "no devices");
}

/* ABI 1.0 allocators cannot say whether they simulate devices; they get
 * devices.sim as they always did. */
static bool takes_sim(const tsr_alloc_vtable *vt)
{
    return !TSR_COVERS(vt->abi.struct_size, tsr_alloc_vtable, flags) ||
           (vt->flags & TSR_ALLOC_TAKES_SIM);
}

void tsr_profile_alloc_config(const tsr_profile_devices *d, tsr_alloc_config *config)
{
    const tsr_alloc_vtable *vt = d->plugin ? tsr_plugin_alloc(d->plugin) : NULL;
    bool sim = vt && takes_sim(vt);
    *config = (tsr_alloc_config){
        .struct_size = sizeof *config,
        .sim_capacities = sim ? d->sim_bytes : NULL,
        .n_sim_capacities = sim ? (uint32_t)d->n_sim : 0,
        .params = d->plugin && d->plugin->n_params ? d->params.values : NULL,
        .n_params = d->plugin ? d->plugin->n_params : 0,
    };
}

static void check_speculative(tsr_profile_checker *c, const tsr_registry *registry)
{
    tsr_profile *p = c->profile;
    if (!p->has_speculative)
        return;
    tsr_profile_speculative *s = &p->speculative;
    tsr_profile_loc at = place_or(s->strategy_loc, place_or(s->loc, p->draft.loc));
    s->plugin = find_plugin(
        c, registry, TSR_PLUGIN_SPEC, s->strategy,
        s->strategy_loc.line ? "speculative.strategy" : "speculative.strategy (by default)", at);
    if (!s->plugin)
        return;
    apply_args(c, s->plugin, s->options, &s->params, &s->param_locs, s->options_loc);
    const tsr_spec_vtable *vt = tsr_plugin_spec(s->plugin);
    bool needs_draft = vt && (vt->flags & TSR_SPEC_NEEDS_DRAFT);
    if (needs_draft && !p->has_draft)
        ERROR_AT(c, at,
                 "speculative.strategy %s needs a draft model: add `draft: {path: ...}`, a "
                 "small model with the main model's vocabulary",
                 s->strategy);
    if (!needs_draft && p->has_draft)
        tsr_profile_report(c, TSR_SEVERITY_WARNING, place_or(p->draft.loc, at),
                           "draft is given, but speculative.strategy %s does not use a draft "
                           "model: it would only take memory",
                           s->strategy);
}

static bool chooses(const tsr_plugin *plugin)
{
    const tsr_sampler_vtable *vt = plugin ? tsr_plugin_sampler(plugin) : NULL;
    return vt && (vt->flags & TSR_SAMPLER_CHOOSES);
}

static void check_sampler(tsr_profile_checker *c, const tsr_registry *registry)
{
    tsr_profile *p = c->profile;
    bool all_found = true;
    for (size_t i = 0; i < p->n_sampler; i++) {
        tsr_profile_sampler *e = &p->sampler[i];
        tsr_profile_loc at = place_or(e->loc, p->sampler_loc);
        e->plugin = find_plugin(c, registry, TSR_PLUGIN_SAMPLER, e->name,
                                e->loc.line ? "sampler" : "sampler (the default chain)", at);
        if (!e->plugin) {
            all_found = false;
            continue;
        }
        apply_args(c, e->plugin, e->args, &e->params, &e->param_locs, at);
        if (chooses(e->plugin) && i + 1 < p->n_sampler)
            ERROR_AT(c, at,
                     "sampler %s chooses the token, so the %zu sampler%s after it would change "
                     "nothing; put it last",
                     e->name, p->n_sampler - i - 1, p->n_sampler - i - 1 == 1 ? "" : "s");
    }
    if (!all_found || (p->n_sampler > 0 && chooses(p->sampler[p->n_sampler - 1].plugin)))
        return;
    /* A chain that ends without a choice draws from what is left. */
    tsr_profile_loc at = place_or(p->sampler_loc, (tsr_profile_loc){0, 0});
    const tsr_plugin *dist = tsr_registry_find(registry, TSR_PLUGIN_SAMPLER, "dist");
    if (!dist || !chooses(dist)) {
        ERROR_AT(c, at,
                 "the sampler chain ends without a sampler that chooses the token, and no "
                 "choosing sampler 'dist' is on the search path to append; end the chain with "
                 "one (e.g. greedy)");
        return;
    }
    tsr_profile_sampler *bigger = realloc(p->sampler, (p->n_sampler + 1) * sizeof *bigger);
    if (!bigger) {
        c->out_of_memory = true;
        return;
    }
    p->sampler = bigger;
    tsr_profile_sampler *e = &p->sampler[p->n_sampler];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup("dist"))) {
        c->out_of_memory = true;
        return;
    }
    p->n_sampler++;
    e->implicit = true;
    e->plugin = dist;
    apply_args(c, dist, NULL, &e->params, &e->param_locs, at);
}

/* Whether file lies directly in one of the profile's plugins.path folders. */
static bool in_profile_path(const tsr_profile *p, const char *file)
{
    const char *slash = strrchr(file, '/');
    size_t dir_len = slash ? (size_t)(slash - file) : 0;
    bool found = false;
    for (size_t i = 0; !found && i < p->n_plugin_dirs; i++) {
        char *real = realpath(p->plugin_dirs[i], NULL);
        const char *dir = real ? real : p->plugin_dirs[i];
        found = strlen(dir) == dir_len && strncmp(dir, file, dir_len) == 0;
        free(real);
    }
    return found;
}

/* A plugin of the profile's plugins.path that takes the place of one found
 * later on the search path (TESSERA_PLUGIN_PATH, tessera.ini, the install
 * folder) is allowed, the point of plugins.path, but never silent. */
static void note_shadowing(tsr_profile_checker *c, const tsr_registry *registry)
{
    const tsr_profile *p = c->profile;
    tsr_profile_loc at = place_or(p->plugin_dirs_loc, (tsr_profile_loc){0, 0});
    for (size_t i = 0; i < tsr_registry_clash_count(registry); i++) {
        tsr_plugin_clash clash = tsr_registry_clash(registry, i);
        const tsr_plugin *w = clash.winner;
        if (!in_profile_path(p, w->path))
            continue;
        const tsr_quant_vtable *q = tsr_plugin_quant(w);
        const tsr_ggml_type_info *type = q ? tsr_ggml_type(q->gguf_type) : NULL;
        if (clash.same_name)
            tsr_profile_report(c, TSR_SEVERITY_NOTE, at,
                               "plugins.path: %s plugin '%s' of %s shadows the one of %s (the "
                               "first on the search path wins)",
                               tsr_plugin_kind_name(clash.kind), w->name, w->path, clash.path);
        else
            tsr_profile_report(c, TSR_SEVERITY_NOTE, at,
                               "plugins.path: quant plugin '%s' of %s serves GGUF type %u (%s) "
                               "in place of quant plugin '%s' of %s (the first on the search "
                               "path wins)",
                               w->name, w->path, q ? q->gguf_type : 0,
                               type ? type->name : "unknown", clash.name, clash.path);
    }
}

tsr_status tsr_profile_validate(tsr_profile *profile, const tsr_registry *registry,
                                tsr_diagnostics *diags, tsr_error *err)
{
    tsr_profile_checker c = {.profile = profile, .diags = diags};
    profile->validated = false;
    check_devices(&c, registry);
    check_model_plugins(&c, registry, &profile->model, "model");
    if (profile->has_draft)
        check_model_plugins(&c, registry, &profile->draft, "draft");
    check_speculative(&c, registry);
    check_sampler(&c, registry);
    note_shadowing(&c, registry);
    if (c.out_of_memory || diags->out_of_memory)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory checking the profile");
    if (c.failed)
        return TSR_ERR_INVALID;
    profile->validated = true;
    return TSR_OK;
}
