/* The first part of one x86 tier of a K-quant's kernels: what the format's
 * decoding (its FORMAT_tier.h, included next) works with. A FORMAT_x86.c
 * defines, then includes kquant_tier_head.h, FORMAT_tier.h and kquant_tier.h
 * (which undefines all of these again):
 *
 *   TIER(name)      name with the format's prefix and the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
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
 *   __m256i TIER(chunk)(const uint8_t *block, int c)
 *       the unsigned integer values u[32c .. 32c + 31] (chunk c), in
 *       order, each at most 63
 *
 * such that one block's dot product with a q8_K block (dx, p, bsums) is
 *
 *   dx * (a * sum_g s[g] * sum_{i in g} u[i] p[i]  -  b * sum_g k[g] bsums[g])
 *
 * When TIER(corr_folds), a == b and the correction joins the integer sum. */

/* How far ahead of its reads a matmat tile prefetches its region of the
 * weights: twice QUANT_PREFETCH_BYTES, which the bigger K-quant blocks
 * wanted (measured when matvec still read four rows at a time: q6_k from
 * DRAM gave 16 GB/s at 4 KiB, 20 at 8 KiB, 17 at 12 KiB on a Zen 4 core). */
#ifndef KQ_PREFETCH_BYTES
#define KQ_PREFETCH_BYTES 8192
#endif

/* A block is 8 chunks of 32 values, one 256-bit vector each, on every tier:
 * the AVX-512 tiers too, where the 32 registers allow bigger tiles. On a
 * Zen 4 core, whose 512-bit operations take two 256-bit passes, 512-bit
 * chunks were no faster at products and slower from DRAM (q6_k: 22-24
 * GB/s, against 26-29 with 256-bit chunks; q5_k 22-23 against 25). */
enum { TIER(chunks) = KQ_BLOCK_ELEMS / 32 };

/* Shifts each 64-bit lane right by n bits, or left by -n (n a compile-time
 * constant where this is inlined). Bits cross into neighbouring bytes, so
 * callers mask each byte to bits that came from itself. */
QUANT_INLINE TIER_TARGET __m256i TIER(shift)(__m256i v, int n)
{
    if (n == 0)
        return v;
    return n > 0 ? _mm256_srli_epi64(v, n) : _mm256_slli_epi64(v, -n);
}

/* Each byte of v and mask. */
QUANT_INLINE TIER_TARGET __m256i TIER(mask)(__m256i v, uint8_t mask)
{
    return _mm256_and_si256(v, _mm256_set1_epi8((char)mask));
}

QUANT_INLINE TIER_TARGET __m256i TIER(load)(const uint8_t *bytes)
{
    return _mm256_loadu_si256((const __m256i *)bytes);
}
