/* The default model for tests that need a real one: its path, and a model
 * opened on the host allocator with the plugins of the build tree. */
#ifndef TSR_TEST_MODEL_FIXTURE_H
#define TSR_TEST_MODEL_FIXTURE_H

#include <criterion/criterion.h>
#include <unistd.h>

#include "default_model.h"
#include "loader.h"
#include "model.h"
#include "testutil.h"
#include "tokenizer.h"

typedef struct test_model {
    tsr_registry *registry;
    tsr_gguf *gguf;
    const tsr_alloc_vtable *alloc;
    void *alloc_state;
    tsr_model *model;
} test_model;

/* The model of a GGUF file (the default model: test_model_open). */
static inline void test_model_open_file(test_model *t, const char *path,
                                        const tsr_model_options *extra)
{
    memset(t, 0, sizeof *t);
    tsr_error err = {0};
    const char *dirs[] = {test_path(test_builddir(), "plugins/.libs")};
    cr_assert_eq(tsr_registry_open(dirs, 1, &t->registry, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_gguf_open(path, &t->gguf, &err), TSR_OK, "%s: %s", path, err.message);
    t->alloc = tsr_plugin_alloc(tsr_registry_find(t->registry, TSR_PLUGIN_ALLOC, "host"));
    cr_assert_not_null(t->alloc);
    cr_assert_eq(t->alloc->open(tsr_host_services(), NULL, &t->alloc_state, &err), TSR_OK);
    tsr_model_options o = *extra;
    o.registry = t->registry;
    o.alloc = t->alloc;
    o.alloc_state = t->alloc_state;
    cr_assert_eq(tsr_model_open(t->gguf, &o, &t->model, &err), TSR_OK, "%s: %s", path,
                 err.message);
}

static inline void test_model_open(test_model *t, const tsr_model_options *extra)
{
    test_model_open_file(t, test_model_path(), extra);
}

static inline void test_model_close(test_model *t)
{
    tsr_model_close(t->model);
    if (t->alloc_state)
        t->alloc->close(t->alloc_state);
    tsr_gguf_close(t->gguf);
    tsr_registry_close(t->registry);
}

/* tests/models/NAME.gguf, made by the test setup (tests/make_quant_models.py),
 * or a failure that says why it is not there. */
static inline const char *model_file(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/models/%s.gguf", test_builddir(), name);
    if (access(path, R_OK) == 0)
        return path;
    char reason[1024] = "no reason recorded: rerun make check, or the script by hand";
    FILE *f = fopen(test_path(test_builddir(), "tests/models/UNAVAILABLE"), "r");
    if (f) {
        char line[1024];
        size_t name_len = strlen(name);
        while (fgets(line, sizeof line, f))
            if (strncmp(line, name, name_len) == 0 && strncmp(line + name_len, ".gguf: ", 7) == 0) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(reason, sizeof reason, "%s", line + name_len + 7);
                break;
            }
        fclose(f);
    }
    cr_assert_fail("%s is missing: make check makes it with tests/make_quant_models.py "
                   "(llama.cpp's quantizer, from llama-cpp-python), which could not: %s",
                   path, reason);
    return NULL;
}

#endif
