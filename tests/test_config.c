/* tessera.ini and the environment (core/base/config.c). */
#include <criterion/criterion.h>
#include <unistd.h>

#include "tessera/tessera.h"
#include "testutil.h"

static char ini_path[] = "/tmp/tsr-config-XXXXXX";

static const char *write_ini(const char *text)
{
    strcpy(ini_path, "/tmp/tsr-config-XXXXXX");
    int fd = mkstemp(ini_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return ini_path;
}

static void clear_env(void)
{
    unsetenv("TESSERA_PLUGIN_PATH");
    unsetenv("TESSERA_THREADS");
    unsetenv("TESSERA_LOG");
    unsetenv("TESSERA_MODEL_CACHE");
    unsetenv("TESSERA_CONFIG");
    setenv("HOME", "/home/someone", 1);
}

TestSuite(config, .init = clear_env);

Test(config, reads_every_setting)
{
    const char *path = write_ini("[plugins]\npath = /a:~/b::/c\n[runtime]\nthreads = 3\n"
                                 "log = debug\n[models]\ncache_dir = ~/models\n");
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load(path, &c, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(c.n_plugin_dirs, 3);
    cr_assert_str_eq(c.plugin_dirs[0], "/a");
    cr_assert_str_eq(c.plugin_dirs[1], "/home/someone/b");
    cr_assert_str_eq(c.plugin_dirs[2], "/c");
    cr_assert_eq(c.threads, 3);
    cr_assert_eq(c.log_level, TSR_LOG_DEBUG);
    cr_assert_str_eq(c.model_cache_dir, "/home/someone/models");
    tsr_config_free(&c);
    unlink(path);
}

Test(config, relative_paths_start_at_the_files_folder_not_the_current_one)
{
    const char *path = write_ini("[plugins]\npath = plugins:./more\n[models]\ncache_dir = m\n");
    char *folder = realpath("/tmp", NULL);
    cr_assert_not_null(folder);
    char expected[3][4096];
    snprintf(expected[0], sizeof expected[0], "%s/plugins", folder);
    snprintf(expected[1], sizeof expected[1], "%s/./more", folder);
    snprintf(expected[2], sizeof expected[2], "%s/m", folder);
    cr_assert_eq(chdir("/"), 0);
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load(path, &c, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(c.n_plugin_dirs, 2);
    cr_assert_str_eq(c.plugin_dirs[0], expected[0]);
    cr_assert_str_eq(c.plugin_dirs[1], expected[1]);
    cr_assert_str_eq(c.model_cache_dir, expected[2]);
    tsr_config_free(&c);
    free(folder);
    unlink(path);
}

Test(config, defaults_without_a_file)
{
    setenv("TESSERA_CONFIG", "", 1);
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load("/dev/null", &c, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(c.threads, 0);
    cr_assert_eq(c.log_level, TSR_LOG_WARN);
    cr_assert_str_eq(c.model_cache_dir, "/home/someone/.cache/tessera/models");
    cr_assert_eq(c.n_plugin_dirs, 0);
    tsr_config_free(&c);
}

Test(config, environment_overrides_the_file)
{
    const char *path = write_ini("[runtime]\nthreads = 3\nlog = error\n");
    setenv("TESSERA_THREADS", "7", 1);
    setenv("TESSERA_LOG", "info", 1);
    setenv("TESSERA_MODEL_CACHE", "/srv/models", 1);
    setenv("TESSERA_PLUGIN_PATH", "/p1:/p2", 1);
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load(path, &c, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(c.threads, 7);
    cr_assert_eq(c.log_level, TSR_LOG_INFO);
    cr_assert_str_eq(c.model_cache_dir, "/srv/models");
    cr_assert_eq(c.n_env_plugin_dirs, 2);
    cr_assert_str_eq(c.env_plugin_dirs[1], "/p2");
    tsr_config_free(&c);
    unlink(path);
}

Test(config, unknown_setting_names_file_and_line)
{
    const char *path = write_ini("[runtime]\nthreads = 2\n\n[runtime]\nthraeds = 4\n");
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load(path, &c, &err), TSR_ERR_INVALID);
    char expect[128];
    snprintf(expect, sizeof expect, "%s:5: unknown setting [runtime] thraeds", path);
    cr_assert(strstr(err.message, expect), "%s", err.message);
    unlink(path);
}

Test(config, bad_values_are_refused)
{
    const char *path = write_ini("[runtime]\nthreads = many\n");
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load(path, &c, &err), TSR_ERR_INVALID);
    cr_assert(strstr(err.message, ":2: [runtime] threads = many: threads must be a whole number"),
              "%s", err.message);
    unlink(path);
    setenv("TESSERA_LOG", "loud", 1);
    cr_assert_eq(tsr_config_load("/dev/null", &c, &err), TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "TESSERA_LOG=loud"), "%s", err.message);
}

Test(config, missing_file_is_an_io_error)
{
    tsr_config c;
    tsr_error err = {0};
    cr_assert_eq(tsr_config_load("/nonexistent/tessera.ini", &c, &err), TSR_ERR_IO);
    cr_assert(strstr(err.message, "/nonexistent/tessera.ini: cannot open"), "%s", err.message);
}

Test(config, isa_limit_hides_features_from_plugins)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_cpu_set_limit("scalar", &err), TSR_OK);
    cr_assert_eq(tsr_cpu_features(), 0);
    cr_assert_eq(tsr_host_services()->cpu_features, 0);
    cr_assert_eq(tsr_cpu_set_limit("turbo", &err), TSR_ERR_INVALID);
    cr_assert(strstr(err.message, "unknown ISA level 'turbo'"), "%s", err.message);
    cr_assert_eq(tsr_cpu_set_limit("native", &err), TSR_OK);
    cr_assert_eq(tsr_cpu_features(), tsr_cpu_detect());
}
