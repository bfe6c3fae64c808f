/* The reference logits of `tessera perplexity --save-logits`, read back by
 * --kl-divergence: one model's distribution over the vocabulary at every
 * token the perplexity run scored, so that another model (another format of
 * the same weights) can be compared with it token by token.
 *
 * Layout, every number little-endian:
 *
 *   offset  bytes  what
 *        0      8  magic "TSRLOGIT"
 *        8      4  u32 version (1)
 *       12      4  u32 n_vocab: the vocabulary of the model that wrote it
 *       16      4  u32 n_ctx: tokens per chunk (-c)
 *       20      4  u32 n_chunks
 *       24  4*T    i32 tokens, T = n_ctx * n_chunks: the text's first T tokens
 *                  as tokenized (before the BOS that starts each chunk)
 *        .  2*V*R  per scored token, chunk by chunk, R = n_chunks * (n_ctx - 1
 *                  - n_ctx / 2) rows of n_vocab IEEE half floats: log-softmax
 *                  of the logits (ln p, <= 0; -65504 below the half range)
 *      end      8  u64 FNV-1a over every byte before it
 *
 * Half precision keeps ln p to within about 1e-3 where p matters (ln p near
 * 0 is exact to 2^-11), so the file of a model compared with itself gives a
 * KL divergence under 1e-4. */
#ifndef TSR_CLI_LOGITS_FILE_H
#define TSR_CLI_LOGITS_FILE_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

enum { TSR_LOGITS_VERSION = 1, TSR_LOGITS_HEADER_BYTES = 24 };

typedef struct logits_file {
    FILE *f;
    const char *path;
    uint32_t n_vocab, n_ctx, n_chunks;
    uint64_t checksum;          /* FNV-1a of the bytes written or read so far */
    uint16_t *row;              /* n_vocab halves */
} logits_file;

/* Rows per chunk: the tokens of its second half that are scored. */
uint32_t logits_rows_per_chunk(uint32_t n_ctx);

/* Creates path and writes the header and tokens (n_ctx * n_chunks of them). */
tsr_status logits_file_create(logits_file *lf, const char *path, uint32_t n_vocab,
                              uint32_t n_ctx, uint32_t n_chunks, const tsr_token *tokens,
                              tsr_error *err);
/* Writes one scored row: the log-softmax of n_vocab logits. */
tsr_status logits_file_write_row(logits_file *lf, const float *logits, tsr_error *err);
/* Writes the checksum and closes; the file is complete only then. */
tsr_status logits_file_finish(logits_file *lf, tsr_error *err);

/* The chunk size a file was made with (its magic and version checked), so
 * that --kl-divergence can provision the context before the model loads. */
tsr_status logits_file_peek(const char *path, uint32_t *n_ctx, tsr_error *err);
/* Opens path and checks it against this run: its size against its header
 * (truncation), the model's vocabulary, and its tokens against the text's
 * (n_text tokens; TSR_ERR_INVALID naming the first that differs). Errors
 * name path: TSR_ERR_IO, TSR_ERR_FORMAT, TSR_ERR_INVALID. */
tsr_status logits_file_open(logits_file *lf, const char *path, uint32_t n_vocab,
                            const tsr_token *text, size_t n_text, tsr_error *err);
/* Reads the next row as ln p into out (n_vocab floats). */
tsr_status logits_file_read_row(logits_file *lf, float *out, tsr_error *err);
/* After the last row this run reads: when every row was read, checks the
 * checksum (TSR_ERR_FORMAT "corrupt"); closes in every case. */
tsr_status logits_file_verify(logits_file *lf, bool read_all, tsr_error *err);
/* Closes without checking (after an error); NULL file fine. */
void logits_file_close(logits_file *lf);

#endif
