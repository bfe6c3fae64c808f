/* A job across hosts planned as one: every rank's layers (dist.layers, or
 * auto by each rank's room), every rank's stage planned on its own devices,
 * and one verdict, which every rank reaches alike from what the handshake
 * gathered (or from hosts simulated by `tessera plan --hosts`). Rank 0 says
 * why a job is refused, once; every rank refuses it before allocating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "pipeline.h"
#include "units.h"

void tsr_api_simulate_hosts(const uint64_t *host_bytes, uint32_t n_hosts,
                            tsr_pipeline_rank *ranks)
{
    for (uint32_t i = 0; i < n_hosts; i++) {
        memset(&ranks[i], 0, sizeof ranks[i]);
        snprintf(ranks[i].host, sizeof ranks[i].host, "host%u", i);
        ranks[i].n_devices = 1;
        snprintf(ranks[i].devices[0].name, sizeof ranks[i].devices[0].name, "sim0");
        ranks[i].devices[0].capacity_bytes = host_bytes[i];
    }
}

static void copy_finding(tsr_diagnostics *to, const tsr_diagnostic *d)
{
    tsr_diagnostic *copy = tsr_diag_add(to, d->severity, d->file, d->line, d->column, "%s",
                                        d->message);
    if (copy) {
        copy->code = d->code;
        if (d->hint)
            tsr_diag_set_hint(copy, "%s", d->hint);
    }
}

/* Plans rank r's stage on its devices; the findings name each device as
 * "sim0 of rank 1 (host host1)", the plan keeps its own names. */
static tsr_status plan_rank(const tsr_deployment *d, const tsr_deployment_params *o,
                            const tsr_pipeline_rank *rank, uint32_t r, uint32_t first,
                            uint32_t end, tsr_plan **out, tsr_error *err)
{
    tsr_plan_device_spec specs[TSR_PIPELINE_MAX_DEVICES];
    for (uint32_t i = 0; i < rank->n_devices; i++) {
        specs[i] = rank->devices[i];
        snprintf(specs[i].name, sizeof specs[i].name, "%.20s of rank %u (host %.24s)",
                 rank->devices[i].name, r, rank->host);
    }
    tsr_status s = tsr_api_make_plan(d, o, specs, rank->n_devices, first, end, out, err);
    for (uint32_t i = 0; s == TSR_OK && i < (*out)->n_devices; i++)
        memcpy((*out)->devices[i].spec.name, rank->devices[i].name,
               sizeof (*out)->devices[i].spec.name);
    return s;
}

/* split-across-hosts: the job spans several hosts though one of them could
 * hold the whole model, so every token pays the hops for nothing. */
static tsr_status check_split_across_hosts(const tsr_deployment *d,
                                           const tsr_deployment_params *o,
                                           const tsr_pipeline_rank *ranks, uint32_t n_ranks,
                                           tsr_diagnostics *diags, tsr_error *err)
{
    uint32_t n_hosts = 0;
    for (uint32_t r = 0; r < n_ranks; r++) {
        bool seen = false;
        for (uint32_t q = 0; q < r; q++)
            seen |= strcmp(ranks[q].host, ranks[r].host) == 0;
        n_hosts += !seen;
    }
    if (n_hosts < 2)
        return TSR_OK;
    for (uint32_t r = 0; r < n_ranks; r++) {
        bool seen = false;
        for (uint32_t q = 0; q < r; q++)
            seen |= strcmp(ranks[q].host, ranks[r].host) == 0;
        if (seen)
            continue;
        tsr_plan_device_spec specs[TSR_PIPELINE_MAX_DEVICES];
        memcpy(specs, ranks[r].devices, ranks[r].n_devices * sizeof *specs);
        tsr_plan *whole = NULL;
        tsr_status s = tsr_api_make_plan(d, o, specs, ranks[r].n_devices, 0, 0, &whole, err);
        if (s != TSR_OK)
            return s;
        bool fits = whole->fits;
        uint64_t needs = 0, holds = 0;
        for (uint32_t i = 0; i < whole->n_devices; i++) {
            needs += whole->devices[i].total_bytes;
            holds += whole->devices[i].spec.capacity_bytes;
        }
        tsr_plan_free(whole);
        if (!fits)
            continue;
        char a[TSR_SIZE_TEXT_BYTES], b[TSR_SIZE_TEXT_BYTES];
        tsr_diagnostic *diag = tsr_diag_add(
            diags, TSR_SEVERITY_WARNING, d->profile->file, 0, 0, "the model is split across %u "
            "hosts, though host %s (rank %u) alone can hold it (it needs %s of its %s): every "
            "token crosses %u network hop%s for nothing", n_hosts, ranks[r].host, r,
            tsr_size_format(needs, a, sizeof a), tsr_size_format(holds, b, sizeof b),
            n_ranks - 1, n_ranks == 2 ? "" : "s");
        if (diag) {
            diag->code = "split-across-hosts";
            tsr_diag_set_hint(diag, "run it on host %s alone, without mpirun", ranks[r].host);
        }
        return TSR_OK;
    }
    return TSR_OK;
}

