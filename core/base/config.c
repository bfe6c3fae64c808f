/* tessera.ini and the environment: machine-wide defaults. */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "text_input.h"
#include "tessera/tessera.h"

/* tessera.ini holds four settings; a megabyte of it is not a configuration. */
enum { TSR_CONFIG_MAX_BYTES = 1 << 20 };

const char *tsr_install_plugin_dir(void)
{
    return TSR_PLUGIN_DIR;
}

char *tsr_path_resolve(const char *path, const char *base_dir)
{
    char *out = NULL;
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = getenv("HOME");
        if (asprintf(&out, "%s%s", home ? home : "", path + 1) < 0)
            return NULL;
        return out;
    }
    if (path[0] != '/' && base_dir && base_dir[0]) {
        if (asprintf(&out, "%s/%s", base_dir, path) < 0)
            return NULL;
        return out;
    }
    return strdup(path);
}

/* Appends each ':'-separated, non-empty element of list to *dirs, a
 * relative one resolved against base_dir (NULL: left as written). */
static bool split_dirs(const char *list, const char *base_dir, char ***dirs, size_t *n_dirs)
{
    const char *start = list;
    while (*start) {
        const char *end = strchr(start, ':');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len > 0) {
            char *piece = strndup(start, len);
            char *resolved = piece ? tsr_path_resolve(piece, base_dir) : NULL;
            free(piece);
            char **bigger = resolved ? realloc(*dirs, (*n_dirs + 1) * sizeof **dirs) : NULL;
            if (!bigger) {
                free(resolved);
                return false;
            }
            *dirs = bigger;
            (*dirs)[(*n_dirs)++] = resolved;
        }
        if (!end)
            break;
        start = end + 1;
    }
    return true;
}

typedef struct ini_context {
    tsr_config *config;
    const char *dir; /* the file's folder: its relative paths start there */
    tsr_error *err;
    bool failed;
} ini_context;

static int parse_threads(const char *value, int *threads)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end || n < 0 || n > 4096)
        return 0;
    *threads = (int)n;
    return 1;
}

/* inih reports the line of the first entry a handler rejects as its result;
 * the message is completed with FILE:LINE after the parse. */
static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    ini_context *ctx = user;
    tsr_config *config = ctx->config;
    if (ctx->failed)
        return 0;
    const char *what = NULL;
    if (strcasecmp(section, "plugins") == 0 && strcasecmp(name, "path") == 0) {
        if (!split_dirs(value, ctx->dir, &config->plugin_dirs, &config->n_plugin_dirs))
            what = "out of memory";
    } else if (strcasecmp(section, "runtime") == 0 && strcasecmp(name, "threads") == 0) {
        if (!parse_threads(value, &config->threads))
            what = "threads must be a whole number from 0 to 4096";
    } else if (strcasecmp(section, "runtime") == 0 && strcasecmp(name, "log") == 0) {
        int level = tsr_log_level_from_name(value);
        if (level < 0)
            what = "log must be error, warn, info or debug";
        else
            config->log_level = level;
    } else if (strcasecmp(section, "models") == 0 && strcasecmp(name, "cache_dir") == 0) {
        free(config->model_cache_dir);
        config->model_cache_dir = tsr_path_resolve(value, ctx->dir);
        if (!config->model_cache_dir)
            what = "out of memory";
    } else {
        tsr_error_set(ctx->err, TSR_ERR_INVALID,
                      "unknown setting [%s] %s (known: [plugins] path, [runtime] threads, "
                      "[runtime] log, [models] cache_dir)",
                      section, name);
        ctx->failed = true;
        return 0;
    }
    if (what) {
        tsr_error_set(ctx->err, strcmp(what, "out of memory") == 0 ? TSR_ERR_NOMEM : TSR_ERR_INVALID,
                      "[%s] %s = %s: %s", section, name, value, what);
        ctx->failed = true;
        return 0;
    }
    return 1;
}

static char *find_config_file(void)
{
    const char *env = getenv("TESSERA_CONFIG");
    if (env && env[0])
        return strdup(env);
    char *user = tsr_path_resolve("~/.config/tessera/tessera.ini", NULL);
    if (user && access(user, R_OK) == 0)
        return user;
    free(user);
    const char *system = TSR_SYSCONF_DIR "/tessera.ini";
    if (access(system, R_OK) == 0)
        return strdup(system);
    return NULL;
}

