/* Planning a profile without loading it: the deployment-open path stopped at
 * the plan, and the plan shown as a struct, as PROFILE.md's JSON and as the
 * table `tessera plan` prints. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "pipeline.h"
#include "units.h"

struct tsr_plan_report {
    tsr_deployment *d;             /* as far as it got; its plan when one was made */
    tsr_diagnostics diags;         /* every finding, in order */
    tsr_plan_device_info *devices;
    size_t n_devices;
    tsr_plan_model_info models[TSR_PLAN_MAX_MODELS];
    size_t n_models;
    tsr_diagnostic_info *infos;
};

void tsr_plan_params_init(tsr_plan_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

/* The plan of the model (a job's: the whole model's, on this process). */
static const tsr_plan *plan_of(const tsr_plan_report *r)
{
    if (!r->d)
        return NULL;
    return r->d->whole_plan ? r->d->whole_plan : r->d->plan;
}

/* A job across hosts: its ranks, each with its stage's plan (NULL for a
 * rank without layers). */
static const tsr_deployment *job_of(const tsr_plan_report *r)
{
    return r->d && r->d->job_plans ? r->d : NULL;
}

static bool report_fits(const tsr_plan_report *r)
{
    if (job_of(r))
        return r->d->job_fits;
    return plan_of(r) && plan_of(r)->fits;
}

static tsr_plan_device_info device_info(const tsr_plan_device *d, int32_t rank,
                                        const char *host)
{
    return (tsr_plan_device_info){
        sizeof(tsr_plan_device_info), d->spec.name,    d->spec.capacity_bytes,
        d->weights_bytes,             d->kv_cache_bytes, d->scratch_bytes,
        d->overhead_bytes,            d->reserve_bytes,  d->total_bytes,
        d->first_layer,               d->last_layer,     rank,
        host};
}

/* The public views of the plan and of the findings. */
static tsr_status describe(tsr_plan_report *r, tsr_error *err)
{
    const tsr_plan *plan = plan_of(r);
    const tsr_deployment *job = job_of(r);
    size_t n_devices = plan ? plan->n_devices : 0;
    if (job) {
        n_devices = 0;
        for (uint32_t k = 0; k < job->n_job; k++)
            n_devices += job->job_plans[k] ? job->job_plans[k]->n_devices : 0;
    }
    r->infos = calloc(r->diags.count + 1, sizeof *r->infos);
    r->devices = calloc(n_devices + 1, sizeof *r->devices);
    if (!r->infos || !r->devices)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->diags.count; i++)
        r->infos[i] = tsr_api_diagnostic_info(&r->diags.items[i]);
    if (job) {
        for (uint32_t k = 0; k < job->n_job; k++)
            for (uint32_t i = 0; job->job_plans[k] && i < job->job_plans[k]->n_devices; i++)
                r->devices[r->n_devices++] = device_info(&job->job_plans[k]->devices[i],
                                                         (int32_t)k, job->job[k].host);
    } else {
        for (uint32_t i = 0; plan && i < plan->n_devices; i++)
            r->devices[i] = device_info(&plan->devices[i], -1, NULL);
        r->n_devices = plan ? plan->n_devices : 0;
    }
    for (uint32_t k = 0; plan && k < plan->n_models; k++) {
        const tsr_plan_model *m = &plan->models[k];
        r->models[k] = (tsr_plan_model_info){
            sizeof(tsr_plan_model_info), k ? "draft" : "main",
            m->path,                     m->params,
            m->weights_bytes,            m->bits_per_weight,
            m->n_layer,                  m->max_seq_len,
            m->n_sequences,              m->cache_type,
            m->kv_layer_bytes * (m->end_layer - m->first_layer) * m->n_sequences};
    }
    r->n_models = plan ? plan->n_models : 0;
    return TSR_OK;
}

