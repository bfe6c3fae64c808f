/* Rows of a matrix from one quant format to another on the thread pool:
 * each row dequantized with its own format's plugin and quantized with the
 * target's scalar reference. Weights re-quantized at load
 * (core/model/model_requant.c) and `tessera quantize` (core/api/quantize.c)
 * both convert through it. */
#ifndef TSR_CORE_REQUANT_H
#define TSR_CORE_REQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/plugin.h"
#include "threadpool.h"

typedef struct tsr_requant_rows {
    const uint8_t *src;            /* n_rows rows in from's format */
    uint8_t *dst;                  /* n_rows rows in to's format */
    const tsr_quant_vtable *from, *to;
    int64_t cols, n_rows;          /* cols: a whole number of both formats' blocks */
    float *scratch;                /* one row of cols floats per pool thread */
} tsr_requant_rows;

/* Converts the rows, split over the pool's threads; returns when all are done. */
void tsr_requant_run(tsr_threadpool *pool, const tsr_requant_rows *job);

#endif
