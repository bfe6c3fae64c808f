/* The reference-logits file of perplexity --save-logits / --kl-divergence
 * (the layout is drawn in logits_file.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logits_file.h"

static const char magic[8] = {'T', 'S', 'R', 'L', 'O', 'G', 'I', 'T'};

enum { CHECKSUM_BYTES = 8 };
static const uint64_t fnv_offset = 0xcbf29ce484222325ull, fnv_prime = 0x100000001b3ull;

static uint64_t fnv1a(uint64_t h, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ bytes[i]) * fnv_prime;
    return h;
}

uint32_t logits_rows_per_chunk(uint32_t n_ctx)
{
    return n_ctx - 1 - n_ctx / 2;
}

/* IEEE binary16 from a float, rounded to nearest even; beyond the half range
 * (an infinite or huge ln p) it saturates at +-65504, so every stored value
 * is finite. */
static uint16_t half_from_float(float value)
{
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffff;
    if (x > 0x7f800000)
        return sign | 0x7e00; /* NaN stays NaN: a broken model shows */
    if (x < 0x38800000)   /* below 2^-14: a subnormal half, in units of 2^-24 */
        return sign | (uint16_t)lrintf(fabsf(value) * 16777216.0f);
    uint32_t half = ((x >> 23) - 127 + 15) << 10 | (x & 0x7fffff) >> 13;
    uint32_t rest = x & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
        half++; /* a carry into the exponent is right too */
    return sign | (uint16_t)(half >= 0x7c00 ? 0x7bff : half);
}

static float float_from_half(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 0) {
        float v = ldexpf((float)mantissa, -24);
        return sign ? -v : v;
    }
    uint32_t x = sign | (exponent == 31 ? 0x7f800000 | mantissa << 13
                                        : (exponent - 15 + 127) << 23 | mantissa << 13);
    float v;
    memcpy(&v, &x, sizeof v);
    return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static tsr_status write_bytes(logits_file *lf, const uint8_t *bytes, size_t n, tsr_error *err)
{
    lf->checksum = fnv1a(lf->checksum, bytes, n);
    if (fwrite(bytes, 1, n, lf->f) != n)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %s", lf->path, strerror(errno));
    return TSR_OK;
}

static tsr_status read_bytes(logits_file *lf, uint8_t *bytes, size_t n, tsr_error *err)
{
    if (fread(bytes, 1, n, lf->f) != n)
        return tsr_error_set(err, ferror(lf->f) ? TSR_ERR_IO : TSR_ERR_FORMAT,
                             "%s: %s", lf->path,
                             ferror(lf->f) ? strerror(errno) : "truncated (it ends early)");
    lf->checksum = fnv1a(lf->checksum, bytes, n);
    return TSR_OK;
}

static tsr_status alloc_row(logits_file *lf, tsr_error *err)
{
    lf->row = malloc((size_t)lf->n_vocab * sizeof *lf->row);
    return lf->row ? TSR_OK
                   : tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for a row of %u logits",
                                   lf->n_vocab);
}

static tsr_status write_tokens(logits_file *lf, const tsr_token *tokens, size_t n,
                               tsr_error *err)
{
    uint8_t buf[4 * 256];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < 256 && i < n; k++, i++)
            put_u32(buf + 4 * k, (uint32_t)tokens[i]);
        tsr_status s = write_bytes(lf, buf, 4 * k, err);
        if (s != TSR_OK)
            return s;
    }
    return TSR_OK;
}

tsr_status logits_file_create(logits_file *lf, const char *path, uint32_t n_vocab,
                              uint32_t n_ctx, uint32_t n_chunks, const tsr_token *tokens,
                              tsr_error *err)
{
    *lf = (logits_file){.path = path, .n_vocab = n_vocab, .n_ctx = n_ctx,
                        .n_chunks = n_chunks, .checksum = fnv_offset};
    if (alloc_row(lf, err) != TSR_OK)
        return err->code;
    if (!(lf->f = fopen(path, "wb"))) {
        tsr_error_set(err, TSR_ERR_IO, "--save-logits %s: cannot create: %s", path,
                      strerror(errno));
        logits_file_close(lf);
        return err->code;
    }
    uint8_t header[TSR_LOGITS_HEADER_BYTES];
    memcpy(header, magic, sizeof magic);
    put_u32(header + 8, TSR_LOGITS_VERSION);
    put_u32(header + 12, n_vocab);
    put_u32(header + 16, n_ctx);
    put_u32(header + 20, n_chunks);
    tsr_status s = write_bytes(lf, header, sizeof header, err);
    if (s == TSR_OK)
        s = write_tokens(lf, tokens, (size_t)n_ctx * n_chunks, err);
    return s;
}

