/* What the K-quant plugins share (q2_k, q3_k, q4_k, q5_k, q6_k and q8_k,
 * their activation form), header-only like common.h: the 256-value
 * super-block, q8_K's layout, the 6-bit scale packing of q4_K and q5_K, and
 * the rounding ggml's K-quant code uses.
 *
 * Every K-quant block holds 256 weights. Each format splits it in sub-blocks
 * of 16 or 32 values with their own small integer scales (and minimums),
 * which one or two f16 super-block scales turn into floats. Products take
 * activations in q8_K, 256 values in 292 bytes, x[i] = dx * p[i]:
 *
 *   byte 0          4                                    260          292
 *        +----------+------------------------------------+------------+
 *        |    dx    | p[0] p[1] ...               p[255] | bsums[16]  |
 *        +----------+------------------------------------+------------+
 *         f32        int8                                 int16: bsums[g] is
 *                                                         p[16g] + ... + p[16g + 15]
 *
 * so that a format's minimums or offsets, constant over 16 or 32 values,
 * meet the activations once per group through bsums instead of once per
 * value. */
#ifndef TSR_QUANT_KQUANT_H
#define TSR_QUANT_KQUANT_H

#include "common.h"

/* The K-quant GGUF/ggml type ids (GGUF's table). */
enum {
    QUANT_GGUF_Q2_K = 10,
    QUANT_GGUF_Q3_K = 11,
    QUANT_GGUF_Q4_K = 12,
    QUANT_GGUF_Q5_K = 13,
    QUANT_GGUF_Q6_K = 14,
    QUANT_GGUF_Q8_K = 15,
};

enum {
    KQ_BLOCK_ELEMS = 256, /* values per super-block, every K-quant */
    KQ_GROUPS = 16,       /* 16-value groups per block: q8_K's bsums */
    Q8_K_BLOCK_BYTES = 292,
    Q8_K_QS = 4,          /* byte offset of p[] */
    Q8_K_BSUMS = 260,     /* byte offset of bsums[] */
};

/* q8_K's fields. */
static inline float kq_q8k_scale(const uint8_t *xb)
{
    return quant_load_f32(xb);
}

static inline int kq_q8k_bsum(const uint8_t *xb, int group)
{
    return (int16_t)quant_load_u16(xb + Q8_K_BSUMS + 2 * group);
}

/* ggml's nearest_int: round to nearest, ties to even, by adding 1.5 * 2^23
 * so that the integer lands in the low mantissa bits; for |v| <= 2^22.
 * The processor's default rounding (cvtps2dq) gives the same integers. */
static inline int kq_nearest_int(float v)
{
    uint32_t bits = quant_float_bits(v + 12582912.0f);
    return (int)(bits & 0x007fffffu) - 0x00400000;
}

/* The 6-bit scales and minimums of q4_K and q5_K, 8 of each in 12 bytes:
 *
 *   byte 0..3    sc[j] in bits 0-5 (j = 0..3), bits 6-7 hold bits 4-5 of sc[j + 4]
 *   byte 4..7    m[j]  in bits 0-5 (j = 0..3), bits 6-7 hold bits 4-5 of m[j + 4]
 *   byte 8..11   bits 0-3: bits 0-3 of sc[j + 4]; bits 4-7: bits 0-3 of m[j + 4]
 *
 * Sub-block j (values 32j .. 32j + 31) is d * sc[j] * q - dmin * m[j]. The
 * four bytes of each row are worked on at once, as one 32-bit word. */
static inline void kq_unpack_6bit(const uint8_t *packed, uint64_t *sc, uint64_t *m)
{
    uint32_t a, b, c;
    memcpy(&a, packed, 4);
    memcpy(&b, packed + 4, 4);
    memcpy(&c, packed + 8, 4);
    uint32_t sc_low = a & 0x3f3f3f3fu, m_low = b & 0x3f3f3f3fu;
    uint32_t sc_high = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
    uint32_t m_high = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    *sc = sc_low | (uint64_t)sc_high << 32;
    *m = m_low | (uint64_t)m_high << 32;
}

