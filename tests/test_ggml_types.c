/* The ggml type table: every id, name and block geometry as the ggml
 * library itself reports them (tests/reference/ggml-types.txt, written by
 * tests/reference/ggml_types.py), and removed ids unknown. */
#include <criterion/criterion.h>
#include <inttypes.h>

#include "gguf.h"
#include "testutil.h"

Test(ggml_types, table_matches_the_ggml_library)
{
    const char *path = test_path(test_srcdir(), "tests/reference/ggml-types.txt");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char line[256];
    uint32_t n_ids = 0, n_known = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned id, elems, bytes;
        char name[64];
        int fields = sscanf(line, "%u %63s %u %u", &id, name, &elems, &bytes);
        cr_assert(fields == 2 || fields == 4, "bad line: %s", line);
        cr_assert_eq(id, n_ids, "ids are listed in order");
        n_ids++;
        const tsr_ggml_type_info *info = tsr_ggml_type(id);
        if (fields == 2) {
            cr_assert_null(info, "id %u is removed from ggml, but the table knows it as %s", id,
                           info ? info->name : "");
            continue;
        }
        n_known++;
        cr_assert_not_null(info, "id %u (%s) is missing", id, name);
        cr_assert_eq(info->id, id);
        cr_assert_str_eq(info->name, name, "id %u", id);
        cr_assert_eq(info->block_elems, elems, "%s block elements", name);
        cr_assert_eq(info->block_bytes, bytes, "%s block bytes", name);
        cr_assert_eq(tsr_ggml_type_by_name(name), (int64_t)id);
    }
    fclose(f);
    cr_assert_geq(n_ids, 40, "the reference lists ids through mxfp4 at least");
    cr_assert_geq(n_known, 34);
    cr_assert_null(tsr_ggml_type(n_ids), "no id past ggml's last");
}

Test(ggml_types, removed_and_unknown_ids_are_unknown)
{
    static const uint32_t removed[] = {4, 5, 31, 32, 33, 36, 37, 38, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
        cr_assert_null(tsr_ggml_type(removed[i]), "id %" PRIu32, removed[i]);
}

Test(ggml_types, names_are_found_case_insensitively)
{
    cr_assert_eq(tsr_ggml_type_by_name("Q4_K"), 12);
    cr_assert_eq(tsr_ggml_type_by_name("IQ3_XXS"), 18);
    cr_assert_eq(tsr_ggml_type_by_name("bf16"), 30);
    cr_assert_eq(tsr_ggml_type_by_name("q4_2"), -1);
    cr_assert_eq(tsr_ggml_type_by_name("q4_k_m"), -1, "a file type, not a tensor type");
    cr_assert_eq(tsr_ggml_type_by_name(""), -1);
    cr_assert_eq(tsr_ggml_type_by_name(NULL), -1);
}
