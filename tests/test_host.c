/* The host-services table: immutable per CPU-feature set, and its fp16/bf16
 * conversions, checked against the quant plugins' own (plugins/quant/
 * common.h), which the f16 and bf16 formats are tested with. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "../plugins/quant/common.h"
#include "host.h"
#include "testutil.h"

Test(host, the_table_is_one_immutable_table_per_cpu_feature_set)
{
    tsr_error err = {0};
    cr_assert_eq(tsr_cpu_set_limit("native", &err), TSR_OK, "%s", err.message);
    const tsr_host *native = tsr_host_services();
    cr_assert_eq(tsr_host_services(), native, "the same features, the same table");
    uint32_t native_features = native->cpu_features;
    cr_assert_eq(tsr_cpu_set_limit("scalar", &err), TSR_OK, "%s", err.message);
    const tsr_host *scalar = tsr_host_services();
    cr_assert_eq(scalar->cpu_features, 0);
    if (native_features != 0)
        cr_assert_neq(scalar, native, "another feature set, another table");
    cr_assert_eq(native->cpu_features, native_features,
                 "a table handed out earlier is never rewritten");
    cr_assert_eq(tsr_cpu_set_limit("native", &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_host_services(), native);
    cr_assert_eq(native->abi.abi_minor, TSR_ABI_MINOR);
    cr_assert(TSR_COVERS(native->abi.struct_size, tsr_host, bf16_to_float));
}

Test(host, fp16_from_float_rounds_as_ieee_for_every_half_and_between)
{
    const tsr_host *host = tsr_host_services();
    /* Every half to float and back is exact. */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t half = (uint16_t)h, back;
        float f;
        host->fp16_to_float(&half, &f, 1);
        cr_assert(f == quant_fp16_to_fp32(half) || (isnan(f) && isnan(quant_fp16_to_fp32(half))),
                  "half 0x%04x", h);
        host->fp16_from_float(&f, &back, 1);
        if (isnan(f))
            cr_assert_eq(back & 0x7e00u, 0x7e00u, "half 0x%04x: a quiet NaN", h);
        else
            cr_assert_eq(back, half, "half 0x%04x comes back 0x%04x", h, back);
    }
    /* Floats between halves round to nearest even, as common.h's do;
     * random bit patterns cover subnormals, overflow and ties. */
    srand(11);
    enum { N = 1 << 16 };
    static float src[N];
    static uint16_t got[N];
    for (int i = 0; i < N; i++) {
        uint32_t bits = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        if (i % 4 == 0) /* near the half range: exponents 2^-26 .. 2^17 */
            bits = (bits & 0x807fffffu) | ((uint32_t)(101 + rand() % 43) << 23);
        if (i % 8 == 1) /* exact ties: 12 fraction bits set to 1000... */
            bits = (bits & 0xffffe000u) | 0x1000u;
        memcpy(&src[i], &bits, sizeof bits);
    }
    host->fp16_from_float(src, got, N);
    for (int i = 0; i < N; i++)
        if (!isnan(src[i]))
            cr_assert_eq(got[i], quant_fp32_to_fp16(src[i]), "%a gives 0x%04x, not 0x%04x",
                         (double)src[i], got[i], quant_fp32_to_fp16(src[i]));
}

Test(host, bf16_conversions_round_to_nearest_even_and_keep_nan)
{
    const tsr_host *host = tsr_host_services();
    float src[] = {0.0f, -0.0f, 1.0f, 1.00390625f, 1.01171875f, 3.4028235e38f, INFINITY,
                   -INFINITY, NAN, 1e-40f, -2.5f};
    enum { N = sizeof src / sizeof src[0] };
    uint16_t got[N];
    float back[N];
    host->bf16_from_float(src, got, N);
    host->bf16_to_float(got, back, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(got[i], quant_fp32_to_bf16(src[i]), "%a", (double)src[i]);
        cr_assert(back[i] == quant_bf16_to_fp32(got[i]) || isnan(back[i]));
    }
    cr_assert_eq(got[3], 0x3f80, "a tie goes to the even neighbour");
    cr_assert(isinf(back[5]), "the largest float rounds to infinity");
    cr_assert(isnan(back[8]));
}