tsr_status tsr_plan_profile(const char *path, const tsr_plan_params *params,
                            tsr_plan_report **out, tsr_error *err)
{
    *out = NULL;
    tsr_plan_params p;
    tsr_plan_params_init(&p);
    tsr_api_copy_params(&p, sizeof p, params);
    tsr_plan_report *r = calloc(1, sizeof *r);
    if (!r)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_deployment_params o;
    tsr_deployment_params_init(&o);
    o.n_seq_max = p.n_seq_max;
    o.plugin_dirs = p.plugin_dirs;
    o.n_plugin_dirs = p.n_plugin_dirs;
    tsr_open_extra extra = {.headers_only = true,
                            .sim_bytes = p.device_bytes,
                            .n_sim = p.device_bytes ? p.n_devices : 0,
                            .host_bytes = p.host_bytes,
                            .n_hosts = p.host_bytes ? p.n_hosts : 0,
                            .collect = &r->diags};
    tsr_status s = path ? tsr_api_open(path, NULL, 0, NULL, NULL, &o, &extra, &r->d, err)
                        : tsr_error_set(err, TSR_ERR_INVALID, "no profile path given");
    if (s == TSR_ERR_NOMEM) {
        tsr_plan_report_free(r);
        return s;
    }
    /* An unusable model file (or allocator) is a finding of its own, and so
     * is another rank of the job that disagreed at the handshake, failed or
     * stopped answering (a slow link past dist.timeout, a version). */
    if (s != TSR_OK && s != TSR_ERR_REFUSED && tsr_diag_error_count(&r->diags) == 0) {
        tsr_diagnostic *d = tsr_diag_add(&r->diags, TSR_SEVERITY_ERROR, NULL, 0, 0, "%s",
                                         err->message);
        if (d)
            d->code = s == TSR_ERR_PEER ? "rank-failed" : "model-file";
    }
    tsr_error describe_err;
    if (describe(r, &describe_err) != TSR_OK) {
        tsr_plan_report_free(r);
        *err = describe_err;
        return TSR_ERR_NOMEM;
    }
    *out = r;
    return s;
}

void tsr_plan_report_free(tsr_plan_report *r)
{
    if (!r)
        return;
    tsr_deployment_close(r->d);
    tsr_diagnostics_free(&r->diags);
    free(r->devices);
    free(r->infos);
    free(r);
}

bool tsr_plan_report_fits(const tsr_plan_report *r)
{
    return report_fits(r);
}

const tsr_plan_device_info *tsr_plan_report_device(const tsr_plan_report *r, size_t index)
{
    return index < r->n_devices ? &r->devices[index] : NULL;
}

const tsr_plan_model_info *tsr_plan_report_model(const tsr_plan_report *r, size_t index)
{
    return index < r->n_models ? &r->models[index] : NULL;
}

const tsr_diagnostic_info *tsr_plan_report_diagnostic(const tsr_plan_report *r, size_t index)
{
    return index < r->diags.count ? &r->infos[index] : NULL;
}

/* ---- JSON ------------------------------------------------------------------- */

static json_t *json_diagnostic(const tsr_diagnostic *d)
{
    return json_pack("{s:s, s:s, s:s, s:s?}", "severity", tsr_severity_name(d->severity),
                     "code", d->code ? d->code : "profile", "message", d->message, "hint",
                     d->hint);
}

char *tsr_plan_report_json(const tsr_plan_report *r)
{
    const tsr_plan *plan = plan_of(r);
    json_t *devices = json_array(), *models = json_array(), *diags = json_array();
    for (size_t i = 0; i < r->n_devices; i++) {
        const tsr_plan_device_info *d = &r->devices[i];
        json_t *layers = d->first_layer == TSR_PLAN_NO_LAYER
                             ? json_null()
                             : json_pack("[I, I]", (json_int_t)d->first_layer,
                                         (json_int_t)d->last_layer);
        json_t *device = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name", d->name, "capacity_bytes",
            (json_int_t)d->capacity_bytes, "weights_bytes", (json_int_t)d->weights_bytes,
            "kv_cache_bytes", (json_int_t)d->kv_cache_bytes, "scratch_bytes",
            (json_int_t)d->scratch_bytes, "overhead_bytes", (json_int_t)d->overhead_bytes,
            "reserve_bytes", (json_int_t)d->reserve_bytes, "total_bytes",
            (json_int_t)d->total_bytes, "layers", layers);
        /* Across hosts only: whose device it is (additive to PROFILE.md's). */
        if (device && d->host) {
            json_object_set_new(device, "rank", json_integer(d->rank));
            json_object_set_new(device, "host", json_string(d->host));
        }
        json_array_append_new(devices, device);
    }
    for (uint32_t k = 0; plan && k < plan->n_models; k++) {
        const tsr_plan_model *m = &plan->models[k];
        json_array_append_new(
            models, json_pack("{s:s, s:s, s:I, s:I, s:f}", "role", k ? "draft" : "main", "path",
                              m->path, "params", (json_int_t)m->params, "weights_bytes",
                              (json_int_t)m->weights_bytes, "bits_per_weight",
                              m->bits_per_weight));
    }
    for (size_t i = 0; i < r->diags.count; i++)
        json_array_append_new(diags, json_diagnostic(&r->diags.items[i]));
    json_t *root = json_pack("{s:b, s:o, s:o, s:o}", "fits", report_fits(r), "devices",
                             devices, "models", models, "diagnostics", diags);
    /* Under mpirun only: each link as the handshake timed it (additive to
     * PROFILE.md's keys). */
    const tsr_deployment *job = job_of(r);
    if (root && job && job->n_job > 1 && job->job[0].hop_row_bytes) {
        json_t *links = json_array();
        for (uint32_t k = 0; k + 1 < job->n_job; k++) {
            const tsr_pipeline_rank *rank = &job->job[k];
            json_array_append_new(
                links, json_pack("{s:I, s:I, s:f, s:f, s:I, s:I}", "from", (json_int_t)k, "to",
                                 (json_int_t)k + 1, "latency_s", rank->hop_latency_s,
                                 "bytes_per_s", rank->hop_bytes_per_s, "row_bytes",
                                 (json_int_t)rank->hop_row_bytes, "chunk_bytes",
                                 (json_int_t)rank->hop_chunk_bytes));
        }
        json_object_set_new(root, "links", links);
    }
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return text;
}

