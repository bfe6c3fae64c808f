/* tessera plan: what a deployment would put on each device, from headers
 * alone, and whether the planner accepts it. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"

/* PROFILE.md's bounds: devices.sim entries, server.parallel. */
enum { MAX_PLUGIN_DIRS = 16, MAX_DEVICES = 64, MAX_PARALLEL = 4096 };
#define GIB ((uint64_t)1 << 30)

typedef struct plan_args {
    const char *profile;
    bool json;
    const char *devices;        /* --devices as given */
    uint64_t sim_bytes[MAX_DEVICES];
    size_t n_sim;
    const char *hosts;          /* --hosts as given */
    uint64_t host_bytes[MAX_DEVICES];
    size_t n_hosts;
    const char *plugin_dirs[MAX_PLUGIN_DIRS];
    size_t n_plugin_dirs;
    uint32_t parallel;          /* --parallel; 0: from the profile */
} plan_args;

static void plan_help(FILE *out)
{
    fputs("Usage: tessera plan PROFILE [--json] [--devices NxSIZE[,SIZE...]] [--parallel N]\n"
          "                    [--hosts NxSIZE[,SIZE...]] [--plugins DIR]...\n"
          "\n"
          "Works out, from the model files' headers alone (no tensor data is read, so\n"
          "sparse or partly downloaded files work), what the deployment PROFILE would put\n"
          "on each device: the weights of every layer of the main model and the draft,\n"
          "their KV caches (max_seq_len x cache_type, one per sequence), scratch buffers,\n"
          "the runtime's overhead and the reserve. Prints one row per device and the\n"
          "models, then the verdict. A deployment that cannot work is refused, each reason a diagnostic\n"
          "with a code and a hint computed for this deployment:\n"
          "  draft-is-main         the draft is the main model itself (same file, a link, or\n"
          "                        a copy under another name)\n"
          "  draft-vocab-mismatch  draft and main model tokenize differently\n"
          "  draft-too-large       (warning) the draft has more than a quarter of the main\n"
          "                        model's parameters\n"
          "  does-not-fit          a device would need more than it holds; the hint gives the\n"
          "                        longest max_seq_len, the cache type, the split or the\n"
          "                        largest draft that fits\n"
          "  split-mismatch        devices.split has another number of entries than devices\n"
          "  split-exceeds-device  (warning) a split entry is larger than its device can give\n"
          "                        weights; the entry, a ceiling, is clamped to that room\n"
          "  no-device-kernels     tensors of a format without kernels for their device\n"
          "                        (e.g. q4_k on a CUDA GPU), or a KV cache type the device\n"
          "                        cannot read; never run on the host instead\n"
          "\n"
          "Placement: layers are kept whole and in order; token embeddings go with the\n"
          "first layer, the output head and final norm with the last. `split: auto` spreads\n"
          "the main model's weights and KV cache in proportion to each device's room;\n"
          "`split: [20, 24]` fills device 0 with weights up to 20 GiB, then device 1 up to\n"
          "24 GiB (or what it can give, if less). The draft goes whole onto the device\n"
          "with the most room left when it fits there, else it is spread like `auto`.\n"
          "\n"
          "Options:\n"
          "  --json                 print one JSON object instead of the table:\n"
          "                         {\"fits\", \"devices\": [{\"name\", \"capacity_bytes\",\n"
          "                         \"weights_bytes\", \"kv_cache_bytes\", \"scratch_bytes\",\n"
          "                         \"overhead_bytes\", \"reserve_bytes\", \"total_bytes\",\n"
          "                         \"layers\": [first, last]}], \"models\": [{\"role\", \"path\",\n"
          "                         \"params\", \"weights_bytes\", \"bits_per_weight\"}],\n"
          "                         \"diagnostics\": [{\"severity\", \"code\", \"message\", \"hint\"}]}\n"
          "                         (layers: the main model's, null when none; a profile\n"
          "                         problem has code \"profile\", an unusable model file\n"
          "                         \"model-file\")\n"
          "  --devices SPEC         plan for hardware you do not have: simulated devices of\n"
          "                         these sizes instead of the profile's, e.g. 2x24GiB,\n"
          "                         24GiB,16GiB or 2x24GiB,80GiB (a bare number is GiB);\n"
          "                         CUDA devices (sim's kind: cuda) when the profile's\n"
          "                         allocator is cuda\n"
          "  --hosts SPEC           plan a job across hosts you do not have, as mpirun would\n"
          "                         run it (no mpirun needed): one rank per host, host0,\n"
          "                         host1, ..., each with one device sim0 of these sizes,\n"
          "                         e.g. 2x64GiB; the layers as dist.layers gives them\n"
          "                         (auto: by each host's room). Under mpirun the plan spans\n"
          "                         the job's own ranks and hosts; rank 0 prints it. In\n"
          "                         JSON each device then has \"rank\" and \"host\" too.\n"
          "                         Besides the codes above, across hosts:\n"
          "                           rank-without-layers  a rank gets no layers\n"
          "                           split-across-hosts   (warning) one host alone could\n"
          "                                                hold the whole model\n"
          "  --parallel N           provision N sequences' KV caches per model (default:\n"
          "                         server.parallel when the profile has a server section,\n"
          "                         as `tessera serve` decodes them; else 1, as `run` and\n"
          "                         `bench` do)\n"
          "  --plugins DIR          search DIR for plugins first (may be repeated)\n"
          "  -h, --help             show this help\n"
          "\n"
          "The scratch buffers depend on the CPU threads (the profile's `threads`, else\n"
          "tessera.ini's, else one per physical core), as `tessera run` would use them.\n"
          "\n"
          "Exit status: 0 the deployment fits, 2 the profile, a model file or the arguments\n"
          "are unusable, 3 the planner refuses the deployment, 1 another failure.\n\n",
          out);
    cli_print_environment(out);
}

