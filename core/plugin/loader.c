/* Loads plugins from a search path and refuses, with one clear line each,
 * whatever this core cannot use safely. */
#include <dirent.h>
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "loader.h"
#include "log.h"

/* A plugin object may carry at most this many plugins; past it the entry
 * point is taken to be broken (it never returns NULL). */
enum { MAX_PLUGINS_PER_OBJECT = 1024 };

typedef struct loaded_plugin {
    tsr_plugin public;
    void *vtable_copy; /* zero-extended copy, owned */
} loaded_plugin;

/* A clash as recorded while loading: the winner by index, since the
 * plugins array moves as it grows. */
typedef struct recorded_clash {
    tsr_plugin_kind kind;
    char *name; /* owned: the loser's object may be unloaded */
    const char *path;
    size_t winner;
    bool same_name;
} recorded_clash;

struct tsr_registry {
    loaded_plugin *plugins;
    size_t n_plugins, cap_plugins;
    tsr_plugin_refusal *refusals;
    size_t n_refusals, cap_refusals;
    void **handles;
    size_t n_handles, cap_handles;
    char **dirs;
    size_t n_dirs;
    char **paths; /* realpaths of every object looked at, owned */
    size_t n_paths, cap_paths;
    recorded_clash *clashes;
    size_t n_clashes, cap_clashes;
};

const char *tsr_plugin_kind_name(uint32_t kind)
{
    switch (kind) {
    case TSR_PLUGIN_QUANT: return "quant";
    case TSR_PLUGIN_SAMPLER: return "sampler";
    case TSR_PLUGIN_SPEC: return "spec";
    case TSR_PLUGIN_ALLOC: return "alloc";
    }
    return "unknown";
}

/* The end of member in type: the least struct_size that holds it. */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* The size of each vtable as ABI 1.0 froze it: the least struct_size a
 * plugin of any 1.x minor may declare (a member appended since reads as
 * 0/NULL from a plugin that predates it). Never change these; the numbers
 * are asserted below for LP64. */
static size_t vtable_min_size(uint32_t kind)
{
    switch (kind) {
    case TSR_PLUGIN_QUANT: return END_OF(tsr_quant_vtable, quantize_reference);
    case TSR_PLUGIN_SAMPLER: return END_OF(tsr_sampler_vtable, reset);
    case TSR_PLUGIN_SPEC: return END_OF(tsr_spec_vtable, reset);
    case TSR_PLUGIN_ALLOC: return END_OF(tsr_alloc_vtable, map_file);
    }
    return 0;
}
#define DESC_MIN_SIZE END_OF(tsr_plugin_desc, vtable)
static_assert(sizeof(void *) != 8 || END_OF(tsr_quant_vtable, quantize_reference) == 96,
              "ABI 1.0 quant vtable");
static_assert(sizeof(void *) != 8 || END_OF(tsr_sampler_vtable, reset) == 56,
              "ABI 1.0 sampler vtable");
static_assert(sizeof(void *) != 8 || END_OF(tsr_spec_vtable, reset) == 56, "ABI 1.0 spec vtable");
static_assert(sizeof(void *) != 8 || END_OF(tsr_alloc_vtable, map_file) == 88,
              "ABI 1.0 alloc vtable");
static_assert(sizeof(void *) != 8 || DESC_MIN_SIZE == 64, "ABI 1.0 descriptor");

/* The size of the core's own copy of each vtable: every member it knows. */
static size_t vtable_core_size(uint32_t kind)
{
    switch (kind) {
    case TSR_PLUGIN_QUANT: return sizeof(tsr_quant_vtable);
    case TSR_PLUGIN_SAMPLER: return sizeof(tsr_sampler_vtable);
    case TSR_PLUGIN_SPEC: return sizeof(tsr_spec_vtable);
    case TSR_PLUGIN_ALLOC: return sizeof(tsr_alloc_vtable);
    }
    return 0;
}

static bool grow(void **array, size_t *cap, size_t needed, size_t elem)
{
    if (needed <= *cap)
        return true;
    size_t new_cap = *cap ? *cap * 2 : 16;
    while (new_cap < needed)
        new_cap *= 2;
    void *bigger = realloc(*array, new_cap * elem);
    if (!bigger)
        return false;
    *array = bigger;
    *cap = new_cap;
    return true;
}

