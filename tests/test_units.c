/* Sizes with units: what a profile writes, and what messages show. */
#include <criterion/criterion.h>
#include <string.h>

#include "units.h"

static uint64_t parse_ok(const char *text, uint64_t bare_unit)
{
    uint64_t bytes = 12345;
    tsr_error err = {0};
    tsr_status status = tsr_size_parse(text, bare_unit, &bytes, &err);
    cr_assert_eq(status, TSR_OK, "'%s': %s", text, err.message);
    return bytes;
}

static const char *parse_error(const char *text, uint64_t bare_unit)
{
    static tsr_error err;
    uint64_t bytes = 777;
    memset(&err, 0, sizeof err);
    cr_assert_eq(tsr_size_parse(text, bare_unit, &bytes, &err), TSR_ERR_INVALID,
                 "'%s' should be refused", text);
    cr_assert_eq(bytes, 777, "a refused size leaves the output alone");
    return err.message;
}

Test(units, binary_units_are_powers_of_1024)
{
    cr_assert_eq(parse_ok("512B", 0), 512);
    cr_assert_eq(parse_ok("1KiB", 0), 1024);
    cr_assert_eq(parse_ok("256MiB", 0), 256ull << 20);
    cr_assert_eq(parse_ok("24GiB", 0), 24ull << 30);
    cr_assert_eq(parse_ok("2TiB", 0), 2ull << 40);
}

Test(units, decimal_units_are_powers_of_1000)
{
    cr_assert_eq(parse_ok("1KB", 0), 1000);
    cr_assert_eq(parse_ok("5MB", 0), 5000000);
    cr_assert_eq(parse_ok("20GB", 0), 20000000000ull);
    cr_assert_eq(parse_ok("3TB", 0), 3000000000000ull);
}

Test(units, fractions_round_to_the_nearest_byte)
{
    cr_assert_eq(parse_ok("1.5GiB", 0), 1536ull << 20);
    cr_assert_eq(parse_ok("0.5KiB", 0), 512);
    cr_assert_eq(parse_ok("1.0001KiB", 0), 1024); /* 1024.1024 */
    cr_assert_eq(parse_ok("1.0005KiB", 0), 1025); /* 1024.512 */
    cr_assert_eq(parse_ok(".25MiB", 0), 256ull << 10);
}

Test(units, blanks_and_case_are_forgiven)
{
    cr_assert_eq(parse_ok("24 GiB", 0), 24ull << 30);
    cr_assert_eq(parse_ok("24gib", 0), 24ull << 30);
    cr_assert_eq(parse_ok("  8 MB ", 0), 8000000);
    cr_assert_eq(parse_ok("+4KiB", 0), 4096);
}

Test(units, bare_numbers_take_the_bare_unit)
{
    cr_assert_eq(parse_ok("20", TSR_GIB), 20ull << 30);
    cr_assert_eq(parse_ok("1.5", TSR_GIB), 1536ull << 20);
    cr_assert_eq(parse_ok("0", 0), 0, "a plain 0 needs no unit");
}

Test(units, bare_number_without_bare_unit_is_refused)
{
    const char *why = parse_error("256", 0);
    cr_assert(strstr(why, "size '256' has no unit"), "%s", why);
    cr_assert(strstr(why, "256GiB"), "suggests a unit: %s", why);
}

Test(units, negative_sizes_are_refused)
{
    cr_assert(strstr(parse_error("-1GiB", 0), "size '-1GiB' is negative"));
    cr_assert(strstr(parse_error("-20", TSR_GIB), "is negative"));
}

Test(units, garbage_is_refused_saying_what_a_size_is)
{
    const char *why = parse_error("lots", 0);
    cr_assert(strstr(why, "'lots' is not a size"), "%s", why);
    cr_assert(strstr(why, "24GiB"), "%s", why);
    cr_assert(strstr(parse_error("", 0), "is not a size"));
    cr_assert(strstr(parse_error("GiB", 0), "is not a size"));
    cr_assert(strstr(parse_error(".", 0), "is not a size"));
}

