/* The plugin loader: real plugins load; each broken one is refused with one
 * line naming the file, what it was built for and what the core speaks, and
 * the rest still load. */
#include <criterion/criterion.h>
#include <limits.h>
#include <unistd.h>

#include "loader.h"
#include "testutil.h"

static tsr_registry *reg;

static void open_with_broken(void)
{
    static char bogus_dir[PATH_MAX];
    snprintf(bogus_dir, sizeof bogus_dir, "%s/tests/plugins/bogus", test_builddir());
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", bogus_dir);
    cr_assert_eq(system(cmd), 0);
    const char *text = "this is a text file, not a shared object\n";
    cr_assert_eq(test_write_file(test_path(bogus_dir, "not_elf.so"), text, strlen(text)), 0);
    const char *dirs[] = {
        test_path(test_builddir(), "plugins/.libs"),
        test_path(test_builddir(), "tests/plugins/.libs"),
        bogus_dir,
        "/nonexistent/tessera/plugins",
    };
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 4, &reg, &err), TSR_OK, "%s", err.message);
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

/* The refusal line about the object whose file name contains needle. */
static const char *refusal_for(const char *needle)
{
    for (size_t i = 0; i < tsr_registry_refusal_count(reg); i++) {
        const tsr_plugin_refusal *r = tsr_registry_refusal(reg, i);
        if (strstr(r->path, needle))
            return r->reason;
    }
    return NULL;
}

TestSuite(loader, .init = open_with_broken, .fini = close_registry);

Test(loader, real_plugins_load_beside_broken_ones)
{
    cr_assert_not_null(tsr_registry_find(reg, TSR_PLUGIN_ALLOC, "host"));
    cr_assert_not_null(tsr_registry_find(reg, TSR_PLUGIN_ALLOC, "sim"));
    const tsr_plugin *greedy = tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, "greedy");
    cr_assert_not_null(greedy);
    cr_assert(strstr(greedy->path, "/plugins/.libs/"), "the real greedy wins: %s", greedy->path);
    cr_assert_eq(greedy->abi_major, TSR_ABI_MAJOR);
}

Test(loader, refuses_wrong_major_naming_both_versions)
{
    const char *why = refusal_for("broken_wrong_major.so");
    cr_assert_not_null(why);
    char expect[128];
    snprintf(expect, sizeof expect, "built for plugin ABI %d.0; this core speaks %d.%d",
             TSR_ABI_MAJOR + 1, TSR_ABI_MAJOR, TSR_ABI_MINOR);
    cr_assert(strstr(why, expect), "%s", why);
    cr_assert(strstr(why, "broken_wrong_major.so:"), "names the file: %s", why);
    cr_assert_null(tsr_registry_find(reg, TSR_PLUGIN_SAMPLER, "wrong_major"));
}

Test(loader, refuses_newer_minor)
{
    const char *why = refusal_for("broken_newer_minor.so");
    cr_assert_not_null(why);
    char expect[128];
    snprintf(expect, sizeof expect, "built for plugin ABI %d.%d, newer than this core's %d.%d",
             TSR_ABI_MAJOR, TSR_ABI_MINOR + 3, TSR_ABI_MAJOR, TSR_ABI_MINOR);
    cr_assert(strstr(why, expect), "%s", why);
}

