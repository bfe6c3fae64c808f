/* Opening a deployment: the one path from a profile to a loaded model.
 *
 *   profile (file, text, or `model: {path}`) -> overrides from the params
 *   -> plugins (the params' folders, plugins.path, $TESSERA_PLUGIN_PATH,
 *   tessera.ini's, the install folder) -> validation -> model headers ->
 *   allocator -> plan -> (only when it fits) the model reserved and loaded as
 *   planned -> tokenizer.
 *
 * Every finding goes to the caller's diagnostic callback; the first error
 * also goes to err. Nothing is allocated on a device before the plan fits.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "net.h"
#include "pipeline.h"
#include "loader.h"
#include "yaml_tree.h"

void tsr_api_copy_params(void *dst, size_t dst_bytes, const void *src)
{
    if (!src)
        return;
    uint32_t size;
    memcpy(&size, src, sizeof size);
    memcpy(dst, src, size < dst_bytes ? size : dst_bytes);
    memcpy(dst, &(uint32_t){(uint32_t)dst_bytes}, sizeof(uint32_t));
}

uint32_t tsr_api_version(void)
{
    return TSR_API_VERSION;
}

void tsr_deployment_params_init(tsr_deployment_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->n_threads = -1;
    p->seed = -1;
}

tsr_diagnostic_info tsr_api_diagnostic_info(const tsr_diagnostic *d)
{
    return (tsr_diagnostic_info){d->severity, d->code,    d->file, d->line,
                                 d->column,   d->message, d->hint};
}

void tsr_api_report(const tsr_diagnostics *diags, tsr_diagnostic_cb callback, void *ctx,
                    tsr_diagnostics *collect, tsr_status code, tsr_error *err)
{
    bool first = true;
    for (size_t i = 0; i < diags->count; i++) {
        const tsr_diagnostic *d = &diags->items[i];
        if (collect) {
            tsr_diagnostic *copy = tsr_diag_add(collect, d->severity, d->file, d->line,
                                                d->column, "%s", d->message);
            if (copy) {
                copy->code = d->code;
                if (d->hint)
                    tsr_diag_set_hint(copy, "%s", d->hint);
            }
        }
        if (callback) {
            tsr_diagnostic_info info = tsr_api_diagnostic_info(d);
            callback(&info, ctx);
        }
        if (first && d->severity == TSR_SEVERITY_ERROR && code != TSR_OK) {
            char line[TSR_ERROR_MESSAGE_BYTES];
            tsr_diag_format(d, line, sizeof line);
            tsr_error_set(err, code, "%s%s%s", line, d->hint ? "; hint: " : "",
                          d->hint ? d->hint : "");
            first = false;
        }
    }
    if (first && code != TSR_OK && diags->out_of_memory)
        tsr_error_set(err, TSR_ERR_NOMEM, "out of memory listing the profile's problems");
}

/* The deployment's findings: to the caller's callback and collecting list. */
static void report_diagnostics(const tsr_deployment *dep, const tsr_diagnostics *diags,
                               const tsr_deployment_params *p, tsr_status code, tsr_error *err)
{
    tsr_api_report(diags, p->diagnostic, p->diagnostic_ctx, dep->collect, code, err);
}

static tsr_status replace_string(char **slot, const char *value, tsr_error *err)
{
    if (!value)
        return TSR_OK;
    char *copy = strdup(value);
    if (!copy)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return TSR_OK;
}

/* The params' overrides of the profile's settings. */
static tsr_status apply_params(tsr_profile *p, const tsr_deployment_params *o, tsr_error *err)
{
    tsr_status s = replace_string(&p->model.path, o->model_path, err);
    if (s == TSR_OK)
        s = replace_string(&p->model.cache_type, o->cache_type, err);
    if (s == TSR_OK)
        s = replace_string(&p->model.quantize, o->quantize, err);
    /* A value that did not come from the file is blamed by its own name. */
    if (o->cache_type)
        p->model.cache_type_option = o->cache_type_option ? o->cache_type_option
                                                          : "the cache_type parameter";
    if (o->quantize)
        p->model.quantize_option = o->quantize_option ? o->quantize_option
                                                      : "the quantize parameter";
    if (o->max_seq_len)
        p->model.max_seq_len = o->max_seq_len;
    if (o->n_threads >= 0)
        p->threads = (uint32_t)o->n_threads;
    if (o->seed >= 0)
        p->seed = (uint64_t)o->seed;
    return s;
}