/* --devices (or --hosts): comma-separated entries, each SIZE or NxSIZE. */
static bool parse_sizes(const char *option, const char *text, uint64_t *sizes, size_t *n_sizes)
{
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return false;
    bool ok = true;
    for (char *item = strtok_r(copy, ",", &save); ok && item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        unsigned long count = 1;
        char *x = item;
        while (isdigit((unsigned char)*x))
            x++;
        if (x > item && (*x == 'x' || *x == 'X')) {
            errno = 0;
            count = strtoul(item, NULL, 10);
            item = x + 1;
        }
        uint64_t bytes;
        tsr_error err = {0};
        if (count == 0 || count > MAX_DEVICES - *n_sizes) {
            cli_error("plan: %s %s: between 1 and %d entries", option, text, MAX_DEVICES);
            ok = false;
        } else if (tsr_parse_size(item, GIB, &bytes, &err) != TSR_OK || bytes == 0) {
            cli_error("plan: %s %s: %s", option, text,
                      bytes == 0 && !err.message[0] ? "an entry of 0 bytes" : err.message);
            ok = false;
        } else {
            for (unsigned long i = 0; i < count; i++)
                sizes[(*n_sizes)++] = bytes;
        }
    }
    free(copy);
    if (ok && *n_sizes == 0) {
        cli_error("plan: %s %s: expected NxSIZE[,SIZE...], e.g. 2x24GiB", option, text);
        ok = false;
    }
    return ok;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, plan_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(arg)) {
            plan_help(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (strcmp(arg, "--devices") == 0 || strncmp(arg, "--devices=", 10) == 0) {
            const char *spec = arg[9] == '=' ? arg + 10 : value;
            if (!spec) {
                cli_error("plan: --devices needs a value, e.g. 2x24GiB");
                return CLI_EXIT_USAGE;
            }
            if (arg[9] != '=')
                i++;
            a->devices = spec;
            a->n_sim = 0;
            if (!parse_sizes("--devices", spec, a->sim_bytes, &a->n_sim))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--hosts") == 0 || strncmp(arg, "--hosts=", 8) == 0) {
            const char *spec = arg[7] == '=' ? arg + 8 : value;
            if (!spec) {
                cli_error("plan: --hosts needs a value, e.g. 2x64GiB");
                return CLI_EXIT_USAGE;
            }
            if (arg[7] != '=')
                i++;
            a->hosts = spec;
            a->n_hosts = 0;
            if (!parse_sizes("--hosts", spec, a->host_bytes, &a->n_hosts))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--parallel") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long n = value ? strtoul(value, &end, 10) : 0;
            if (!value || !isdigit((unsigned char)value[0]) || *end || errno || n == 0 ||
                n > MAX_PARALLEL) {
                cli_error("plan: --parallel needs a number of sequences from 1 to %d",
                          MAX_PARALLEL);
                return CLI_EXIT_USAGE;
            }
            a->parallel = (uint32_t)n;
            i++;
        } else if (strcmp(arg, "--plugins") == 0) {
            if (!value || a->n_plugin_dirs == MAX_PLUGIN_DIRS) {
                cli_error("plan: --plugins needs a folder (at most %d of them)", MAX_PLUGIN_DIRS);
                return CLI_EXIT_USAGE;
            }
            a->plugin_dirs[a->n_plugin_dirs++] = value;
            i++;
        } else if (arg[0] == '-' && arg[1]) {
            cli_error("plan: unknown option '%s' (see tessera plan --help)", arg);
            return CLI_EXIT_USAGE;
        } else if (!a->profile) {
            a->profile = arg;
        } else {
            cli_error("plan: one PROFILE at a time ('%s' and '%s')", a->profile, arg);
            return CLI_EXIT_USAGE;
        }
    }
    if (!a->profile) {
        cli_error("plan: give a PROFILE (see tessera plan --help)");
        return CLI_EXIT_USAGE;
    }
    if (a->hosts && (a->devices || tsr_dist_size() > 1)) {
        cli_error("plan: --hosts plans hosts you do not have, alone: not with %s",
                  a->devices ? "--devices" : "mpirun (which plans the job's own hosts)");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* The report's findings on stderr, each hint indented below it. */
static void print_diagnostics(const tsr_plan_report *report)
{
    const tsr_diagnostic_info *d;
    for (size_t i = 0; (d = tsr_plan_report_diagnostic(report, i)) != NULL; i++)
        cli_print_diagnostic(d);
}

/* Prints text (malloc'd, may be NULL: out of memory) to stdout and frees it. */
static bool print_text(char *text, const char *before)
{
    if (!text) {
        cli_error("plan: out of memory");
        return false;
    }
    fputs(before, stdout);
    fputs(text, stdout);
    free(text);
    return true;
}

static int plan_run(int argc, char **argv)
{
    plan_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    tsr_error err = {0};
    tsr_config *config;
    if (cli_setup(&config, &err) != TSR_OK)
        return cli_fail(&err, CLI_EXIT_USAGE);
    tsr_plan_params params;
    tsr_plan_params_init(&params);
    params.device_bytes = a.n_sim ? a.sim_bytes : NULL;
    params.n_devices = a.n_sim;
    params.n_seq_max = a.parallel;
    params.plugin_dirs = a.plugin_dirs;
    params.n_plugin_dirs = a.n_plugin_dirs;
    params.host_bytes = a.n_hosts ? a.host_bytes : NULL;
    params.n_hosts = a.n_hosts;
    tsr_plan_report *report;
    tsr_status s = tsr_plan_profile(a.profile, &params, &report, &err);
    if (!report)
        return cli_fail(&err, CLI_EXIT_FAILURE);
    if (tsr_dist_rank() != 0) {
        /* Rank 0 prints the job's plan; another rank only what it alone saw. */
        tsr_plan_report_free(report);
        if (s != TSR_OK && err.message[0])
            cli_error("%s", err.message);
        return cli_exit_for(s);
    }
    bool planned = s == TSR_OK || s == TSR_ERR_REFUSED;
    bool printed = true;
    if (a.json) {
        printed = print_text(tsr_plan_report_json(report), "");
        if (printed)
            fputc('\n', stdout);
    } else if (planned) {
        printf("plan for %s%s%s%s%s%s\n\n", a.profile, a.devices ? " on --devices " : "",
               a.devices ? a.devices : "", a.hosts ? " on --hosts " : "",
               a.hosts ? a.hosts : "", tsr_dist_size() > 1 ? " across the job's hosts" : "");
        printed = print_text(tsr_plan_report_table(report), "");
    }
    fflush(stdout);
    print_diagnostics(report);
    tsr_plan_report_free(report);
    if (!printed)
        return CLI_EXIT_FAILURE;
    return cli_exit_for(s);
}

const cli_command cli_command_plan = {
    .name = "plan",
    .summary = "show what a deployment puts on each device, or why it cannot work",
    .run = plan_run,
    .help = plan_help,
};
