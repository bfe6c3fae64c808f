/* The deployment profile (PROFILE.md, version 1): one YAML file read into a
 * typed struct, every default filled in, every value with its place in the
 * file so later stages (the planner) can point at it.
 *
 * Two phases, both collecting every problem as a diagnostic
 * (FILE:LINE:COLUMN: message) instead of stopping at the first:
 *
 *   1. tsr_profile_load / tsr_profile_parse read the YAML: syntax, types,
 *      sizes, ranges, unknown keys (with the nearest known key), '~' and
 *      profile-relative paths, model files that do not exist.
 *   2. tsr_profile_validate checks the profile against the plugins on the
 *      search path: every plugin named exists and can do what it is named
 *      for, sampler, spec and allocator parameters against their declarations, the
 *      split against the allocator's devices. It fills the parameter sets
 *      the runtime hands to plugins.
 *
 * Rules every key follows: an absent key and `key: null` (or `key:`) both
 * mean the default; a relative path is relative to the profile's folder;
 * sizes carry units (core/base/units.h).
 *
 * Ownership: the profile owns every string and array in it. After
 * tsr_profile_validate, the tsr_plugin pointers in it belong to the registry
 * it was validated against: close the registry after the last use of them.
 * Nothing here is thread-safe; a profile is read once, then only read.
 */
#ifndef TSR_CORE_PROFILE_H
#define TSR_CORE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "model_path.h"
#include "params.h"
#include "yaml_tree.h"

/* A place in the profile, 1-based. {0, 0}: not written in the file (a
 * default, or derived from another key). */
typedef struct tsr_profile_loc {
    uint32_t line, column;
} tsr_profile_loc;

/* The only profile version this build reads. */
enum { TSR_PROFILE_VERSION = 1 };

/* Limits beyond which a number is taken as a mistake, not a wish. */
enum {
    TSR_PROFILE_MAX_SEQ_LEN = 1 << 24,       /* tokens of context */
    TSR_PROFILE_MAX_SPEC_TOKENS = 256,       /* speculative.tokens */
    TSR_PROFILE_MAX_THREADS = 4096,
    TSR_PROFILE_MAX_PARALLEL = 4096,         /* server.parallel */
    TSR_PROFILE_MAX_QUEUE = 1000000,         /* server.queue */
    TSR_PROFILE_MAX_DEVICES = 64,            /* devices.sim, devices.split entries */
    TSR_PROFILE_MAX_RANKS = 4096,            /* dist.layers entries */
    TSR_PROFILE_MAX_IN_FLIGHT = 4096,        /* dist.in_flight */
};
/* Sizes above this (1024 TiB) are refused as absurd. */
#define TSR_PROFILE_MAX_BYTES ((uint64_t)1 << 50)
/* A profile file longer than this (1 MiB; the examples are under 2 KiB) is
 * refused before it is read whole: /dev/zero or `yes |` is not a profile. */
enum { TSR_PROFILE_MAX_FILE_BYTES = 1 << 20 };

/* `model:` and `draft:` */
typedef struct tsr_profile_model {
    tsr_profile_loc loc;          /* the section's key */
    char *path;                   /* '~' expanded, relative paths joined to the profile's folder;
                                     NULL only when the profile gave none (an error) */
    char *path_as_written;        /* the text in the file, for messages */
    tsr_profile_loc path_loc;
    tsr_model_format format;
    uint32_t max_seq_len;         /* tokens; 0 = the model's own (default). draft: the model's */
    tsr_profile_loc max_seq_len_loc;
    char *cache_type;             /* KV cache quant plugin; default "f16". draft: the model's */
    tsr_profile_loc cache_type_loc;
    char *quantize;               /* re-quantize weights to this quant plugin; NULL (default):
                                     as stored */
    tsr_profile_loc quantize_loc;
    /* The command-line options that replaced cache_type and quantize
     * ("--cache-type"), or NULL: validation then blames the option, not a
     * line of the file. Static strings, not freed. */
    const char *cache_type_option, *quantize_option;
} tsr_profile_model;

/* `speculative:`. Present when the section is, or when a draft is given
 * (speculation is what a draft is for). */
