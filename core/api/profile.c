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
    s = tsr_api_open_registry(&config, p, extra, n_extra, out, err);
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
    /* The findings only: err keeps what failed besides them, if anything. */
    tsr_api_report(&diags, diagnostic, diagnostic_ctx, NULL, TSR_OK, err);
    if (status == TSR_OK && yaml && !(*yaml = tsr_profile_to_yaml(profile, err)))
        status = TSR_ERR_NOMEM;
    tsr_diagnostics_free(&diags);
    tsr_profile_free(profile); /* before the registry: it points into it */
    tsr_registry_close(registry);
    return status;
}

tsr_status tsr_profile_open_registry(const char *path, const char *const *plugin_dirs,
                                     size_t n_plugin_dirs, tsr_diagnostic_cb diagnostic,
                                     void *diagnostic_ctx, tsr_registry **out, tsr_error *err)
{
    *out = NULL;
    tsr_diagnostics diags = {0};
    tsr_profile *profile = NULL;
    tsr_status status = path ? tsr_profile_load(path, &profile, &diags, err) : TSR_OK;
    if (status == TSR_OK && tsr_diag_error_count(&diags) > 0)
        status = TSR_ERR_INVALID;
    else if (status == TSR_ERR_IO)
        status = TSR_ERR_INVALID; /* the diagnostic says why */
    tsr_diag_sort(&diags);
    tsr_api_report(&diags, diagnostic, diagnostic_ctx, NULL, status, err);
    if (status == TSR_OK)
        status = open_registry(profile, plugin_dirs, n_plugin_dirs, out, err);
    tsr_diagnostics_free(&diags);
    tsr_profile_free(profile);
    return status;
}
