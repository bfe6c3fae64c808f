/* tessera quantize: a model file re-written in another format, with
 * llama.cpp's named mixes (tsr_quantize_model does the work). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

enum { MAX_KEEP = 64, MAX_PLUGIN_DIRS = 16 };

typedef struct quantize_args {
    const char *in, *out, *format;
    tsr_quantize_keep keep[MAX_KEEP];
    size_t n_keep;
    const char *plugin_dirs[MAX_PLUGIN_DIRS];
    size_t n_plugin_dirs;
    int64_t threads;               /* -1: tessera.ini's */
    bool pure, dry_run, quiet, verbose;
} quantize_args;

static void quantize_help(FILE *out)
{
    fputs("Usage: tessera quantize [OPTIONS] IN OUT FORMAT\n"
          "\n"
          "Writes the GGUF model IN to OUT with its matrices in FORMAT: one of llama.cpp's\n"
          "named mixes, which keep the tensors llama-quantize keeps at higher precision\n"
          "(the output head, attention values and some ffn_down layers, by the same rules,\n"
          "so the file has the types llama-quantize gives it), or the name of any type a\n"
          "quant plugin can write (every matrix in that type: q4_k is the type, not\n"
          "llama-quantize's alias of q4_k_m). Mixes:\n ",
          out);
    size_t column = 1;
    for (size_t i = 0; tsr_quantize_mix_name(i); i++) {
        const char *name = tsr_quantize_mix_name(i);
        if (column + strlen(name) + 2 > 78) {
            fputs("\n ", out);
            column = 1;
        }
        column += (size_t)fprintf(out, " %s", name);
    }
    fputs("\n"
          "A mix or type no loaded plugin can write is refused with the types that can be\n"
          "(`tessera plugins -v` lists the plugins). A row too short for a type's blocks\n"
          "falls back as in llama.cpp (q4_k to q5_0, q6_k to q8_0, ...); norms and other\n"
          "vectors are copied. Metadata is copied; general.file_type is set to the mix's\n"
          "and general.quantized_by names tessera and FORMAT.\n"
          "\n"
          "IN may be in any format a plugin can dequantize, a quantized one included:\n"
          "re-quantizing is always allowed (llama-quantize's --allow-requantize), but\n"
          "what the input already lost stays lost; quantize from f16, bf16 or f32 where\n"
          "you can. OUT is written under a temporary name beside it and renamed when\n"
          "complete: an error (a full disk, say) leaves OUT as it was.\n"
          "\n"
          "Options:\n"
          "      --keep TENSOR=TYPE  give the matrices named TENSOR (a shell glob such as\n"
          "                          'blk.*.ffn_down.weight', or an exact name) TYPE instead\n"
          "                          of the mix's; may be repeated, the first match wins\n"
          "      --pure              every matrix in the mix's main type, no exceptions\n"
          "      --dry-run           print each tensor's type and size, write nothing\n"
          "  -v, --verbose           print each tensor's type and size as well\n"
          "  -t, --threads N         CPU threads; 0 = one per physical core\n"
          "      --plugins DIR       search DIR for plugins first (may be repeated)\n"
          "  -q, --quiet             no progress bar\n"
          "  -h, --help              show this help\n"
          "\n"
          "Examples:\n"
          "  tessera quantize model-f16.gguf model-q4_k_m.gguf q4_k_m\n"
          "  tessera quantize model-f16.gguf model-q4_0.gguf q4_0 --keep token_embd.weight=q8_0\n"
          "\n"
          "Exit status: 0 success, 1 failure (OUT could not be written), 2 unusable input\n"
          "(arguments, IN, a format no plugin can write).\n\n",
          out);
    cli_print_environment(out);
}

static int parse_keep(const char *text, quantize_args *a)
{
    const char *eq = strrchr(text, '=');
    if (!eq || eq == text || !eq[1] || a->n_keep == MAX_KEEP) {
        cli_error("quantize: --keep %s: expected TENSOR=TYPE (at most %d of them)", text,
                  MAX_KEEP);
        return -1;
    }
    char *pattern = strndup(text, (size_t)(eq - text));
    if (!pattern) {
        cli_error("out of memory");
        return -1;
    }
    a->keep[a->n_keep++] = (tsr_quantize_keep){pattern, eq + 1};
    return 1;
}

/* Options; 1 handled, 0 not an option, -1 bad (said why). */
static int parse_option(int argc, char **argv, int *i, quantize_args *a)
{
    const char *arg = argv[*i], *value = *i + 1 < argc ? argv[*i + 1] : NULL;
    bool *flag = strcmp(arg, "--pure") == 0                                  ? &a->pure
                 : strcmp(arg, "--dry-run") == 0                             ? &a->dry_run
                 : strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0     ? &a->quiet
                 : strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0   ? &a->verbose
                                                                             : NULL;
    if (flag) {
        *flag = true;
        return 1;
    }
    bool keep = strcmp(arg, "--keep") == 0, plugins = strcmp(arg, "--plugins") == 0;
    bool threads = strcmp(arg, "-t") == 0 || strcmp(arg, "--threads") == 0;
    if (!keep && !plugins && !threads)
        return 0;
    if (!value) {
        cli_error("quantize: %s needs a value", arg);
        return -1;
    }
    ++*i;
    if (keep)
        return parse_keep(value, a);
    if (plugins) {
        if (a->n_plugin_dirs == MAX_PLUGIN_DIRS) {
            cli_error("quantize: at most %d --plugins folders", MAX_PLUGIN_DIRS);
            return -1;
        }
        a->plugin_dirs[a->n_plugin_dirs++] = value;
        return 1;
    }
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (errno || end == value || *end || n < 0 || n > 1024) {
        cli_error("quantize: %s %s: expected a whole number from 0 to 1024", arg, value);
        return -1;
    }
    a->threads = n;
    return 1;
}

