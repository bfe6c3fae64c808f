/* The deployment and sampling options of `run`, `bench` (and `serve`):
 * -m, -c, -t, --cache-type, --quantize, --plugins, the sampler options, in
 * llama.cpp's spelling, parsed into overrides of the profile. */
#ifndef TSR_CLI_OPTIONS_H
#define TSR_CLI_OPTIONS_H

#include <stdint.h>

#include "cli.h"

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

/* Parses one sampler/deployment option of `run`/`bench` at argv[*i]
 * (advancing *i past its value). Returns 1 when it was one, 0 when not, -1
 * on a bad value (after printing why). */
int cli_parse_deploy_option(int argc, char **argv, int *i, cli_overrides *o);
/* The help text of those options. */
void cli_print_deploy_options(FILE *out);

#endif
