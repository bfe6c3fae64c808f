/* Is the draft the main model? By path, inode, or a fingerprint of the
 * header (which holds the whole tensor layout), never of the weights. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "model_identity.h"

enum { CHUNK_BYTES = 1 << 20 };

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

tsr_status tsr_gguf_header_fingerprint(const tsr_gguf *gguf, uint64_t *out, tsr_error *err)
{
    const char *path = tsr_gguf_path(gguf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = malloc(CHUNK_BYTES);
    if (!buf) {
        close(fd);
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    uint64_t hash = FNV_OFFSET, end = tsr_gguf_data_offset(gguf), done = 0;
    tsr_status s = TSR_OK;
    while (done < end) {
        size_t want = end - done > CHUNK_BYTES ? CHUNK_BYTES : (size_t)(end - done);
        ssize_t got = pread(fd, buf, want, (off_t)done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot read its header at byte %llu", path,
                              (unsigned long long)done);
            break;
        }
        for (ssize_t i = 0; i < got; i++)
            hash = (hash ^ buf[i]) * FNV_PRIME;
        done += (uint64_t)got;
    }
    free(buf);
    close(fd);
    *out = hash;
    return s;
}

/* Whether path, or any folder on the way to it, is a symbolic link. */
static bool goes_through_link(const char *path)
{
    char walk[PATH_MAX];
    snprintf(walk, sizeof walk, "%s", path);
    for (;;) {
        struct stat st;
        if (lstat(walk, &st) == 0 && S_ISLNK(st.st_mode))
            return true;
        char *slash = strrchr(walk, '/');
        if (!slash || slash == walk)
            return false;
        *slash = '\0';
    }
}

tsr_status tsr_model_identity(const tsr_gguf *a, const tsr_gguf *b, tsr_same_model *out,
                              tsr_error *err)
{
    *out = TSR_MODEL_DIFFERENT;
    const char *pa = tsr_gguf_path(a), *pb = tsr_gguf_path(b);
    struct stat sa, sb;
    if (stat(pa, &sa) != 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: %s", pa, strerror(errno));
    if (stat(pb, &sb) != 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: %s", pb, strerror(errno));
    if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) {
        char ra[PATH_MAX], rb[PATH_MAX];
        if (strcmp(pa, pb) == 0)
            *out = TSR_MODEL_SAME_PATH;
        else if (!realpath(pa, ra) || !realpath(pb, rb) || strcmp(ra, rb) != 0)
            *out = TSR_MODEL_HARD_LINK; /* two names, each its own, of one inode */
        else if (goes_through_link(pa) || goes_through_link(pb))
            *out = TSR_MODEL_SYMLINK;
        else
            *out = TSR_MODEL_SAME_PATH; /* "dir/../m.gguf" and "m.gguf" */
        return TSR_OK;
    }
    if (tsr_gguf_file_size(a) != tsr_gguf_file_size(b) ||
        tsr_gguf_data_offset(a) != tsr_gguf_data_offset(b))
        return TSR_OK;
    uint64_t ha, hb;
    tsr_status s = tsr_gguf_header_fingerprint(a, &ha, err);
    if (s == TSR_OK)
        s = tsr_gguf_header_fingerprint(b, &hb, err);
    if (s == TSR_OK && ha == hb)
        *out = TSR_MODEL_COPY;
    return s;
}

static void quote_token(const tsr_gguf *gguf, uint64_t i, char *buf, size_t bytes)
{
    tsr_gguf_str text;
    char shown[TSR_DIAG_QUOTE_BYTES];
    if (!tsr_gguf_array_str(gguf, "tokenizer.ggml.tokens", i, &text)) {
        snprintf(buf, bytes, "(none)");
        return;
    }
    snprintf(buf, bytes, "'%s'", tsr_diag_quote(text.data, text.len, shown, sizeof shown));
}

/* The tokenizer type and the special tokens, which the texts alone do not
 * show: a draft that ends its turn on another id would run on where the main
 * model stops. */
static void compare_specials(const tsr_gguf *a, const tsr_gguf *b, tsr_vocab_difference *out)
{
    tsr_gguf_str ma = {0}, mb = {0};
    bool has_ma = tsr_gguf_get_str(a, "tokenizer.ggml.model", &ma);
    bool has_mb = tsr_gguf_get_str(b, "tokenizer.ggml.model", &mb);
    if (has_ma != has_mb || (has_ma && (ma.len != mb.len || memcmp(ma.data, mb.data, ma.len)))) {
        char qa[40], qb[40];
        snprintf(out->other, sizeof out->other, "the tokenizer type is %s in the main model and "
                 "%s in the draft",
                 has_ma ? tsr_diag_quote(ma.data, ma.len, qa, sizeof qa) : "(none)",
                 has_mb ? tsr_diag_quote(mb.data, mb.len, qb, sizeof qb) : "(none)");
        out->differs = true;
        return;
    }
    static const struct {
        const char *key, *name;
    } specials[] = {
        {"tokenizer.ggml.bos_token_id", "beginning-of-sequence"},
        {"tokenizer.ggml.eos_token_id", "end-of-sequence"},
        {"tokenizer.ggml.eot_token_id", "end-of-turn"},
        {"tokenizer.ggml.eom_token_id", "end-of-message"},
        {"tokenizer.ggml.padding_token_id", "padding"},
    };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        uint32_t ia = 0, ib = 0;
        bool ha = tsr_gguf_get_u32(a, specials[i].key, &ia);
        bool hb = tsr_gguf_get_u32(b, specials[i].key, &ib);
        if (ha == hb && ia == ib)
            continue;
        char ta[16] = "(none)", tb[16] = "(none)";
        if (ha)
            snprintf(ta, sizeof ta, "%u", ia);
        if (hb)
            snprintf(tb, sizeof tb, "%u", ib);
        snprintf(out->other, sizeof out->other, "the %s token is %s in the main model and %s "
                 "in the draft (%s)", specials[i].name, ta, tb, specials[i].key);
        out->differs = true;
        return;
    }
}