tsr_status logits_file_write_row(logits_file *lf, const float *logits, tsr_error *err)
{
    float top = logits[0];
    for (uint32_t i = 1; i < lf->n_vocab; i++)
        top = logits[i] > top ? logits[i] : top;
    double sum = 0;
    for (uint32_t i = 0; i < lf->n_vocab; i++)
        sum += exp((double)logits[i] - top);
    double log_sum = top + log(sum);
    uint8_t *bytes = (uint8_t *)lf->row; /* little-endian halves */
    for (uint32_t i = 0; i < lf->n_vocab; i++) {
        uint16_t h = half_from_float((float)(logits[i] - log_sum));
        bytes[2 * i] = (uint8_t)h;
        bytes[2 * i + 1] = (uint8_t)(h >> 8);
    }
    return write_bytes(lf, bytes, 2 * (size_t)lf->n_vocab, err);
}

tsr_status logits_file_finish(logits_file *lf, tsr_error *err)
{
    uint8_t sum[CHECKSUM_BYTES];
    for (int i = 0; i < CHECKSUM_BYTES; i++)
        sum[i] = (uint8_t)(lf->checksum >> (8 * i));
    tsr_status s = write_bytes(lf, sum, sizeof sum, err);
    if (fclose(lf->f) != 0 && s == TSR_OK)
        s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %s", lf->path, strerror(errno));
    lf->f = NULL;
    logits_file_close(lf);
    return s;
}

/* The header's promises, checked before anything else is read; file_bytes
 * 0: not the size. */
static tsr_status check_header(logits_file *lf, const uint8_t *header, uint32_t n_vocab,
                               uint64_t file_bytes, tsr_error *err)
{
    if (memcmp(header, magic, sizeof magic) != 0)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: not a logits file of tessera "
                             "perplexity --save-logits", lf->path);
    uint32_t version = get_u32(header + 8);
    if (version != TSR_LOGITS_VERSION)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: logits file version %u; this tessera "
                             "reads version %d", lf->path, version, TSR_LOGITS_VERSION);
    lf->n_vocab = get_u32(header + 12);
    lf->n_ctx = get_u32(header + 16);
    lf->n_chunks = get_u32(header + 20);
    if (lf->n_vocab != n_vocab)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: made with a model of %u tokens of "
                             "vocabulary; this model has %u: compare formats of the same model",
                             lf->path, lf->n_vocab, n_vocab);
    if (lf->n_ctx < 4 || lf->n_ctx > (1u << 24) || lf->n_chunks < 1 ||
        lf->n_chunks > (1u << 24))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: corrupt header (%u chunks of %u tokens)",
                             lf->path, lf->n_chunks, lf->n_ctx);
    uint64_t n_tokens = (uint64_t)lf->n_ctx * lf->n_chunks;
    uint64_t rows = (uint64_t)logits_rows_per_chunk(lf->n_ctx) * lf->n_chunks;
    uint64_t expected = TSR_LOGITS_HEADER_BYTES + 4 * n_tokens + 2 * rows * n_vocab +
                        CHECKSUM_BYTES;
    if (file_bytes != 0 && file_bytes != expected)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: %s: %llu bytes, where its header "
                             "(%u chunks of %u tokens, %u-token vocabulary) makes %llu",
                             lf->path, file_bytes < expected ? "truncated" : "corrupt",
                             (unsigned long long)file_bytes, lf->n_chunks, lf->n_ctx,
                             n_vocab, (unsigned long long)expected);
    return TSR_OK;
}

