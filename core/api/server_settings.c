/* A profile's `server:` section, read without opening the deployment: a
 * server listens (and answers /health with 503) while the model loads. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

static char *copy_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

static tsr_status fill(const tsr_profile *p, tsr_server_settings *out, tsr_error *err)
{
    const tsr_profile_server *s = &p->server;
    out->has_server = p->has_server;
    out->port = s->port;
    out->parallel = s->parallel;
    out->queue = s->queue;
    out->max_body_bytes = s->max_body_bytes;
    out->host = copy_or_null(s->host);
    out->model_name = copy_or_null(s->model_name);
    bool keys_ok = true;
    if (s->n_api_keys && (out->api_keys = calloc(s->n_api_keys, sizeof *out->api_keys)))
        for (; out->n_api_keys < s->n_api_keys; out->n_api_keys++)
            keys_ok &= (out->api_keys[out->n_api_keys] = strdup(s->api_keys[out->n_api_keys])) !=
                       NULL;
    if ((s->host && !out->host) || (s->n_api_keys && !out->api_keys) || !keys_ok ||
        (s->model_name && !out->model_name)) {
        tsr_server_settings_free(out);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    return TSR_OK;
}

tsr_status tsr_profile_server_settings(const char *path, tsr_diagnostic_cb diagnostic,
                                       void *diagnostic_ctx, tsr_server_settings *out,
                                       tsr_error *err)
{
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    tsr_diagnostics diags = {0};
    tsr_profile *profile = NULL;
    tsr_status s = tsr_profile_load(path, &profile, &diags, err);
    if (s == TSR_OK && tsr_diag_error_count(&diags) > 0)
        s = TSR_ERR_INVALID;
    tsr_api_report(&diags, diagnostic, diagnostic_ctx, NULL, s, err);
    tsr_diagnostics_free(&diags);
    if (s == TSR_OK)
        s = fill(profile, out, err);
    tsr_profile_free(profile);
    return s;
}

void tsr_server_settings_free(tsr_server_settings *settings)
{
    if (!settings)
        return;
    free(settings->host);
    for (size_t i = 0; i < settings->n_api_keys; i++)
        free(settings->api_keys[i]);
    free(settings->api_keys);
    free(settings->model_name);
    uint32_t size = settings->struct_size;
    memset(settings, 0, sizeof *settings);
    settings->struct_size = size;
}
