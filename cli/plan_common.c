/* Planning a profile, and showing the plan, for every command that deploys. */
#include <stdlib.h>
#include <string.h>

#include "plan_common.h"
#include "units.h"

tsr_status cli_validate_for_plan(tsr_profile *profile, const tsr_registry *registry,
                                 tsr_diagnostics *diags, tsr_error *err)
{
    /* Validation refuses a split of the wrong length as a profile error;
     * hide the split from it, and let the planner judge it. */
    bool split_auto = profile->devices.split_auto;
    profile->devices.split_auto = true;
    tsr_status s = tsr_profile_validate(profile, registry, diags, err);
    profile->devices.split_auto = split_auto;
    return s;
}

tsr_status cli_make_plan(const tsr_profile *profile, const tsr_registry *registry,
                         const tsr_gguf *main_gguf, const tsr_gguf *draft_gguf,
                         const tsr_alloc_vtable *alloc, void *alloc_state, uint32_t n_threads,
                         uint32_t n_batch, uint32_t n_sequences, tsr_plan **out,
                         tsr_error *err)
{
    tsr_plan_device_spec specs[TSR_PROFILE_MAX_DEVICES];
    uint32_t n = tsr_plan_devices_from_alloc(alloc, alloc_state, specs, TSR_PROFILE_MAX_DEVICES,
                                             err);
    if (n == 0)
        return tsr_error_prefix(err, "devices.allocator %s", profile->devices.allocator);
    tsr_plan_request request;
    tsr_plan_request_from_profile(profile, registry, main_gguf, draft_gguf, specs, n, &request);
    request.n_threads = n_threads;
    request.n_batch = n_batch;
    if (n_sequences)
        request.n_sequences = n_sequences;
    return tsr_plan_make(&request, out, err);
}

void cli_print_plan_diagnostics(const tsr_diagnostics *diags, FILE *out)
{
    for (size_t i = 0; i < diags->count; i++) {
        const tsr_diagnostic *d = &diags->items[i];
        char line[4096];
        tsr_diag_format(d, line, sizeof line);
        if (d->code)
            fprintf(out, "%s [%s]\n", line, d->code);
        else
            fprintf(out, "%s\n", line);
        if (d->hint)
            fprintf(out, "  hint: %s\n", d->hint);
    }
}

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

void cli_print_plan_table(const tsr_plan *plan, FILE *out)
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
        uint64_t values[7] = {dev->weights_bytes, dev->kv_cache_bytes, dev->scratch_bytes,
                              dev->overhead_bytes, dev->reserve_bytes, dev->total_bytes,
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
            fprintf(out, c + 1 < N_COLUMNS ? "%-*s  " : "%-*s", c + 1 < N_COLUMNS ?
                    (int)width[c] : 0, cells[r][c]);
        fputc('\n', out);
    }
    free(cells);

    fputc('\n', out);
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
                tsr_size_format(m->kv_layer_bytes * m->n_layer * m->n_sequences, kv, sizeof kv));
    }
    fputc('\n', out);
    if (plan->fits)
        fprintf(out, "fits: every device holds its share\n");
    else
        fprintf(out, "refused: %zu error%s (below)\n", tsr_diag_error_count(&plan->diags),
                tsr_diag_error_count(&plan->diags) == 1 ? "" : "s");
}
