/* A small SentencePiece vocabulary for the text fuzz targets: byte tokens
 * (so any text encodes), and the control tokens of the ChatML and Llama 3
 * templates (so a fuzzer can spell them). No model file needed. */
#ifndef TSR_FUZZ_VOCAB_H
#define TSR_FUZZ_VOCAB_H

#include <stdio.h>

#include "tokenizer.h"

static const char *const fuzz_controls[] = {
    "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>",
    "<|end_header_id|>", "<|eot_id|>",
};
enum { FUZZ_N_CONTROLS = 6, FUZZ_CONTROL0 = 3 + 256, FUZZ_N_TOKENS = FUZZ_CONTROL0 + 6 };

static tsr_tokenizer *fuzz_vocab_open(void)
{
    static char texts[FUZZ_N_TOKENS][24];
    static const char *ptrs[FUZZ_N_TOKENS];
    static int32_t types[FUZZ_N_TOKENS];
    snprintf(texts[0], sizeof texts[0], "<unk>");
    types[0] = TSR_TOKEN_UNKNOWN;
    snprintf(texts[1], sizeof texts[1], "<s>");
    snprintf(texts[2], sizeof texts[2], "</s>");
    types[1] = types[2] = TSR_TOKEN_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(texts[3 + b], sizeof texts[3 + b], "<0x%02X>", b);
        types[3 + b] = TSR_TOKEN_BYTE;
    }
    for (int i = 0; i < FUZZ_N_CONTROLS; i++) {
        snprintf(texts[FUZZ_CONTROL0 + i], sizeof texts[0], "%s", fuzz_controls[i]);
        types[FUZZ_CONTROL0 + i] = TSR_TOKEN_CONTROL;
    }
    for (int i = 0; i < FUZZ_N_TOKENS; i++)
        ptrs[i] = texts[i];
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "llama";
    spec.tokens = ptrs;
    spec.n_tokens = FUZZ_N_TOKENS;
    spec.token_types = types;
    spec.bos = 1;
    spec.eos = 2;
    spec.unk = 0;
    tsr_tokenizer *tok = NULL;
    if (tsr_tokenizer_open_spec(&spec, &tok, NULL) != TSR_OK)
        return NULL;
    return tok;
}

/* How many control tokens of the templates ids holds. */
static size_t fuzz_count_controls(const int32_t *ids, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ids[i] >= FUZZ_CONTROL0 && ids[i] < FUZZ_N_TOKENS;
    return count;
}

#endif