static tsr_status refuse(tsr_registry *reg, tsr_error *err, const char *path, const char *fmt,
                         ...) TSR_PRINTF(4, 5);

static tsr_status refuse(tsr_registry *reg, tsr_error *err, const char *path, const char *fmt, ...)
{
    char reason[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    char *line = NULL;
    if (asprintf(&line, "%s: %s", path, reason) < 0)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins");
    if (!grow((void **)&reg->refusals, &reg->cap_refusals, reg->n_refusals + 1,
              sizeof *reg->refusals)) {
        free(line);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins");
    }
    reg->refusals[reg->n_refusals].path = path;
    reg->refusals[reg->n_refusals].reason = line;
    reg->n_refusals++;
    tsr_log(TSR_LOG_DEBUG, "loader", "%s", line);
    return TSR_OK;
}

/* Checks a tsr_abi head; on refusal writes why to why. */
static bool abi_acceptable(const tsr_abi *abi, size_t frozen_size, const char *what, char *why,
                           size_t why_bytes)
{
    if (abi->abi_major != TSR_ABI_MAJOR) {
        snprintf(why, why_bytes,
                 "%s was built for plugin ABI %u.%u; this core speaks %d.%d (major versions "
                 "must match): rebuild the plugin against this tessera",
                 what, abi->abi_major, abi->abi_minor, TSR_ABI_MAJOR, TSR_ABI_MINOR);
        return false;
    }
    if (abi->abi_minor > TSR_ABI_MINOR) {
        snprintf(why, why_bytes,
                 "%s was built for plugin ABI %u.%u, newer than this core's %d.%d: upgrade "
                 "tessera or rebuild the plugin against this one",
                 what, abi->abi_major, abi->abi_minor, TSR_ABI_MAJOR, TSR_ABI_MINOR);
        return false;
    }
    if (abi->struct_size < frozen_size) {
        snprintf(why, why_bytes,
                 "%s declares struct_size %u, shorter than the %zu bytes plugin ABI %u.%u "
                 "requires (built for plugin ABI %u.%u; this core speaks %d.%d)",
                 what, abi->struct_size, frozen_size, abi->abi_major, abi->abi_minor,
                 abi->abi_major, abi->abi_minor, TSR_ABI_MAJOR, TSR_ABI_MINOR);
        return false;
    }
    return true;
}

/* The members a plugin of each kind cannot do without. */
static const char *missing_member(uint32_t kind, const void *vtable)
{
    switch (kind) {
    case TSR_PLUGIN_QUANT: {
        const tsr_quant_vtable *q = vtable;
        if (q->block_elems == 0 || q->block_bytes == 0)
            return "block_elems/block_bytes";
        if (!q->dequantize)
            return "dequantize";
        if (!(q->flags & TSR_QUANT_ACTIVATION)) {
            if (!q->matvec)
                return "matvec";
            if (!q->matmat)
                return "matmat";
            if (!q->matmat_reference)
                return "matmat_reference";
        }
        if (q->quantize && !q->quantize_reference)
            return "quantize_reference";
        return NULL;
    }
    case TSR_PLUGIN_SAMPLER: {
        const tsr_sampler_vtable *s = vtable;
        return !s->create ? "create" : !s->destroy ? "destroy" : !s->apply ? "apply" : NULL;
    }
    case TSR_PLUGIN_SPEC: {
        const tsr_spec_vtable *s = vtable;
        return !s->create ? "create" : !s->destroy ? "destroy" : !s->propose ? "propose" : NULL;
    }
    case TSR_PLUGIN_ALLOC: {
        const tsr_alloc_vtable *a = vtable;
        if (!a->open) return "open";
        if (!a->close) return "close";
        if (!a->device_count) return "device_count";
        if (!a->device_info) return "device_info";
        if (!a->reserve) return "reserve";
        if (!a->release) return "release";
        if (!a->bytes_in_use) return "bytes_in_use";
        if (!a->peak_bytes) return "peak_bytes";
        return NULL;
    }
    }
    return "vtable";
}

/* A declared parameter list the core can validate profiles against. */
static bool params_sound(const tsr_plugin_desc *desc, char *why, size_t why_bytes)
{
    if (desc->n_params && !desc->params) {
        snprintf(why, why_bytes, "declares %u parameters but no list", desc->n_params);
        return false;
    }
    for (uint32_t i = 0; i < desc->n_params; i++) {
        const tsr_param_desc *p = &desc->params[i];
        if (!p->name || !p->name[0]) {
            snprintf(why, why_bytes, "parameter #%u has no name", i);
            return false;
        }
        if (p->type < TSR_PARAM_BOOL || p->type > TSR_PARAM_FLOAT_MAP) {
            snprintf(why, why_bytes, "parameter '%s' has unknown type %u", p->name, p->type);
            return false;
        }
        bool numeric = p->type == TSR_PARAM_INT || p->type == TSR_PARAM_FLOAT;
        if (numeric && (!(p->min <= p->max) || p->default_number < p->min ||
                        p->default_number > p->max)) {
            snprintf(why, why_bytes, "parameter '%s' has default %g outside its range [%g, %g]",
                     p->name, p->default_number, p->min, p->max);
            return false;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(desc->params[j].name, p->name) == 0) {
                snprintf(why, why_bytes, "parameter '%s' is declared twice", p->name);
                return false;
            }
    }
    return true;
}

static const loaded_plugin *find_clash(const tsr_registry *reg, const tsr_plugin_desc *desc,
                                       const void *vtable)
{
    for (size_t i = 0; i < reg->n_plugins; i++) {
        const tsr_plugin *p = &reg->plugins[i].public;
        if (p->kind != desc->kind)
            continue;
        if (strcmp(p->name, desc->name) == 0)
            return &reg->plugins[i];
        if (desc->kind == TSR_PLUGIN_QUANT &&
            ((const tsr_quant_vtable *)p->vtable)->gguf_type ==
                ((const tsr_quant_vtable *)vtable)->gguf_type)
            return &reg->plugins[i];
    }
    return NULL;
}

/* Refuses a plugin an earlier one shadows, naming both files and, for a
 * quant plugin, the GGUF type; remembers the clash for profile checks. */
static bool refuse_clash(tsr_registry *reg, tsr_error *err, const char *path,
                         const tsr_plugin_desc *desc, const tsr_quant_vtable *q,
                         const loaded_plugin *winner)
{
    const char *kind = tsr_plugin_kind_name(desc->kind);
    bool same_name = strcmp(winner->public.name, desc->name) == 0;
    char type[64] = "";
    if (q) {
        const tsr_ggml_type_info *info = tsr_ggml_type(q->gguf_type);
        snprintf(type, sizeof type, "GGUF type %u (%s)", q->gguf_type,
                 info ? info->name : "unknown to this core");
    }
    tsr_status s;
    if (same_name)
        s = refuse(reg, err, path,
                   "%s plugin '%s'%s%s is already provided by %s ('%s'); the first on the "
                   "search path wins, so this one is not loaded",
                   kind, desc->name, q ? " for " : "", type, winner->public.path,
                   winner->public.name);
    else
        s = refuse(reg, err, path,
                   "quant plugin '%s' claims %s, which quant plugin '%s' of %s already serves; "
                   "the first on the search path wins, so this one is not loaded",
                   desc->name, type, winner->public.name, winner->public.path);
    if (s != TSR_OK)
        return false;
    char *name = strdup(desc->name);
    if (!name || !grow((void **)&reg->clashes, &reg->cap_clashes, reg->n_clashes + 1,
                       sizeof *reg->clashes)) {
        free(name);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins"), false;
    }
    reg->clashes[reg->n_clashes++] = (recorded_clash){
        (tsr_plugin_kind)desc->kind, name, path, (size_t)(winner - reg->plugins), same_name};
    return true;
}

/* Registers the index-th descriptor of an object, or records why not.
 * Returns false only when memory ran out. */
static bool register_one(tsr_registry *reg, const char *path, uint32_t index,
                         const tsr_plugin_desc *raw, bool *kept, tsr_error *err)
{
    char why[768];
    char what[96];
    snprintf(what, sizeof what, "plugin #%u", index);
    if (!abi_acceptable(&raw->abi, DESC_MIN_SIZE, what, why, sizeof why))
        return refuse(reg, err, path, "%s", why) == TSR_OK;

    tsr_plugin_desc desc = {0};
    memcpy(&desc, raw, raw->abi.struct_size < sizeof desc ? raw->abi.struct_size : sizeof desc);
    if (!desc.name || !desc.name[0])
        return refuse(reg, err, path, "plugin #%u has no name", index) == TSR_OK;
    const char *kind = tsr_plugin_kind_name(desc.kind);
    size_t frozen = vtable_min_size(desc.kind), core_size = vtable_core_size(desc.kind);
    if (frozen == 0)
        return refuse(reg, err, path,
                      "plugin '%s' has kind %u, unknown to this core (it knows quant, sampler, "
                      "spec and alloc; plugin ABI %d.%d)",
                      desc.name, desc.kind, TSR_ABI_MAJOR, TSR_ABI_MINOR) == TSR_OK;
    if (!desc.vtable)
        return refuse(reg, err, path, "%s plugin '%s' has no vtable", kind, desc.name) == TSR_OK;
    snprintf(what, sizeof what, "%s plugin '%s' vtable", kind, desc.name);
    const tsr_abi *vabi = desc.vtable;
    if (!abi_acceptable(vabi, frozen, what, why, sizeof why))
        return refuse(reg, err, path, "%s", why) == TSR_OK;

    void *copy = calloc(1, core_size);
    if (!copy)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins"), false;
    memcpy(copy, desc.vtable, vabi->struct_size < core_size ? vabi->struct_size : core_size);

    const char *missing = missing_member(desc.kind, copy);
    bool ok = true;
    if (missing) {
        ok = refuse(reg, err, path, "%s plugin '%s' lacks the required member %s", kind,
                    desc.name, missing) == TSR_OK;
        free(copy);
        return ok;
    }
    if (!params_sound(&desc, why, sizeof why)) {
        free(copy);
        return refuse(reg, err, path, "%s plugin '%s': %s", kind, desc.name, why) == TSR_OK;
    }
    const loaded_plugin *clash = find_clash(reg, &desc, copy);
    if (clash) {
        ok = refuse_clash(reg, err, path, &desc, desc.kind == TSR_PLUGIN_QUANT ? copy : NULL,
                          clash);
        free(copy);
        return ok;
    }
    /* A quant plugin chooses its kernels for the CPU features now allowed
     * (plugin.h: init is called once after loading). */
    const tsr_quant_vtable *q = desc.kind == TSR_PLUGIN_QUANT ? copy : NULL;
    if (q && q->init) {
        tsr_error init_err = {0};
        if (q->init(tsr_host_services(), &init_err) != TSR_OK) {
            free(copy);
            return refuse(reg, err, path, "quant plugin '%s' failed to initialise: %s",
                          desc.name, init_err.message) == TSR_OK;
        }
    }
    if (!grow((void **)&reg->plugins, &reg->cap_plugins, reg->n_plugins + 1,
              sizeof *reg->plugins)) {
        free(copy);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins"), false;
    }
    loaded_plugin *lp = &reg->plugins[reg->n_plugins++];
    lp->vtable_copy = copy;
    lp->public = (tsr_plugin){
        .kind = (tsr_plugin_kind)desc.kind,
        .name = desc.name,
        .version = desc.version ? desc.version : "",
        .summary = desc.summary ? desc.summary : "",
        .path = path,
        .abi_major = desc.abi.abi_major,
        .abi_minor = desc.abi.abi_minor,
        .params = desc.params,
        .n_params = desc.n_params,
        .vtable = copy,
    };
    *kept = true;
    tsr_log(TSR_LOG_DEBUG, "loader", "%s: %s plugin '%s' loaded", path, kind, desc.name);
    return true;
}

static bool seen_before(const tsr_registry *reg, const char *real)
{
    for (size_t i = 0; i < reg->n_paths; i++)
        if (strcmp(reg->paths[i], real) == 0)
            return true;
    return false;
}

/* Loads one object. Returns false only when memory ran out. */
static bool load_object(tsr_registry *reg, const char *file, tsr_error *err)
{
    char *real = realpath(file, NULL);
    if (!real)
        return true; /* vanished or dangling link: nothing to load */
    if (seen_before(reg, real)) {
        free(real);
        return true;
    }
    if (!grow((void **)&reg->paths, &reg->cap_paths, reg->n_paths + 1, sizeof *reg->paths)) {
        free(real);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins"), false;
    }
    reg->paths[reg->n_paths++] = real;

    dlerror();
    void *handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *text = dlerror();
        return refuse(reg, err, real,
                      "cannot be loaded as a shared object (%s); this core loads plugins "
                      "built for plugin ABI %d.%d",
                      text ? text : "unknown reason", TSR_ABI_MAJOR, TSR_ABI_MINOR) == TSR_OK;
    }
    dlerror();
    void *symbol = dlsym(handle, TSR_PLUGIN_ENTRY_SYMBOL);
    const char *sym_error = dlerror();
    if (!symbol || sym_error) {
        dlclose(handle);
        return refuse(reg, err, real,
                      "not a tessera plugin: it exports no %s() (built for no plugin ABI; this "
                      "core speaks %d.%d)",
                      TSR_PLUGIN_ENTRY_SYMBOL, TSR_ABI_MAJOR, TSR_ABI_MINOR) == TSR_OK;
    }
    tsr_plugin_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry);

    bool kept = false, ok = true;
    uint32_t index = 0;
    for (; ok && index < MAX_PLUGINS_PER_OBJECT; index++) {
        const tsr_plugin_desc *desc = entry(index);
        if (!desc)
            break;
        ok = register_one(reg, real, index, desc, &kept, err);
    }
    if (ok && index == MAX_PLUGINS_PER_OBJECT)
        ok = refuse(reg, err, real, "%s() returned more than %d plugins: it never returns NULL",
                    TSR_PLUGIN_ENTRY_SYMBOL, MAX_PLUGINS_PER_OBJECT) == TSR_OK;
    if (ok && index == 0)
        ok = refuse(reg, err, real, "%s(0) returned NULL: the object carries no plugin",
                    TSR_PLUGIN_ENTRY_SYMBOL) == TSR_OK;
    if (!kept) {
        dlclose(handle);
        return ok;
    }
    if (!grow((void **)&reg->handles, &reg->cap_handles, reg->n_handles + 1,
              sizeof *reg->handles)) {
        dlclose(handle);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins"), false;
    }
    reg->handles[reg->n_handles++] = handle;
    return ok;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Loads every *.so of one directory in name order. */