typedef struct tsr_profile_speculative {
    tsr_profile_loc loc;
    char *strategy;               /* spec plugin; default "draft-model" */
    tsr_profile_loc strategy_loc;
    uint32_t tokens;              /* most tokens proposed per step; default 5 */
    tsr_profile_loc tokens_loc;
    tsr_yaml_node *options;       /* `options:` as written (a mapping), or NULL */
    tsr_profile_loc options_loc;
    /* Filled by tsr_profile_validate: */
    const tsr_plugin *plugin;
    tsr_param_set params;         /* options checked against plugin->params, defaults filled */
    tsr_profile_loc *param_locs;  /* plugin->n_params places ({0,0}: the default) */
} tsr_profile_speculative;

/* One entry of `sampler:` */
typedef struct tsr_profile_sampler {
    char *name;                   /* sampler plugin */
    tsr_profile_loc loc;          /* the entry's name */
    tsr_yaml_node *args;          /* what followed `name:` (a scalar for the first parameter,
                                     a mapping, or a list for a first list parameter); NULL
                                     for the defaults */
    bool implicit;                /* appended by validate: the chain chose no token */
    /* Filled by tsr_profile_validate: */
    const tsr_plugin *plugin;
    tsr_param_set params;         /* every declared parameter, defaults filled */
    tsr_profile_loc *param_locs;  /* plugin->n_params places ({0,0}: the default) */
} tsr_profile_sampler;

/* `devices:` */
typedef struct tsr_profile_devices {
    tsr_profile_loc loc;
    char *allocator;              /* alloc plugin; default "host" */
    tsr_profile_loc allocator_loc;
    tsr_yaml_node *options;       /* `options:` as written (a mapping), or NULL */
    tsr_profile_loc options_loc;
    uint64_t *sim_bytes;          /* capacity of each simulated device; default [24GiB, 24GiB] */
    size_t n_sim;
    tsr_profile_loc sim_loc;
    tsr_profile_loc *sim_locs;    /* n_sim places */
    bool split_auto;              /* default true */
    uint64_t *split_bytes;        /* weight budget per device when !split_auto */
    size_t n_split;
    tsr_profile_loc split_loc;
    tsr_profile_loc *split_locs;  /* n_split places */
    uint64_t reserve_bytes;       /* kept free on every device; default 256MiB */
    tsr_profile_loc reserve_loc;
    bool overhead_auto;           /* default true: the allocator's estimate */
    uint64_t overhead_bytes;      /* when !overhead_auto */
    tsr_profile_loc overhead_loc;
    /* Filled by tsr_profile_validate: */
    const tsr_plugin *plugin;
    tsr_param_set params;         /* options checked against plugin->params, defaults filled */
    tsr_profile_loc *param_locs;  /* plugin->n_params places ({0,0}: the default) */
    uint32_t n_devices;           /* what the allocator reported */
} tsr_profile_devices;

/* `server:` */
typedef struct tsr_profile_server {
    tsr_profile_loc loc;
    char *host;                   /* default "127.0.0.1" */
    tsr_profile_loc host_loc;
    uint32_t port;                /* 1..65535; default 8080 */
    tsr_profile_loc port_loc;
    uint32_t parallel;            /* sequences decoded together; default 4 */
    tsr_profile_loc parallel_loc;
    uint32_t queue;               /* requests waiting; default 64 */
    tsr_profile_loc queue_loc;
    char **api_keys;              /* a key or a list; none (default): no authorization */
    size_t n_api_keys;
    tsr_profile_loc api_key_loc;
    char *model_name;             /* NULL (default): the model's general.name */
    tsr_profile_loc model_name_loc;
    uint64_t max_body_bytes;      /* larger request bodies are answered 413; default 8MiB */
    tsr_profile_loc max_body_loc;
} tsr_profile_server;

/* `dist:` (read by every build; used under mpirun, one pipeline stage per rank) */
typedef struct tsr_profile_dist_range {
    uint32_t first, last;         /* layers, inclusive */
    tsr_profile_loc loc;
} tsr_profile_dist_range;

typedef struct tsr_profile_dist {
    tsr_profile_loc loc;
    bool layers_auto;             /* default true: by each rank's room */
    tsr_profile_dist_range *layers; /* one per rank, contiguous from layer 0, when !layers_auto */
    size_t n_layers;
    tsr_profile_loc layers_loc;
    bool activations_f16;         /* default false: f32, bit-identical to one host */
    tsr_profile_loc activations_loc;
    uint32_t in_flight;           /* chunks in flight; 0 (default): the number of stages */
    tsr_profile_loc in_flight_loc;
    uint64_t timeout_ms;          /* the longest wait for another rank; default 10 s */
    tsr_profile_loc timeout_loc;
} tsr_profile_dist;

