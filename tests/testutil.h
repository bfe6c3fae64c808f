/* Helpers the Criterion tests share: where the build tree is, and files. */
#ifndef TSR_TESTUTIL_H
#define TSR_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $TSR_TEST_BUILDDIR (set by make check), or "." when run by hand. */
static inline const char *test_builddir(void)
{
    const char *dir = getenv("TSR_TEST_BUILDDIR");
    return dir && dir[0] ? dir : ".";
}

static inline const char *test_srcdir(void)
{
    const char *dir = getenv("TSR_TEST_SRCDIR");
    return dir && dir[0] ? dir : ".";
}

/* snprintf into a static buffer; for building paths in tests. */
static inline const char *test_path(const char *base, const char *rel)
{
    static char buf[8][4096];
    static int next;
    char *out = buf[next++ % 8];
    snprintf(out, sizeof buf[0], "%s/%s", base, rel);
    return out;
}

/* Whether this is the sanitizers' build (make check sets
 * $TSR_TEST_SANITIZER_CFLAGS there), which runs about ten times slower: the
 * long comparisons with reference data take a share of their steps there,
 * and the plain build, whose numbers are the same, takes them all. */
static inline int test_under_sanitizers(void)
{
    const char *flags = getenv("TSR_TEST_SANITIZER_CFLAGS");
    return flags && flags[0];
}

/* Writes bytes to path; returns 0 on success. */
static inline int test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t written = fwrite(data, 1, n, f);
    return fclose(f) == 0 && written == n ? 0 : -1;
}

#endif
