/* What `run`, `bench` (and later `serve`) share: a profile (or a bare model
 * path), overridden from the command line, turned into loaded plugins, a
 * model, its tokenizer and a sampler chain. */
#ifndef TSR_CLI_DEPLOY_H
#define TSR_CLI_DEPLOY_H

#include "cli.h"
#include "generate.h"
#include "plan_common.h"
#include "profile.h"

enum { CLI_MAX_OVERRIDES = 32, CLI_MAX_PLUGIN_DIRS = 16 };

/* A command-line override of one sampler parameter (--temp 0.7). */
typedef struct cli_sampler_override {
    const char *sampler, *param, *text;
    bool insert;
} cli_sampler_override;

typedef struct cli_overrides {
    const char *model_path;     /* -m */
    int64_t max_seq_len;        /* -c; -1: the profile's */
    const char *cache_type;     /* --cache-type */
    const char *quantize;       /* --quantize: model.quantize */
    int64_t threads;            /* -t; -1: the profile's */
    bool has_seed;
    uint64_t seed;              /* --seed */
    bool greedy;                /* --temp 0 / --greedy: argmax only */
    cli_sampler_override samplers[CLI_MAX_OVERRIDES];
    size_t n_samplers;
    const char *plugin_dirs[CLI_MAX_PLUGIN_DIRS]; /* --plugins */
    size_t n_plugin_dirs;
    uint32_t n_batch;           /* 0: default */
    bool quiet;                 /* no progress bar */
} cli_overrides;

typedef struct cli_deployment {
    tsr_profile *profile;
    tsr_registry *registry;
    tsr_gguf *gguf;
    tsr_gguf *draft_gguf;       /* headers only: the draft is planned (loading it is to come) */
    tsr_plan *plan;             /* what every device holds; the model follows it */
    const tsr_alloc_vtable *alloc;
    void *alloc_state;
    tsr_model *model;
    tsr_tokenizer *tokenizer;
    tsr_sampler_chain *chain;
} cli_deployment;

/* Parses one sampler/deployment option of `run`/`bench` at argv[*i]
 * (advancing *i past its value). Returns 1 when it was one, 0 when not, -1
 * on a bad value (after printing why). */
int cli_parse_deploy_option(int argc, char **argv, int *i, cli_overrides *o);
/* The help text of those options. */
void cli_print_deploy_options(FILE *out);

/* Loads and validates the profile (or makes one for -m), opens plugins,
 * plans the deployment (a refusal returns CLI_EXIT_REFUSED before anything
 * is reserved), opens the model as planned, its tokenizer and (with_chain)
 * the sampler chain. Prints every problem; returns the exit code
 * (CLI_EXIT_OK when *d is ready). */
int cli_deployment_open(const char *profile_path, const cli_overrides *o, bool with_chain,
                        cli_deployment *d);
void cli_deployment_close(cli_deployment *d);

/* Prints a profile's diagnostics to stderr, hints indented below. */
void cli_print_diagnostics(const tsr_diagnostics *diags);

#endif
