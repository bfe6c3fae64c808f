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

/* The smallest half h with h >= v (v >= 0 finite, below 65504): the
 * quantizers store super-block scales rounded up, so that every sub-block
 * scale still fits its integer range after the rounding. */
static inline uint16_t kq_fp32_to_fp16_up(float v)
{
    uint16_t h = quant_fp32_to_fp16(v);
    if (quant_fp16_to_fp32(h) < v)
        h++; /* positive halves are ordered like their bit patterns */
    return h;
}

#endif
