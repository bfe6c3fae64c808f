/* The ggml tensor type table: every type id GGUF files may carry, with the
 * block geometry the planner sizes tensors from. A type is stored as blocks
 * of block_elems consecutive elements of a row taking block_bytes bytes each.
 *
 * Ids are ggml's and are stable; the gaps are ids ggml has removed (4 and 5
 * were q4_2 and q4_3; 31-33 and 36-38 were the repacked q4_0_4_4 ... and
 * iq4_nl_4_4 ... layouts, which files no longer carry). Block sizes follow
 * the block structs of ggml-common.h, e.g. q4_1 = fp16 d + fp16 m + 32
 * nibbles = 20 bytes per 32 elements; the k-quants and i-quants use
 * super-blocks of 256. tests/reference/ggml_types.py checks the table
 * against the ggml library itself. */
#include <stddef.h>
#include <strings.h>

#include "gguf.h"

static const tsr_ggml_type_info type_table[] = {
    {0, "f32", 1, 4},
    {1, "f16", 1, 2},
    {2, "q4_0", 32, 18},
    {3, "q4_1", 32, 20},
    {6, "q5_0", 32, 22},
    {7, "q5_1", 32, 24},
    {8, "q8_0", 32, 34},
    {9, "q8_1", 32, 36},
    {10, "q2_k", 256, 84},
    {11, "q3_k", 256, 110},
    {12, "q4_k", 256, 144},
    {13, "q5_k", 256, 176},
    {14, "q6_k", 256, 210},
    {15, "q8_k", 256, 292},
    {16, "iq2_xxs", 256, 66},
    {17, "iq2_xs", 256, 74},
    {18, "iq3_xxs", 256, 98},
    {19, "iq1_s", 256, 50},
    {20, "iq4_nl", 32, 18},
    {21, "iq3_s", 256, 110},
    {22, "iq2_s", 256, 82},
    {23, "iq4_xs", 256, 136},
    {24, "i8", 1, 1},
    {25, "i16", 1, 2},
    {26, "i32", 1, 4},
    {27, "i64", 1, 8},
    {28, "f64", 1, 8},
    {29, "iq1_m", 256, 56},
    {30, "bf16", 1, 2},
    {34, "tq1_0", 256, 54},
    {35, "tq2_0", 256, 66},
    {39, "mxfp4", 32, 17},
    {40, "nvfp4", 64, 36},
    {41, "q1_0", 128, 18},
    {42, "q2_0", 64, 18},
};

enum { N_TYPES = sizeof type_table / sizeof type_table[0] };

const tsr_ggml_type_info *tsr_ggml_type(uint32_t id)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (type_table[i].id == id)
            return &type_table[i];
    return NULL;
}

int64_t tsr_ggml_type_by_name(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < N_TYPES; i++)
        if (strcasecmp(type_table[i].name, name) == 0)
            return type_table[i].id;
    return -1;
}
