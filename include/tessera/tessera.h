/* tessera — the runtime API.
 *
 * libtessera loads plugins (tessera/plugin.h), reads deployment profiles and
 * model files, plans memory and runs models. Every fallible call returns a
 * tsr_status and fills a caller-owned tsr_error (tessera/error.h); every
 * tsr_x_open has a tsr_x_close; nothing here prints or exits — log lines go
 * to the sink the application installs.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tessera/error.h"
#include "tessera/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version ("0.1.0"); the ABI it speaks is TSR_ABI_MAJOR.MINOR. */
TSR_EXPORT const char *tsr_version(void);
/* Build options, one short line: "cuda=no mpi=no sanitizers=no". */
TSR_EXPORT const char *tsr_build_options(void);

/* ---- logging ------------------------------------------------------------ */

/* Receives every line at or below the current level; may be called from any
 * thread (the core serialises calls). NULL drops everything (the default). */
typedef void (*tsr_log_sink)(int level, const char *source, const char *message, void *ctx);
TSR_EXPORT void tsr_log_set_sink(tsr_log_sink sink, void *ctx);
/* TSR_LOG_ERROR .. TSR_LOG_DEBUG; default TSR_LOG_WARN. */
TSR_EXPORT void tsr_log_set_level(int level);
TSR_EXPORT int tsr_log_level(void);
/* "error", "warn", "info", "debug" -> level, or -1. */
TSR_EXPORT int tsr_log_level_from_name(const char *name);

/* ---- CPU features ------------------------------------------------------- */

/* The TSR_CPU_* bits this processor has. */
TSR_EXPORT uint32_t tsr_cpu_detect(void);
/* The bits plugins may use: detected, limited by tsr_cpu_set_limit. */
TSR_EXPORT uint32_t tsr_cpu_features(void);
/* Limits the features by an ISA level name: "scalar", "avx2", "avx512",
 * "avx512vnni", "native". Returns TSR_ERR_INVALID for an unknown name. The
 * CLI applies $TESSERA_ISA this way. Call before loading plugins. */
TSR_EXPORT tsr_status tsr_cpu_set_limit(const char *isa_level, tsr_error *err);
/* Writes the names of the bits in features ("avx2 fma f16c ...") to buf. */
TSR_EXPORT void tsr_cpu_describe(uint32_t features, char *buf, size_t buf_bytes);

/* ---- plugins ------------------------------------------------------------ */

typedef struct tsr_registry tsr_registry;

/* One loaded plugin. vtable is the core's own zero-extended copy of the
 * plugin's vtable (members the plugin predates read NULL / 0). Owned by the
 * registry. */
typedef struct tsr_plugin {
    tsr_plugin_kind kind;
    const char *name;
    const char *version;
    const char *summary;
    const char *path;           /* absolute path of the .so */
    uint32_t abi_major, abi_minor;
    const tsr_param_desc *params;
    uint32_t n_params;
    const void *vtable;
} tsr_plugin;

/* A file that was looked at and refused; reason is one line naming the file,
 * what it was built for and what the core speaks. */
typedef struct tsr_plugin_refusal {
    const char *path;
    const char *reason;
} tsr_plugin_refusal;

/* Loads every *.so in dirs, in order, the files of one directory in
 * byte-wise name order; the first plugin of a kind and name (a quant plugin:
 * of a GGUF type) wins, a later one is refused naming both files and the
 * type. Directories that do not exist are skipped.
 * A broken plugin never fails the call: it becomes a refusal and the rest
 * still load. Fails only when memory runs out. */
TSR_EXPORT tsr_status tsr_registry_open(const char *const *dirs, size_t n_dirs,
                                        tsr_registry **out, tsr_error *err);
/* Unloads every plugin object (dlclose) and frees. Every deployment, sampler
 * and instance made from its plugins must be closed first. (The plugin ABI
 * has no device shutdown member yet: none of the tree's allocators needs
 * one.) NULL is fine. */
TSR_EXPORT void tsr_registry_close(tsr_registry *registry);

TSR_EXPORT size_t tsr_registry_count(const tsr_registry *registry);
TSR_EXPORT const tsr_plugin *tsr_registry_get(const tsr_registry *registry, size_t index);
TSR_EXPORT size_t tsr_registry_refusal_count(const tsr_registry *registry);
TSR_EXPORT const tsr_plugin_refusal *tsr_registry_refusal(const tsr_registry *registry,
                                                          size_t index);
/* The plugin of that kind and name, or NULL. */
TSR_EXPORT const tsr_plugin *tsr_registry_find(const tsr_registry *registry,
                                               tsr_plugin_kind kind, const char *name);
/* The quant plugin that claims a GGUF type id, or NULL. */
TSR_EXPORT const tsr_plugin *tsr_registry_find_quant(const tsr_registry *registry,
                                                     uint32_t gguf_type);
/* The directories searched, in order, after de-duplication. */
TSR_EXPORT size_t tsr_registry_dir_count(const tsr_registry *registry);
TSR_EXPORT const char *tsr_registry_dir(const tsr_registry *registry, size_t index);
/* "quant", "sampler", "spec", "alloc", or "unknown". */
TSR_EXPORT const char *tsr_plugin_kind_name(uint32_t kind);

/* Loads the one plugin object at path (no folder is searched) with the same
 * checks as tsr_registry_open: a refused object becomes a refusal. Errors:
 * TSR_ERR_IO when path cannot be read, TSR_ERR_NOMEM. */
TSR_EXPORT tsr_status tsr_registry_open_file(const char *path, tsr_registry **out,
                                             tsr_error *err);

/* ---- checking a plugin against the contract ------------------------------ */

/* One check of tsr_plugin_check. plugin is the plugin's name (NULL: the file
 * itself); check says what was checked; detail says why it failed or was
 * skipped (NULL when it passed). The strings live only during the call. */
typedef struct tsr_check_info {
    bool passed;  /* false: the plugin breaks the contract */
    bool skipped; /* nothing to check here (passed is true) */
    const char *plugin, *check, *detail;
} tsr_check_info;
typedef void (*tsr_check_cb)(const tsr_check_info *check, void *ctx);

/* Loads the plugin object at path alone and exercises every plugin in it
 * against tessera/plugin.h, reporting each check to cb (`tessera plugin
 * check`). quant: block sizes against GGUF's table; quantize/dequantize
 * round trips on seeded random, zero and large blocks; writes past a
 * block's bytes, a NaN included; the fast quantize against
 * quantize_reference; matvec and matmat of every kernel tier (each ISA
 * level, as TESSERA_ISA would set it) against matmat_reference, over row
 * ranges, and from several threads at once; and, when installed holds
 * another plugin of the same GGUF type, the same bytes through both.
 * sampler: instances on unsorted, sorted, one-candidate, all-equal and
 * -inf candidate arrays must leave a valid array. spec: proposals within
 * bounds (strategies that need a draft model are skipped). alloc:
 * devices described, reserve/release accounting, alignment, and the refusal
 * "DEVICE: cannot reserve N bytes: U of C bytes in use". installed (may be
 * NULL) also lends activation forms the file lacks. Changes the CPU-feature
 * limit while it runs and restores it: not while another thread uses
 * plugins. *n_failed counts failed checks. Errors: TSR_ERR_NOMEM only (a
 * plugin that cannot load is a failed check). */
