/* What the profile tests share: a scratch folder with a model file in it,
 * profiles parsed from text, and assertions on diagnostics. */
#ifndef TSR_PROFILE_TESTUTIL_H
#define TSR_PROFILE_TESTUTIL_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profile.h"
#include "testutil.h"

static char scratch[PATH_MAX];

/* Writes text to scratch/name, making the folders on the way. */
static inline void scratch_write(const char *name, const char *text, size_t n)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    for (char *slash = strchr(path + strlen(scratch) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    cr_assert_eq(test_write_file(path, text, n), 0, "cannot write %s", path);
}

/* A file that passes for a GGUF model: the magic, then anything. */
static inline void scratch_model(const char *name)
{
    scratch_write(name, "GGUF\3\0\0\0", 8);
}

static inline void scratch_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/tsr-profile-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(scratch));
    scratch_model("model.gguf");
}

static inline void scratch_teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (scratch[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
}

/* Parses text as "test.yaml" in the scratch folder. */
static inline tsr_profile *parse_text(const char *text, tsr_diagnostics *diags, tsr_status *status)
{
    tsr_profile *profile = NULL;
    tsr_error err = {0};
    tsr_status got =
        tsr_profile_parse(text, strlen(text), "test.yaml", scratch, &profile, diags, &err);
    cr_assert(got == TSR_OK || got == TSR_ERR_INVALID, "parse failed: %s", err.message);
    if (status)
        *status = got;
    return profile;
}

/* Every diagnostic, one per line, for failure messages. */
static inline const char *dump(const tsr_diagnostics *diags)
{
    static char text[16384];
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < diags->count && used < sizeof text; i++) {
        char line[2048];
        tsr_diag_format(&diags->items[i], line, sizeof line);
        int n = snprintf(text + used, sizeof text - used, "  %s\n", line);
        used += n > 0 ? (size_t)n : 0;
    }
    return diags->count ? text : "  (none)\n";
}

static inline const tsr_diagnostic *find_diag(const tsr_diagnostics *diags, uint32_t line,
                                              uint32_t column, const char *needle)
{
    for (size_t i = 0; i < diags->count; i++) {
        const tsr_diagnostic *d = &diags->items[i];
        if (d->line == line && d->column == column && strstr(d->message, needle))
            return d;
    }
    return NULL;
}

#define assert_diag(diags, line, column, needle)                                                   \
    cr_assert(find_diag(diags, line, column, needle),                                              \
              "expected a diagnostic at %u:%u containing \"%s\"; got:\n%s", (unsigned)(line),      \
              (unsigned)(column), needle, dump(diags))

#define assert_no_errors(diags)                                                                    \
    cr_assert_eq(tsr_diag_error_count(diags), 0, "unexpected errors:\n%s", dump(diags))

#endif