tsr_status tsr_config_load(const char *path, tsr_config *config, tsr_error *err)
{
    memset(config, 0, sizeof *config);
    config->log_level = TSR_LOG_WARN;
    config->model_cache_dir = tsr_path_resolve("~/.cache/tessera/models", NULL);
    config->path = path ? strdup(path) : find_config_file();
    if (!config->model_cache_dir || (path && !config->path)) {
        tsr_config_free(config);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading the configuration");
    }
    if (config->path) {
        /* Bounded: TESSERA_CONFIG=/dev/zero would otherwise be read forever. */
        char *text;
        size_t n;
        tsr_status read = tsr_text_read_file(config->path, "tessera.ini", TSR_CONFIG_MAX_BYTES,
                                             "the most a tessera.ini may hold", &text, &n, err);
        if (read != TSR_OK) {
            const char *env = path ? NULL : getenv("TESSERA_CONFIG");
            if (env && env[0] && read != TSR_ERR_NOMEM)
                tsr_error_prefix(err, "TESSERA_CONFIG");
            tsr_config_free(config);
            return read;
        }
        /* Never the current folder: the ini's own, as a profile's paths. */
        const char *slash = strrchr(config->path, '/');
        size_t dir_len = slash ? (size_t)(slash - config->path) + (slash == config->path) : 0;
        char *dir = slash ? strndup(config->path, dir_len) : strdup(".");
        char *absolute = dir ? realpath(dir, NULL) : NULL;
        ini_context ctx = {config, absolute ? absolute : dir, err, false};
        int line = dir ? ini_parse_string(text, on_ini_entry, &ctx) : -1;
        free(text);
        free(absolute);
        free(dir);
        if (ctx.failed || line != 0) {
            if (ctx.failed)
                tsr_error_prefix(err, "%s:%d", config->path, line);
            else if (line < 0)
                tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading %s", config->path);
            else
                tsr_error_set(err, TSR_ERR_INVALID, "%s:%d: not an INI line", config->path,
                              line);
            tsr_status status = err ? err->code : TSR_ERR_INVALID;
            tsr_config_free(config);
            return status;
        }
    }
    const char *env;
    if ((env = getenv("TESSERA_PLUGIN_PATH")) &&
        !split_dirs(env, NULL, &config->env_plugin_dirs, &config->n_env_plugin_dirs)) {
        tsr_config_free(config);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory reading TESSERA_PLUGIN_PATH");
    }
    if ((env = getenv("TESSERA_THREADS")) && env[0] && !parse_threads(env, &config->threads)) {
        tsr_error_set(err, TSR_ERR_INVALID,
                      "TESSERA_THREADS=%s: must be a whole number from 0 to 4096", env);
        tsr_config_free(config);
        return TSR_ERR_INVALID;
    }
    if ((env = getenv("TESSERA_LOG")) && env[0]) {
        int level = tsr_log_level_from_name(env);
        if (level < 0) {
            tsr_error_set(err, TSR_ERR_INVALID,
                          "TESSERA_LOG=%s: must be error, warn, info or debug", env);
            tsr_config_free(config);
            return TSR_ERR_INVALID;
        }
        config->log_level = level;
    }
    if ((env = getenv("TESSERA_MODEL_CACHE")) && env[0]) {
        free(config->model_cache_dir);
        config->model_cache_dir = tsr_path_resolve(env, NULL);
        if (!config->model_cache_dir) {
            tsr_config_free(config);
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        }
    }
    return TSR_OK;
}

void tsr_config_free(tsr_config *config)
{
    if (!config)
        return;
    free(config->path);
    for (size_t i = 0; i < config->n_plugin_dirs; i++)
        free(config->plugin_dirs[i]);
    free(config->plugin_dirs);
    for (size_t i = 0; i < config->n_env_plugin_dirs; i++)
        free(config->env_plugin_dirs[i]);
    free(config->env_plugin_dirs);
    free(config->model_cache_dir);
    memset(config, 0, sizeof *config);
}
