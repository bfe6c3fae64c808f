/* tessera plan: what a deployment would put on each device, from headers
 * alone, and whether the planner accepts it. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "plan_common.h"
#include "units.h"

enum { MAX_PLUGIN_DIRS = 16 };

typedef struct plan_args {
    const char *profile;
    bool json;
    const char *devices;        /* --devices as given */
    uint64_t sim_bytes[TSR_PROFILE_MAX_DEVICES];
    size_t n_sim;
    const char *plugin_dirs[MAX_PLUGIN_DIRS];
    size_t n_plugin_dirs;
    uint32_t parallel;          /* --parallel; 0: from the profile */
} plan_args;

static void plan_help(FILE *out)
{
    fputs("Usage: tessera plan PROFILE [--json] [--devices NxSIZE[,SIZE...]] [--parallel N]\n"
          "                    [--plugins DIR]...\n"
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
          "  split-exceeds-device  a split entry is larger than its device can hold\n"
          "\n"
          "Placement: layers are kept whole and in order; token embeddings go with the\n"
          "first layer, the output head and final norm with the last. `split: auto` spreads\n"
          "the main model's weights and KV cache in proportion to each device's room;\n"
          "`split: [20, 24]` fills device 0 with weights up to 20 GiB, then device 1 up to\n"
          "24 GiB. The draft goes whole onto the device with the most room left when it\n"
          "fits there, else it is spread like `auto`.\n"
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
          "                         24GiB,16GiB or 2x24GiB,80GiB (a bare number is GiB)\n"
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

/* --devices: comma-separated entries, each SIZE or NxSIZE. */
static bool parse_devices(const char *text, plan_args *a)
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
        if (count == 0 || count > TSR_PROFILE_MAX_DEVICES - a->n_sim) {
            cli_error("plan: --devices %s: between 1 and %d devices", text,
                      TSR_PROFILE_MAX_DEVICES);
            ok = false;
        } else if (tsr_size_parse(item, TSR_GIB, &bytes, &err) != TSR_OK || bytes == 0) {
            cli_error("plan: --devices %s: %s", text,
                      bytes == 0 && !err.message[0] ? "a device of 0 bytes" : err.message);
            ok = false;
        } else {
            for (unsigned long i = 0; i < count; i++)
                a->sim_bytes[a->n_sim++] = bytes;
        }
    }
    free(copy);
    if (ok && a->n_sim == 0) {
        cli_error("plan: --devices %s: expected NxSIZE[,SIZE...], e.g. 2x24GiB", text);
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
            if (!parse_devices(spec, a))
                return CLI_EXIT_USAGE;
        } else if (strcmp(arg, "--parallel") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long n = value ? strtoul(value, &end, 10) : 0;
            if (!value || !isdigit((unsigned char)value[0]) || *end || errno || n == 0 ||
                n > TSR_PROFILE_MAX_PARALLEL) {
                cli_error("plan: --parallel needs a number of sequences from 1 to %d",
                          TSR_PROFILE_MAX_PARALLEL);
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
    return -1;
}

/* Puts --devices in place of the profile's devices: sim, of those sizes. */
static bool override_devices(tsr_profile *p, const plan_args *a)
{
    char *allocator = strdup("sim");
    uint64_t *sizes = malloc(a->n_sim * sizeof *sizes);
    tsr_profile_loc *locs = calloc(a->n_sim, sizeof *locs);
    if (!allocator || !sizes || !locs) {
        free(allocator);
        free(sizes);
        free(locs);
        return false;
    }
    memcpy(sizes, a->sim_bytes, a->n_sim * sizeof *sizes);
    free(p->devices.allocator);
    free(p->devices.sim_bytes);
    free(p->devices.sim_locs);
    p->devices.allocator = allocator;
    p->devices.allocator_loc = (tsr_profile_loc){0, 0};
    p->devices.sim_bytes = sizes;
    p->devices.sim_locs = locs;
    p->devices.n_sim = a->n_sim;
    p->devices.sim_loc = (tsr_profile_loc){0, 0};
    return true;
}

/* ---- JSON ------------------------------------------------------------------------- */

static json_t *json_diagnostic(const tsr_diagnostic *d, const char *code)
{
    return json_pack("{s:s, s:s, s:s, s:s?}", "severity", tsr_severity_name(d->severity),
                     "code", d->code ? d->code : code, "message", d->message, "hint", d->hint);
}

static json_t *json_plan(const tsr_plan *plan, const tsr_diagnostics *profile_diags)
{
    json_t *devices = json_array(), *models = json_array(), *diags = json_array();
    for (uint32_t i = 0; plan && i < plan->n_devices; i++) {
        const tsr_plan_device *d = &plan->devices[i];
        json_t *layers = d->first_layer == TSR_PLAN_NO_LAYER
                             ? json_null()
                             : json_pack("[I, I]", (json_int_t)d->first_layer,
                                         (json_int_t)d->last_layer);
        json_array_append_new(
            devices, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name",
                               d->spec.name, "capacity_bytes", (json_int_t)d->spec.capacity_bytes,
                               "weights_bytes", (json_int_t)d->weights_bytes, "kv_cache_bytes",
                               (json_int_t)d->kv_cache_bytes, "scratch_bytes",
                               (json_int_t)d->scratch_bytes, "overhead_bytes",
                               (json_int_t)d->overhead_bytes, "reserve_bytes",
                               (json_int_t)d->reserve_bytes, "total_bytes",
                               (json_int_t)d->total_bytes, "layers", layers));
    }
    for (uint32_t k = 0; plan && k < plan->n_models; k++) {
        const tsr_plan_model *m = &plan->models[k];
        json_array_append_new(
            models, json_pack("{s:s, s:s, s:I, s:I, s:f}", "role", k ? "draft" : "main", "path",
                              m->path, "params", (json_int_t)m->params, "weights_bytes",
                              (json_int_t)m->weights_bytes, "bits_per_weight",
                              m->bits_per_weight));
    }
    for (size_t i = 0; profile_diags && i < profile_diags->count; i++)
        json_array_append_new(diags, json_diagnostic(&profile_diags->items[i], "profile"));
    for (size_t i = 0; plan && i < plan->diags.count; i++)
        json_array_append_new(diags, json_diagnostic(&plan->diags.items[i], "profile"));
    return json_pack("{s:b, s:o, s:o, s:o}", "fits", plan && plan->fits, "devices", devices,
                     "models", models, "diagnostics", diags);
}

static void print_json(const tsr_plan *plan, const tsr_diagnostics *profile_diags)
{
    json_t *root = json_plan(plan, profile_diags);
    if (!root) {
        cli_error("plan: out of memory");
        return;
    }
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
}

/* An unusable profile or model file: the diagnostics, and with --json the
 * object too (fits false, no devices). */
static int unusable(const plan_args *a, tsr_diagnostics *diags, const tsr_error *err)
{
    if (err && err->message[0]) {
        tsr_diagnostic *d = tsr_diag_add(diags, TSR_SEVERITY_ERROR, NULL, 0, 0, "%s",
                                         err->message);
        if (d)
            d->code = "model-file";
    }
    cli_print_plan_diagnostics(diags, stderr);
    if (a->json)
        print_json(NULL, diags);
    return CLI_EXIT_USAGE;
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
    tsr_diagnostics diags = {0};
    tsr_profile *profile = NULL;
    tsr_registry *registry = NULL;
    tsr_gguf *ggufs[2] = {NULL, NULL};
    tsr_plan *plan = NULL;
    void *alloc_state = NULL;
    const tsr_alloc_vtable *alloc = NULL;
    tsr_status s = tsr_profile_load(a.profile, &profile, &diags, &err);
    if (s == TSR_ERR_NOMEM) {
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
        goto done;
    }
    if (s != TSR_OK || tsr_diag_error_count(&diags) > 0) {
        rc = unusable(&a, &diags, NULL);
        goto done;
    }
    if (a.n_sim && !override_devices(profile, &a)) {
        cli_error("plan: out of memory");
        rc = CLI_EXIT_FAILURE;
        goto done;
    }
    const char *dirs[MAX_PLUGIN_DIRS + TSR_PROFILE_MAX_DEVICES];
    size_t n_dirs = 0;
    for (size_t i = 0; i < a.n_plugin_dirs; i++)
        dirs[n_dirs++] = a.plugin_dirs[i];
    for (size_t i = 0; i < profile->n_plugin_dirs && n_dirs < sizeof dirs / sizeof dirs[0]; i++)
        dirs[n_dirs++] = profile->plugin_dirs[i];
    if (cli_open_registry(config, dirs, n_dirs, &registry, &err) != TSR_OK) {
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
        goto done;
    }
    s = cli_validate_for_plan(profile, registry, &diags, &err);
    if (s == TSR_ERR_NOMEM) {
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
        goto done;
    }
    if (s != TSR_OK || tsr_diag_error_count(&diags) > 0) {
        rc = unusable(&a, &diags, NULL);
        goto done;
    }
    const tsr_profile_model *models[2] = {&profile->model, &profile->draft};
    for (int k = 0; k < (profile->has_draft ? 2 : 1); k++) {
        if ((s = tsr_gguf_open_headers(models[k]->path, &ggufs[k], &err)) != TSR_OK) {
            rc = unusable(&a, &diags, &err);
            goto done;
        }
    }
    alloc = tsr_plugin_alloc(profile->devices.plugin);
    tsr_alloc_config alloc_config = {sizeof alloc_config, profile->devices.sim_bytes,
                                     (uint32_t)profile->devices.n_sim};
    if ((s = alloc->open(tsr_host_services(), &alloc_config, &alloc_state, &err)) != TSR_OK) {
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
        goto done;
    }
    uint32_t threads = profile->threads ? profile->threads : (uint32_t)config->threads;
    s = cli_make_plan(profile, registry, ggufs[0], ggufs[1], alloc, alloc_state, threads, 0,
                      a.parallel, &plan, &err);
    alloc->close(alloc_state);
    alloc_state = NULL;
    if (s == TSR_ERR_NOMEM) {
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
        goto done;
    }
    if (s != TSR_OK) {
        rc = unusable(&a, &diags, &err);
        goto done;
    }
    if (a.json) {
        print_json(plan, &diags);
    } else {
        printf("plan for %s%s%s\n\n", a.profile, a.devices ? " on --devices " : "",
               a.devices ? a.devices : "");
        cli_print_plan_table(plan, stdout);
    }
    fflush(stdout);
    cli_print_plan_diagnostics(&diags, stderr); /* the profile's warnings */
    cli_print_plan_diagnostics(&plan->diags, stderr);
    rc = plan->fits ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
done:
    if (alloc_state)
        alloc->close(alloc_state);
    tsr_plan_free(plan);
    tsr_gguf_close(ggufs[0]);
    tsr_gguf_close(ggufs[1]);
    tsr_diagnostics_free(&diags);
    tsr_profile_free(profile); /* before the registry: it points into it */
    tsr_registry_close(registry);
    return rc;
}

const cli_command cli_command_plan = {
    .name = "plan",
    .summary = "show what a deployment puts on each device, or why it cannot work",
    .run = plan_run,
    .help = plan_help,
};
