/* The AVX-512 VNNI products with 16 rows side by side, one row per int32
 * lane of a zmm, shared by the formats whose blocks hold 16 bytes of packed
 * values (q4_0, q4_1, q8_0's two halves, iq4_nl): the driver of matmat and
 * of matvec, and the register work every such format does the same way.
 * Only a block's products are the format's own.
 *
 * matmat. Per 16 rows and block, the rows' 16 bytes are transposed in
 * registers (quant_r16_groups: four 4-row zmm, then 32- and 64-bit
 * unpacks), giving 4-byte group g of the 16 rows in one zmm, lane 4j + k
 * holding row 4k + j, a permutation undone at the store; then each token
 * adds vpdpbusd of those groups against its broadcast activation bytes, and
 * a block's products need no horizontal sums. A transposed block serves up
 * to 4 tokens before the next is made (a register tile of 16 rows x 4
 * tokens); tokens go 64 at a time (quant_tile.h's TILE_TOKEN_CHUNK: their
 * activations stay in the L2 cache while every row of the range passes).
 * The rows' per-block scales come in lane order by one gather through an
 * offset table (quant_r16_scales). Past the last row of a range the row
 * pointers repeat row 0, whose results the store masks off.
 *
 * matvec (one token): rows one after another, 4 a pass and blocks two at a
 * step, read as streams the way the other tiers' matvec does; each row's
 * lanes summed per block (quant_r16_sum4) so that the 16-row products, the
 * matvec and the scalar reference can agree bit for bit.
 *
 * A FORMAT_x86.c includes this file after defining:
 *
 *   R16(name)            name with the format's prefix (q4_0_r16_##name)
 *   R16_BLOCK_ELEMS      the values of one weight block
 *   R16_BLOCK_BYTES      the bytes of one weight block
 *   R16_ACT_BLOCK_BYTES  the bytes of one activation block
 *   R16_PREFETCH_BLOCKS  blocks between two prefetches of the 16 rows (one
 *                        64-byte line per row covers that many)
 *
 * and, inline on QUANT_TARGET_AVX512VNNI,
 *
 *   void R16(block)(__m512 acc[QUANT_R16_TOKENS], const uint8_t *const *row,
 *                   __m512i scale_offsets, const uint8_t *x,
 *                   size_t x_row_bytes, int64_t b, const int T)
 *       acc[t] (lanes: rows in lane order) += block b's terms of the 16
 *       rows row[0..16) against tokens x + t * x_row_bytes, t < T
 *   __m128 R16(matvec_pair)(__m128 acc, const uint8_t *const *row,
 *                           size_t at, const uint8_t *xb, const int two)
 *       acc (lanes: rows) += the terms of block at `at` of the 4 rows
 *       row[0..4) and, when two, then those of the next block, against
 *       the activation blocks at xb
 *
 * and gets R16(matmat), a quant_kernels matmat (one token: the matvec),
 * undefining its macros again. Included without R16 defined (first, before
 * the format's block products), it gives the shared register work alone. */

#ifndef TSR_QUANT_R16_H
#define TSR_QUANT_R16_H

enum { QUANT_R16_ROWS = 16, QUANT_R16_TOKENS = 4, QUANT_R16_CHUNK = 64, QUANT_R16_MATVEC_ROWS = 4 };

/* Prefetching in matmat. The 16 rows are 16 streams read side by side, and
 * QUANT_PREFETCH_BYTES (4 KiB) ahead in each kept 64 KiB in flight, twice
 * the L1 cache; 256 bytes ahead (4 KiB in all) serves long rows. Short rows
 * (a model's 576 or 1536 columns: 360 or 960 bytes of q4_1) end before
 * that lands anywhere useful, and each 16-row group began from memory: so
 * each block also brings the same share of the next group's rows, which lie
 * right after this group's, into L2. One thread, this loaded machine's
 * medians, q4_1 from memory (quant_bench -c 256: a fresh copy of the matrix
 * each call, as in a forward pass): 1536 x 576 at 2 tokens 81.9 -> 44.4 us,
 * at 8 157 -> 105; 576 x 1536 at 2 75.9 -> 36.9; 16384 x 8192 at 2 tokens
 * 8.7 -> 5.9 ms with 256 bytes where 4 KiB read, at 8 16.0 -> 13.8 (q4_0
 * 8.3 -> 5.9 and 16.0 -> 14.9, q8_0 12.9 -> 7.4 and 22.9 -> 17.0); from the
 * caches within 2% either way. */
enum { QUANT_R16_PREFETCH_BYTES = 256 };

/* lane L of a row group holds row (L % 4) * 4 + L / 4: its own inverse */
static const int32_t quant_r16_lane_row[QUANT_R16_ROWS] = {0, 4, 8,  12, 1, 5, 9,  13,
                                                           2, 6, 10, 14, 3, 7, 11, 15};

