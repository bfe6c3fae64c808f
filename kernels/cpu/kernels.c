/* The kernel tables, one per instruction set, and the choice among them. */
#include "simd.h"

static const tsr_cpu_kernels scalar_kernels = {
    .isa = "scalar",
    .rmsnorm = tsr_rmsnorm_reference,
    .rope = tsr_rope_reference,
    .softmax = tsr_softmax_reference,
    .swiglu = tsr_swiglu_reference,
    .add = tsr_add_reference,
    .attention = tsr_attention_scalar,
};

#ifdef TSR_KERNELS_X86
static const tsr_cpu_kernels avx2_kernels = {
    .isa = "avx2",
    .rmsnorm = tsr_rmsnorm_avx2,
    .rope = tsr_rope_avx2,
    .softmax = tsr_softmax_avx2,
    .swiglu = tsr_swiglu_avx2,
    .add = tsr_add_avx2,
    .attention = tsr_attention_avx2,
};

static const tsr_cpu_kernels avx512_kernels = {
    .isa = "avx512",
    .rmsnorm = tsr_rmsnorm_avx512,
    .rope = tsr_rope_avx512,
    .softmax = tsr_softmax_avx512,
    .swiglu = tsr_swiglu_avx512,
    .add = tsr_add_avx512,
    .attention = tsr_attention_avx512,
};
#endif

const tsr_cpu_kernels *tsr_cpu_kernels_select(uint32_t features)
{
#ifdef TSR_KERNELS_X86
    const uint32_t avx2 = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C;
    const uint32_t avx512 = avx2 | TSR_CPU_AVX512F | TSR_CPU_AVX512BW | TSR_CPU_AVX512VL;
    if ((features & avx512) == avx512)
        return &avx512_kernels;
    if ((features & avx2) == avx2)
        return &avx2_kernels;
#else
    (void)features;
#endif
    return &scalar_kernels;
}