static bool load_dir(tsr_registry *reg, const char *dir, tsr_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        /* A folder that is not there is a path entry for another machine;
         * one that is there but cannot be read hides plugins: say so. */
        if (errno != ENOENT)
            tsr_log(TSR_LOG_WARN, "loader", "%s: cannot read this plugin folder (%s); its "
                    "plugins are skipped", dir, strerror(errno));
        return true;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *entry;
    while (ok && (entry = readdir(d))) {
        if (!ends_with(entry->d_name, ".so"))
            continue;
        char *name = strdup(entry->d_name);
        ok = name && grow((void **)&names, &cap, n + 1, sizeof *names);
        if (ok)
            names[n++] = name;
        else
            free(name);
    }
    closedir(d);
    if (!ok) {
        tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while listing %s", dir);
    } else if (n > 0) {
        qsort(names, n, sizeof *names, compare_names);
    }
    for (size_t i = 0; i < n; i++) {
        if (ok) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            ok = load_object(reg, path, err);
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

tsr_status tsr_registry_open(const char *const *dirs, size_t n_dirs, tsr_registry **out,
                             tsr_error *err)
{
    *out = NULL;
    tsr_registry *reg = calloc(1, sizeof *reg);
    if (!reg || (n_dirs && !(reg->dirs = calloc(n_dirs, sizeof *reg->dirs)))) {
        free(reg);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins");
    }
    for (size_t i = 0; i < n_dirs; i++) {
        if (!dirs[i] || !dirs[i][0])
            continue;
        char *real = realpath(dirs[i], NULL);
        char *copy = real ? real : strdup(dirs[i]);
        if (!copy) {
            tsr_registry_close(reg);
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins");
        }
        bool duplicate = false;
        for (size_t j = 0; j < reg->n_dirs; j++)
            duplicate = duplicate || strcmp(reg->dirs[j], copy) == 0;
        if (duplicate) {
            free(copy);
            continue;
        }
        reg->dirs[reg->n_dirs++] = copy;
        if (!load_dir(reg, copy, err)) {
            tsr_registry_close(reg);
            return err ? err->code : TSR_ERR_NOMEM;
        }
    }
    *out = reg;
    return TSR_OK;
}

tsr_status tsr_registry_open_file(const char *path, tsr_registry **out, tsr_error *err)
{
    *out = NULL;
    if (access(path, R_OK) != 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot be read (%s)", path, strerror(errno));
    tsr_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory while loading plugins");
    if (!load_object(reg, path, err)) {
        tsr_registry_close(reg);
        return err ? err->code : TSR_ERR_NOMEM;
    }
    *out = reg;
    return TSR_OK;
}

void tsr_registry_close(tsr_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_plugins; i++)
        free(reg->plugins[i].vtable_copy);
    free(reg->plugins);
    for (size_t i = 0; i < reg->n_clashes; i++)
        free(reg->clashes[i].name);
    free(reg->clashes);
    for (size_t i = 0; i < reg->n_refusals; i++)
        free((char *)reg->refusals[i].reason);
    free(reg->refusals);
    for (size_t i = 0; i < reg->n_handles; i++)
        dlclose(reg->handles[i]);
    free(reg->handles);
    for (size_t i = 0; i < reg->n_dirs; i++)
        free(reg->dirs[i]);
    free(reg->dirs);
    for (size_t i = 0; i < reg->n_paths; i++)
        free(reg->paths[i]);
    free(reg->paths);
    free(reg);
}

size_t tsr_registry_count(const tsr_registry *reg)
{
    return reg->n_plugins;
}

const tsr_plugin *tsr_registry_get(const tsr_registry *reg, size_t index)
{
    return index < reg->n_plugins ? &reg->plugins[index].public : NULL;
}

size_t tsr_registry_refusal_count(const tsr_registry *reg)
{
    return reg->n_refusals;
}

const tsr_plugin_refusal *tsr_registry_refusal(const tsr_registry *reg, size_t index)
{
    return index < reg->n_refusals ? &reg->refusals[index] : NULL;
}

const tsr_plugin *tsr_registry_find(const tsr_registry *reg, tsr_plugin_kind kind,
                                    const char *name)
{
    for (size_t i = 0; i < reg->n_plugins; i++) {
        const tsr_plugin *p = &reg->plugins[i].public;
        if (p->kind == kind && strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}

const tsr_plugin *tsr_registry_find_quant(const tsr_registry *reg, uint32_t gguf_type)
{
    for (size_t i = 0; i < reg->n_plugins; i++) {
        const tsr_plugin *p = &reg->plugins[i].public;
        if (p->kind == TSR_PLUGIN_QUANT &&
            ((const tsr_quant_vtable *)p->vtable)->gguf_type == gguf_type)
            return p;
    }
    return NULL;
}

size_t tsr_registry_dir_count(const tsr_registry *reg)
{
    return reg->n_dirs;
}

const char *tsr_registry_dir(const tsr_registry *reg, size_t index)
{
    return index < reg->n_dirs ? reg->dirs[index] : NULL;
}

const tsr_quant_vtable *tsr_plugin_quant(const tsr_plugin *p)
{
    return p && p->kind == TSR_PLUGIN_QUANT ? p->vtable : NULL;
}

const tsr_sampler_vtable *tsr_plugin_sampler(const tsr_plugin *p)
{
    return p && p->kind == TSR_PLUGIN_SAMPLER ? p->vtable : NULL;
}

const tsr_spec_vtable *tsr_plugin_spec(const tsr_plugin *p)
{
    return p && p->kind == TSR_PLUGIN_SPEC ? p->vtable : NULL;
}

const tsr_alloc_vtable *tsr_plugin_alloc(const tsr_plugin *p)
{
    return p && p->kind == TSR_PLUGIN_ALLOC ? p->vtable : NULL;
}

size_t tsr_registry_clash_count(const tsr_registry *reg)
{
    return reg->n_clashes;
}

tsr_plugin_clash tsr_registry_clash(const tsr_registry *reg, size_t index)
{
    const recorded_clash *c = &reg->clashes[index];
    return (tsr_plugin_clash){c->kind, c->name, c->path, &reg->plugins[c->winner].public,
                              c->same_name};
}