/* ---- the table ----------------------------------------------------------------- */

/* "0-63", "64-79": a device's layers of one model. */
static void layer_range(const tsr_plan_share *share, const char *prefix, char *buf,
                        size_t bytes)
{
    size_t used = strlen(buf);
    if (share->first_layer == TSR_PLAN_NO_LAYER || used >= bytes)
        return;
    snprintf(buf + used, bytes - used, "%s%s%d-%d", used ? ", " : "", prefix, share->first_layer,
             share->last_layer);
}

static void print_devices(const tsr_plan *plan, FILE *out)
{
    static const char *const head[] = {"device",  "weights", "KV cache", "scratch", "overhead",
                                       "reserve", "total",   "capacity", "layers"};
    enum { N_COLUMNS = 9, CELL = 72 };
    char (*cells)[N_COLUMNS][CELL] = calloc(plan->n_devices + 2, sizeof *cells);
    if (!cells)
        return;
    for (int c = 0; c < N_COLUMNS; c++)
        snprintf(cells[0][c], CELL, "%s", head[c]);
    uint64_t sums[7] = {0};
    for (uint32_t d = 0; d < plan->n_devices; d++) {
        const tsr_plan_device *dev = &plan->devices[d];
        uint64_t values[7] = {dev->weights_bytes,  dev->kv_cache_bytes, dev->scratch_bytes,
                              dev->overhead_bytes, dev->reserve_bytes,  dev->total_bytes,
                              dev->spec.capacity_bytes};
        char (*row)[CELL] = cells[d + 1];
        snprintf(row[0], CELL, "%s", dev->spec.name);
        for (int c = 0; c < 7; c++) {
            tsr_size_format(values[c], row[c + 1], CELL);
            sums[c] += values[c];
        }
        if (dev->total_bytes > dev->spec.capacity_bytes)
            snprintf(row[6] + strlen(row[6]), CELL - strlen(row[6]), " !");
        row[8][0] = '\0';
        for (uint32_t k = 0; k < plan->n_models; k++)
            layer_range(&plan->models[k].shares[d], k ? "draft " : "", row[8], CELL);
        if (!row[8][0])
            snprintf(row[8], CELL, "-");
    }
    uint32_t n_rows = plan->n_devices + 1;
    if (plan->n_devices > 1) {
        char (*row)[CELL] = cells[n_rows++];
        snprintf(row[0], CELL, "total");
        for (int c = 0; c < 7; c++)
            tsr_size_format(sums[c], row[c + 1], CELL);
    }
    size_t width[N_COLUMNS] = {0};
    for (uint32_t r = 0; r < n_rows; r++)
        for (int c = 0; c < N_COLUMNS; c++)
            if (strlen(cells[r][c]) > width[c])
                width[c] = strlen(cells[r][c]);
    for (uint32_t r = 0; r < n_rows; r++) {
        for (int c = 0; c < N_COLUMNS; c++)
            fprintf(out, c + 1 < N_COLUMNS ? "%-*s  " : "%-*s",
                    c + 1 < N_COLUMNS ? (int)width[c] : 0, cells[r][c]);
        fputc('\n', out);
    }
    free(cells);
}