TSR_EXPORT tsr_status tsr_plugin_check(const char *path, const tsr_registry *installed,
                                       tsr_check_cb cb, void *ctx, size_t *n_failed,
                                       tsr_error *err);

/* The host-services table handed to plugins (tessera/plugin.h), for the CPU
 * features allowed now (tsr_cpu_set_limit). Immutable and never freed: a
 * later call after the limit changed returns another table, and earlier
 * pointers stay valid and unchanged. Any thread. */
TSR_EXPORT const tsr_host *tsr_host_services(void);


/* ---- configuration (tessera.ini) --------------------------------------- */

/* Machine-wide settings, read from an INI file and the environment:
 *
 *   [plugins]  path = DIR:DIR...            searched after the profile's and $TESSERA_PLUGIN_PATH
 *   [runtime]  threads = N                  default CPU threads (0 = one per physical core)
 *              log = error|warn|info|debug  default log level
 *   [models]   cache_dir = DIR              where fetched models live (~/.cache/tessera/models)
 *
 * Environment overrides: TESSERA_CONFIG (the file), TESSERA_PLUGIN_PATH,
 * TESSERA_THREADS, TESSERA_LOG, TESSERA_MODEL_CACHE.
 *
 * The caller allocates this struct, so its layout is frozen: members are
 * never added (a later setting gets a function of its own), and the
 * static_assert below pins its size. */
typedef struct tsr_config {
    char *path;              /* the file read, or NULL when none was found */
    char **plugin_dirs;      /* [plugins] path, split at ':', '~' expanded, a relative
                                entry joined to the file's folder */
    size_t n_plugin_dirs;
    char **env_plugin_dirs;  /* $TESSERA_PLUGIN_PATH, split */
    size_t n_env_plugin_dirs;
    int threads;             /* >= 0 */
    int log_level;           /* TSR_LOG_* */
    char *model_cache_dir;   /* '~' expanded */
} tsr_config;

static_assert(sizeof(void *) != 8 || sizeof(tsr_config) == 56, "tsr_config is frozen");

/* Reads path, or when NULL $TESSERA_CONFIG, ~/.config/tessera/tessera.ini,
 * then SYSCONFDIR/tessera.ini (the first that exists; none is fine), then
 * applies the environment. Errors name FILE:LINE. Free with tsr_config_free. */
TSR_EXPORT tsr_status tsr_config_load(const char *path, tsr_config *config, tsr_error *err);
TSR_EXPORT void tsr_config_free(tsr_config *config);
/* The install directory of plugins, last on every search path. */
TSR_EXPORT const char *tsr_install_plugin_dir(void);
/* Expands a leading '~' and, for a relative path, joins it to base_dir (when
 * non-NULL). Returns a malloc'd string, or NULL when memory runs out. */
TSR_EXPORT char *tsr_path_resolve(const char *path, const char *base_dir);


/* ======================================================================== *
 *  The runtime API: deployments, text, contexts, batches, decode, sampling *
 * ======================================================================== *
 *
 * An application opens a deployment (a profile, or a model path with
 * defaults: plugins found, the plan made from headers, weights loaded), makes
 * a context on it (the KV caches of up to n_seq_max sequences and the scratch
 * the plan sized), fills batches with tokens of several sequences at their own
 * positions, decodes each batch in one forward pass and samples each
 * sequence's next token with its own sampler chain.
 *
 * Versioning. TSR_API_VERSION changes only when the meaning of an existing
 * function changes; functions and struct members are only ever appended. Every
 * params struct is passed by pointer and starts with struct_size, which the
 * caller sets to sizeof of the struct it was compiled with (the *_init
 * functions do): the library reads only members that size covers, and treats
 * the rest as their defaults.
 *
 * Threads. A tsr_deployment is read-only once open: its metadata and
 * tokenizer functions may be called from any thread at once. A tsr_context,
 * a tsr_batch and a tsr_sampler belong to one thread at a time (the caller
 * serialises); decode uses the deployment's own thread pool. Callbacks run on
 * the thread that made the call that invokes them.
 *
 * Errors. Every fallible function returns a tsr_status and fills the
 * caller's tsr_error; nothing aborts, exits or prints on bad input.
 */

#define TSR_API_VERSION 1
/* The TSR_API_VERSION the library was built with. */
TSR_EXPORT uint32_t tsr_api_version(void);

typedef int32_t tsr_token;
enum { TSR_NO_TOKEN = -1 };

/* ---- deployments --------------------------------------------------------- */

typedef struct tsr_deployment tsr_deployment;

/* Loading progress, fraction in [0, 1]. Return false to cancel: the open call
 * then releases everything and returns TSR_ERR_ABORTED. */
typedef bool (*tsr_progress_cb)(double fraction, void *ctx);

/* One finding of profile validation or of the planner, handed to the caller
 * as it is found (a refused plan returns TSR_ERR_REFUSED after listing every
 * reason this way). The strings live only during the call. code is
 * PROFILE.md's ("does-not-fit", ...) or NULL; file NULL when it is not about a
 * file; line and column 1-based, 0 when unknown; hint NULL when none. */
typedef enum tsr_severity {
    TSR_SEVERITY_ERROR = 0,   /* the deployment cannot be used */
    TSR_SEVERITY_WARNING = 1, /* usable, but probably not what was meant */
    TSR_SEVERITY_NOTE = 2,    /* context for the diagnostic before it, or a fact worth
                                 knowing (a plugin of plugins.path shadows another) */
} tsr_severity;
typedef struct tsr_diagnostic_info {
    tsr_severity severity;
    const char *code, *file;
    uint32_t line, column;
    const char *message, *hint;
} tsr_diagnostic_info;
typedef void (*tsr_diagnostic_cb)(const tsr_diagnostic_info *diagnostic, void *ctx);

typedef struct tsr_deployment_params {
    uint32_t struct_size;
    const char *model_path;      /* replaces the profile's model.path; NULL: keep it */
    int32_t n_threads;           /* CPU threads; -1: the profile's, else tessera.ini's;
                                    0: one per physical core */
    uint32_t n_seq_max;          /* sequences to provision KV caches for; 0: the profile's
                                    server.parallel when it has a server section, else 1 */
    uint32_t max_seq_len;        /* positions per sequence; 0: the profile's model.max_seq_len */
    uint32_t n_batch;            /* most tokens per decode; 0: 512 */
    bool all_logits;             /* every row of a batch may be an output (speculative
                                    verification, perplexity); else at most n_seq_max rows */
    int64_t seed;                /* the profile's sampler seed; -1: keep the profile's */
    const char *cache_type;      /* replaces model.cache_type; NULL: keep it */
    const char *quantize;        /* replaces model.quantize; NULL: keep it */
    const char *const *plugin_dirs; /* searched before the profile's plugins.path */
    size_t n_plugin_dirs;
    tsr_progress_cb progress;    /* NULL: none */
    void *progress_ctx;
    tsr_diagnostic_cb diagnostic; /* NULL: findings only reach err (the first error) */
    void *diagnostic_ctx;
    /* What messages call cache_type and quantize when these params set them
     * (a command-line option: "--cache-type"); NULL: "the cache_type
     * parameter". */
    const char *cache_type_option, *quantize_option;
} tsr_deployment_params;

