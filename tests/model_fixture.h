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

#endif