Test(loader, refuses_truncated_descriptor)
{
    const char *why = refusal_for("broken_truncated.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "declares struct_size 20, shorter than"), "%s", why);
    cr_assert(strstr(why, "this core speaks"), "%s", why);
}

Test(loader, refuses_truncated_vtable)
{
    const char *why = refusal_for("broken_truncated_vtable.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "sampler plugin 'truncated_vtable' vtable declares struct_size 16"),
              "%s", why);
}

Test(loader, refuses_object_without_entry_symbol)
{
    const char *why = refusal_for("broken_no_entry.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "not a tessera plugin: it exports no tsr_plugin_entry()"), "%s", why);
}

Test(loader, refuses_second_plugin_with_same_kind_and_name)
{
    const char *why = refusal_for("broken_duplicate.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "sampler plugin 'greedy' is already provided by "), "%s", why);
    cr_assert(strstr(why, "sampler_greedy.so"), "names the file that won: %s", why);
}

Test(loader, refuses_plugin_missing_a_required_member)
{
    const char *why = refusal_for("broken_missing_member.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "sampler plugin 'missing_apply' lacks the required member apply"),
              "%s", why);
}

Test(loader, refuses_plugin_with_unsound_parameter_list)
{
    const char *why = refusal_for("broken_bad_param.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "parameter 'k' has default 40 outside its range [1, 10]"), "%s", why);
}

Test(loader, refuses_file_that_is_not_a_shared_object)
{
    const char *why = refusal_for("not_elf.so");
    cr_assert_not_null(why);
    cr_assert(strstr(why, "cannot be loaded as a shared object"), "%s", why);
    cr_assert(strstr(why, "plugin ABI"), "%s", why);
}

Test(loader, copies_vtable_zero_extended)
{
    const tsr_plugin *host = tsr_registry_find(reg, TSR_PLUGIN_ALLOC, "host");
    cr_assert_not_null(host);
    const tsr_alloc_vtable *vt = tsr_plugin_alloc(host);
    cr_assert_not_null(vt);
    cr_assert_eq(vt->abi.struct_size, sizeof(tsr_alloc_vtable));
    cr_assert_null(tsr_plugin_sampler(host), "typed access checks the kind");
}

Test(loader, missing_directories_are_skipped_and_duplicates_merged)
{
    tsr_registry *twice;
    const char *dir = test_path(test_builddir(), "plugins/.libs");
    const char *dirs[] = {dir, dir, "/nonexistent"};
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 3, &twice, &err), TSR_OK);
    cr_assert_eq(tsr_registry_refusal_count(twice), 0, "the same folder twice is not a clash");
    cr_assert_eq(tsr_registry_dir_count(twice), 2);
    tsr_registry_close(twice);
}

/* Clashes: two folders, and two files of one folder (tests/shadow: a
 * stand-in q4_1 under the installed name, and q4_1_naive of the same type). */
static const char *clash_reason(const tsr_registry *r, const char *file)
{
    for (size_t i = 0; i < tsr_registry_refusal_count(r); i++) {
        const tsr_plugin_refusal *refusal = tsr_registry_refusal(r, i);
        if (strcmp(refusal->path + strlen(refusal->path) - strlen(file), file) == 0 &&
            refusal->path[strlen(refusal->path) - strlen(file) - 1] == '/')
            return refusal->reason;
    }
    return NULL;
}

static tsr_registry *open_two(const char *first, const char *second)
{
    const char *dirs[] = {test_path(test_builddir(), first), test_path(test_builddir(), second)};
    tsr_registry *r;
    tsr_error err = {0};
    cr_assert_eq(tsr_registry_open(dirs, 2, &r, &err), TSR_OK, "%s", err.message);
    return r;
}

Test(loader_clash, the_first_folder_wins_and_the_refusal_names_the_gguf_type)
{
    tsr_registry *r = open_two("plugins/.libs", "tests/shadow/.libs");
    const tsr_plugin *q = tsr_registry_find_quant(r, 3);
    cr_assert_not_null(q);
    cr_assert(strstr(q->path, "/plugins/.libs/quant_q4_1.so"), "%s", q->path);
    const char *same = clash_reason(r, "shadow/.libs/quant_q4_1.so");
    cr_assert_not_null(same);
    cr_assert(strstr(same, "quant plugin 'q4_1' for GGUF type 3 (q4_1) is already provided by "),
              "%s", same);
    cr_assert(strstr(same, "/plugins/.libs/quant_q4_1.so"), "names the winner: %s", same);
    const char *other = clash_reason(r, "quant_q4_1_naive.so");
    cr_assert_not_null(other);
    cr_assert(strstr(other, "quant plugin 'q4_1_naive' claims GGUF type 3 (q4_1), which quant "
                            "plugin 'q4_1' of "),
              "%s", other);
    cr_assert_eq(tsr_registry_clash_count(r), 2);
    tsr_plugin_clash clash = tsr_registry_clash(r, 1);
    cr_assert_str_eq(clash.name, "q4_1_naive");
    cr_assert_not(clash.same_name);
    cr_assert_eq(clash.winner, q);
    tsr_registry_close(r);
}

Test(loader_clash, files_of_one_folder_load_in_name_order)
{
    /* quant_q4_1.so sorts before quant_q4_1_naive.so ('.' < '_'): it wins
     * its folder, and the folder, first, wins over the installed plugin. */
    tsr_registry *r = open_two("tests/shadow/.libs", "plugins/.libs");
    const tsr_plugin *q = tsr_registry_find_quant(r, 3);
    cr_assert_not_null(q);
    cr_assert(strstr(q->path, "/tests/shadow/.libs/quant_q4_1.so"), "%s", q->path);
    cr_assert_str_eq(tsr_plugin_quant(q)->kernel_name(), "test-scalar");
    cr_assert_null(tsr_registry_find(r, TSR_PLUGIN_QUANT, "q4_1_naive"));
    cr_assert_not_null(clash_reason(r, "quant_q4_1_naive.so"));
    cr_assert_not_null(clash_reason(r, "plugins/.libs/quant_q4_1.so"));
    tsr_registry_close(r);
}