/* Fills p with every default and struct_size. */
TSR_EXPORT void tsr_deployment_params_init(tsr_deployment_params *p);

/* Opens the deployment a profile file describes: reads and validates the
 * profile (relative paths resolve against its folder), loads the plugins
 * (params' folders, the profile's plugins.path, $TESSERA_PLUGIN_PATH,
 * tessera.ini's, the install folder), plans every device from the model
 * headers and, only when the plan fits, reserves exactly the plan and loads
 * the weights. params may be NULL (every default). Errors: TSR_ERR_INVALID
 * (the profile), TSR_ERR_REFUSED (the plan: every reason went to the
 * diagnostic callback, the first is in err; nothing was allocated),
 * TSR_ERR_IO / TSR_ERR_FORMAT (a model file), TSR_ERR_NOMEM, TSR_ERR_ABORTED
 * (progress returned false). Setup; any thread. */
TSR_EXPORT tsr_status tsr_deployment_open_profile(const char *path,
                                                  const tsr_deployment_params *params,
                                                  tsr_deployment **out, tsr_error *err);
/* The same from a profile held in memory; name appears in messages, and
 * relative paths resolve against base_dir (NULL: the current folder). */
TSR_EXPORT tsr_status tsr_deployment_open_profile_text(const char *yaml, size_t n_bytes,
                                                       const char *name, const char *base_dir,
                                                       const tsr_deployment_params *params,
                                                       tsr_deployment **out, tsr_error *err);
/* A model file with every profile default (`model: {path: ...}`). */
TSR_EXPORT tsr_status tsr_deployment_open_model(const char *model_path,
                                                const tsr_deployment_params *params,
                                                tsr_deployment **out, tsr_error *err);
/* Releases the weights, plugins and everything else. Every context of the
 * deployment must be freed first. NULL is fine. */
TSR_EXPORT void tsr_deployment_close(tsr_deployment *d);

