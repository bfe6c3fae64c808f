/* Helpers the quant plugins share, header-only (each plugin is its own .so):
 * half and bfloat16 conversions done exactly as IEEE 754 and the F16C
 * instructions do them, unaligned little-endian field reads, and the x86
 * instruction-set tiers an init chooses between.
 *
 * SIMD code is compiled per function with the QUANT_TARGET_* attributes, so
 * the plugins build without -march flags and run on any x86-64; init picks a
 * tier from host->cpu_features before a product ever runs one of them. */
#ifndef TSR_QUANT_COMMON_H
#define TSR_QUANT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tessera/plugin.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the quant plugins read GGUF's little-endian blocks in place"
#endif

/* 1 where the x86 SIMD tiers are compiled (QUANT_SCALAR_ONLY builds the
 * scalar references alone, as on other processors). */
#if defined(__x86_64__) && !defined(QUANT_SCALAR_ONLY)
#define QUANT_X86 1
#else
#define QUANT_X86 0
#endif

/* The GGUF/ggml type ids of the formats these plugins claim (GGUF's table). */
enum {
    QUANT_GGUF_F32 = 0,
    QUANT_GGUF_F16 = 1,
    QUANT_GGUF_Q4_1 = 3,
    QUANT_GGUF_Q8_0 = 8,
    QUANT_GGUF_Q8_1 = 9,
    QUANT_GGUF_BF16 = 30,
};

/* ---- scalar bit work ------------------------------------------------------ */

static inline uint32_t quant_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float quant_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Blocks are 2-byte aligned at best (q8_0's are 34 bytes), so fields are read
 * through memcpy, which compiles to one plain load. */
static inline uint16_t quant_load_u16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void quant_store_u16(void *p, uint16_t v)
{
    memcpy(p, &v, sizeof v);
}

static inline float quant_load_f32(const void *p)
{
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* IEEE half -> float, exact; a NaN comes back quiet with its payload, as
 * F16C's vcvtph2ps returns it. */
static inline float quant_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f)
        return quant_bits_float(sign | 0x7f800000u | (mantissa << 13) |
                                (mantissa ? 0x00400000u : 0));
    if (exponent != 0) /* normal: rebias 15 -> 127 */
        return quant_bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
    /* zero or subnormal: mantissa * 2^-24, exact in float */
    float magnitude = (float)mantissa * 0x1p-24f;
    return quant_bits_float(sign | quant_float_bits(magnitude));
}

/* float -> IEEE half, rounding to nearest even (what F16C's vcvtps2ph with
 * _MM_FROUND_TO_NEAREST_INT and numpy's astype(float16) do): overflow goes
 * to infinity, tiny values to subnormals or zero, a NaN stays a quiet NaN. */
static inline uint16_t quant_fp32_to_fp16(float f)
{
    uint32_t bits = quant_float_bits(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) /* NaN: quiet, top payload bits kept */
        return (uint16_t)(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    if (magnitude >= 0x477ff000u) /* >= 65520 rounds past the largest half, 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (magnitude >= 0x38800000u) { /* >= 2^-14: a normal half */
        uint32_t rebased = magnitude - 0x38000000u; /* exponent bias 127 -> 15 */
        rebased += 0x0fffu + ((rebased >> 13) & 1u);  /* round 23 -> 10 mantissa bits, ties to even */
        return (uint16_t)(sign | (rebased >> 13));
    }
    uint32_t exponent = magnitude >> 23;
    if (exponent < 102) /* below 2^-25: rounds to zero (2^-25 itself ties to the even 0) */
        return sign;
    /* subnormal half: count units of 2^-24, rounding to nearest even; a
     * carry into 0x400 is the smallest normal, encoded correctly. */
    uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent; /* 14 .. 24 */
    uint32_t units = significand >> shift;
    uint32_t rest = significand & ((1u << shift) - 1);
    uint32_t half_unit = 1u << (shift - 1);
    if (rest > half_unit || (rest == half_unit && (units & 1u)))
        units++;
    return (uint16_t)(sign | units);
}

/* bfloat16 is the top half of a float. */
static inline float quant_bf16_to_fp32(uint16_t h)
{
    return quant_bits_float((uint32_t)h << 16);
}

