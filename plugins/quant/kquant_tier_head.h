/* The first part of one x86 tier of a K-quant's kernels: the vector width
 * the format's decoding (its FORMAT_tier.h, included next) works in. A
 * FORMAT_x86.c defines, then includes kquant_tier_head.h, FORMAT_tier.h and
 * kquant_tier.h (which undefines all of these again):
 *
 *   TIER(name)      name with the format's prefix and the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_WIDE       1: 512-bit vectors, a block in 4 chunks of 64 values;
 *                   0: 256-bit vectors, 8 chunks of 32 values
 *   TIER_VNNI       1 when TIER_DPWSSD(acc, a, b) adds the int16 pair
 *                   products of a and b to acc (vpdpwssd); 0 for vpmaddwd + vpaddd
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (at most 4 x 4)
 *
 * What the format's tier file provides (all inline, on TIER_TARGET):
 *
 *   enum TIER(block_bytes), TIER(signed_scales), TIER(corr_folds)
 *   TIER(row) TIER(row_load)(const uint8_t *block)
 *       the block's per-row state (its unpacked scales), read once per block
 *   __m128i TIER(row_scales)(const TIER(row) *row)
 *       16 scale bytes, one per 16-value group (a 32-value sub-block's
 *       scale twice); int8 when TIER(signed_scales), else uint8
 *   __m256i TIER(row_corr)(const TIER(row) *row)
 *       16 int16 coefficients k[g], one per group (below)
 *   uint32_t TIER(halves)(const uint8_t *block)
 *       two f16 factors a (low half) and b (high half)
 *   TIER_VEC TIER(chunk)(const uint8_t *block, int c)
 *       the unsigned integer values u of chunk c (values TIER_CHUNK * c on),
 *       in order, each at most 63
 *
 * such that one block's dot product with a q8_K block (dx, p, bsums) is
 *
 *   dx * (a * sum_g s[g] * sum_{i in g} u[i] p[i]  -  b * sum_g k[g] bsums[g])
 *
 * When TIER(corr_folds), a == b and the correction joins the integer sum. */

/* How far ahead of a product's reads the weights are prefetched: twice
 * QUANT_PREFETCH_BYTES, which the bigger K-quant blocks want (q6_k from
 * DRAM: 16 GB/s at 4 KiB, 20 at 8 KiB, 17 at 12 KiB on a Zen 4 core). */
#ifndef KQ_PREFETCH_BYTES
#define KQ_PREFETCH_BYTES 8192
#endif

#if TIER_WIDE
#define TIER_VEC __m512i
#define TIER_CHUNK 64
#else
#define TIER_VEC __m256i
#define TIER_CHUNK 32
#endif
#define TIER_CHUNKS (KQ_BLOCK_ELEMS / TIER_CHUNK)

/* One vector of bytes. */
QUANT_INLINE TIER_TARGET TIER_VEC TIER(load)(const uint8_t *bytes)
{
#if TIER_WIDE
    return _mm512_loadu_si512((const void *)bytes);
#else
    return _mm256_loadu_si256((const __m256i *)bytes);
#endif
}

QUANT_INLINE TIER_TARGET TIER_VEC TIER(zero)(void)
{
#if TIER_WIDE
    return _mm512_setzero_si512();
#else
    return _mm256_setzero_si256();
#endif
}

/* 32 bytes in both halves of a 512-bit vector, or as they are. */
QUANT_INLINE TIER_TARGET TIER_VEC TIER(load_halves)(const uint8_t *bytes)
{
#if TIER_WIDE
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)bytes));
#else
    return _mm256_loadu_si256((const __m256i *)bytes);
#endif
}

QUANT_INLINE TIER_TARGET TIER_VEC TIER(bytes)(uint8_t b)
{
#if TIER_WIDE
    return _mm512_set1_epi8((char)b);
#else
    return _mm256_set1_epi8((char)b);
#endif
}

QUANT_INLINE TIER_TARGET TIER_VEC TIER(and)(TIER_VEC a, TIER_VEC b)
{
#if TIER_WIDE
    return _mm512_and_si512(a, b);
#else
    return _mm256_and_si256(a, b);
#endif
}

QUANT_INLINE TIER_TARGET TIER_VEC TIER(or)(TIER_VEC a, TIER_VEC b)
{
#if TIER_WIDE
    return _mm512_or_si512(a, b);
#else
    return _mm256_or_si256(a, b);
#endif
}

/* Shifts each 64-bit lane right by n_low bits in the low 256 bits and by
 * n_high in the high ones (only n_low on 256-bit tiers): the two 32-value
 * halves of a wide chunk come from the same bytes at different bit
 * positions. Negative counts shift left; both counts have the same sign.
 * Bits cross into neighbouring bytes, so callers mask each byte to bits
 * that came from itself. Counts are compile-time constants where this is
 * inlined. */
QUANT_INLINE TIER_TARGET TIER_VEC TIER(shift_halves)(TIER_VEC v, int n_low, int n_high)
{
    if (n_low == 0 && n_high == 0)
        return v;
#if TIER_WIDE
    if (n_low >= 0)
        return _mm512_srlv_epi64(v, _mm512_setr_epi64(n_low, n_low, n_low, n_low, n_high, n_high,
                                                      n_high, n_high));
    return _mm512_sllv_epi64(v, _mm512_setr_epi64(-n_low, -n_low, -n_low, -n_low, -n_high,
                                                  -n_high, -n_high, -n_high));
#else
    (void)n_high;
    if (n_low >= 0)
        return _mm256_srli_epi64(v, n_low);
    return _mm256_slli_epi64(v, -n_low);
#endif
}
