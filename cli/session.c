/* Opening a deployment for a command, through the public API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

void cli_print_diagnostic(const tsr_diagnostic_info *d)
{
    char line[4096];
    tsr_diagnostic_format(d, line, sizeof line);
    fprintf(stderr, "%s\n", line);
    if (d->hint)
        fprintf(stderr, "  hint: %s\n", d->hint);
}

void cli_print_formats(FILE *out, const tsr_deployment *d, const char *open, const char *close)
{
    for (size_t i = 0; i < tsr_deployment_format_count(d); i++) {
        const tsr_format_use *f = tsr_deployment_format(d, i);
        fprintf(out, "%s%s %s", open, tsr_format_role_name(f->role), f->type_name);
        if (f->role == TSR_FORMAT_WEIGHTS)
            fprintf(out, ", %u tensor%s", f->n_tensors, f->n_tensors == 1 ? "" : "s");
        fprintf(out, ": quant plugin %s from %s, kernel %s%s\n", f->plugin ? f->plugin->name : "?",
                f->plugin ? f->plugin->path : "?", f->kernel[0] ? f->kernel : "(unnamed)", close);
    }
}

/* Counts the errors printed, so that a failure nothing explained yet gets
 * its message. */
static void print_finding(const tsr_diagnostic_info *d, void *ctx)
{
    cli_print_diagnostic(d);
    *(int *)ctx += d->severity == TSR_SEVERITY_ERROR;
}

static bool progress_bar(double fraction, void *ctx)
{
    (void)ctx;
    cli_progress_bar("loading weights", fraction);
    return true;
}

/* The model to open without a profile: -m, else the default model. */
static int model_without_profile(const cli_overrides *o, const tsr_config *config, char **path)
{
    if (o->model_path) {
        *path = strdup(o->model_path);
    } else if (asprintf(path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", config->model_cache_dir) < 0) {
        *path = NULL;
    } else if (access(*path, R_OK) != 0) {
        cli_error("no model: give a profile or -m MODEL (the default model would be %s; "
                  "contrib/fetch-model.sh of tessera's source tree puts it there)", *path);
        free(*path);
        return CLI_EXIT_USAGE;
    }
    if (!*path) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static tsr_status open_deployment(const char *profile_path, const cli_overrides *o,
                                  const cli_session_options *so, const tsr_config *config,
                                  int *n_errors, cli_session *s, tsr_error *err, int *rc)
{
    tsr_deployment_params p;
    tsr_deployment_params_init(&p);
    p.n_threads = o->threads >= 0 ? (int32_t)o->threads : -1;
    p.max_seq_len = o->max_seq_len >= 0 ? (uint32_t)o->max_seq_len : 0;
    p.n_batch = o->n_batch;
    p.n_seq_max = so->n_seq_max;
    p.all_logits = so->all_logits;
    p.seed = o->has_seed ? (int64_t)o->seed : -1;
    p.cache_type = o->cache_type;
    p.cache_type_option = "--cache-type";
    p.quantize = o->quantize;
    p.quantize_option = "--quantize";
    p.plugin_dirs = o->plugin_dirs;
    p.n_plugin_dirs = o->n_plugin_dirs;
    p.progress = !o->quiet && isatty(STDERR_FILENO) ? progress_bar : NULL;
    p.diagnostic = print_finding;
    p.diagnostic_ctx = n_errors;
    *rc = CLI_EXIT_OK;
    if (profile_path) {
        if (o->model_path && access(o->model_path, R_OK) != 0) {
            cli_error("-m %s: %s", o->model_path, strerror(errno));
            *rc = CLI_EXIT_USAGE;
            return TSR_ERR_INVALID;
        }
        p.model_path = o->model_path;
        return tsr_deployment_open_profile(profile_path, &p, &s->d, err);
    }
    char *model;
    if ((*rc = model_without_profile(o, config, &model)) != CLI_EXIT_OK)
        return TSR_ERR_INVALID;
    tsr_status status = tsr_deployment_open_model(model, &p, &s->d, err);
    free(model);
    return status;
}

/* A rank other than 0 of an mpirun job: its stage until rank 0 is done;
 * then the job ends (a failure ends every rank). */
static _Noreturn void serve_stage(cli_session *s)
{
    tsr_error err = {0};
    int rc = CLI_EXIT_OK;
    if (tsr_dist_serve(s->d, &err) != TSR_OK)
        rc = cli_fail(&err, cli_exit_for(err.code));
    cli_session_close(s);
    exit(cli_dist_end(rc));
}

int cli_session_open(const char *profile_path, const cli_overrides *o,
                     const cli_session_options *so, cli_session *s)
{
    memset(s, 0, sizeof *s);
    tsr_error err = {0};
    tsr_config *config;
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    int n_errors = 0, rc;
    tsr_status st = open_deployment(profile_path, o, so, config, &n_errors, s, &err, &rc);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (st == TSR_ERR_REFUSED) {
        /* Under mpirun every rank refuses the job alike; rank 0 says so. */
        if (tsr_dist_rank() == 0)
            cli_error("the planner refused this %s, before allocating anything; "
                      "`%stessera plan %s` shows what each device would hold",
                      tsr_dist_size() > 1 ? "job" : "deployment",
                      tsr_dist_size() > 1 ? "mpirun ... " : "",
                      profile_path ? profile_path : "PROFILE");
        return CLI_EXIT_REFUSED;
    }
    /* What the diagnostics already said is not said again. */
    if (st != TSR_OK)
        return n_errors && st != TSR_ERR_NOMEM ? cli_exit_for(st)
                                               : cli_fail(&err, cli_exit_for(st));
    if ((st = tsr_context_create(s->d, NULL, &s->ctx, &err)) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    if (so->with_sampler) {
        const char *greedy[] = {"greedy"};
        tsr_sampler_setting settings[CLI_MAX_OVERRIDES];
        for (size_t i = 0; i < o->n_samplers; i++)
            settings[i] = (tsr_sampler_setting){o->samplers[i].sampler, o->samplers[i].param,
                                                o->samplers[i].text, !o->samplers[i].insert};
        /* --greedy: the chain is `greedy` alone; else the profile's, overridden. */
        st = tsr_sampler_open(s->d, o->greedy ? greedy : NULL, o->greedy ? 1 : 0, settings,
                              o->greedy ? 0 : o->n_samplers, tsr_deployment_seed(s->d),
                              &s->sampler, &err);
        if (st != TSR_OK)
            return cli_fail(&err, CLI_EXIT_USAGE);
    }
    if (tsr_dist_rank() != 0)
        serve_stage(s);
    return CLI_EXIT_OK;
}

void cli_session_close(cli_session *s)
{
    tsr_sampler_close(s->sampler);
    tsr_context_free(s->ctx);
    tsr_deployment_close(s->d);
    memset(s, 0, sizeof *s);
}
