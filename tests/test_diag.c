/* Diagnostics: the list, its order, its one-line form, and "did you mean". */
#include <criterion/criterion.h>
#include <string.h>

#include "diag.h"

Test(diag, format_is_file_line_column_message)
{
    tsr_diagnostics diags = {0};
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "p.yaml", 3, 7, "bad %s", "thing");
    tsr_diag_add(&diags, TSR_SEVERITY_WARNING, "p.yaml", 4, 1, "odd");
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "p.yaml", 0, 9, "unreadable");
    tsr_diag_add(&diags, TSR_SEVERITY_NOTE, NULL, 0, 0, "context");
    char line[256];
    tsr_diag_format(&diags.items[0], line, sizeof line);
    cr_assert_str_eq(line, "p.yaml:3:7: bad thing");
    tsr_diag_format(&diags.items[1], line, sizeof line);
    cr_assert_str_eq(line, "p.yaml:4:1: warning: odd");
    tsr_diag_format(&diags.items[2], line, sizeof line);
    cr_assert_str_eq(line, "p.yaml: unreadable", "no place: no line, no column");
    tsr_diag_format(&diags.items[3], line, sizeof line);
    cr_assert_str_eq(line, "note: context");
    cr_assert_eq(tsr_diag_error_count(&diags), 2);
    tsr_diagnostics_free(&diags);
    cr_assert_eq(diags.count, 0);
}

Test(diag, sort_orders_by_place_and_keeps_ties_in_order)
{
    tsr_diagnostics diags = {0};
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "b", 1, 1, "b1");
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "a", 9, 2, "a9-first");
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "a", 2, 5, "a2");
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "a", 9, 2, "a9-second");
    tsr_diag_add(&diags, TSR_SEVERITY_ERROR, "a", 0, 0, "a-none");
    tsr_diag_set_hint(&diags.items[0], "try %d", 1);
    tsr_diag_sort(&diags);
    const char *order[] = {"a-none", "a2", "a9-first", "a9-second", "b1"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(diags.items[i].message, order[i]);
    cr_assert_str_eq(diags.items[4].hint, "try 1", "the hint travels with its entry");
    tsr_diagnostics_free(&diags);
}

Test(diag, nearest_name_finds_plausible_typos_only)
{
    const char *const keys[] = {"path", "max_seq_len", "cache_type", "quantize"};
    cr_assert_str_eq(tsr_nearest_name("max_seq_length", keys, 4), "max_seq_len");
    cr_assert_str_eq(tsr_nearest_name("cachetype", keys, 4), "cache_type");
    cr_assert_str_eq(tsr_nearest_name("PATH", keys, 4), "path", "case does not count");
    cr_assert_str_eq(tsr_nearest_name("pth", keys, 4), "path");
    cr_assert_str_eq(tsr_nearest_name("ptah", keys, 4), "path", "a swap is one edit");
    cr_assert_null(tsr_nearest_name("colour", keys, 4));
    cr_assert_null(tsr_nearest_name("x", keys, 0));
    char long_word[200];
    memset(long_word, 'a', sizeof long_word - 1);
    long_word[sizeof long_word - 1] = '\0';
    cr_assert_null(tsr_nearest_name(long_word, keys, 4));
}

Test(diag, quote_escapes_control_characters_and_cuts_long_text)
{
    char buf[TSR_DIAG_QUOTE_BYTES];
    cr_assert_str_eq(tsr_diag_quote("a\nb\0c", 5, buf, sizeof buf), "a\\x0Ab\\x00c");
    char long_text[100];
    memset(long_text, 'x', sizeof long_text);
    tsr_diag_quote(long_text, sizeof long_text, buf, sizeof buf);
    cr_assert_eq(strlen(buf), 63);
    cr_assert_str_eq(buf + 60, "...");
}
