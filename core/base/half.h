/* float <-> IEEE half (fp16) and bfloat16 (bf16), scalar and exact: the
 * host table's conversions (tessera/plugin.h says what they promise). */
#ifndef TSR_CORE_HALF_H
#define TSR_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>

uint16_t tsr_fp16_from_float(float f);
float tsr_fp16_to_float(uint16_t h);
uint16_t tsr_bf16_from_float(float f);
float tsr_bf16_to_float(uint16_t h);

void tsr_fp16_from_float_n(const float *src, uint16_t *dst, size_t n);
void tsr_fp16_to_float_n(const uint16_t *src, float *dst, size_t n);
void tsr_bf16_from_float_n(const float *src, uint16_t *dst, size_t n);
void tsr_bf16_to_float_n(const uint16_t *src, float *dst, size_t n);

#endif
