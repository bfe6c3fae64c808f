/* libFuzzer target: any bytes as a prompt file (tsr_text_read_stream, the
 * reader behind `run -f FILE` and `-f -`), with a bound the first byte
 * picks. Reading must never crash, leak or hang; what it accepts is at most
 * the bound, holds no NUL and is NUL-terminated at its length; what it
 * refuses is refused with a message. An accepted prompt then encodes,
 * parsed for special tokens as `run -p` does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_vocab.h"
#include "text_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tsr_tokenizer *vocab;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vocab && !(vocab = fuzz_vocab_open()))
        abort();
    if (size == 0)
        return 0;
    size_t max_bytes = (size_t)data[0] * 16; /* 0 .. 4080: at, under and over the input */
    /* fmemopen refuses an empty buffer: an empty input is /dev/null's. */
    FILE *f = size > 1 ? fmemopen((void *)(data + 1), size - 1, "rb") : fopen("/dev/null", "rb");
    if (!f)
        return 0;
    char *text;
    size_t n;
    tsr_error err = {0};
    tsr_status s = tsr_text_read_stream(f, "fuzz", "a prompt", max_bytes, "the fuzz bound",
                                        &text, &n, &err);
    fclose(f);
    if (s != TSR_OK) {
        if (text || !err.message[0] || err.code != s)
            abort();
        return 0;
    }
    if (n > max_bytes || strlen(text) != n || memchr(data + 1, '\0', n))
        abort();
    int32_t ids[8192];
    size_t needed;
    if (tsr_tokenizer_encode(vocab, text, n, true, true, ids, 8192, &needed, &err) != TSR_OK)
        abort();
    free(text);
    return 0;
}
