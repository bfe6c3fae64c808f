/* The default model, for tests that need a real one: where it is, and what a
 * test does when it is missing. */
#ifndef TSR_TEST_DEFAULT_MODEL_H
#define TSR_TEST_DEFAULT_MODEL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $TESSERA_MODEL_CACHE or ~/.cache/tessera/models, + the default model.
 * CI fetches it before the tests (contrib/fetch-model.sh), so a test that
 * needs it fails when it is missing, unless TSR_TEST_ALLOW_NO_MODEL=1 says
 * that skipping is wanted (README.md, Testing). */
static inline const char *test_model_path(void)
{
    static char path[4096];
    const char *cache = getenv("TESSERA_MODEL_CACHE");
    if (cache && cache[0])
        snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", cache);
    else
        snprintf(path, sizeof path, "%s/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                 getenv("HOME") ? getenv("HOME") : "");
    if (access(path, R_OK) != 0) {
        const char *allow = getenv("TSR_TEST_ALLOW_NO_MODEL");
        if (allow && strcmp(allow, "1") == 0)
            cr_skip_test("the default model is missing at %s (TSR_TEST_ALLOW_NO_MODEL=1)", path);
        cr_assert_fail("the default model is missing at %s: run contrib/fetch-model.sh (or set "
                       "TSR_TEST_ALLOW_NO_MODEL=1 to skip the tests that need it)",
                       path);
    }
    return path;
}

#endif