tsr_status tsr_api_open_registry(const tsr_config *c, const tsr_profile *p,
                                 const char *const *extra, size_t n_extra, tsr_registry **out,
                                 tsr_error *err)
{
    size_t n_profile = p ? p->n_plugin_dirs : 0;
    size_t n = n_extra + n_profile + c->n_env_plugin_dirs + c->n_plugin_dirs + 1;
    const char **dirs = calloc(n, sizeof *dirs);
    if (!dirs)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n_extra; i++)
        dirs[k++] = extra[i];
    for (size_t i = 0; i < n_profile; i++)
        dirs[k++] = p->plugin_dirs[i];
    for (size_t i = 0; i < c->n_env_plugin_dirs; i++)
        dirs[k++] = c->env_plugin_dirs[i];
    for (size_t i = 0; i < c->n_plugin_dirs; i++)
        dirs[k++] = c->plugin_dirs[i];
    dirs[k++] = tsr_install_plugin_dir();
    tsr_status s = tsr_registry_open(dirs, k, out, err);
    free(dirs);
    return s;
}

/* Validation refuses a split of the wrong length as a profile error; the
 * planner judges splits, so validation does not see it. */
static tsr_status validate(tsr_deployment *d, const tsr_deployment_params *o, tsr_error *err)
{
    tsr_diagnostics diags = {0};
    tsr_profile *p = d->profile;
    bool split_auto = p->devices.split_auto;
    p->devices.split_auto = true;
    tsr_status s = tsr_profile_validate(p, d->registry, &diags, err);
    p->devices.split_auto = split_auto;
    if (s == TSR_OK && tsr_diag_error_count(&diags) > 0)
        s = TSR_ERR_INVALID;
    report_diagnostics(d, &diags, o, s, err);
    tsr_diagnostics_free(&diags);
    return s;
}

tsr_status tsr_api_make_plan(const tsr_deployment *d, const tsr_deployment_params *o,
                             tsr_plan_device_spec *specs, uint32_t n_specs, uint32_t first_layer,
                             uint32_t end_layer, tsr_plan **out, tsr_error *err)
{
    const tsr_profile *p = d->profile;
    tsr_plan_request request;
    tsr_plan_request_from_profile(p, d->registry, d->gguf, d->draft_gguf, specs, n_specs,
                                  &request);
    request.n_threads = p->threads ? p->threads : (uint32_t)d->config.threads;
    request.n_batch = o->n_batch;
    if (o->n_seq_max)
        request.n_sequences = o->n_seq_max;
    request.all_logits[TSR_PLAN_MAIN] = o->all_logits;
    request.models[TSR_PLAN_MAIN].first_layer = first_layer;
    request.models[TSR_PLAN_MAIN].end_layer = end_layer;
    return tsr_plan_make(&request, out, err);
}

/* Plans the deployment on this process's devices. Unless judge, the
 * verdict is neither reported nor enforced (the whole model's plan of a
 * rank of a job, which plans its stage next). */
static tsr_status make_plan(tsr_deployment *d, const tsr_deployment_params *o, bool judge,
                            tsr_error *err)
{
    const tsr_profile *p = d->profile;
    uint32_t n = tsr_plan_devices_from_alloc(d->alloc, d->alloc_state, d->specs,
                                             TSR_PROFILE_MAX_DEVICES, err);
    if (n == 0)
        return tsr_error_prefix(err, "devices.allocator %s", p->devices.allocator);
    d->n_specs = n;
    tsr_status s = tsr_api_make_plan(d, o, d->specs, n, 0, 0, &d->plan, err);
    if (s != TSR_OK || !judge)
        return s;
    s = d->plan->fits ? TSR_OK : TSR_ERR_REFUSED;
    report_diagnostics(d, &d->plan->diags, o, s, err);
    if (s != TSR_OK)
        tsr_error_prefix(err, "the planner refused this deployment, before allocating anything");
    return s;
}

void tsr_api_report_findings(const tsr_deployment *d, const tsr_diagnostics *diags,
                             const tsr_deployment_params *o, tsr_status code, tsr_error *err)
{
    report_diagnostics(d, diags, o, code, err);
}

