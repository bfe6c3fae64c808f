/* The pieces every command shares. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fputs("tessera: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

int cli_exit_for(tsr_status status)
{
    switch (status) {
    case TSR_OK: return CLI_EXIT_OK;
    case TSR_ERR_REFUSED: return CLI_EXIT_REFUSED;
    case TSR_ERR_PEER: return CLI_EXIT_PEER;
    case TSR_ERR_NOMEM:
    case TSR_ERR_INTERNAL: return CLI_EXIT_FAILURE;
    default: return CLI_EXIT_USAGE;
    }
}

int cli_fail(const tsr_error *err, int exit_code)
{
    if (err->code == TSR_ERR_NOMEM) {
        if (strstr(err->message, "out of memory"))
            cli_error("%s", err->message);
        else
            cli_error("out of memory: %s", err->message);
        return CLI_EXIT_FAILURE;
    }
    /* Under mpirun, an empty message: rank 0 says why, for every rank. */
    if (err->message[0] || tsr_dist_rank() == 0)
        cli_error("%s", err->message);
    /* Whatever the command was doing, another rank ended it. */
    return err->code == TSR_ERR_PEER ? CLI_EXIT_PEER : exit_code;
}

static bool output_failure_told;

int cli_output_failed(int errnum)
{
    /* errno is lost when stdio failed inside an earlier printf. */
    if (!output_failure_told && errnum)
        cli_error("cannot write the output: %s", strerror(errnum));
    else if (!output_failure_told)
        cli_error("cannot write the output: a write to standard output failed");
    output_failure_told = true;
    return CLI_EXIT_FAILURE;
}

bool cli_write_out(const char *text, size_t n)
{
    errno = 0;
    if (fwrite(text, 1, n, stdout) != n || fflush(stdout) != 0) {
        if (!errno)
            errno = EIO;
        return false;
    }
    return true;
}

int cli_finish_output(int exit_code)
{
    errno = 0;
    bool failed = fflush(stdout) != 0 || ferror(stdout);
    if (!failed)
        return exit_code;
    int errnum = errno;
    /* Said once: exit's own flush must not fail again on what is still buffered. */
    int rc = cli_output_failed(errnum);
    clearerr(stdout);
    return rc;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static void log_to_stderr(int level, const char *source, const char *message, void *ctx)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "tessera: %s: %s: %s\n", names[level], source, message);
}

static tsr_config cli_config;
static bool cli_config_loaded;

static void free_config(void)
{
    tsr_config_free(&cli_config);
}

tsr_status cli_setup(tsr_config **config, tsr_error *err)
{
    if (!cli_config_loaded) {
        tsr_status status = tsr_config_load(NULL, &cli_config, err);
        if (status != TSR_OK)
            return status;
        cli_config_loaded = true;
        atexit(free_config);
        tsr_log_set_sink(log_to_stderr, NULL);
        tsr_log_set_level(cli_config.log_level);
        const char *isa = getenv("TESSERA_ISA");
        if (isa && isa[0] && (status = tsr_cpu_set_limit(isa, err)) != TSR_OK)
            return tsr_error_prefix(err, "TESSERA_ISA");
    }
    *config = &cli_config;
    return TSR_OK;
}

void cli_print_environment(FILE *out)
{
    fputs("Environment:\n"
          "  TESSERA_CONFIG       the tessera.ini to read (default ~/.config/tessera/tessera.ini,\n"
          "                       then " TSR_SYSCONF_DIR "/tessera.ini)\n"
          "  TESSERA_PLUGIN_PATH  plugin folders, ':'-separated, searched after the profile's\n"
          "                       plugins.path and before tessera.ini's and " TSR_PLUGIN_DIR "\n"
          "  TESSERA_THREADS      default CPU threads (0 = one per physical core)\n"
          "  TESSERA_LOG          log level: error, warn (default), info, debug\n"
          "  TESSERA_MODEL_CACHE  where models are kept (default ~/.cache/tessera/models)\n"
          "  TESSERA_ISA          limit the CPU kernels: scalar, avx2, avxvnni, avx512,\n"
          "                       avx512vnni, native (default)\n",
          out);
}

void cli_progress_bar(const char *what, double fraction)
{
    int width = 40, filled = (int)(fraction * width + 0.5);
    fprintf(stderr, "\r%s [", what);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%", (int)(fraction * 100 + 0.5));
    if (fraction >= 1.0)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}