static void print_models(const tsr_plan *plan, FILE *out)
{
    for (uint32_t k = 0; k < plan->n_models; k++) {
        const tsr_plan_model *m = &plan->models[k];
        char weights[TSR_SIZE_TEXT_BYTES], kv[TSR_SIZE_TEXT_BYTES];
        double params = (double)m->params;
        char sequences[48] = "";
        if (m->n_sequences > 1)
            snprintf(sequences, sizeof sequences, " for each of %u sequences", m->n_sequences);
        fprintf(out, "%-5s  %s\n", k ? "draft" : "main", m->path);
        fprintf(out, "       %.*f%s parameters, %s of weights (%.2f bits per weight), %u layers; "
                "%u positions of %s KV cache%s (%s)\n",
                params >= 1e11 ? 0 : 1, params >= 1e9 ? params / 1e9 : params / 1e6,
                params >= 1e9 ? "B" : "M", tsr_size_format(m->weights_bytes, weights, sizeof weights),
                m->bits_per_weight, m->n_layer, m->max_seq_len, m->cache_type, sequences,
                tsr_size_format(m->kv_layer_bytes * (m->end_layer - m->first_layer) *
                                    m->n_sequences,
                                kv, sizeof kv));
    }
}

char *tsr_plan_report_table(const tsr_plan_report *r)
{
    const tsr_plan *plan = plan_of(r);
    char *text = NULL;
    size_t n_bytes = 0;
    FILE *out = open_memstream(&text, &n_bytes);
    if (!out)
        return NULL;
    const tsr_deployment *job = job_of(r);
    if (job) {
        for (uint32_t k = 0; k < job->n_job; k++) {
            const tsr_pipeline_rank *rank = &job->job[k];
            if (rank->end_layer > rank->first_layer)
                fprintf(out, "rank %u on host %s: layers %u-%u\n", k, rank->host,
                        rank->first_layer, rank->end_layer - 1);
            else
                fprintf(out, "rank %u on host %s: no layers\n", k, rank->host);
            if (job->job_plans[k])
                print_devices(job->job_plans[k], out);
            const tsr_pipeline_rank *next = k + 1 < job->n_job ? &job->job[k + 1] : NULL;
            if (next && rank->hop_row_bytes)
                fprintf(out, "hop to rank %u (host %s): latency %.1f us per row of %llu bytes, "
                        "bandwidth %.1f MB/s (timed at the handshake)\n", k + 1, next->host,
                        rank->hop_latency_s * 1e6, (unsigned long long)rank->hop_row_bytes,
                        rank->hop_bytes_per_s / 1e6);
            fputc('\n', out);
        }
        print_models(plan, out);
        fputc('\n', out);
        size_t errors = tsr_diag_error_count(&r->diags);
        if (job->job_fits)
            fprintf(out, "fits: every device of every rank holds its share\n");
        else
            fprintf(out, "refused: %zu error%s (below)\n", errors, errors == 1 ? "" : "s");
    } else if (plan) {
        print_devices(plan, out);
        fputc('\n', out);
        print_models(plan, out);
        fputc('\n', out);
        if (plan->fits)
            fprintf(out, "fits: every device holds its share\n");
        else
            fprintf(out, "refused: %zu error%s (below)\n", tsr_diag_error_count(&plan->diags),
                    tsr_diag_error_count(&plan->diags) == 1 ? "" : "s");
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- small helpers the CLI shares ---------------------------------------------- */

int tsr_diagnostic_format(const tsr_diagnostic_info *info, char *buf, size_t buf_bytes)
{
    tsr_diagnostic d = {info->severity, info->code,           (char *)info->file, info->line,
                        info->column,   (char *)info->message, (char *)info->hint};
    int n = tsr_diag_format(&d, buf, buf_bytes);
    if (n >= 0 && info->code) {
        size_t used = (size_t)n < buf_bytes ? (size_t)n : (buf_bytes ? buf_bytes - 1 : 0);
        int more = snprintf(buf_bytes ? buf + used : NULL, buf_bytes ? buf_bytes - used : 0,
                            " [%s]", info->code);
        n = more < 0 ? more : n + more;
    }
    return n;
}

const char *tsr_format_size(uint64_t bytes, char *buf, size_t buf_bytes)
{
    return tsr_size_format(bytes, buf, buf_bytes);
}

tsr_status tsr_parse_size(const char *text, uint64_t bare_unit, uint64_t *bytes, tsr_error *err)
{
    return tsr_size_parse(text, bare_unit, bytes, err);
}