static bool forward_progress(void *ctx, double fraction)
{
    const tsr_deployment *d = ctx;
    return d->progress(fraction, d->progress_ctx);
}

/* A strategy that speculates with the profile's draft model. */
static bool uses_draft(const tsr_profile *p)
{
    const tsr_spec_vtable *vt = p->has_speculative && p->speculative.plugin
                                    ? tsr_plugin_spec(p->speculative.plugin)
                                    : NULL;
    return p->has_draft && vt && (vt->flags & TSR_SPEC_NEEDS_DRAFT);
}

/* Under mpirun: the handshake with every other rank, which gathers every
 * rank's host and devices into ranks. */
static tsr_status join_pipeline(tsr_deployment *d, tsr_pipeline_rank *ranks, tsr_error *err)
{
    const tsr_profile *p = d->profile;
    if (uses_draft(p) || p->has_speculative)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s: speculative decoding across hosts "
                             "(mpirun) is not supported yet; drop the speculative section",
                             p->file);
    const tsr_plan_model *m = &d->plan->models[TSR_PLAN_MAIN];
    tsr_pipeline_setup setup = {
        .profile = p,
        .gguf = d->gguf,
        .model_path = p->model.path,
        .registry = d->registry,
        .devices = d->specs,
        .n_devices = d->n_specs,
        .n_batch = m->n_batch,
        .n_sequences = m->n_sequences,
        .max_seq_len = m->max_seq_len,
        .n_outputs = tsr_plan_output_rows(m),
        .cache_type = m->cache_type,
        .quantize = m->quantize,
    };
    return tsr_pipeline_handshake(&setup, ranks, err);
}

