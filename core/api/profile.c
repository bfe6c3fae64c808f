/* Checking a profile file as a deployment reads it, and showing it resolved. */
#include <stdlib.h>

#include "api_internal.h"

static tsr_status open_registry(const tsr_profile *p, const char *const *extra, size_t n_extra,
                                tsr_registry **out, tsr_error *err)
{
    tsr_config config;
    tsr_status s = tsr_config_load(NULL, &config, err);
    if (s != TSR_OK)
        return s;
    size_t n = n_extra + p->n_plugin_dirs + config.n_env_plugin_dirs + config.n_plugin_dirs + 1;
    const char **dirs = calloc(n, sizeof *dirs);
    if (!dirs) {
        tsr_config_free(&config);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n_extra; i++)
        dirs[k++] = extra[i];
    for (size_t i = 0; i < p->n_plugin_dirs; i++)
        dirs[k++] = p->plugin_dirs[i];
    for (size_t i = 0; i < config.n_env_plugin_dirs; i++)
        dirs[k++] = config.env_plugin_dirs[i];
    for (size_t i = 0; i < config.n_plugin_dirs; i++)
        dirs[k++] = config.plugin_dirs[i];
    dirs[k++] = tsr_install_plugin_dir();
    s = tsr_registry_open(dirs, k, out, err);
    free(dirs);
    tsr_config_free(&config);
    return s;
}

tsr_status tsr_profile_check_file(const char *path, const char *const *plugin_dirs,
                                  size_t n_plugin_dirs, tsr_diagnostic_cb diagnostic,
                                  void *diagnostic_ctx, char **yaml, tsr_error *err)
{
    if (yaml)
        *yaml = NULL;
    if (!path)
        return tsr_error_set(err, TSR_ERR_INVALID, "no profile path given");
    tsr_diagnostics diags = {0};
    tsr_profile *profile = NULL;
    tsr_registry *registry = NULL;
    tsr_status status = tsr_profile_load(path, &profile, &diags, err);
    if (profile) {
        tsr_status s = open_registry(profile, plugin_dirs, n_plugin_dirs, &registry, err);
        if (s == TSR_OK)
            s = tsr_profile_validate(profile, registry, &diags, err);
        if (s != TSR_OK && s != TSR_ERR_INVALID)
            status = s;
        else if (status == TSR_OK)
            status = s;
    } else if (status == TSR_ERR_IO) {
        status = TSR_ERR_INVALID; /* the diagnostic says why */
    }
    if (status == TSR_OK && tsr_diag_error_count(&diags) > 0)
        status = TSR_ERR_INVALID;
    tsr_diag_sort(&diags);
    for (size_t i = 0; diagnostic && i < diags.count; i++) {
        const tsr_diagnostic *d = &diags.items[i];
        tsr_diagnostic_info info = {d->severity, d->code,    d->file, d->line,
                                    d->column,   d->message, d->hint};
        diagnostic(&info, diagnostic_ctx);
    }
    if (status == TSR_OK && yaml && !(*yaml = tsr_profile_to_yaml(profile, err)))
        status = TSR_ERR_NOMEM;
    tsr_diagnostics_free(&diags);
    tsr_profile_free(profile); /* before the registry: it points into it */
    tsr_registry_close(registry);
    return status;
}