void tsr_vocab_compare(const tsr_gguf *a, uint64_t n_vocab_a, const tsr_gguf *b,
                       uint64_t n_vocab_b, tsr_vocab_difference *out)
{
    memset(out, 0, sizeof *out);
    out->first_token = -1;
    tsr_gguf_type ta, tb;
    uint64_t ca = 0, cb = 0;
    const void *da, *db;
    bool has_a = tsr_gguf_get_array(a, "tokenizer.ggml.tokens", &ta, &ca, &da) &&
                 ta == TSR_GGUF_STRING;
    bool has_b = tsr_gguf_get_array(b, "tokenizer.ggml.tokens", &tb, &cb, &db) &&
                 tb == TSR_GGUF_STRING;
    out->n_a = has_a ? ca : n_vocab_a;
    out->n_b = has_b ? cb : n_vocab_b;
    if (out->n_a != out->n_b || n_vocab_a != n_vocab_b) {
        out->differs = true;
        if (!has_a || !has_b || ca != cb) {
            out->n_a = n_vocab_a > out->n_a ? n_vocab_a : out->n_a;
            out->n_b = n_vocab_b > out->n_b ? n_vocab_b : out->n_b;
        }
        return;
    }
    if (!has_a || !has_b)
        return;
    for (uint64_t i = 0; i < ca; i++) {
        tsr_gguf_str sa, sb;
        bool ok_a = tsr_gguf_array_str(a, "tokenizer.ggml.tokens", i, &sa);
        bool ok_b = tsr_gguf_array_str(b, "tokenizer.ggml.tokens", i, &sb);
        if (ok_a != ok_b || (ok_a && (sa.len != sb.len || memcmp(sa.data, sb.data, sa.len)))) {
            out->differs = true;
            out->first_token = (int64_t)i;
            quote_token(a, i, out->text_a, sizeof out->text_a);
            quote_token(b, i, out->text_b, sizeof out->text_b);
            return;
        }
    }
    compare_specials(a, b, out);
}