/* float -> bfloat16, rounding to nearest even; a NaN is made quiet (ggml's
 * and the gguf package's rule, so files written either way agree). */
static inline uint16_t quant_fp32_to_bf16(float f)
{
    uint32_t bits = quant_float_bits(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

/* roundf's rule, half away from zero, which ggml's reference quantizers use;
 * for |v| < 2^31. Truncating and looking at the exact remainder avoids the
 * trap of v + 0.5f, which rounds 0.49999997f up to 1. */
static inline int quant_round_half_away(float v)
{
    int truncated = (int)v;
    float fraction = v - (float)truncated;
    return truncated + (fraction >= 0.5f) - (fraction <= -0.5f);
}

/* ---- kernel sets ---------------------------------------------------------- */

typedef void quant_dequantize_fn(const void *src, float *dst, int64_t n_elems);
typedef void quant_quantize_fn(const float *src, void *dst, int64_t n_elems);
typedef void quant_matmat_fn(const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                             float *y, size_t y_stride, int64_t n_cols, int64_t n_tokens,
                             int64_t row_begin, int64_t row_end);

/* One instruction-set tier's kernels of a format. matvec is matmat with one
 * token (the vtable's matvec forwards to it), so a set has one product. */
typedef struct quant_kernels {
    const char *name; /* what kernel_name reports: "scalar", "avx2", ... */
    int isa;          /* the quant_isa it needs */
    quant_dequantize_fn *dequantize;
    quant_quantize_fn *quantize;
    quant_matmat_fn *matmat;
} quant_kernels;

/* The four x86 kernel sets of a format FMT, FMT_kernels_avx2 ...
 * FMT_kernels_avx512vnni, each with its tier's FMT_matmat_TIER. DEQ and
 * QUANT name each tier's dequantize and quantize: QUANT_TIER_FN (the tier's
 * own, FMT_dequantize_TIER), QUANT_SCALAR_FN (the scalar reference) or
 * QUANT_NO_FN (NULL). */
#define QUANT_TIER_FN(fmt, op, tier) fmt##_##op##_##tier
#define QUANT_SCALAR_FN(fmt, op, tier) fmt##_##op##_scalar
#define QUANT_NO_FN(fmt, op, tier) NULL
#define QUANT_X86_KERNEL_SET(fmt, tier, isa, deq, quant)                                           \
    const quant_kernels fmt##_kernels_##tier = {#tier, isa, deq(fmt, dequantize, tier),            \
                                                quant(fmt, quantize, tier), fmt##_matmat_##tier}
#define QUANT_X86_KERNEL_SETS(fmt, deq, quant)                                                     \
    QUANT_X86_KERNEL_SET(fmt, avx2, QUANT_ISA_AVX2, deq, quant);                                   \
    QUANT_X86_KERNEL_SET(fmt, avxvnni, QUANT_ISA_AVXVNNI, deq, quant);                             \
    QUANT_X86_KERNEL_SET(fmt, avx512, QUANT_ISA_AVX512, deq, quant);                               \
    QUANT_X86_KERNEL_SET(fmt, avx512vnni, QUANT_ISA_AVX512VNNI, deq, quant)

/* ---- instruction-set tiers ----------------------------------------------- */

typedef enum quant_isa {
    QUANT_ISA_SCALAR = 0,
    QUANT_ISA_AVX2,       /* AVX2 + FMA + F16C */
    QUANT_ISA_AVXVNNI,    /* the AVX2 tier + AVX-VNNI (vpdpbusd on ymm, VEX) */
    QUANT_ISA_AVX512,     /* the AVX2 tier + AVX-512 F/BW/VL (32 vector registers) */
    QUANT_ISA_AVX512VNNI, /* the AVX-512 tier + AVX-512 VNNI */
    QUANT_ISA_AVX512BF16, /* the AVX-512 tier + AVX512-BF16 (vdpbf16ps) */
} quant_isa;

static inline bool quant_isa_usable(quant_isa isa, uint32_t features)
{
    const uint32_t avx2 = TSR_CPU_AVX | TSR_CPU_AVX2 | TSR_CPU_FMA | TSR_CPU_F16C;
    const uint32_t avx512 = avx2 | TSR_CPU_AVX512F | TSR_CPU_AVX512BW | TSR_CPU_AVX512VL;
#if QUANT_X86
    switch (isa) {
    case QUANT_ISA_SCALAR: return true;
    case QUANT_ISA_AVX2: return (features & avx2) == avx2;
    case QUANT_ISA_AVXVNNI: return (features & (avx2 | TSR_CPU_AVXVNNI)) == (avx2 | TSR_CPU_AVXVNNI);
    case QUANT_ISA_AVX512: return (features & avx512) == avx512;
    case QUANT_ISA_AVX512VNNI:
        return (features & (avx512 | TSR_CPU_AVX512VNNI)) == (avx512 | TSR_CPU_AVX512VNNI);
    case QUANT_ISA_AVX512BF16:
        return (features & (avx512 | TSR_CPU_AVX512BF16)) == (avx512 | TSR_CPU_AVX512BF16);
    }
    return false;
#else
    (void)avx512;
    return isa == QUANT_ISA_SCALAR;
#endif
}

/* The first set in candidates (best first, a scalar set last) that features
 * allow. */
static inline const quant_kernels *quant_pick(const quant_kernels *const *candidates,
                                              size_t n_candidates, uint32_t features)
{
    for (size_t i = 0; i + 1 < n_candidates; i++)
        if (quant_isa_usable((quant_isa)candidates[i]->isa, features))
            return candidates[i];
    return candidates[n_candidates - 1];
}

#if QUANT_X86
#include <immintrin.h>

#define QUANT_TARGET_AVX2 __attribute__((target("avx,avx2,fma,f16c")))
#define QUANT_TARGET_AVXVNNI __attribute__((target("avx,avx2,fma,f16c,avxvnni")))
#define QUANT_TARGET_AVX512 \
    __attribute__((target("avx,avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define QUANT_TARGET_AVX512VNNI \
    __attribute__((target("avx,avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define QUANT_TARGET_AVX512BF16 \
    __attribute__((target("avx,avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))
#define QUANT_INLINE static inline __attribute__((always_inline))

/* How far ahead of a product's reads the weights are prefetched. */
#ifndef QUANT_PREFETCH_BYTES
#define QUANT_PREFETCH_BYTES 4096
#endif

/* The scalar conversions on F16C: the same results as quant_fp16_to_fp32
 * and quant_fp32_to_fp16, in one instruction. */
QUANT_INLINE QUANT_TARGET_AVX2 float quant_fp16_to_fp32_f16c(uint16_t h)
{
    return _cvtsh_ss(h);
}

QUANT_INLINE QUANT_TARGET_AVX2 uint16_t quant_fp32_to_fp16_f16c(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* Sum of the 8 lanes of v. */
QUANT_INLINE QUANT_TARGET_AVX2 float quant_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The 16 bytes at `at` and, when two, the 16 one block further on, side by
 * side in a ymm: the layout of the products that take blocks in pairs. */
QUANT_INLINE QUANT_TARGET_AVX2 __m256i quant_load_pair(const uint8_t *at, size_t block_bytes,
                                                       const int two)
{
    __m128i first = _mm_loadu_si128((const __m128i *)at);
    if (!two)
        return _mm256_zextsi128_si256(first);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(first),
                                   _mm_loadu_si128((const __m128i *)(at + block_bytes)), 1);
}

/* The f16 at `field` of a block and, when two, of the next one, as
 * [b (x4) | b + 1 (x4)] floats. */
QUANT_INLINE QUANT_TARGET_AVX2 __m256 quant_pair_scale(const uint8_t *field, size_t block_bytes,
                                                       const int two)
{
    __m128i first = _mm_set1_epi16((short)quant_load_u16(field));
    __m128i second = two ? _mm_set1_epi16((short)quant_load_u16(field + block_bytes))
                         : _mm_setzero_si128();
    return _mm256_cvtph_ps(_mm_unpacklo_epi64(first, second));
}

/* Largest of the 8 lanes of v. */
QUANT_INLINE QUANT_TARGET_AVX2 float quant_hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* roundf (half away from zero) on 8 lanes, converted to int32, for |v| <=
 * 128: truncate v + copysign(0.49999997, v). Adding 0.5 instead would round
 * 0.49999997 up to 1; with the constant one ulp below 0.5 the sum never
 * crosses an integer it should not, which was checked against roundf for
 * every float of magnitude up to 128. The processor's own rounding ties to
 * even, which would differ from the scalar reference on exact halves. */
QUANT_INLINE QUANT_TARGET_AVX2 __m256i quant_round_half_away_epi32(__m256 v)
{
    __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
    __m256 nudge = _mm256_or_ps(sign, _mm256_set1_ps(0.49999997f));
    return _mm256_cvttps_epi32(_mm256_add_ps(v, nudge));
}

/* Quantizes 32 floats to int8 the way ggml's q8 references do: d = amax /
 * 127, q = roundf(x * (1/d)), so |x * (1/d)| <= 127 and a few ulps. Writes
 * the 32 bytes to q and returns d; *sum (when non-NULL) gets the sum of the
 * q. Bit-exact with the scalar loop (for finite x, and blocks whose largest
 * magnitude is a normal float at least 127 times the smallest normal:
 * otherwise 1/d overflows and both give unspecified bytes). */
QUANT_INLINE QUANT_TARGET_AVX2 float quant_q8_block_avx2(const float *x, int8_t *q, int *sum)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 amax = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, abs_mask), _mm256_and_ps(v1, abs_mask)),
                                _mm256_max_ps(_mm256_and_ps(v2, abs_mask), _mm256_and_ps(v3, abs_mask)));
    float d = quant_hmax_ps(amax) / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256 scale = _mm256_set1_ps(id);
    __m256i i0 = quant_round_half_away_epi32(_mm256_mul_ps(v0, scale));
    __m256i i1 = quant_round_half_away_epi32(_mm256_mul_ps(v1, scale));
    __m256i i2 = quant_round_half_away_epi32(_mm256_mul_ps(v2, scale));
    __m256i i3 = quant_round_half_away_epi32(_mm256_mul_ps(v3, scale));
    if (sum) {
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
        *sum = _mm_cvtsi128_si32(s4);
    }
    /* pack 32 x int32 -> 32 x int8; the packs interleave 128-bit lanes, the
     * permute puts them back in order */
    __m256i p01 = _mm256_packs_epi32(i0, i1);
    __m256i p23 = _mm256_packs_epi32(i2, i3);
    __m256i bytes = _mm256_packs_epi16(p01, p23);
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, bytes);
    return d;
}

/* The same on AVX-512: 16 lanes at a time, saturating narrow stores. */
QUANT_INLINE QUANT_TARGET_AVX512 __m512i quant_round_half_away_epi32_512(__m512 v)
{
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u));
    __m512 nudge = _mm512_castsi512_ps(
        _mm512_or_si512(sign, _mm512_castps_si512(_mm512_set1_ps(0.49999997f))));
    return _mm512_cvttps_epi32(_mm512_add_ps(v, nudge));
}

/* The sum of the 16 int32 lanes of v, wrapping on overflow (GCC's
 * _mm512_reduce_add_epi32 adds as signed C ints, which UBSan reports when
 * out-of-range input, which the quantizers leave unspecified, overflows). */
QUANT_INLINE QUANT_TARGET_AVX512 int32_t quant_hsum_epi32_512(__m512i v)
{
    __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s4);
}

QUANT_INLINE QUANT_TARGET_AVX512 float quant_q8_block_avx512(const float *x, int8_t *q, int *sum)
{
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    float d = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1))) / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m512 scale = _mm512_set1_ps(id);
    __m512i i0 = quant_round_half_away_epi32_512(_mm512_mul_ps(v0, scale));
    __m512i i1 = quant_round_half_away_epi32_512(_mm512_mul_ps(v1, scale));
    if (sum)
        *sum = quant_hsum_epi32_512(_mm512_add_epi32(i0, i1));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(i1));
    return d;
}
#endif /* QUANT_X86 */

#endif