/* The inverse, for the quantizers: sc[j], m[j] < 64. */
static inline void kq_pack_6bit(const uint8_t *sc, const uint8_t *m, uint8_t *packed)
{
    for (int j = 0; j < 4; j++) {
        packed[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        packed[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        packed[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | (m[j + 4] & 0x0f) << 4);
    }
}

/* q4_K and q5_K: the format's q[32j + l] of a block, 0..15 or 0..31. */
typedef int (*kq_level_fn)(const uint8_t *block, int j, int l);

/* The scalar reference of the K-quants with minimums, q4_K and q5_K: their
 * blocks start alike (f16 d, f16 dmin, 6-bit scales and minimums at
 * scales_at) and differ only in where a level's bits lie. Inlined with a
 * constant level, so each format's loops are its own. */
static inline void kq_affine_dequantize(const void *src, float *dst, int64_t n_elems,
                                        size_t block_bytes, size_t scales_at, kq_level_fn level)
{
    const uint8_t *block = src;
    for (int64_t b = 0; b < n_elems / KQ_BLOCK_ELEMS; b++, block += block_bytes) {
        float d = quant_fp16_to_fp32(quant_load_u16(block));
        float dmin = quant_fp16_to_fp32(quant_load_u16(block + 2));
        uint64_t sc, m;
        kq_unpack_6bit(block + scales_at, &sc, &m);
        float *out = dst + b * KQ_BLOCK_ELEMS;
        for (int j = 0; j < 8; j++) {
            /* (d * sc) * q is exact (11 + 6 + at most 5 bits), so only the
             * subtraction rounds, fused or not: the gguf package's floats */
            float scale = d * (float)(uint8_t)(sc >> 8 * j);
            float offset = dmin * (float)(uint8_t)(m >> 8 * j);
            for (int l = 0; l < 32; l++)
                out[32 * j + l] = scale * (float)level(block, j, l) - offset;
        }
    }
}

/* y = w x against q8_K activations, the same two formats' reference: the
 * minimums meet the activations through q8_K's bsums. */
static inline void kq_affine_matmat(const void *w, size_t w_row_bytes, const void *x,
                                    size_t x_row_bytes, float *y, size_t y_stride, int64_t n_cols,
                                    int64_t n_tokens, int64_t row_begin, int64_t row_end,
                                    size_t block_bytes, size_t scales_at, kq_level_fn level)
{
    int64_t n_blocks = n_cols / KQ_BLOCK_ELEMS;
    for (int64_t t = 0; t < n_tokens; t++) {
        const uint8_t *x_row = (const uint8_t *)x + t * x_row_bytes;
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *w_row = (const uint8_t *)w + r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t b = 0; b < n_blocks; b++) {
                const uint8_t *wb = w_row + b * block_bytes;
                const uint8_t *xb = x_row + b * Q8_K_BLOCK_BYTES;
                const int8_t *p = (const int8_t *)(xb + Q8_K_QS);
                uint64_t sc, m;
                kq_unpack_6bit(wb + scales_at, &sc, &m);
                int32_t dot = 0, mins = 0;
                for (int j = 0; j < 8; j++) {
                    int32_t sub = 0;
                    for (int l = 0; l < 32; l++)
                        sub += level(wb, j, l) * p[32 * j + l];
                    dot += (int32_t)(uint8_t)(sc >> 8 * j) * sub;
                    mins += (int32_t)(uint8_t)(m >> 8 * j) *
                            (kq_q8k_bsum(xb, 2 * j) + kq_q8k_bsum(xb, 2 * j + 1));
                }
                float d = quant_fp16_to_fp32(quant_load_u16(wb));
                float dmin = quant_fp16_to_fp32(quant_load_u16(wb + 2));
                float dx = kq_q8k_scale(xb);
                sum += (d * dx) * (float)dot - (dmin * dx) * (float)mins;
            }
            y[t * y_stride + r] = sum;
        }
    }
}

#endif