static tsr_status load(tsr_deployment *d, const tsr_deployment_params *o,
                       const tsr_open_extra *extra_hosts, tsr_error *err)
{
    const tsr_profile *p = d->profile;
    tsr_status s = d->headers_only ? tsr_gguf_open_headers(p->model.path, &d->gguf, err)
                                   : tsr_gguf_open(p->model.path, &d->gguf, err);
    if (s == TSR_OK && p->has_draft)
        s = d->headers_only || !uses_draft(p)
                ? tsr_gguf_open_headers(p->draft.path, &d->draft_gguf, err)
                : tsr_gguf_open(p->draft.path, &d->draft_gguf, err);
    if (s != TSR_OK)
        return s;
    d->alloc = tsr_plugin_alloc(p->devices.plugin);
    tsr_alloc_config alloc_config;
    tsr_profile_alloc_config(&p->devices, &alloc_config);
    if ((s = d->alloc->open(tsr_host_services(), &alloc_config, &d->alloc_state, err)) != TSR_OK)
        return s;
    /* Under mpirun (or for simulated hosts) the job is planned as one: each
     * rank its layers on its devices, the verdict every rank's; a rank maps
     * and reserves only its stage. */
    bool job = tsr_net_size() > 1 || (extra_hosts && extra_hosts->n_hosts > 0);
    s = make_plan(d, o, !job, err);
    if (s != TSR_OK)
        return s;
    uint32_t first_layer = 0, end_layer = 0;
    if (job) {
        uint32_t n_ranks = extra_hosts && extra_hosts->n_hosts ? (uint32_t)extra_hosts->n_hosts
                                                               : tsr_net_size();
        tsr_pipeline_rank *ranks = calloc(n_ranks, sizeof *ranks);
        if (!ranks)
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        if (extra_hosts && extra_hosts->n_hosts)
            tsr_api_simulate_hosts(extra_hosts->host_bytes, n_ranks, ranks);
        else if ((s = join_pipeline(d, ranks, err)) != TSR_OK) {
            free(ranks);
            return s;
        }
        uint32_t me = extra_hosts && extra_hosts->n_hosts ? 0 : tsr_net_rank();
        s = tsr_api_plan_job(d, o, ranks, n_ranks, me, err);
        if (s != TSR_OK)
            return s;
        first_layer = d->job[me].first_layer;
        end_layer = d->job[me].end_layer;
    }
    if (d->headers_only)
        return s;
    d->progress = o->progress;
    d->progress_ctx = o->progress_ctx;
    tsr_model_options mo = {
        .registry = d->registry,
        .alloc = d->alloc,
        .alloc_state = d->alloc_state,
        .progress = o->progress ? forward_progress : NULL,
        .progress_ctx = d,
        .plan = &d->plan->models[TSR_PLAN_MAIN],
    };
    if ((s = tsr_model_open(d->gguf, &mo, &d->model, err)) != TSR_OK)
        return s;
    if ((s = tsr_pipeline_open(d->model, &p->dist, first_layer, end_layer,
                               d->plan->models[TSR_PLAN_MAIN].weights_bytes, &d->pipeline,
                               err)) != TSR_OK)
        return s;
    if ((s = tsr_api_describe_formats(d, err)) != TSR_OK)
        return s;
    if (uses_draft(p)) {
        mo.plan = &d->plan->models[TSR_PLAN_DRAFT];
        mo.progress = NULL;
        if ((s = tsr_model_open(d->draft_gguf, &mo, &d->draft_model, err)) != TSR_OK)
            return tsr_error_prefix(err, "the draft model");
    }
    if ((s = tsr_tokenizer_open(d->gguf, &d->tokenizer, err)) != TSR_OK)
        return s;
    size_t n_bytes;
    const char *source = tsr_tokenizer_chat_template(d->tokenizer, &n_bytes);
    if (source && !(d->chat_source = strndup(source, n_bytes)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    return TSR_OK;
}

/* `options: {kind: cuda}`, as sim reads it: what a profile meant for the
 * cuda allocator plans on when its devices are simulated. Static, read
 * only; the profile frees only the trees it read. */
static char kind_text[] = "kind", cuda_text[] = "cuda";
static tsr_yaml_node kind_key = {.kind = TSR_YAML_SCALAR, .text = kind_text, .length = 4};
static tsr_yaml_node cuda_value = {.kind = TSR_YAML_SCALAR, .text = cuda_text, .length = 4};
static tsr_yaml_node *kind_keys[] = {&kind_key}, *kind_values[] = {&cuda_value};
static tsr_yaml_node kind_cuda = {.kind = TSR_YAML_MAPPING, .keys = kind_keys,
                                  .items = kind_values, .n_items = 1, .capacity = 1};

/* Puts devices of the given sizes, allocator sim, in place of the profile's.
 * A profile for the cuda allocator gets simulated CUDA devices (sim's
 * kind: cuda): the planner then counts a CUDA context on each and refuses
 * formats without CUDA kernels, as it would on the GPUs themselves. */
static tsr_status override_devices(tsr_profile *p, const tsr_open_extra *extra, tsr_error *err)
{
    bool gpus = p->devices.allocator && strcmp(p->devices.allocator, "cuda") == 0;
    char *allocator = strdup("sim");
    uint64_t *sizes = malloc(extra->n_sim * sizeof *sizes);
    tsr_profile_loc *locs = calloc(extra->n_sim, sizeof *locs);
    if (!allocator || !sizes || !locs) {
        free(allocator);
        free(sizes);
        free(locs);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    memcpy(sizes, extra->sim_bytes, extra->n_sim * sizeof *sizes);
    free(p->devices.allocator);
    free(p->devices.sim_bytes);
    free(p->devices.sim_locs);
    p->devices.allocator = allocator;
    p->devices.allocator_loc = (tsr_profile_loc){0, 0};
    p->devices.sim_bytes = sizes;
    p->devices.sim_locs = locs;
    p->devices.n_sim = extra->n_sim;
    p->devices.sim_loc = (tsr_profile_loc){0, 0};
    /* The options were the profile's allocator's, not sim's. */
    p->devices.options = gpus ? &kind_cuda : NULL;
    p->devices.options_loc = (tsr_profile_loc){0, 0};
    return TSR_OK;
}

/* Reads the profile (a file, or text) and reports its own findings. */
static tsr_status read_profile(tsr_deployment *d, const char *path, const char *yaml,
                               size_t n_bytes, const char *name, const char *base_dir,
                               const tsr_deployment_params *o, tsr_error *err)
{
    tsr_diagnostics diags = {0};
    tsr_status s;
    if (path)
        s = tsr_profile_load(path, &d->profile, &diags, err);
    else if (yaml)
        s = tsr_profile_parse(yaml, n_bytes, name ? name : "(profile)", base_dir, &d->profile,
                              &diags, err);
    else
        s = tsr_error_set(err, TSR_ERR_INVALID, "no profile given");
    if (s == TSR_OK && tsr_diag_error_count(&diags) > 0)
        s = TSR_ERR_INVALID;
    if (s != TSR_OK && s != TSR_ERR_NOMEM && s != TSR_ERR_IO)
        s = TSR_ERR_INVALID;
    report_diagnostics(d, &diags, o, s, err);
    tsr_diagnostics_free(&diags);
    return s;
}

tsr_status tsr_api_open(const char *path, const char *yaml, size_t n_bytes, const char *name,
                        const char *base_dir, const tsr_deployment_params *params,
                        const tsr_open_extra *extra, tsr_deployment **out, tsr_error *err)
{
    *out = NULL;
    tsr_deployment_params o;
    tsr_deployment_params_init(&o);
    tsr_api_copy_params(&o, sizeof o, params);
    tsr_deployment *d = calloc(1, sizeof *d);
    if (!d)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (extra) {
        d->headers_only = extra->headers_only;
        d->collect = extra->collect;
    }
    tsr_status s = tsr_config_load(NULL, &d->config, err);
    d->config_loaded = s == TSR_OK;
    if (s == TSR_OK)
        s = read_profile(d, path, yaml, n_bytes, name, base_dir, &o, err);
    if (s == TSR_OK && extra && extra->n_sim)
        s = override_devices(d->profile, extra, err);
    if (s == TSR_OK)
        s = apply_params(d->profile, &o, err);
    if (s == TSR_OK)
        s = tsr_api_open_registry(&d->config, d->profile, o.plugin_dirs, o.n_plugin_dirs,
                                  &d->registry, err);
    if (s == TSR_OK)
        s = validate(d, &o, err);
    if (s == TSR_OK)
        s = load(d, &o, extra, err);
    if (s != TSR_OK && !d->headers_only) {
        tsr_deployment_close(d);
        return s;
    }
    *out = d;
    return s;
}

tsr_status tsr_deployment_open_profile(const char *path, const tsr_deployment_params *params,
                                       tsr_deployment **out, tsr_error *err)
{
    if (!path) {
        *out = NULL;
        return tsr_error_set(err, TSR_ERR_INVALID, "no profile path given");
    }
    return tsr_api_open(path, NULL, 0, NULL, NULL, params, NULL, out, err);
}

tsr_status tsr_deployment_open_profile_text(const char *yaml, size_t n_bytes, const char *name,
                                            const char *base_dir,
                                            const tsr_deployment_params *params,
                                            tsr_deployment **out, tsr_error *err)
{
    if (!yaml) {
        *out = NULL;
        return tsr_error_set(err, TSR_ERR_INVALID, "no profile text given");
    }
    return tsr_api_open(NULL, yaml, n_bytes, name, base_dir, params, NULL, out, err);
}

/* A YAML double-quoted scalar of s: every byte that could end or escape it
 * is escaped. */
static char *yaml_quote(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 4 + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\x%02x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

tsr_status tsr_deployment_open_model(const char *model_path, const tsr_deployment_params *params,
                                     tsr_deployment **out, tsr_error *err)
{
    *out = NULL;
    if (!model_path)
        return tsr_error_set(err, TSR_ERR_INVALID, "no model path given");
    char *quoted = yaml_quote(model_path), *text = NULL;
    int n = quoted ? asprintf(&text, "model: {path: %s}\n", quoted) : -1;
    free(quoted);
    if (n < 0)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_status s = tsr_deployment_open_profile_text(text, (size_t)n, "(command line)", NULL,
                                                    params, out, err);
    free(text);
    return s;
}

void tsr_deployment_close(tsr_deployment *d)
{
    if (!d)
        return;
    free(d->chat_source);
    free(d->formats);
    tsr_pipeline_close(d->pipeline);
    free(d->stage_stats);
    tsr_tokenizer_close(d->tokenizer);
    tsr_model_close(d->draft_model);
    tsr_model_close(d->model);
    if (d->alloc_state)
        d->alloc->close(d->alloc_state);
    tsr_api_free_job(d);
    tsr_plan_free(d->plan);
    tsr_gguf_close(d->draft_gguf);
    tsr_gguf_close(d->gguf);
    tsr_profile_free(d->profile);
    tsr_registry_close(d->registry);
    if (d->config_loaded)
        tsr_config_free(&d->config);
    free(d);
}

/* ---- metadata ------------------------------------------------------------- */

uint32_t tsr_deployment_n_vocab(const tsr_deployment *d)
{
    return tsr_model_config(d->model)->n_vocab;
}

uint32_t tsr_deployment_n_ctx_train(const tsr_deployment *d)
{
    return tsr_model_config(d->model)->n_ctx_train;
}

uint32_t tsr_deployment_n_embd(const tsr_deployment *d)
{
    return tsr_model_config(d->model)->n_embd;
}

uint32_t tsr_deployment_n_layer(const tsr_deployment *d)
{
    return tsr_model_config(d->model)->n_layer;
}

uint32_t tsr_deployment_n_seq_max(const tsr_deployment *d)
{
    return tsr_model_n_sequences(d->model);
}

uint32_t tsr_deployment_max_seq_len(const tsr_deployment *d)
{
    return tsr_model_max_seq_len(d->model);
}

uint32_t tsr_deployment_n_batch(const tsr_deployment *d)
{
    return tsr_model_n_batch(d->model);
}

uint32_t tsr_deployment_n_outputs(const tsr_deployment *d)
{
    return tsr_model_n_outputs(d->model);
}

uint32_t tsr_deployment_n_threads(const tsr_deployment *d)
{
    return d->plan->models[TSR_PLAN_MAIN].n_threads;
}

const char *tsr_deployment_model_path(const tsr_deployment *d)
{
    return d->profile->model.path;
}

uint64_t tsr_deployment_seed(const tsr_deployment *d)
{
    return d->profile->seed;
}

void tsr_deployment_size(const tsr_deployment *d, uint64_t *n_values, uint64_t *file_bytes,
                         uint64_t *held_bytes)
{
    uint64_t values = 0, bytes = 0;
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(d->gguf); i++) {
        values += tsr_gguf_tensor_at(d->gguf, i)->n_elems;
        bytes += tsr_gguf_tensor_at(d->gguf, i)->n_bytes;
    }
    if (n_values)
        *n_values = values;
    if (file_bytes)
        *file_bytes = bytes;
    if (held_bytes)
        *held_bytes = d->plan->models[TSR_PLAN_MAIN].weights_bytes;
}

const char *tsr_deployment_quantize(const tsr_deployment *d)
{
    return d->plan->models[TSR_PLAN_MAIN].quantize;
}

const char *tsr_deployment_speculation(const tsr_deployment *d)
{
    const tsr_profile *p = d->profile;
    if (!d->model || !p->has_speculative || !p->speculative.plugin ||
        (uses_draft(p) && !d->draft_model))
        return NULL;
    return p->speculative.strategy;
}

const tsr_registry *tsr_deployment_registry(const tsr_deployment *d)
{
    return d->registry;
}

int64_t tsr_deployment_meta(const tsr_deployment *d, const char *key, char *buf,
                            size_t buf_bytes)
{
    const tsr_gguf *g = d->gguf;
    int64_t index = key ? tsr_gguf_find_key(g, key) : -1;
    if (index < 0)
        return -1;
    char dummy[1];
    if (!buf || buf_bytes == 0) {
        buf = dummy;
        buf_bytes = sizeof dummy;
    }
    tsr_gguf_str str;
    uint64_t u;
    int64_t i;
    double f;
    bool b;
    tsr_gguf_array array;
    int n;
    if (tsr_gguf_get_str(g, key, &str))
        n = snprintf(buf, buf_bytes, "%.*s", (int)str.len, str.data);
    else if (tsr_gguf_get_bool(g, key, &b))
        n = snprintf(buf, buf_bytes, "%s", b ? "true" : "false");
    else if (tsr_gguf_get_u64(g, key, &u))
        n = snprintf(buf, buf_bytes, "%llu", (unsigned long long)u);
    else if (tsr_gguf_get_i64(g, key, &i))
        n = snprintf(buf, buf_bytes, "%lld", (long long)i);
    else if (tsr_gguf_get_f64(g, key, &f))
        n = snprintf(buf, buf_bytes, "%.9g", f);
    else if (tsr_gguf_find_array(g, key, &array))
        n = snprintf(buf, buf_bytes, "[%llu items]", (unsigned long long)array.count);
    else
        n = snprintf(buf, buf_bytes, "?");
    return n < 0 ? -1 : n;
}
