/* The planner's fixtures (tests/make_fixtures.c): each file has the real
 * model's size on paper and costs a few MB on disk, reads headers-only in
 * milliseconds, and carries the real shapes, hyperparameters and
 * vocabulary size; models of a family share one vocabulary. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "gguf.h"
#include "testutil.h"

static char out_dir[1024];

static const char *fixture(const char *name)
{
    static char paths[4][1200];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%.100s", out_dir, name);
    return path;
}

static void make_all(void)
{
    snprintf(out_dir, sizeof out_dir, "%s/tests/tmp-fixtures-XXXXXX", test_builddir());
    cr_assert_not_null(mkdtemp(out_dir));
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "'%s/tests/make_fixtures' '%s'", test_builddir(), out_dir);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static void remove_all(void)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(make_fixtures, .init = make_all, .fini = remove_all);

static const struct expected {
    const char *file;
    uint64_t tensors;
    double params_billions; /* the real model's */
    double min_bpw, max_bpw;
    uint32_t layers, embd, ff, heads, heads_kv, ctx, vocab;
} expected[] = {
    {"llama-3.1-70b-iq3_xxs.gguf", 724, 70.55, 3.0, 3.2, 80, 8192, 28672, 64, 8, 131072, 128256},
    {"llama-3.1-70b-iq3_xxs-copy.gguf", 724, 70.55, 3.0, 3.2, 80, 8192, 28672, 64, 8, 131072, 128256},
    {"llama-3.1-70b-q4_k_m.gguf", 724, 70.55, 4.7, 4.9, 80, 8192, 28672, 64, 8, 131072, 128256},
    {"llama-3.1-8b-q4_k_m.gguf", 292, 8.03, 4.8, 5.0, 32, 4096, 14336, 32, 8, 131072, 128256},
    {"llama-3.1-8b-f16.gguf", 292, 8.03, 16.0, 16.01, 32, 4096, 14336, 32, 8, 131072, 128256},
    {"llama-3.2-1b-q8_0.gguf", 147, 1.24, 8.5, 8.51, 16, 2048, 8192, 32, 8, 131072, 128256},
    {"llama-3.2-1b-f16.gguf", 147, 1.24, 16.0, 16.01, 16, 2048, 8192, 32, 8, 131072, 128256},
    {"llama-2-7b-q4_k_m.gguf", 291, 6.74, 4.8, 4.9, 32, 4096, 11008, 32, 32, 4096, 32000},
};

static double ms_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static uint32_t u32_of(const tsr_gguf *g, const char *key)
{
    uint32_t v = 0;
    cr_assert(tsr_gguf_get_u32(g, key, &v), "%s: no %s", tsr_gguf_path(g), key);
    return v;
}

Test(make_fixtures, files_are_sparse_real_sized_and_read_in_milliseconds)
{
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const struct expected *e = &expected[i];
        const char *path = fixture(e->file);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "%s is missing", path);
        cr_assert_lt((uint64_t)st.st_blocks * 512, (uint64_t)4 << 20, "%s takes %" PRIu64
                     " bytes on disk", e->file, (uint64_t)st.st_blocks * 512);

        struct timespec start;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
        tsr_gguf *g;
        tsr_error err;
        cr_assert_eq(tsr_gguf_open_headers(path, &g, &err), TSR_OK, "%s", err.message);
        double ms = ms_since(&start);
        /* CPU time, not wall time: a few ms, as a busy machine cannot
         * stretch it; reading the (sparse) data would take seconds */
        cr_assert_lt(ms, 250.0, "%s took %.1f ms to read", e->file, ms);

        cr_assert_eq(tsr_gguf_tensor_count(g), e->tensors, "%s", e->file);
        uint64_t params = 0, bytes = 0, end = 0;
        for (uint64_t t = 0; t < tsr_gguf_tensor_count(g); t++) {
            const tsr_gguf_tensor *tensor = tsr_gguf_tensor_at(g, t);
            params += tensor->n_elems;
            bytes += tensor->n_bytes;
            if (tensor->file_offset + tensor->n_bytes > end)
                end = tensor->file_offset + tensor->n_bytes;
        }
        double billions = (double)params / 1e9, bpw = (double)bytes * 8 / (double)params;
        cr_assert(billions > e->params_billions * 0.995 && billions < e->params_billions * 1.005,
                  "%s: %.3fB parameters", e->file, billions);
        cr_assert(bpw >= e->min_bpw && bpw <= e->max_bpw, "%s: %.3f bits per weight", e->file, bpw);
        cr_assert_geq((uint64_t)st.st_size, end, "%s: the file ends before its data", e->file);

        cr_assert_eq(u32_of(g, "llama.block_count"), e->layers);
        cr_assert_eq(u32_of(g, "llama.embedding_length"), e->embd);
        cr_assert_eq(u32_of(g, "llama.feed_forward_length"), e->ff);
        cr_assert_eq(u32_of(g, "llama.attention.head_count"), e->heads);
        cr_assert_eq(u32_of(g, "llama.attention.head_count_kv"), e->heads_kv);
        cr_assert_eq(u32_of(g, "llama.context_length"), e->ctx);
        cr_assert_eq(u32_of(g, "llama.vocab_size"), e->vocab);
        tsr_gguf_type type;
        uint64_t count;
        const void *data;
        cr_assert(tsr_gguf_get_array(g, "tokenizer.ggml.tokens", &type, &count, &data));
        cr_assert(type == TSR_GGUF_STRING && count == e->vocab, "%s", e->file);
        const tsr_gguf_tensor *embd = tsr_gguf_find_tensor(g, "token_embd.weight");
        cr_assert(embd && embd->dims[0] == e->embd && embd->dims[1] == e->vocab);
        const tsr_gguf_tensor *k = tsr_gguf_find_tensor(g, "blk.0.attn_k.weight");
        cr_assert(k && k->dims[1] == (uint64_t)e->embd / e->heads * e->heads_kv);
        tsr_gguf_close(g);
    }
}

