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

#include "tessera/error.h"
#include "tessera/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version ("0.1.0"); the ABI it speaks is TSR_ABI_MAJOR.MINOR. */
TSR_EXPORT const char *tsr_version(void);
/* Build options, one short line: "cuda=no sanitizers=no". */
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

/* Loads every *.so in dirs, in order (earlier directories win a name clash;
 * the later file is refused). Directories that do not exist are skipped.
 * A broken plugin never fails the call: it becomes a refusal and the rest
 * still load. Fails only when memory runs out. */
TSR_EXPORT tsr_status tsr_registry_open(const char *const *dirs, size_t n_dirs,
                                        tsr_registry **out, tsr_error *err);
/* Unloads (device plugins get their shutdown first) and frees. NULL is fine. */
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

/* The host-services table handed to plugins (tessera/plugin.h). Static. */
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
 * TESSERA_THREADS, TESSERA_LOG, TESSERA_MODEL_CACHE. */
typedef struct tsr_config {
    char *path;              /* the file read, or NULL when none was found */
    char **plugin_dirs;      /* [plugins] path, split at ':', '~' expanded */
    size_t n_plugin_dirs;
    char **env_plugin_dirs;  /* $TESSERA_PLUGIN_PATH, split */
    size_t n_env_plugin_dirs;
    int threads;             /* >= 0 */
    int log_level;           /* TSR_LOG_* */
    char *model_cache_dir;   /* '~' expanded */
} tsr_config;

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

#ifdef __cplusplus
}
#endif
#endif