static tsr_status check_tokens(logits_file *lf, const tsr_token *text, size_t n_text,
                               tsr_error *err)
{
    size_t n = (size_t)lf->n_ctx * lf->n_chunks;
    if (n_text < n)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s: made from a text of at least %zu "
                             "tokens; this one has %zu (another text, or it changed)",
                             lf->path, n, n_text);
    uint8_t buf[4 * 256];
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        tsr_status s = read_bytes(lf, buf, 4 * k, err);
        if (s != TSR_OK)
            return s;
        for (size_t j = 0; j < k; j++)
            if ((tsr_token)get_u32(buf + 4 * j) != text[i + j])
                return tsr_error_set(err, TSR_ERR_INVALID, "%s: made from another text: its "
                                     "token %zu is %d, the text's is %d (another -f file, "
                                     "or the file changed)", lf->path, i + j,
                                     (tsr_token)get_u32(buf + 4 * j), text[i + j]);
    }
    return TSR_OK;
}

tsr_status logits_file_peek(const char *path, uint32_t *n_ctx, tsr_error *err)
{
    logits_file lf = {.path = path};
    uint8_t header[TSR_LOGITS_HEADER_BYTES];
    if (!(lf.f = fopen(path, "rb")))
        return tsr_error_set(err, TSR_ERR_IO, "--kl-divergence %s: %s", path, strerror(errno));
    tsr_status s = read_bytes(&lf, header, sizeof header, err);
    /* The vocabulary is checked when the model is there: pass the file's. */
    if (s == TSR_OK)
        s = check_header(&lf, header, get_u32(header + 12), 0, err);
    *n_ctx = lf.n_ctx;
    logits_file_close(&lf);
    return s;
}

tsr_status logits_file_open(logits_file *lf, const char *path, uint32_t n_vocab,
                            const tsr_token *text, size_t n_text, tsr_error *err)
{
    *lf = (logits_file){.path = path, .checksum = fnv_offset};
    struct stat st;
    uint8_t header[TSR_LOGITS_HEADER_BYTES];
    tsr_status s = TSR_OK;
    if (!(lf->f = fopen(path, "rb")) || fstat(fileno(lf->f), &st) != 0)
        s = tsr_error_set(err, TSR_ERR_IO, "--kl-divergence %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = tsr_error_set(err, TSR_ERR_IO, "--kl-divergence %s: not a regular file", path);
    else if ((uint64_t)st.st_size < sizeof header)
        s = tsr_error_set(err, TSR_ERR_FORMAT, "%s: truncated: %lld bytes, not even a header",
                          path, (long long)st.st_size);
    if (s == TSR_OK)
        s = read_bytes(lf, header, sizeof header, err);
    if (s == TSR_OK)
        s = check_header(lf, header, n_vocab, (uint64_t)st.st_size, err);
    if (s == TSR_OK)
        s = check_tokens(lf, text, n_text, err);
    if (s == TSR_OK)
        s = alloc_row(lf, err);
    if (s != TSR_OK)
        logits_file_close(lf);
    return s;
}

tsr_status logits_file_read_row(logits_file *lf, float *out, tsr_error *err)
{
    tsr_status s = read_bytes(lf, (uint8_t *)lf->row, 2 * (size_t)lf->n_vocab, err);
    const uint8_t *bytes = (const uint8_t *)lf->row;
    for (uint32_t i = 0; s == TSR_OK && i < lf->n_vocab; i++)
        out[i] = float_from_half((uint16_t)(bytes[2 * i] | bytes[2 * i + 1] << 8));
    return s;
}

tsr_status logits_file_verify(logits_file *lf, bool read_all, tsr_error *err)
{
    tsr_status s = TSR_OK;
    uint64_t computed = lf->checksum;
    uint8_t sum[CHECKSUM_BYTES];
    if (read_all && (s = read_bytes(lf, sum, sizeof sum, err)) == TSR_OK) {
        uint64_t stored = 0;
        for (int i = 0; i < CHECKSUM_BYTES; i++)
            stored |= (uint64_t)sum[i] << (8 * i);
        if (stored != computed)
            s = tsr_error_set(err, TSR_ERR_FORMAT, "%s: corrupt: its checksum does not match "
                              "its contents; make it again with --save-logits", lf->path);
    }
    logits_file_close(lf);
    return s;
}

void logits_file_close(logits_file *lf)
{
    if (lf->f)
        fclose(lf->f);
    free(lf->row);
    lf->f = NULL;
    lf->row = NULL;
}