/* Token i of each file's vocabulary, compared across files. */
static void same_vocabulary(const char *a_file, const char *b_file, bool want_same)
{
    tsr_gguf *a, *b;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_headers(fixture(a_file), &a, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_gguf_open_headers(fixture(b_file), &b, &err), TSR_OK, "%s", err.message);
    tsr_gguf_array ta, tb;
    cr_assert(tsr_gguf_find_array(a, "tokenizer.ggml.tokens", &ta));
    cr_assert(tsr_gguf_find_array(b, "tokenizer.ggml.tokens", &tb));
    bool same = ta.count == tb.count;
    for (uint64_t i = 0; same && i < ta.count; i++) {
        tsr_gguf_str sa, sb;
        cr_assert(tsr_gguf_array_elem_str(&ta, i, &sa) && tsr_gguf_array_elem_str(&tb, i, &sb));
        same = sa.len == sb.len && memcmp(sa.data, sb.data, sa.len) == 0;
    }
    cr_assert_eq(same, want_same, "%s and %s", a_file, b_file);
    tsr_gguf_close(a);
    tsr_gguf_close(b);
}

Test(make_fixtures, a_family_shares_one_vocabulary)
{
    same_vocabulary("llama-3.1-70b-iq3_xxs.gguf", "llama-3.2-1b-q8_0.gguf", true);
    same_vocabulary("llama-3.1-8b-f16.gguf", "llama-3.2-1b-f16.gguf", true);
    same_vocabulary("llama-3.1-8b-q4_k_m.gguf", "llama-2-7b-q4_k_m.gguf", false);
}

Test(make_fixtures, the_copy_is_the_main_model_byte_for_byte)
{
    FILE *a = fopen(fixture("llama-3.1-70b-iq3_xxs.gguf"), "rb");
    FILE *b = fopen(fixture("llama-3.1-70b-iq3_xxs-copy.gguf"), "rb");
    cr_assert(a && b);
    static uint8_t ba[1 << 16], bb[1 << 16];
    /* the headers; past them both are holes */
    for (int chunk = 0; chunk < 64; chunk++) {
        size_t na = fread(ba, 1, sizeof ba, a), nb = fread(bb, 1, sizeof bb, b);
        cr_assert(na == nb && memcmp(ba, bb, na) == 0, "chunk %d differs", chunk);
    }
    fclose(a);
    fclose(b);
}

Test(make_fixtures, the_70b_mix_is_mostly_iq3_xxs)
{
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_headers(fixture("llama-3.1-70b-iq3_xxs.gguf"), &g, &err), TSR_OK,
                 "%s", err.message);
    uint64_t iq3_xxs = 0, all = 0;
    for (uint64_t t = 0; t < tsr_gguf_tensor_count(g); t++) {
        const tsr_gguf_tensor *tensor = tsr_gguf_tensor_at(g, t);
        all += tensor->n_elems;
        iq3_xxs += tensor->type == (uint32_t)tsr_ggml_type_by_name("iq3_xxs") ? tensor->n_elems : 0;
    }
    cr_assert_gt((double)iq3_xxs / (double)all, 0.75, "iq3_xxs holds %.2f of the weights",
                 (double)iq3_xxs / (double)all);
    uint32_t file_type;
    cr_assert(tsr_gguf_get_u32(g, "general.file_type", &file_type) && file_type == 23);
    tsr_gguf_close(g);
}