/* The 16 bytes at `at` of rows 4k .. 4k + 3, one per 128-bit lane. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m512i quant_r16_rows4(const uint8_t *const *row, int k,
                                                            size_t at)
{
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(row[4 * k] + at)));
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 1] + at)), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 2] + at)), 2);
    return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(row[4 * k + 3] + at)), 3);
}

/* 4-byte groups 0-3 of the 16 bytes at `at` of the 16 rows, in lane order. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void quant_r16_groups(const uint8_t *const *row, size_t at,
                                                          __m512i g[4])
{
    __m512i z0 = quant_r16_rows4(row, 0, at), z1 = quant_r16_rows4(row, 1, at);
    __m512i z2 = quant_r16_rows4(row, 2, at), z3 = quant_r16_rows4(row, 3, at);
    __m512i a = _mm512_unpacklo_epi32(z0, z1), c = _mm512_unpackhi_epi32(z0, z1);
    __m512i b = _mm512_unpacklo_epi32(z2, z3), d = _mm512_unpackhi_epi32(z2, z3);
    g[0] = _mm512_unpacklo_epi64(a, b);
    g[1] = _mm512_unpackhi_epi64(a, b);
    g[2] = _mm512_unpacklo_epi64(c, d);
    g[3] = _mm512_unpackhi_epi64(c, d);
}

/* The 4 bytes at block + scale_offsets[L] for each lane L: the rows'
 * leading scale fields (d, or d and m), in lane order. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m512i quant_r16_scales(__m512i scale_offsets,
                                                             const uint8_t *block)
{
    return _mm512_i32gather_epi32(scale_offsets, (const void *)block, 1);
}

/* -c * sum(p[0..32)) of a token's 32 activation bytes, in every lane: the
 * correction of weights that go into vpdpbusd as unsigned w + c. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m512i quant_r16_bias(const int8_t *p, char c)
{
    __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(c),
                                       _mm256_loadu_si256((const __m256i *)p));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_broadcastd_epi32(s4));
}

/* bias + the 32 products of one block of the 16 rows with a token's 32
 * bytes at p (signed, broadcast 4 at a time): lo[k] (unsigned, the rows in
 * lane order) holds the rows' values 4k .. 4k + 3, against p[4k ..], and
 * hi[k] values 16 + 4k .., against p[16 + 4k ..]; two chains of vpdpbusd. */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m512i quant_r16_dot32(__m512i bias, const __m512i lo[4],
                                                            const __m512i hi[4], const int8_t *p)
{
    __m512i dot_lo = bias, dot_hi = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        int32_t plo, phi;
        memcpy(&plo, p + 4 * k, 4);
        memcpy(&phi, p + 16 + 4 * k, 4);
        dot_lo = _mm512_dpbusd_epi32(dot_lo, lo[k], _mm512_set1_epi32(plo));
        dot_hi = _mm512_dpbusd_epi32(dot_hi, hi[k], _mm512_set1_epi32(phi));
    }
    return _mm512_add_epi32(dot_lo, dot_hi);
}

/* The 8 lanes of each of v[0..4) (4 rows' partial sums of a pair of
 * blocks, lanes 0-3 block b's, 4-7 block b + 1's) summed per block:
 * [rows 0-3 of b | rows 0-3 of b + 1] (32- and 64-bit unpacks, not vphaddd,
 * which cost 5%). */
QUANT_INLINE QUANT_TARGET_AVX512VNNI __m256i quant_r16_sum4(const __m256i v[4])
{
    __m256i s01 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]),
                                   _mm256_unpackhi_epi32(v[0], v[1]));
    __m256i s23 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]),
                                   _mm256_unpackhi_epi32(v[2], v[3]));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
}

#endif

#ifdef R16

/* y[t * y_stride + r] for the n_rows (1..16) rows at row[0..16) (entries
 * past n_rows repeat row 0) and T tokens; next_group: where the next 16
 * rows begin (past the range, a hint never faults). */
QUANT_INLINE QUANT_TARGET_AVX512VNNI void R16(tile)(const uint8_t *const *row,
                                                    const uint8_t *next_group,
                                                    __m512i scale_offsets, const uint8_t *x,
                                                    size_t x_row_bytes, float *y, size_t y_stride,
                                                    int64_t n_blocks, int n_rows, const int T)
{
    __m512 acc[QUANT_R16_TOKENS];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; b++) {
        if (b % R16_PREFETCH_BLOCKS == 0)
            for (int i = 0; i < QUANT_R16_ROWS; i++)
                _mm_prefetch((const char *)(row[i] + (size_t)b * R16_BLOCK_BYTES +
                                            QUANT_R16_PREFETCH_BYTES),
                             _MM_HINT_T0);
        const uint8_t *share = next_group + (size_t)b * QUANT_R16_ROWS * R16_BLOCK_BYTES;
        for (int i = 0; i < (QUANT_R16_ROWS * R16_BLOCK_BYTES + 63) / 64; i++)
            _mm_prefetch((const char *)(share + 64 * i), _MM_HINT_T1);
        R16(block)(acc, row, scale_offsets, x, x_row_bytes, b, T);
    }
    const __m512i perm = _mm512_loadu_si512((const void *)quant_r16_lane_row);
    __mmask16 keep = (__mmask16)((1u << n_rows) - 1);
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + t * y_stride, keep, _mm512_permutexvar_ps(perm, acc[t]));
}

