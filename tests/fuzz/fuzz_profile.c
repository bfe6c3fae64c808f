/* libFuzzer target: any bytes as a profile. Reading must never crash, leak
 * or hang; a profile that reads must validate without crashing (against the
 * build's plugins and the test plugins, found next to this program), and
 * the YAML written from it must read back. */
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tsr_registry *registry;

/* The plugins of the build tree this program sits in (tests/fuzz/). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char self[PATH_MAX];
    if (!realpath((*argv)[0], self))
        return 0;
    char *fuzz_dir = dirname(self);
    char plugins[PATH_MAX + 32], test_plugins[PATH_MAX + 32];
    snprintf(plugins, sizeof plugins, "%s/../../plugins/.libs", fuzz_dir);
    snprintf(test_plugins, sizeof test_plugins, "%s/../plugins/.libs", fuzz_dir);
    const char *dirs[] = {plugins, test_plugins};
    tsr_error err = {0};
    if (tsr_registry_open(dirs, 2, &registry, &err) != TSR_OK)
        registry = NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tsr_diagnostics diags = {0};
    tsr_profile *profile = NULL;
    tsr_error err = {0};
    tsr_profile_parse((const char *)data, size, "fuzz.yaml", "/nonexistent", &profile, &diags,
                      &err);
    for (size_t i = 0; i < diags.count; i++) {
        char line[512];
        tsr_diag_format(&diags.items[i], line, sizeof line);
        if (!diags.items[i].message || (diags.items[i].line == 0) != (diags.items[i].column == 0))
            abort(); /* every problem has a message, and a whole place or none */
    }
    if (profile) {
        if (registry)
            tsr_profile_validate(profile, registry, &diags, &err);
        char *yaml = tsr_profile_to_yaml(profile, &err);
        if (yaml) {
            tsr_diagnostics again = {0};
            tsr_profile *reread = NULL;
            tsr_status status = tsr_profile_parse(yaml, strlen(yaml), "written.yaml",
                                                  "/nonexistent", &reread, &again, &err);
            /* What we write is YAML we read: no syntax errors in it. */
            for (size_t i = 0; i < again.count; i++)
                if (strncmp(again.items[i].message, "invalid YAML", 12) == 0 ||
                    strncmp(again.items[i].message, "not readable as YAML", 20) == 0)
                    abort();
            (void)status;
            tsr_profile_free(reread);
            tsr_diagnostics_free(&again);
            free(yaml);
        }
        tsr_profile_free(profile);
    }
    tsr_diagnostics_free(&diags);
    return 0;
}
