/* One x86 tier of the q4_1 kernels: the step of its products, around which
 * quant_tile.h builds the tiles. q4_1_x86.c includes this file, then
 * quant_tile.h, once per tier, after defining:
 *
 *   TIER(name)      name with the tier's suffix
 *   TIER_TARGET     the tier's target attribute (QUANT_TARGET_*)
 *   TIER_VNNI       1 when TIER_DPBUSD(acc, u8, s8) multiplies unsigned by
 *                   signed bytes straight into int32 (vpdpbusd); 0 for
 *                   vpmaddubsw + vpmaddwd
 *   MATVEC_ROWS     rows one matvec pass covers (at most 4)
 *   MATMAT_ROWS, MATMAT_TOKENS   matmat's register tile (rows x tokens, at most 4 x 4)
 *
 * The products. One block of one row against one token is an integer dot
 * product of the 32 nibbles with the 32 activation bytes (8 int32 partial
 * sums in a ymm), scaled by d*dx and accumulated in float lanes; the m*sx
 * terms of up to four rows ride in one vector. A tile of rows x tokens loads each
 * weight block once for all its tokens and each activation block once for
 * all its rows; lanes are summed only when the tile is done. */

/* The 32 nibbles of a block, in activation order: bytes 0-15 are q[0..15]
 * (low nibbles), bytes 16-31 q[16..31] (high nibbles). On the VNNI tiers the
 * high nibbles stay in place, worth 16x (masking without a shift; int32
 * lanes cannot overflow), and the tile divides lanes 4-7 by 16 at the end:
 * a power of two, so exact. vpmaddubsw's int16 pairs would saturate at 16x,
 * so the other tiers shift. */
QUANT_INLINE TIER_TARGET __m256i TIER(nibbles)(const uint8_t *qs)
{
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
#if TIER_VNNI
    const __m256i low_high = _mm256_setr_epi64x(0x0f0f0f0f0f0f0f0f, 0x0f0f0f0f0f0f0f0f,
                                                (long long)0xf0f0f0f0f0f0f0f0ull,
                                                (long long)0xf0f0f0f0f0f0f0f0ull);
    return _mm256_and_si256(both, low_high);
#else
    __m256i shifted = _mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
#endif
}

/* 8 int32 partial sums of nibbles (unsigned) times activation bytes (signed). */
QUANT_INLINE TIER_TARGET __m256i TIER(dot)(__m256i nibbles, __m256i bytes)
{
#if TIER_VNNI
    return TIER_DPBUSD(_mm256_setzero_si256(), nibbles, bytes);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(nibbles, bytes), _mm256_set1_epi16(1));
#endif
}

/* What a lane of the accumulators is worth (see TIER(nibbles)). */
QUANT_INLINE TIER_TARGET __m256 TIER(lane_weights)(void)
{
#if TIER_VNNI
    return _mm256_setr_ps(1.0f, 1.0f, 1.0f, 1.0f, 0.0625f, 0.0625f, 0.0625f, 0.0625f);
#else
    return _mm256_set1_ps(1.0f);
#endif
}

/* The (d, m) halves of block b in up to 4 rows, as [d0 m0 d1 m1 d2 m2 d3 m3]. */
QUANT_INLINE TIER_TARGET __m256 TIER(scales)(const uint8_t *wb, size_t w_row_bytes, int n_rows)
{
    uint32_t dm[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
        if (r < n_rows)
            memcpy(&dm[r], wb + r * w_row_bytes, sizeof dm[r]);
    return _mm256_cvtph_ps(_mm_setr_epi32((int)dm[0], (int)dm[1], (int)dm[2], (int)dm[3]));
}

/* Block b of the tile: acc[r][t] += its products, lane 2r + 1 of
 * acc_min[t] += row r's m * sx. */
QUANT_INLINE TIER_TARGET void TIER(step)(__m256 acc[4][4], __m256 acc_min[4], const uint8_t *w,
                                         size_t w_row_bytes, const uint8_t *x, size_t x_row_bytes,
                                         int64_t b, const int R, const int T)
{
    const uint8_t *wb = w + b * Q4_1_BLOCK_BYTES;
    /* The tile's rows lie one after another, so it reads a region of
     * memory R rows long, R blocks per step, in an order the hardware
     * prefetchers do not follow when the weights come from DRAM (4x
     * slower on Zen 4). Prefetch that region as the one stream it is,
     * QUANT_PREFETCH_BYTES ahead; a hint never faults, so reaching past
     * the matrix is harmless. */
    uintptr_t ahead = (uintptr_t)w + QUANT_PREFETCH_BYTES + (uintptr_t)(b * R * Q4_1_BLOCK_BYTES);
#pragma GCC unroll 4
    for (int i = 0; i < (R * Q4_1_BLOCK_BYTES + 63) / 64; i++)
        _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
    __m256 dm = TIER(scales)(wb, w_row_bytes, R);
    __m256i q[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        q[r] = TIER(nibbles)(wb + r * w_row_bytes + 4);
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        const uint8_t *xb = x + t * x_row_bytes + b * Q8_1_BLOCK_BYTES;
        uint32_t ds;
        memcpy(&ds, xb, sizeof ds);
        __m256 dx_sx = _mm256_cvtph_ps(_mm_set1_epi32((int)ds)); /* [dx sx dx sx ...] */
        __m256i p = _mm256_loadu_si256((const __m256i *)(xb + 4));
        /* [d*dx m*sx ...] per row; row r's d*dx spread by a lane
         * permute (a store and broadcast loads instead stall on the
         * store's forwarding: a quarter of the kernel's time on Zen 4) */
        __m256 s = _mm256_mul_ps(dm, dx_sx);
        acc_min[t] = _mm256_add_ps(acc_min[t], s);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256 dot = _mm256_cvtepi32_ps(TIER(dot)(q[r], p));
            __m256 scale = _mm256_permutevar8x32_ps(s, _mm256_set1_epi32(2 * r));
            acc[r][t] = _mm256_fmadd_ps(dot, scale, acc[r][t]);
        }
    }
}

/* The driver (quant_tile.h) takes one block at a time through TIER(step). */
#define TILE_BLOCK_ELEMS Q4_1_BLOCK_ELEMS
#define TILE_PAIRS 0
#define TILE_MINS 1
#define TILE_LANES(v) _mm256_mul_ps((v), TIER(lane_weights)())

QUANT_INLINE TIER_TARGET float TIER(min_sum)(const float mins[8], int r)
{
    return mins[2 * r + 1];
}

/* Dequantizing: d * q (exact in float) + m, as the scalar reference. */
static TIER_TARGET void TIER(dequantize)(const void *src, float *dst, int64_t n_elems)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / Q4_1_BLOCK_ELEMS; b++, block += Q4_1_BLOCK_BYTES) {
        __m256 d = _mm256_set1_ps(quant_fp16_to_fp32(quant_load_u16(block)));
        __m256 m = _mm256_set1_ps(quant_fp16_to_fp32(quant_load_u16(block + 2)));
        __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(block + 4)));
        __m256i q = _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                                     _mm256_set1_epi8(0x0f));
        __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
        float *out = dst + b * Q4_1_BLOCK_ELEMS;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(halves[h]));
            __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(halves[h], 8)));
            _mm256_storeu_ps(out + 16 * h, _mm256_add_ps(_mm256_mul_ps(v0, d), m));
            _mm256_storeu_ps(out + 16 * h + 8, _mm256_add_ps(_mm256_mul_ps(v1, d), m));
        }
    }
}