typedef struct tsr_profile {
    char *file;                   /* the name diagnostics use (as given to load/parse) */
    char *dir;                    /* the folder relative paths were resolved against */

    uint32_t version;             /* always TSR_PROFILE_VERSION */
    tsr_profile_loc version_loc;
    tsr_profile_model model;
    bool has_draft;
    tsr_profile_model draft;      /* meaningful when has_draft */
    bool has_speculative;
    bool has_server;              /* the profile has a `server:` section */
    tsr_profile_speculative speculative; /* meaningful when has_speculative */
    tsr_profile_devices devices;
    tsr_profile_sampler *sampler; /* the chain, in order */
    size_t n_sampler;
    tsr_profile_loc sampler_loc;
    char **plugin_dirs;           /* plugins.path, resolved against the
                                     profile's folder; default none */
    size_t n_plugin_dirs;
    tsr_profile_loc plugin_dirs_loc;
    uint32_t threads;             /* 0 (default): one per physical core */
    tsr_profile_loc threads_loc;
    uint64_t seed;                /* default 42 */
    tsr_profile_loc seed_loc;
    tsr_profile_server server;
    bool has_dist;                /* the profile has a `dist:` section */
    tsr_profile_dist dist;

    bool validated;               /* tsr_profile_validate succeeded */

    /* Private: the YAML that sampler args and speculative options point into. */
    tsr_yaml_node *tree_;
    tsr_yaml_node *default_tree_;
} tsr_profile;

/* Reads and checks the profile at path (phase 1). Every problem is added to
 * diags. Returns:
 *   TSR_OK           *out is the profile, no errors (warnings may be in diags);
 *   TSR_ERR_INVALID  errors were added; *out is still the profile with a
 *                    default in place of each bad value, so validation can
 *                    find more problems, or NULL when the YAML itself could
 *                    not be read (syntax);
 *   TSR_ERR_IO       the file cannot be read, is a folder, is longer than
 *                    TSR_PROFILE_MAX_FILE_BYTES or holds a NUL byte (also
 *                    added to diags, without a place); *out is NULL;
 *   TSR_ERR_NOMEM    *out is NULL.
 * Free *out with tsr_profile_free. */
tsr_status tsr_profile_load(const char *path, tsr_profile **out, tsr_diagnostics *diags,
                            tsr_error *err);

/* The same from memory (n_bytes of text, need not be NUL-terminated): file
 * names it in diagnostics, base_dir is the folder relative paths are resolved
 * against (NULL: the current directory). Model files are still looked for. */
tsr_status tsr_profile_parse(const char *text, size_t n_bytes, const char *file,
                             const char *base_dir, tsr_profile **out, tsr_diagnostics *diags,
                             tsr_error *err);

void tsr_profile_free(tsr_profile *profile);

/* Phase 2: checks the profile against the plugins in registry, adding every
 * problem to diags, and fills the plugin pointers, parameter sets and
 * n_devices. Opens the allocator (through its vtable, with
 * tsr_host_services()) to count its devices, and closes it again. A chain
 * whose last sampler chooses no token gets `dist` appended (implicit).
 * Returns TSR_OK (profile->validated set), TSR_ERR_INVALID when it added an
 * error, TSR_ERR_NOMEM. Call at most once per profile. */
tsr_status tsr_profile_validate(tsr_profile *profile, const tsr_registry *registry,
                                tsr_diagnostics *diags, tsr_error *err);

/* What the allocator's open is told (plugin.h): devices.sim when the
 * allocator takes it, and the validated devices.options. Points into
 * devices; valid while it is. Call after tsr_profile_validate. */
void tsr_profile_alloc_config(const tsr_profile_devices *devices, tsr_alloc_config *config);

/* The profile as YAML, every default written out (tsr_profile_parse reads
 * it back to the same values). Validated sampler and spec parameters are
 * written in full; unvalidated ones as the file had them. Returns a malloc'd
 * string, or NULL with err set. */
char *tsr_profile_to_yaml(const tsr_profile *profile, tsr_error *err);

/* The sampler chain's default, as PROFILE.md gives it. */
extern const char *const tsr_profile_default_sampler_yaml;

#endif