static int parse_args(int argc, char **argv, quantize_args *a)
{
    const char **positional[] = {&a->in, &a->out, &a->format};
    size_t n_positional = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            quantize_help(stdout);
            return -1;
        }
        int handled = parse_option(argc, argv, &i, a);
        if (handled < 0)
            return CLI_EXIT_USAGE;
        if (handled)
            continue;
        if ((argv[i][0] != '-' || !argv[i][1]) && n_positional < 3) {
            *positional[n_positional++] = argv[i];
            continue;
        }
        cli_error("quantize: unexpected argument '%s' (see tessera quantize --help)", argv[i]);
        return CLI_EXIT_USAGE;
    }
    if (n_positional < 3) {
        cli_error("quantize: expected IN OUT FORMAT (see tessera quantize --help)");
        return CLI_EXIT_USAGE;
    }
    if (access(a->in, R_OK) != 0) {
        cli_error("quantize: %s: %s", a->in, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static bool progress_bar(double fraction, void *ctx)
{
    (void)ctx;
    cli_progress_bar("quantizing", fraction);
    return true;
}

/* What the file holds: sizes, and how many tensors of each type. */
typedef struct summary {
    bool print_each;
    uint64_t n, from_bytes, to_bytes;
    struct {
        const char *name;
        uint64_t count;
    } types[64];
    size_t n_types;
} summary;

static void on_tensor(const tsr_quantize_tensor_info *t, void *ctx)
{
    summary *s = ctx;
    if (s->print_each)
        printf("%-40s %-8s -> %-8s %10.3f MiB -> %10.3f MiB\n", t->name, t->from_type,
               t->to_type, (double)t->from_bytes / 1048576.0, (double)t->to_bytes / 1048576.0);
    s->n++;
    s->from_bytes += t->from_bytes;
    s->to_bytes += t->to_bytes;
    size_t k = 0;
    while (k < s->n_types && strcmp(s->types[k].name, t->to_type) != 0)
        k++;
    if (k == s->n_types && k < sizeof s->types / sizeof s->types[0])
        s->types[s->n_types++].name = t->to_type; /* type names are static */
    if (k < s->n_types)
        s->types[k].count++;
}

static int quantize_run(int argc, char **argv)
{
    quantize_args a = {.threads = -1};
    int rc = parse_args(argc, argv, &a);
    tsr_error err = {0};
    tsr_config *config;
    tsr_registry *reg = NULL;
    if (rc == CLI_EXIT_OK && cli_setup(&config, &err) != TSR_OK)
        rc = cli_fail(&err, CLI_EXIT_USAGE);
    if (rc == CLI_EXIT_OK &&
        tsr_profile_open_registry(NULL, a.plugin_dirs, a.n_plugin_dirs, NULL, NULL, &reg, &err) !=
            TSR_OK)
        rc = cli_fail(&err, CLI_EXIT_FAILURE);
    if (rc == CLI_EXIT_OK) {
        summary s = {.print_each = a.dry_run || a.verbose};
        tsr_quantize_params p;
        tsr_quantize_params_init(&p);
        p.n_threads = a.threads >= 0 ? (int32_t)a.threads : config->threads;
        p.pure = a.pure;
        p.dry_run = a.dry_run;
        p.keep = a.keep;
        p.n_keep = a.n_keep;
        p.progress = !a.quiet && !a.dry_run && isatty(STDERR_FILENO) ? progress_bar : NULL;
        p.tensor = on_tensor;
        p.tensor_ctx = &s;
        tsr_status st = tsr_quantize_model(reg, a.in, a.out, a.format, &p, &err);
        if (st != TSR_OK) {
            rc = cli_fail(&err, st == TSR_ERR_IO ? CLI_EXIT_FAILURE : cli_exit_for(st));
        } else {
            printf("%s%s: %llu tensors, %.2f MiB -> %.2f MiB (%s):", a.dry_run ? "would write " : "",
                   a.out, (unsigned long long)s.n, (double)s.from_bytes / 1048576.0,
                   (double)s.to_bytes / 1048576.0, a.format);
            for (size_t k = 0; k < s.n_types; k++)
                printf(" %llu %s%s", (unsigned long long)s.types[k].count, s.types[k].name,
                       k + 1 < s.n_types ? "," : "");
            printf("\n");
        }
    }
    tsr_registry_close(reg);
    for (size_t k = 0; k < a.n_keep; k++)
        free((char *)a.keep[k].pattern);
    return rc < 0 ? CLI_EXIT_OK : rc;
}

const cli_command cli_command_quantize = {
    "quantize", "write a model file in another format (llama.cpp's mixes)", quantize_run,
    quantize_help};
