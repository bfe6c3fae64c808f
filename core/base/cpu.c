/* What the processor can do, and what plugins are allowed to use of it. */
#include <stdio.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

uint32_t tsr_cpu_detect(void)
{
    uint32_t eax, ebx, ecx, edx, features = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    bool osxsave = ecx & (1u << 27);
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    /* The OS must save the YMM (bits 1-2) and, for AVX-512, the ZMM/opmask
     * state (bits 5-7), or the instructions fault. */
    bool ymm_ok = (xcr0 & 0x6) == 0x6;
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (ymm_ok && (ecx & (1u << 28)))
        features |= TSR_CPU_AVX;
    if (ymm_ok && (ecx & (1u << 12)))
        features |= TSR_CPU_FMA;
    if (ymm_ok && (ecx & (1u << 29)))
        features |= TSR_CPU_F16C;
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        if (ymm_ok && (ebx & (1u << 5)))
            features |= TSR_CPU_AVX2;
        if (zmm_ok && (ebx & (1u << 16)))
            features |= TSR_CPU_AVX512F;
        if (zmm_ok && (ebx & (1u << 30)))
            features |= TSR_CPU_AVX512BW;
        if (zmm_ok && (ebx & (1u << 31)))
            features |= TSR_CPU_AVX512VL;
        if (zmm_ok && (ecx & (1u << 11)))
            features |= TSR_CPU_AVX512VNNI;
        uint32_t eax1, ebx1, ecx1, edx1;
        if (__get_cpuid_count(7, 1, &eax1, &ebx1, &ecx1, &edx1)) {
            if (ymm_ok && (eax1 & (1u << 4)))
                features |= TSR_CPU_AVXVNNI;
            if (zmm_ok && (eax1 & (1u << 5)))
                features |= TSR_CPU_AVX512BF16;
        }
    }
    return features;
}
#elif defined(__aarch64__)
uint32_t tsr_cpu_detect(void)
{
    return TSR_CPU_NEON;
}
#else
uint32_t tsr_cpu_detect(void)
{
    return 0;
}
#endif

static uint32_t cpu_limit_mask = UINT32_MAX;

uint32_t tsr_cpu_features(void)
{
    return tsr_cpu_detect() & __atomic_load_n(&cpu_limit_mask, __ATOMIC_RELAXED);
}

uint32_t tsr_cpu_limit_mask(void)
{
    return __atomic_load_n(&cpu_limit_mask, __ATOMIC_RELAXED);
}

void tsr_cpu_set_limit_mask(uint32_t mask)
{
    __atomic_store_n(&cpu_limit_mask, mask, __ATOMIC_RELAXED);
}

static const uint32_t level_avx2 = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C;
static const uint32_t level_avx512 =
    TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C | TSR_CPU_AVX512F |
    TSR_CPU_AVX512BW | TSR_CPU_AVX512VL;

tsr_status tsr_cpu_set_limit(const char *isa_level, tsr_error *err)
{
    static const struct {
        const char *name;
        uint32_t mask;
    } levels[] = {
        {"scalar", 0},
        {"avx2", level_avx2},
        {"avxvnni", level_avx2 | TSR_CPU_AVXVNNI},
        {"avx512", level_avx512},
        {"avx512vnni", level_avx512 | TSR_CPU_AVX512VNNI | TSR_CPU_AVXVNNI},
        {"native", UINT32_MAX},
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(isa_level, levels[i].name) == 0) {
            __atomic_store_n(&cpu_limit_mask, levels[i].mask, __ATOMIC_RELAXED);
            return TSR_OK;
        }
    }
    return tsr_error_set(err, TSR_ERR_INVALID,
                         "unknown ISA level '%s' (known: scalar, avx2, avxvnni, avx512, "
                         "avx512vnni, native)",
                         isa_level);
}

void tsr_cpu_describe(uint32_t features, char *buf, size_t buf_bytes)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {TSR_CPU_AVX, "avx"},         {TSR_CPU_AVX2, "avx2"},
        {TSR_CPU_FMA, "fma"},         {TSR_CPU_F16C, "f16c"},
        {TSR_CPU_AVX512F, "avx512f"}, {TSR_CPU_AVX512BW, "avx512bw"},
        {TSR_CPU_AVX512VL, "avx512vl"}, {TSR_CPU_AVX512VNNI, "avx512vnni"},
        {TSR_CPU_AVXVNNI, "avxvnni"}, {TSR_CPU_AVX512BF16, "avx512bf16"},
        {TSR_CPU_NEON, "neon"},       {TSR_CPU_DOTPROD, "dotprod"},
    };
    size_t used = 0;
    if (buf_bytes == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(features & names[i].bit))
            continue;
        int n = snprintf(buf + used, buf_bytes - used, "%s%s", used ? " " : "", names[i].name);
        if (n < 0 || (size_t)n >= buf_bytes - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, buf_bytes, "scalar");
}