tsr_status tsr_api_plan_job(tsr_deployment *d, const tsr_deployment_params *o,
                            tsr_pipeline_rank *ranks, uint32_t n_ranks, uint32_t me,
                            tsr_error *err)
{
    d->job = ranks;
    d->n_job = n_ranks;
    d->whole_plan = d->plan;
    if (!(d->job_plans = calloc(n_ranks, sizeof *d->job_plans)))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    tsr_diagnostics diags = {0};
    const tsr_plan_model *whole = &d->whole_plan->models[TSR_PLAN_MAIN];
    tsr_status s = tsr_pipeline_assign_layers(d->profile, d->profile->model.path,
                                              whole->n_layer, ranks, n_ranks, &diags);
    bool fits = s == TSR_OK;
    for (uint32_t r = 0; s == TSR_OK && r < n_ranks; r++) {
        if (ranks[r].end_layer <= ranks[r].first_layer)
            continue;
        s = plan_rank(d, o, &ranks[r], r, ranks[r].first_layer, ranks[r].end_layer,
                      &d->job_plans[r], err);
        if (s != TSR_OK)
            break;
        fits &= d->job_plans[r]->fits;
        for (size_t i = 0; i < d->job_plans[r]->diags.count; i++)
            copy_finding(&diags, &d->job_plans[r]->diags.items[i]);
    }
    if (s == TSR_OK)
        s = check_split_across_hosts(d, o, ranks, n_ranks, &diags, err);
    if (s == TSR_OK && diags.out_of_memory)
        s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    if (s == TSR_OK && (!fits || tsr_diag_error_count(&diags) > 0))
        s = TSR_ERR_REFUSED;
    d->job_fits = s == TSR_OK;
    if (d->job_plans[me])
        d->plan = d->job_plans[me];
    bool findings = s == TSR_OK || s == TSR_ERR_REFUSED || s == TSR_ERR_INVALID;
    if (me == 0 && findings) {
        tsr_api_report_findings(d, &diags, o, s, err);
        if (s == TSR_ERR_REFUSED)
            tsr_error_prefix(err, "the planner refused this job, before allocating anything");
    } else if (s != TSR_OK && findings) {
        /* Rank 0 says why; this rank reached the same verdict. */
        err->code = s;
        err->message[0] = '\0';
    }
    tsr_diagnostics_free(&diags);
    return s;
}

void tsr_api_free_job(tsr_deployment *d)
{
    if (!d->job_plans && !d->job)
        return;
    for (uint32_t r = 0; d->job_plans && r < d->n_job; r++)
        tsr_plan_free(d->job_plans[r]);
    free(d->job_plans);
    free(d->job);
    d->job_plans = NULL;
    d->job = NULL;
    if (d->whole_plan) {
        d->plan = d->whole_plan;
        d->whole_plan = NULL;
    }
}