Test(units, unknown_unit_lists_the_known_ones)
{
    const char *why = parse_error("12XB", 0);
    cr_assert(strstr(why, "unknown unit 'XB'"), "%s", why);
    cr_assert(strstr(why, "KiB, MiB, GiB, TiB, KB, MB, GB, TB"), "%s", why);
    cr_assert(strstr(parse_error("24G", 0), "unknown unit 'G'"));
    cr_assert(strstr(parse_error("1e9B", 0), "unknown unit 'e9B'"));
    cr_assert(strstr(parse_error("24GiB extra", 0), "unknown unit"));
}

Test(units, overflow_is_refused)
{
    cr_assert_eq(parse_ok("18446744073709551615B", 0), UINT64_MAX);
    cr_assert(strstr(parse_error("18446744073709551616B", 0), "too large"));
    cr_assert(strstr(parse_error("16777216TiB", 0), "too large"));
    cr_assert(strstr(parse_error("99999999999999999999999999GiB", 0), "too large"));
    cr_assert(strstr(parse_error("17179869183.9999999999GiB", 0), "too large"));
}

Test(units, fraction_of_a_byte_is_refused)
{
    cr_assert(strstr(parse_error("1.5B", 0), "fraction of a byte"));
}

Test(units, format_for_readers_picks_a_binary_unit)
{
    char buf[TSR_SIZE_TEXT_BYTES];
    cr_assert_str_eq(tsr_size_format(24ull << 30, buf, sizeof buf), "24.0 GiB");
    cr_assert_str_eq(tsr_size_format(256ull << 20, buf, sizeof buf), "256.0 MiB");
    cr_assert_str_eq(tsr_size_format(1536, buf, sizeof buf), "1.5 KiB");
    cr_assert_str_eq(tsr_size_format(512, buf, sizeof buf), "512 B");
    cr_assert_str_eq(tsr_size_format(0, buf, sizeof buf), "0 B");
    cr_assert_str_eq(tsr_size_format(UINT64_MAX, buf, sizeof buf), "16.0 EiB");
}

Test(units, exact_format_reads_back_to_the_same_bytes)
{
    char buf[TSR_SIZE_TEXT_BYTES];
    cr_assert_str_eq(tsr_size_format_exact(24ull << 30, buf, sizeof buf), "24GiB");
    cr_assert_str_eq(tsr_size_format_exact(1536ull << 20, buf, sizeof buf), "1536MiB");
    cr_assert_str_eq(tsr_size_format_exact(20000000000ull, buf, sizeof buf), "20GB");
    cr_assert_str_eq(tsr_size_format_exact(1001, buf, sizeof buf), "1001B");
    cr_assert_str_eq(tsr_size_format_exact(0, buf, sizeof buf), "0B");
    const uint64_t samples[] = {1, 1000, 1024, 4096000, 123456789, 3ull << 40, UINT64_MAX};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        cr_assert_eq(parse_ok(tsr_size_format_exact(samples[i], buf, sizeof buf), 0), samples[i],
                     "%s", buf);
}

Test(units, durations_are_ms_s_or_min_and_read_back_what_they_write)
{
    tsr_error err = {0};
    uint64_t ms = 0;
    cr_assert_eq(tsr_duration_parse("10s", &ms, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(ms, 10000);
    cr_assert_eq(tsr_duration_parse(" 500 ms", &ms, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(ms, 500);
    cr_assert_eq(tsr_duration_parse("1.5min", &ms, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(ms, 90000);
    const char *bad[] = {"10", "-1s", "ten s", "3 hours", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 7;
        cr_assert_eq(tsr_duration_parse(bad[i], &ms, &err), TSR_ERR_INVALID, "'%s'", bad[i]);
        cr_assert_eq(ms, 7, "a refused duration leaves the output alone");
        cr_assert(strstr(err.message, bad[i]), "the message quotes '%s': %s", bad[i],
                  err.message);
    }
    char buf[32];
    const uint64_t values[] = {0, 250, 1500, 10000, 120000};
    const char *written[] = {"0ms", "250ms", "1500ms", "10s", "2min"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        cr_assert_str_eq(tsr_duration_format(values[i], buf, sizeof buf), written[i]);
        cr_assert_eq(tsr_duration_parse(buf, &ms, &err), TSR_OK);
        cr_assert_eq(ms, values[i]);
    }
}