/* Rows [row_begin, row_end) against one token: 4 rows a pass, blocks in
 * pairs, an odd last block alone. */
static QUANT_TARGET_AVX512VNNI void R16(matvec)(const uint8_t *w, size_t w_row_bytes,
                                                const uint8_t *x, float *y, int64_t n_blocks,
                                                int64_t row_begin, int64_t row_end)
{
    enum { ROWS = QUANT_R16_MATVEC_ROWS };
    for (int64_t r = row_begin; r < row_end; r += ROWS) {
        int n_rows = row_end - r < ROWS ? (int)(row_end - r) : ROWS;
        const uint8_t *row[ROWS];
        for (int i = 0; i < ROWS; i++)
            row[i] = w + (r + (i < n_rows ? i : 0)) * (int64_t)w_row_bytes;
        __m128 acc = _mm_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= n_blocks; b += 2) {
            /* the rows as one region, prefetched as one stream
             * (quant_tile.h) */
            uintptr_t ahead = (uintptr_t)row[0] + QUANT_PREFETCH_BYTES +
                              (uintptr_t)(b * ROWS * R16_BLOCK_BYTES);
            for (int i = 0; i < (2 * ROWS * R16_BLOCK_BYTES + 63) / 64; i++)
                _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)i), _MM_HINT_T0);
            acc = R16(matvec_pair)(acc, row, (size_t)b * R16_BLOCK_BYTES,
                                   x + b * R16_ACT_BLOCK_BYTES, 1);
        }
        if (b < n_blocks)
            acc = R16(matvec_pair)(acc, row, (size_t)b * R16_BLOCK_BYTES,
                                   x + b * R16_ACT_BLOCK_BYTES, 0);
        float out[ROWS];
        _mm_storeu_ps(out, acc);
        for (int i = 0; i < n_rows; i++)
            y[r + i] = out[i];
    }
}

static QUANT_TARGET_AVX512VNNI void R16(matmat)(const void *w, size_t w_row_bytes, const void *x,
                                                size_t x_row_bytes, float *y, size_t y_stride,
                                                int64_t n_cols, int64_t n_tokens,
                                                int64_t row_begin, int64_t row_end)
{
    int64_t n_blocks = n_cols / R16_BLOCK_ELEMS;
    if (n_tokens == 1) {
        R16(matvec)(w, w_row_bytes, x, y, n_blocks, row_begin, row_end);
        return;
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += QUANT_R16_CHUNK) {
        int64_t n_chunk = n_tokens - t0 < QUANT_R16_CHUNK ? n_tokens - t0 : QUANT_R16_CHUNK;
        const uint8_t *xc = (const uint8_t *)x + t0 * x_row_bytes;
        float *yc = y + t0 * y_stride;
        for (int64_t r = row_begin; r < row_end; r += QUANT_R16_ROWS) {
            int n_rows = row_end - r < QUANT_R16_ROWS ? (int)(row_end - r) : QUANT_R16_ROWS;
            const uint8_t *row[QUANT_R16_ROWS];
            int32_t offsets[QUANT_R16_ROWS];
            for (int i = 0; i < QUANT_R16_ROWS; i++)
                row[i] = (const uint8_t *)w + (r + (i < n_rows ? i : 0)) * (int64_t)w_row_bytes;
            for (int l = 0; l < QUANT_R16_ROWS; l++)
                offsets[l] = (int32_t)(row[quant_r16_lane_row[l]] - row[0]);
            __m512i scale_offsets = _mm512_loadu_si512((const void *)offsets);
            const uint8_t *next_group = row[0] + QUANT_R16_ROWS * w_row_bytes;
            int64_t t = 0;
            for (; t + QUANT_R16_TOKENS <= n_chunk; t += QUANT_R16_TOKENS)
                R16(tile)(row, next_group, scale_offsets, xc + t * x_row_bytes, x_row_bytes,
                          yc + t * y_stride + r, y_stride, n_blocks, n_rows, QUANT_R16_TOKENS);
            const uint8_t *xt = xc + t * x_row_bytes;
            float *yt = yc + t * y_stride + r;
            switch (n_chunk - t) {
            case 3:
                R16(tile)(row, next_group, scale_offsets, xt, x_row_bytes, yt, y_stride, n_blocks,
                          n_rows, 3);
                break;
            case 2:
                R16(tile)(row, next_group, scale_offsets, xt, x_row_bytes, yt, y_stride, n_blocks,
                          n_rows, 2);
                break;
            case 1:
                R16(tile)(row, next_group, scale_offsets, xt, x_row_bytes, yt, y_stride, n_blocks,
                          n_rows, 1);
                break;
            default:
                break;
            }
        }
    }
}

#undef R16
#undef R16_BLOCK_ELEMS
#undef R16_BLOCK_BYTES
#undef R16_ACT_BLOCK_BYTES
#undef R16_PREFETCH_BLOCKS

#endif