/* Metadata (constant while open). */
TSR_EXPORT uint32_t tsr_deployment_n_vocab(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_n_ctx_train(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_n_embd(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_n_layer(const tsr_deployment *d);
/* What the plan provisioned: sequences, positions each, rows per decode,
 * output rows per decode, CPU threads. */
TSR_EXPORT uint32_t tsr_deployment_n_seq_max(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_max_seq_len(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_n_batch(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_n_outputs(const tsr_deployment *d);
TSR_EXPORT uint32_t tsr_deployment_n_threads(const tsr_deployment *d);
/* The model file's path, and the profile's sampler seed. */
TSR_EXPORT const char *tsr_deployment_model_path(const tsr_deployment *d);
TSR_EXPORT uint64_t tsr_deployment_seed(const tsr_deployment *d);
/* Any GGUF metadata key as text (numbers in decimal, booleans true/false,
 * arrays as "[N items]"), NUL-terminated into buf like snprintf: returns the
 * full length, or -1 when the key does not exist. */
TSR_EXPORT int64_t tsr_deployment_meta(const tsr_deployment *d, const char *key, char *buf,
                                       size_t buf_bytes);
/* The model's size: values and bytes over every tensor of the file, as
 * stored, and the bytes its weights take in memory as the plan placed them
 * (re-quantized, when model.quantize says so). NULL pointers are skipped. */
TSR_EXPORT void tsr_deployment_size(const tsr_deployment *d, uint64_t *n_values,
                                    uint64_t *file_bytes, uint64_t *held_bytes);
/* After non-finite logits (TSR_ERR_FORMAT from tsr_generate): which tensor
 * of the model file holds a NaN or an Inf, dequantizing every tensor (slow:
 * for an error path). true, and "FILE: tensor NAME holds non-finite values
 * (the first at element N)" in out, for the first; false when none does. */
TSR_EXPORT bool tsr_deployment_find_nonfinite(const tsr_deployment *d, char *out,
                                              size_t out_bytes);
/* The quant plugin the weights were re-quantized to at load (model.quantize),
 * or NULL when they are held as the file stores them. */
TSR_EXPORT const char *tsr_deployment_quantize(const tsr_deployment *d);
/* The speculative-decoding strategy generation uses (speculative.strategy:
 * "ngram", "draft-model", ...), or NULL when it decodes one token at a time. */
TSR_EXPORT const char *tsr_deployment_speculation(const tsr_deployment *d);
/* The plugins the deployment loaded (read-only; owned by the deployment). */
TSR_EXPORT const tsr_registry *tsr_deployment_registry(const tsr_deployment *d);

/* What the loaded main model computes with: one entry per number format,
 * weights first (in order of first use), then the activation forms the
 * products quantize their inputs to, then the KV cache, each with the quant
 * plugin that served it (the first on the search path to claim the GGUF
 * type: its file says which one won) and the kernel path its products ran
 * (kernel_name). For `run --stats` and `bench`. */
typedef enum tsr_format_role {
    TSR_FORMAT_WEIGHTS,
    TSR_FORMAT_ACTIVATIONS,
    TSR_FORMAT_KV_CACHE,
} tsr_format_role;

typedef struct tsr_format_use {
    uint32_t struct_size;
    tsr_format_role role;
    uint32_t gguf_type;
    const char *type_name;        /* GGUF's name of the type: "q4_1", "q8_0", ... */
    uint32_t n_tensors;           /* weights: the matrices held in this format; else 0 */
    const tsr_plugin *plugin;     /* the quant plugin serving it (name, version, path) */
    const char *kernel;           /* its kernel_name(), e.g. "avx2"; "" when it has none */
} tsr_format_use;

/* How many formats; 0 for a deployment opened for planning only. */
TSR_EXPORT size_t tsr_deployment_format_count(const tsr_deployment *d);
/* The index-th format, or NULL past the last. Owned by the deployment;
 * valid until it closes. Any thread. */
TSR_EXPORT const tsr_format_use *tsr_deployment_format(const tsr_deployment *d, size_t index);
/* "weights", "activations" or "kv cache". */
TSR_EXPORT const char *tsr_format_role_name(tsr_format_role role);

/* ---- profiles ------------------------------------------------------------- */

/* Checks the profile at path as a deployment reads it (YAML, keys, values,
 * plugins and every plugin parameter, against the plugins found on the
 * search path: plugin_dirs first, then the profile's plugins.path,
 * $TESSERA_PLUGIN_PATH, tessera.ini's, the install folder). Every finding
 * goes to diagnostic (may be NULL), sorted by place. Returns TSR_OK (usable;
 * warnings may have been reported), TSR_ERR_INVALID (errors were reported;
 * a file that cannot be read is one), or another failure in err. With
 * yaml non-NULL and TSR_OK, *yaml is the profile with every default filled
 * in, as YAML (malloc'd; the caller frees it). Setup; any thread. */
TSR_EXPORT tsr_status tsr_profile_check_file(const char *path, const char *const *plugin_dirs,
                                             size_t n_plugin_dirs, tsr_diagnostic_cb diagnostic,
                                             void *diagnostic_ctx, char **yaml, tsr_error *err);

/* Opens the plugins a deployment of the profile at path would load, on the
 * same search path: plugin_dirs first, then the profile's plugins.path
 * (relative entries against the profile's folder), $TESSERA_PLUGIN_PATH,
 * tessera.ini's, the install folder. path NULL: no profile, as a bare model
 * opens (tsr_deployment_open_model). The profile's own findings (YAML,
 * keys, values; not those against plugins) go to diagnostic (may be NULL);
 * with an error among them the call returns TSR_ERR_INVALID and opens
 * nothing, as a deployment would refuse it. Close *out with
 * tsr_registry_close. Setup; any thread. */
TSR_EXPORT tsr_status tsr_profile_open_registry(const char *path, const char *const *plugin_dirs,
                                                size_t n_plugin_dirs,
                                                tsr_diagnostic_cb diagnostic,
                                                void *diagnostic_ctx, tsr_registry **out,
                                                tsr_error *err);

/* ---- planning ------------------------------------------------------------- */

/* What a profile's deployment would put on each device, from the model
 * files' headers alone (no tensor data is read, nothing is allocated): the
 * same planner and the same path as tsr_deployment_open_profile, stopped
 * before loading. */
typedef struct tsr_plan_report tsr_plan_report;

typedef struct tsr_plan_params {
    uint32_t struct_size;
    const uint64_t *device_bytes; /* plan for simulated devices of these capacities instead
                                     of the profile's (hardware you do not have); NULL: the
                                     profile's devices */
    size_t n_devices;
    uint32_t n_seq_max;           /* KV caches per model; 0: server.parallel with a server
                                     section, else 1 */
    const char *const *plugin_dirs; /* searched before the profile's plugins.path */
    size_t n_plugin_dirs;
    const uint64_t *host_bytes;   /* plan a job across hosts you do not have: one rank per
                                     host, host0, host1, ..., each with one device sim0 of
                                     this capacity; NULL: none (under mpirun: the job's) */
    size_t n_hosts;
} tsr_plan_params;

TSR_EXPORT void tsr_plan_params_init(tsr_plan_params *p);
/* Plans the profile at path. *out is a report in every case but out of
 * memory: TSR_OK (it fits), TSR_ERR_REFUSED (the planner refused it: the
 * report says why), TSR_ERR_INVALID / TSR_ERR_IO / TSR_ERR_FORMAT (the
 * profile or a model file is unusable: the report has no devices, only the
 * diagnostics). err holds the first error. Setup; any thread. */
TSR_EXPORT tsr_status tsr_plan_profile(const char *path, const tsr_plan_params *params,
                                       tsr_plan_report **out, tsr_error *err);
TSR_EXPORT void tsr_plan_report_free(tsr_plan_report *report);

TSR_EXPORT bool tsr_plan_report_fits(const tsr_plan_report *report);
/* One device's share; NULL past the last. Valid while the report lives. */
typedef struct tsr_plan_device_info {
    uint32_t struct_size;
    const char *name;             /* "cpu", "sim0", "cuda1" */
    uint64_t capacity_bytes, weights_bytes, kv_cache_bytes, scratch_bytes, overhead_bytes,
        reserve_bytes, total_bytes;
    int32_t first_layer, last_layer; /* of the main model; -1 when none */
    /* Across hosts (under mpirun, or tsr_plan_params.host_bytes): the rank
     * whose device it is and its host; -1 and NULL otherwise. */
    int32_t rank;
    const char *host;
} tsr_plan_device_info;
TSR_EXPORT const tsr_plan_device_info *tsr_plan_report_device(const tsr_plan_report *report,
                                                              size_t index);
/* One model (0 main, 1 draft); NULL past the last. */
typedef struct tsr_plan_model_info {
    uint32_t struct_size;
    const char *role, *path;      /* "main" or "draft"; as the profile names it */
    uint64_t params, weights_bytes;
    double bits_per_weight;
    uint32_t n_layer, max_seq_len, n_sequences;
    const char *cache_type;
    uint64_t kv_cache_bytes;      /* over every device and sequence */
} tsr_plan_model_info;
TSR_EXPORT const tsr_plan_model_info *tsr_plan_report_model(const tsr_plan_report *report,
                                                            size_t index);
/* Every finding, the profile's first, then the planner's (PROFILE.md's
 * codes; "profile" or "model-file" for an unusable input); NULL past the
 * last. */
TSR_EXPORT const tsr_diagnostic_info *tsr_plan_report_diagnostic(const tsr_plan_report *report,
                                                                 size_t index);
/* The report as PROFILE.md's JSON object, or as the table `tessera plan`
 * prints (devices, models, verdict); malloc'd, NUL-terminated, the caller
 * frees it; NULL when memory runs out. */
TSR_EXPORT char *tsr_plan_report_json(const tsr_plan_report *report);
TSR_EXPORT char *tsr_plan_report_table(const tsr_plan_report *report);

/* A finding as one line, "FILE:LINE:COLUMN: [warning: ]message [code]" (no
 * hint), like snprintf. */
TSR_EXPORT int tsr_diagnostic_format(const tsr_diagnostic_info *diagnostic, char *buf,
                                     size_t buf_bytes);
/* A size for a reader ("24.0 GiB", "512 B"); returns buf. */
TSR_EXPORT const char *tsr_format_size(uint64_t bytes, char *buf, size_t buf_bytes);
/* Parses "24GiB", "1.5 GiB", "20GB" (a bare number is bare_unit bytes, e.g.
 * 1073741824 for GiB). TSR_ERR_INVALID with what was expected. */
TSR_EXPORT tsr_status tsr_parse_size(const char *text, uint64_t bare_unit, uint64_t *bytes,
                                     tsr_error *err);

/* ---- text ---------------------------------------------------------------- */

enum {
    TSR_TOKENIZE_ADD_SPECIAL = 1u << 0,   /* BOS/EOS where the model asks for them */
    TSR_TOKENIZE_PARSE_SPECIAL = 1u << 1, /* "<|im_start|>" becomes its control token;
                                             never for text a user or client typed */
};
/* Encodes n_bytes of text. Writes at most max_tokens ids and sets *n_tokens
 * to how many the text needs: more than max_tokens means call again with a
 * larger buffer (nothing else is wrong). Any thread. */
TSR_EXPORT tsr_status tsr_tokenize(const tsr_deployment *d, const char *text, size_t n_bytes,
                                   uint32_t flags, tsr_token *tokens, size_t max_tokens,
                                   size_t *n_tokens, tsr_error *err);
enum { TSR_DETOKENIZE_SPECIAL = 1u << 0 }; /* control tokens give their text */
/* The bytes of tokens, into buf (NUL-terminated when buf_bytes > 0) like
 * snprintf: returns the whole length. Unknown ids add nothing. Any thread. */
TSR_EXPORT size_t tsr_detokenize(const tsr_deployment *d, const tsr_token *tokens,
                                 size_t n_tokens, uint32_t flags, char *buf, size_t buf_bytes);
/* One token's bytes (not NUL-terminated; possibly part of a UTF-8
 * character), or NULL for an unknown id. Points into the deployment. */
TSR_EXPORT const char *tsr_token_piece(const tsr_deployment *d, tsr_token token,
                                       size_t *n_bytes);
/* Special ids, TSR_NO_TOKEN when the model has none. */
TSR_EXPORT tsr_token tsr_token_bos(const tsr_deployment *d);
TSR_EXPORT tsr_token tsr_token_eos(const tsr_deployment *d);
TSR_EXPORT tsr_token tsr_token_eot(const tsr_deployment *d);
/* True for every token that ends a generation (EOS, EOT, <|im_end|>, ...). */
TSR_EXPORT bool tsr_token_is_eog(const tsr_deployment *d, tsr_token token);

/* A chat message; role and content NUL-terminated, owned by the caller. */
typedef struct tsr_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} tsr_message;
/* The model's chat template (tokenizer.chat_template), NUL-terminated, or
 * NULL when it has none. */
TSR_EXPORT const char *tsr_deployment_chat_template(const tsr_deployment *d);
/* Renders the conversation with the model's template and, with
 * add_generation_prompt, the header of the assistant's reply, straight to
 * tokens: only the template's own markers become control tokens; the
 * messages' content is never parsed for special tokens. Sizes as
 * tsr_tokenize. TSR_ERR_UNSUPPORTED when the template is of no family
 * tessera renders, TSR_ERR_NOT_FOUND when the model has none. */
TSR_EXPORT tsr_status tsr_chat_tokenize(const tsr_deployment *d, const tsr_message *messages,
                                        size_t n_messages, bool add_generation_prompt,
                                        tsr_token *tokens, size_t max_tokens, size_t *n_tokens,
                                        tsr_error *err);

/* The same with a template family chosen by name ("chatml", "llama3")
 * instead of the model's own; NULL: the model's. */
TSR_EXPORT tsr_status tsr_chat_tokenize_template(const tsr_deployment *d, const char *name,
                                                 const tsr_message *messages, size_t n_messages,
                                                 bool add_generation_prompt, tsr_token *tokens,
                                                 size_t max_tokens, size_t *n_tokens,
                                                 tsr_error *err);
/* The most bytes one token's text takes: a text longer than n tokens times
 * this cannot fit n tokens. */
TSR_EXPORT size_t tsr_token_max_piece_bytes(const tsr_deployment *d);

/* ---- contexts and batches ------------------------------------------------ */

typedef struct tsr_context tsr_context;

/* Called between layers of every decode; return true to stop it. */
typedef bool (*tsr_abort_cb)(void *ctx);

typedef struct tsr_context_params {
    uint32_t struct_size;
    uint32_t n_seq_max;       /* sequences this context uses; 0: all the deployment
                                 provisioned; more is refused with the setting to change */
    tsr_abort_cb abort;       /* NULL: none */
    void *abort_ctx;
} tsr_context_params;

TSR_EXPORT void tsr_context_params_init(tsr_context_params *p);
/* A context over the KV caches and scratch the deployment's plan reserved:
 * one context at a time per deployment (TSR_ERR_INVALID while another is
 * open), every sequence empty. Setup. */
TSR_EXPORT tsr_status tsr_context_create(tsr_deployment *d, const tsr_context_params *params,
                                         tsr_context **out, tsr_error *err);
TSR_EXPORT void tsr_context_free(tsr_context *ctx);
TSR_EXPORT uint32_t tsr_context_n_seq_max(const tsr_context *ctx);

/* Rows to decode: token, position in its sequence, sequence id, and whether
 * its logits are wanted. Made by tsr_batch_open; fill it with tsr_batch_add
 * (or write the arrays directly, up to capacity, and set n_tokens). */
typedef struct tsr_batch {
    uint32_t n_tokens, capacity;
    tsr_token *tokens;
    int32_t *pos;
    int32_t *seq_id;
    int8_t *output;
} tsr_batch;

TSR_EXPORT tsr_status tsr_batch_open(uint32_t capacity, tsr_batch **out, tsr_error *err);
TSR_EXPORT void tsr_batch_close(tsr_batch *batch);
/* n_tokens = 0. */
TSR_EXPORT void tsr_batch_clear(tsr_batch *batch);
/* Appends a row; TSR_ERR_INVALID when the batch is full. */
TSR_EXPORT tsr_status tsr_batch_add(tsr_batch *batch, tsr_token token, int32_t pos,
                                    int32_t seq_id, bool output, tsr_error *err);

/* Evaluates every row of batch in one forward pass. Each sequence's rows
 * must continue it: in batch order, positions seq_pos_max + 1, + 2, ... (rows
 * of different sequences may interleave). A row's logits are bit-identical
 * whatever else is in the batch and however the sequence's tokens were split
 * into batches. Returns TSR_OK; TSR_ERR_INVALID for an invalid batch (empty,
 * more than n_batch rows or n_outputs output rows, a token outside the
 * vocabulary, an unknown sequence, a position gap); TSR_ERR_NO_KV_ROOM when a
 * sequence would pass max_seq_len; TSR_ERR_ABORTED when the abort callback
 * stopped it. After any error every sequence is as it was before the call. */
TSR_EXPORT tsr_status tsr_decode(tsr_context *ctx, const tsr_batch *batch, tsr_error *err);
/* n_vocab logits of batch row i of the last decode; NULL when that row was
 * not an output. Owned by the context, valid until the next decode. */
TSR_EXPORT const float *tsr_logits(const tsr_context *ctx, int32_t i);

/* ---- KV cache, per sequence ---------------------------------------------- */

/* The highest position seq holds, -1 when empty (or seq unknown). */
TSR_EXPORT int32_t tsr_kv_seq_pos_max(const tsr_context *ctx, int32_t seq);
/* Drops positions [p0, p1) (p1 < 0: to the end) of seq (seq < 0: of every
 * sequence). A sequence holds positions 0..pos_max without holes, so the
 * range must reach its end (TSR_ERR_UNSUPPORTED otherwise); p0 = 0 empties it. */
TSR_EXPORT tsr_status tsr_kv_seq_remove(tsr_context *ctx, int32_t seq, int32_t p0, int32_t p1,
                                        tsr_error *err);
/* dst becomes a copy of src's first n_tokens positions (a shared prompt, several
 * continuations). */
TSR_EXPORT tsr_status tsr_kv_seq_copy(tsr_context *ctx, int32_t src, int32_t dst,
                                      uint32_t n_tokens, tsr_error *err);
/* Empties every sequence but seq. */
TSR_EXPORT tsr_status tsr_kv_seq_keep(tsr_context *ctx, int32_t seq, tsr_error *err);
/* Empties every sequence. */
TSR_EXPORT void tsr_kv_clear(tsr_context *ctx);

/* Saves seq's cache and the tokens the caller gives (usually what it holds)
 * to a file: a magic, a version, the model's fingerprint, the cache layout,
 * the data and a checksum. */
TSR_EXPORT tsr_status tsr_state_seq_save(const tsr_context *ctx, int32_t seq, const char *path,
                                         const tsr_token *tokens, size_t n_tokens,
                                         tsr_error *err);
/* Restores such a file into seq (replacing what it held) and its tokens into
 * tokens (at most max_tokens; *n_tokens their count). A truncated or corrupt
 * file, one of another model, cache type or version is refused with
 * TSR_ERR_FORMAT and a message naming path; seq is then empty. */
TSR_EXPORT tsr_status tsr_state_seq_load(tsr_context *ctx, int32_t seq, const char *path,
                                         tsr_token *tokens, size_t max_tokens,
                                         size_t *n_tokens, tsr_error *err);

/* ---- sampling ------------------------------------------------------------ */

/* One sequence's sampler chain (tessera's sampler plugins, applied in order,
 * ending in a choice) with its own seeded generator. */
typedef struct tsr_sampler tsr_sampler;

/* A parameter to set: sampler plugin name, parameter name (NULL: its first),
 * value as text ("0.7", "true", "a,b"). A sampler the chain lacks is added
 * before its final choice, unless if_present. This struct is frozen (arrays
 * of it are indexed by this size): a later need gets a new struct. */
typedef struct tsr_sampler_setting {
    const char *sampler, *param, *value;
    bool if_present;          /* set it only where the chain has that sampler (a window
                                 several penalties share) */
} tsr_sampler_setting;

/* A chain of the samplers named (n_names == 0: the profile's sampler section;
 * ["greedy"] alone: argmax), then settings applied, seeded with seed. Errors
 * name the sampler or parameter and what is allowed. Setup. */
TSR_EXPORT tsr_status tsr_sampler_open(const tsr_deployment *d, const char *const *names,
                                       size_t n_names, const tsr_sampler_setting *settings,
                                       size_t n_settings, uint64_t seed, tsr_sampler **out,
                                       tsr_error *err);
TSR_EXPORT void tsr_sampler_close(tsr_sampler *s);
/* Chooses the next token from batch row i's logits of ctx's last decode and
 * tells the chain (penalties see it). TSR_ERR_INVALID when row i was not an
 * output. Allocates nothing. */
TSR_EXPORT tsr_status tsr_sample(tsr_sampler *s, const tsr_context *ctx, int32_t i,
                                 tsr_token *token, tsr_error *err);
/* The same from any n_vocab logits. */
TSR_EXPORT tsr_status tsr_sample_logits(tsr_sampler *s, const float *logits, tsr_token *token,
                                        tsr_error *err);
/* Tells the chain of a token it did not choose (the prompt), for penalties. */
TSR_EXPORT tsr_status tsr_sampler_accept(tsr_sampler *s, tsr_token token, tsr_error *err);
/* Forgets the history and reseeds, as freshly opened. */
TSR_EXPORT void tsr_sampler_reset(tsr_sampler *s);

/* ---- a profile's server section ------------------------------------------ */

/* What the profile's `server:` section says (PROFILE.md), every key it does
 * not give at its default. Strings are the struct's own (malloc'd). */
typedef struct tsr_server_settings {
    uint32_t struct_size;
    bool has_server;     /* the profile has a `server:` section */
    char *host;          /* default "127.0.0.1" */
    uint32_t port;       /* default 8080 */
    uint32_t parallel;   /* sequences decoded together; default 4 */
    uint32_t queue;      /* requests waiting beyond them; default 64 */
    char **api_keys;     /* server.api_key: a key or a list; none: no key needed */
    size_t n_api_keys;
    char *model_name;    /* NULL: the model's general.name */
    uint64_t max_body_bytes; /* larger request bodies are answered 413; default 8MiB */
} tsr_server_settings;

/* Reads the profile at path (syntax, keys, types, ranges: no plugin, model
 * or plan) and fills out with its server settings, so that a server can
 * listen before it loads the model. Every finding goes to diagnostic (NULL:
 * only the first error reaches err). Errors: TSR_ERR_INVALID (the profile),
 * TSR_ERR_IO, TSR_ERR_NOMEM; out is then all defaults or zero. Free out with
 * tsr_server_settings_free. Any thread. */
TSR_EXPORT tsr_status tsr_profile_server_settings(const char *path, tsr_diagnostic_cb diagnostic,
                                                  void *diagnostic_ctx,
                                                  tsr_server_settings *out, tsr_error *err);
/* Frees out's strings and zeroes it. */
TSR_EXPORT void tsr_server_settings_free(tsr_server_settings *settings);


/* ---- generation ---------------------------------------------------------- */

/* The loop most applications write, over the calls above: the prompt is
 * decoded after what the sequence holds (so a chat adds a turn to its
 * cache), then tokens are sampled and decoded one at a time and handed out
 * as text in whole UTF-8 characters, until an end-of-generation token, a
 * stop string, max_tokens, the end of the sequence's cache or the caller. */

/* Receives text as it becomes final (stop strings held back until they
 * cannot match; never part of one). Return false to stop. */
typedef bool (*tsr_text_cb)(void *ctx, const char *text, size_t n_bytes);

typedef enum tsr_stop_reason {
    TSR_STOP_EOG = 0,     /* the model ended its turn */
    TSR_STOP_LENGTH = 1,  /* max_tokens reached */
    TSR_STOP_STRING = 2,  /* a stop string appeared */
    TSR_STOP_CONTEXT = 3, /* the sequence's cache is full */
    TSR_STOP_CALLER = 4,  /* on_text returned false */
} tsr_stop_reason;

typedef struct tsr_generate_params {
    uint32_t struct_size;
    size_t max_tokens;          /* most tokens to generate; 0: none at all */
    const char *const *stop;    /* stop strings (not included in the text) */
    size_t n_stop;
    bool ignore_eos;            /* keep going past end-of-generation tokens */
    tsr_text_cb on_text;        /* may be NULL */
    void *on_text_ctx;
    /* Every generated token (end-of-generation tokens excluded), before its
     * text; may be NULL. */
    void (*on_token)(void *ctx, tsr_token token);
    void *on_token_ctx;
    /* Decode one token at a time even where the deployment speculates. The
     * text is the same either way: speculation only changes the speed. */
    bool no_speculation;
    /* Optional: the tokens the sequence holds before the prompt (an earlier
     * turn), for strategies that look back over the whole conversation. */
    const tsr_token *history;
    size_t n_history;
    /* Draft speculative.tokens at every step, whether it pays or not (the
     * controller otherwise shortens drafts, or stops drafting, where they do
     * not pay): for tests and measurements. */
    bool no_backoff;
} tsr_generate_params;

typedef struct tsr_generate_stats {
    size_t n_prompt, n_generated;
    double prompt_seconds, generate_seconds;
    tsr_stop_reason stop_reason;
    /* Speculation (all 0 without): forward passes that verified drafts,
     * drafts verified, drafts the target agreed with (each one a token
     * gained), and one-row steps (no draft, or speculation backed off). */
    size_t n_verifications, n_drafted, n_accepted, n_plain_steps;
} tsr_generate_stats;

/* max_tokens SIZE_MAX (until the cache is full), every other member 0. */
TSR_EXPORT void tsr_generate_params_init(tsr_generate_params *p);
/* Generates into sequence seq of ctx with sampler s (which is told every
 * prompt token, for its penalties). Errors: TSR_ERR_INVALID (an empty
 * prompt, an unknown sequence), TSR_ERR_NO_KV_ROOM (the prompt does not fit
 * what the sequence has left), TSR_ERR_FORMAT (non-finite logits: a damaged
 * model; the message names the step), a sampler's error, TSR_ERR_ABORTED.
 * stats is filled in every case. */
TSR_EXPORT tsr_status tsr_generate(tsr_context *ctx, tsr_sampler *s, int32_t seq,
                                   const tsr_token *prompt, size_t n_prompt,
                                   const tsr_generate_params *params, tsr_generate_stats *stats,
                                   tsr_error *err);
/* "eos", "length", "stop", "context", "caller". */
TSR_EXPORT const char *tsr_stop_reason_name(tsr_stop_reason reason);

/* ---- speculation in a caller's own decode loop ---------------------------- */

/* tsr_generate speculates by itself. A caller with its own loop over
 * tsr_decode (a server batching many sequences) asks for drafts per
 * sequence, decodes them after the sequence's pending token with every one
 * of those rows an output, samples the rows in order with the sequence's
 * chain while each sampled token equals the draft that row checks, removes
 * the cache positions of the drafts not taken (tsr_kv_seq_remove), and
 * reports the step. The text is the same as without: only the speed
 * changes. Where the deployment does not speculate these do nothing and
 * tsr_spec_draft proposes none. Thread rules: the context's. */

/* A generation of sequence seq starts. history[0..n): the tokens the
 * sequence holds and the pending one (sampled, not yet decoded). */
TSR_EXPORT tsr_status tsr_spec_start(tsr_context *ctx, int32_t seq, const tsr_token *history,
                                     size_t n, tsr_error *err);
/* At most max_drafts tokens (and never more than speculative.tokens) to
 * verify after history[0..n) (as for tsr_spec_start, with every token since),
 * into drafts. *n_drafts 0: a plain one-row step (nothing to propose, or the
 * controller finds that drafting does not pay here now). */
TSR_EXPORT tsr_status tsr_spec_draft(tsr_context *ctx, int32_t seq, const tsr_token *history,
                                     size_t n, uint32_t max_drafts, tsr_token *drafts,
                                     uint32_t *n_drafts, tsr_error *err);
/* After the step: n_drafted verified, n_accepted of them kept; committed
 * [0..n_committed): the kept drafts and the token sampled after them;
 * seconds: what the sequence's rows cost of the forward pass (its share of
 * a shared batch), from which the controller learns what drafting costs. */
TSR_EXPORT void tsr_spec_report(tsr_context *ctx, int32_t seq, uint32_t n_drafted,
                                uint32_t n_accepted, const tsr_token *committed,
                                size_t n_committed, double seconds);
/* The generation of seq has ended (finished, cancelled or failed). */
TSR_EXPORT void tsr_spec_stop(tsr_context *ctx, int32_t seq);


/* ---- across hosts: pipeline stages over MPI -------------------------------
 * Under mpirun (a build configured --with-mpi), every rank runs the same
 * tessera and opens the same deployment; each holds one pipeline stage (a
 * contiguous range of layers, the profile's dist: section). Rank 0 owns the
 * tokenizer, sampling and output: its tsr_decode runs the batch through
 * every stage and returns the logits; every other rank calls
 * tsr_dist_serve after opening the deployment. Without mpirun the job has
 * one rank, and every call here is a no-op or says so. */

/* Joins the job when mpirun started this process; a job of one rank
 * otherwise. Call once, before anything else, from the thread that will
 * decode. TSR_ERR_UNSUPPORTED: started by mpirun, but built without MPI;
 * TSR_ERR_PEER: MPI could not start. */
TSR_EXPORT tsr_status tsr_dist_init(int *argc, char ***argv, tsr_error *err);
/* Leaves the job cleanly; every rank calls it once, last. */
TSR_EXPORT void tsr_dist_finalize(void);
/* Ends every rank of the job now, with this exit status (after an error
 * that left other ranks waiting). Does not return. */
TSR_EXPORT void tsr_dist_abort(int exit_code);
/* This process's rank (0 without mpirun) and the number of ranks (1). */
TSR_EXPORT uint32_t tsr_dist_rank(void);
TSR_EXPORT uint32_t tsr_dist_size(void);
/* On a rank other than 0: runs this rank's stage of d until rank 0 closes
 * its deployment (TSR_OK), or until something fails: TSR_ERR_PEER names the
 * rank that stopped answering within dist.timeout or sent what this rank
 * cannot use. On rank 0, or in a job of one: TSR_ERR_INVALID. */
TSR_EXPORT tsr_status tsr_dist_serve(tsr_deployment *d, tsr_error *err);

/* What one pipeline stage did since the deployment opened (run --stats).
 * Members are only appended: the caller sets struct_size, and
 * tsr_dist_stage_stats writes only what it covers. */
typedef struct tsr_dist_stats {
    uint32_t struct_size;
    uint32_t rank;                 /* stage i runs on rank i */
    uint32_t first_layer, last_layer; /* the layers it holds */
    uint64_t weights_bytes;        /* the weights it maps or holds (its plan's) */
    double compute_s;              /* running its layers (the last stage: and the head) */
    double wait_s;                 /* blocked on the stage before, a send, or (rank 0) the
                                      logits, since its first chunk */
    double busy_s;                 /* from its first chunk's start to its last one's end */
    double idle_share;             /* 1 - compute_s / busy_s (0 before any chunk) */
    uint64_t rows;                 /* token rows it ran */
    uint64_t bytes_sent;           /* activations it sent on (the last: logits to rank 0) */
    const char *host;              /* where it runs; valid until the next collect or close */
    /* The hop to the next stage's rank, as the handshake timed it (a few
     * round trips of each size; 0 for the last stage). */
    double hop_latency_s;          /* one row of activations' one-way time: a decode
                                      token's cost per hop */
    double hop_bytes_per_s;        /* what a prefill chunk's further rows cost: bandwidth */
    uint64_t hop_row_bytes;        /* the row timed: n_embd x 4 bytes (f16: x 2) */
} tsr_dist_stats;
static_assert(offsetof(tsr_dist_stats, struct_size) == 0, "struct_size first");
static_assert(sizeof(void *) != 8 || offsetof(tsr_dist_stats, host) == 72, "dist stats layout");

/* Rank 0 of a job of several ranks, between decodes: asks every stage for
 * its figures and waits for them within dist.timeout (the other ranks
 * answer while they serve). TSR_ERR_PEER names a rank that did not answer;
 * TSR_ERR_INVALID on another rank or in a job of one. */
TSR_EXPORT tsr_status tsr_dist_collect_stats(tsr_deployment *d, tsr_error *err);
/* Stage `rank`'s figures as the last tsr_dist_collect_stats gathered them;
 * false (out untouched) when none were gathered or rank is out of range. */
TSR_EXPORT bool tsr_dist_stage_stats(const tsr_deployment *d, uint32_t rank,
                                     tsr_dist_stats *out);

/* ---- reading text a user hands over --------------------------------------- */

/* A prompt file, standard input, the lines of a chat: each may be endless
 * (/dev/zero, `yes |`, a FIFO that never closes) or binary. These readers
 * stop at max_bytes and refuse, and refuse a NUL byte, which no text holds.
 * A regular file whose size is already over the bound is refused from its
 * size, before anything is read. Errors name the input and what is wrong:
 * TSR_ERR_INVALID (more than max_bytes: "NAME: more than N bytes,
 * LIMIT_REASON"), TSR_ERR_FORMAT (a NUL byte, with its offset and line),
 * TSR_ERR_IO (cannot open or read; a folder), TSR_ERR_NOMEM. No state of
 * their own: any thread, one stream each. */

/* Reads the rest of f. *text is malloc'd, NUL-terminated, the caller's; name
 * names the input ("standard input"), what says what it is ("a prompt"),
 * limit_reason why the bound is where it is. On error *text is NULL. */
TSR_EXPORT tsr_status tsr_text_read_stream(FILE *f, const char *name, const char *what,
                                           size_t max_bytes, const char *limit_reason,
                                           char **text, size_t *n_bytes, tsr_error *err);
/* Opens path and reads it as tsr_text_read_stream does (a folder is refused). */
TSR_EXPORT tsr_status tsr_text_read_file(const char *path, const char *what, size_t max_bytes,
                                         const char *limit_reason, char **text,
                                         size_t *n_bytes, tsr_error *err);
/* Reads lines one by one into the same buffer. Zero-initialise it; release
 * with tsr_line_reader_free. */
typedef struct tsr_line_reader {
    char *line;        /* the last line read, NUL-terminated, without its line end */
    size_t n_bytes;    /* its length */
    uint64_t line_no;  /* its number, from 1 */
    size_t cap;        /* private */
} tsr_line_reader;
/* The next line of f (at most max_bytes before "\n" or "\r\n"; a last line
 * may lack it). *at_end true (and TSR_OK) when f ends before a line does. */
TSR_EXPORT tsr_status tsr_line_read(tsr_line_reader *r, FILE *f, const char *name,
                                    size_t max_bytes, const char *limit_reason, bool *at_end,
                                    tsr_error *err);
TSR_EXPORT void tsr_line_reader_free(tsr_line_reader *r);

/* ---- writing a quantized model file ----------------------------------------- */

/* `tessera quantize`: a GGUF model file re-written with its matrices in
 * another format. format is one of llama.cpp's named mixes ("q4_k_m",
 * "q3_k_s", "iq4_xs", "q8_0", ...: the main type, with the tensors
 * llama-quantize keeps at higher precision kept so, tensor for tensor), or
 * the name of any GGUF type (every matrix in that type, as --pure). Every
 * tensor whose type changes is dequantized by the plugin of its type and
 * quantized by the target type's plugin (its quantize_reference), so the
 * input may be any format a plugin dequantizes, a quantized one included
 * (re-quantizing loses what the input had already lost). */

/* A user's exception: tensors whose name matches pattern (a shell glob, or
 * an exact name) get type (a GGUF type name) instead of the mix's. */
typedef struct tsr_quantize_keep {
    const char *pattern, *type;
} tsr_quantize_keep;

/* One tensor as the output file holds it; strings live only during the
 * call. */
typedef struct tsr_quantize_tensor_info {
    const char *name;
    const char *from_type, *to_type; /* type names; equal when copied as stored */
    uint64_t from_bytes, to_bytes;
    uint64_t index, count;           /* its place in the file, of count tensors */
} tsr_quantize_tensor_info;
typedef void (*tsr_quantize_tensor_cb)(const tsr_quantize_tensor_info *tensor, void *ctx);

typedef struct tsr_quantize_params {
    uint32_t struct_size;
    int32_t n_threads;               /* 0: one per physical core */
    bool pure;                       /* every matrix in the mix's main type: no exceptions
                                        (row lengths its blocks do not divide still fall back) */
    bool dry_run;                    /* choose every type, report them, write nothing */
    const tsr_quantize_keep *keep;   /* the first rule whose pattern matches a matrix wins */
    size_t n_keep;
    tsr_progress_cb progress;        /* bytes written; false cancels (TSR_ERR_ABORTED) */
    void *progress_ctx;
    tsr_quantize_tensor_cb tensor;   /* each tensor's choice, in file order, before any
                                        data is written; NULL: none */
    void *tensor_ctx;
} tsr_quantize_params;

/* Fills p with every default and struct_size. */
TSR_EXPORT void tsr_quantize_params_init(tsr_quantize_params *p);

/* Writes in_path's model to out_path in format, with registry's plugins.
 * Metadata is copied (general.file_type set to the mix's, general.
 * quantization_version to 2, general.quantized_by naming tessera and the
 * format), as is general.alignment, which the data honours. The file is
 * written under a temporary name beside out_path and renamed over it only
 * when complete: on any failure out_path is untouched and nothing is left
 * behind. Errors: TSR_ERR_INVALID (an unknown format or type, a --keep rule
 * that matches no matrix), TSR_ERR_UNSUPPORTED (a chosen type no loaded
 * plugin can quantize, or an input type none can dequantize: the message
 * names the formats that can), TSR_ERR_NOT_FOUND / TSR_ERR_IO /
 * TSR_ERR_FORMAT (the input), TSR_ERR_IO (the output cannot be created or
 * written: a full disk names how much was written), TSR_ERR_NOMEM,
 * TSR_ERR_ABORTED. Setup; any thread (it runs its own thread pool). */
TSR_EXPORT tsr_status tsr_quantize_model(const tsr_registry *registry, const char *in_path,
                                         const char *out_path, const char *format,
                                         const tsr_quantize_params *params, tsr_error *err);
/* llama.cpp's mix names tsr_quantize_model knows, in llama-quantize's
 * order; NULL past the last. Static. */
TSR_EXPORT const char *tsr_quantize_mix_name(size_t index);

#ifdef __cplusplus
}
#endif
#endif
