/* The GGUF reader: every malformed file of the corpus is refused with a
 * message naming the file, the field and its byte offset; good files of
 * versions 2 and 3 with every value type read back as written; sparse and
 * headers-only files can be planned; hostile counts cost nothing; and the
 * default model reads exactly as llama.cpp's own Python reader reads it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "default_model.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------- */

static char tmp_dir[1024];

/* tmp_dir/name (two at a time). */
static const char *tmp_file(const char *name)
{
    static char paths[2][1200];
    static int next;
    char *path = paths[next++ % 2];
    snprintf(path, sizeof paths[0], "%s/%.100s", tmp_dir, name);
    return path;
}

static void make_tmp_dir(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tests/tmp-gguf-XXXXXX", test_builddir());
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp %s: %s", tmp_dir, strerror(errno));
}

static void remove_tmp_dir(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    cr_assert_eq(system(cmd), 0);
}

/* Reads a whole file; the caller frees. */
static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size ? (size_t)size : 1);
    cr_assert_eq(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return data;
}

static bool str_eq(tsr_gguf_str s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.data, text, s.len) == 0;
}

/* ---- the corpus of malformed files ----------------------------------------- */

typedef tsr_status (*open_fn)(const char *path, tsr_gguf **out, tsr_error *err);

static tsr_status code_named(const char *name)
{
    if (strcmp(name, "ok") == 0)
        return TSR_OK;
    if (strcmp(name, "unsupported") == 0)
        return TSR_ERR_UNSUPPORTED;
    cr_assert_str_eq(name, "format", "EXPECTED.txt: unknown code %s", name);
    return TSR_ERR_FORMAT;
}

/* Opens path and checks the answer: code, and a message that starts with
 * the name the file was opened under and holds piece. */
static void check_answer(const char *how, tsr_status status, tsr_gguf *g, const tsr_error *err,
                         const char *shown_as, tsr_status want, const char *piece)
{
    cr_assert_eq(status, want, "%s %s: got %s (%s), want %s", how, shown_as,
                 tsr_status_name(status), status ? err->message : "", tsr_status_name(want));
    if (want == TSR_OK) {
        cr_assert_not_null(g);
        tsr_gguf_close(g);
        return;
    }
    cr_assert_null(g);
    size_t n = strlen(shown_as);
    cr_assert(strncmp(err->message, shown_as, n) == 0 && strncmp(err->message + n, ": ", 2) == 0,
              "%s: the message does not start with the file's name: %s", how, err->message);
    cr_assert(strstr(err->message, piece), "%s %s: message\n  %s\nlacks\n  %s", how, shown_as,
              err->message, piece);
}

/* The corpus folder, and a file in it (test_path's buffers are reused). */
static const char *corpus_dir(void)
{
    static char dir[2048];
    snprintf(dir, sizeof dir, "%s/tests/data/gguf-corrupt", test_srcdir());
    return dir;
}

static const char *corpus_file(const char *name)
{
    static char path[2200];
    snprintf(path, sizeof path, "%s/%.100s", corpus_dir(), name);
    return path;
}

Test(gguf, corpus_files_are_refused_naming_field_and_offset)
{
    const char *dir = corpus_dir();
    FILE *f = fopen(corpus_file("EXPECTED.txt"), "r");
    cr_assert_not_null(f, "no %s/EXPECTED.txt", dir);
    char line[1024];
    int n_files = 0, n_refused = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#')
            continue;
        char *name = strtok(line, "\t"), *code = strtok(NULL, "\t"),
             *headers_code = strtok(NULL, "\t"), *piece = strtok(NULL, "");
        cr_assert(name && code && headers_code, "EXPECTED.txt: bad line");
        piece = piece ? piece : "";
        const char *path = corpus_file(name);
        tsr_status want = code_named(code), want_headers = code_named(headers_code);
        n_files++;
        n_refused += want != TSR_OK;

        tsr_gguf *g = NULL;
        tsr_error err = {0};
        tsr_status status = tsr_gguf_open(path, &g, &err);
        check_answer("tsr_gguf_open", status, g, &err, path, want, piece);

        size_t n;
        uint8_t *data = read_file(path, &n);
        status = tsr_gguf_open_memory(data, n, name, &g, &err);
        check_answer("tsr_gguf_open_memory", status, g, &err, name, want, piece);
        free(data);

        status = tsr_gguf_open_headers(path, &g, &err);
        check_answer("tsr_gguf_open_headers", status, g, &err, path, want_headers, piece);
    }
    fclose(f);
    cr_assert_geq(n_refused, 30, "only %d malformed files", n_refused);
    cr_assert_eq(n_files, n_refused + 1, "valid.gguf is the one good file");
}

Test(gguf, corpus_has_an_expectation_for_every_file)
{
    const char *dir = corpus_dir();
    size_t n;
    uint8_t *text = read_file(corpus_file("EXPECTED.txt"), &n);
    char *expected = malloc(n + 2); /* "\n" + text + NUL: every name follows a newline */
    expected[0] = '\n';
    memcpy(expected + 1, text, n);
    expected[n + 1] = '\0';
    free(text);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n_gguf = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        n_gguf++;
        char needle[300];
        snprintf(needle, sizeof needle, "\n%s\t", e->d_name);
        cr_assert(strstr(expected, needle), "%s has no line in EXPECTED.txt", e->d_name);
    }
    closedir(d);
    free(expected);
    cr_assert_geq(n_gguf, 31);
}

/* ---- good files: every value type, round trip -------------------------- */

static const uint16_t arr_u16[3] = {1, 65535, 7};
static const int64_t arr_i64[3] = {INT64_MIN, -1, INT64_MAX};
static const float arr_f32[3] = {0.5f, -2.0f, 1e-30f};
static const double arr_f64[2] = {3.141592653589793, -1e300};
static const uint8_t arr_bool[3] = {1, 0, 1};
static const char *const arr_str[3] = {"alpha", "", "gamma \xc3\xa9"};
static const float tensor_f32[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static uint8_t tensor_q8_0[2 * 2 * 34]; /* 64 x 2 q8_0 */
static uint8_t tensor_q4_k[2 * 144];    /* 256 x 1 x 1 x 2 q4_k */

static gguf_writer *every_type_file(uint32_t version, uint32_t alignment)
{
    for (size_t i = 0; i < sizeof tensor_q8_0; i++)
        tensor_q8_0[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof tensor_q4_k; i++)
        tensor_q4_k[i] = (uint8_t)(i * 13 + 5);
    gguf_writer *w = gguf_writer_new(version);
    if (alignment != 32) {
        gguf_writer_set_alignment(w, alignment);
        gguf_writer_kv_u32(w, "general.alignment", alignment);
    }
    gguf_writer_kv_u8(w, "t.u8", 200);
    gguf_writer_kv_i8(w, "t.i8", -100);
    gguf_writer_kv_u16(w, "t.u16", 60000);
    gguf_writer_kv_i16(w, "t.i16", -30000);
    gguf_writer_kv_u32(w, "t.u32", 4000000000u);
    gguf_writer_kv_i32(w, "t.i32", -2000000000);
    gguf_writer_kv_f32(w, "t.f32", 0.25f);
    gguf_writer_kv_bool(w, "t.bool", true);
    gguf_writer_kv_str(w, "t.str", "h\xc3\xa9llo");
    gguf_writer_kv_u64(w, "t.u64", ((uint64_t)1 << 63) + 5);
    gguf_writer_kv_i64(w, "t.i64", -((int64_t)1 << 62));
    gguf_writer_kv_f64(w, "t.f64", 1e300);
    gguf_writer_kv_str(w, "t.empty_str", "");
    gguf_writer_kv_array(w, "t.arr_u16", TSR_GGUF_UINT16, 3, arr_u16);
    gguf_writer_kv_array(w, "t.arr_i64", TSR_GGUF_INT64, 3, arr_i64);
    gguf_writer_kv_array(w, "t.arr_f32", TSR_GGUF_FLOAT32, 3, arr_f32);
    gguf_writer_kv_array(w, "t.arr_f64", TSR_GGUF_FLOAT64, 2, arr_f64);
    gguf_writer_kv_array(w, "t.arr_bool", TSR_GGUF_BOOL, 3, arr_bool);
    gguf_writer_kv_array(w, "t.arr_empty", TSR_GGUF_UINT32, 0, NULL);
    gguf_writer_kv_str_array(w, "t.arr_str", 3, arr_str);
    /* [[1, 2] (int8), ["x", "yy"], [[true]]] */
    gguf_writer_key(w, "t.nested", TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, TSR_GGUF_ARRAY, 3);
    gguf_writer_array_head(w, TSR_GGUF_INT8, 2);
    gguf_writer_raw_u8(w, 1);
    gguf_writer_raw_u8(w, 2);
    gguf_writer_array_head(w, TSR_GGUF_STRING, 2);
    gguf_writer_raw_str(w, "x");
    gguf_writer_raw_str(w, "yy");
    gguf_writer_array_head(w, TSR_GGUF_ARRAY, 1);
    gguf_writer_array_head(w, TSR_GGUF_BOOL, 1);
    gguf_writer_raw_u8(w, 1);

    gguf_writer_tensor(w, "a.f32", 0, 2, (uint64_t[]){4, 3}, tensor_f32);
    gguf_writer_tensor(w, "b.q8_0", 8, 2, (uint64_t[]){64, 2}, tensor_q8_0);
    gguf_writer_tensor(w, "c.q4_k", 12, 4, (uint64_t[]){256, 1, 1, 2}, tensor_q4_k);
    return w;
}

static void check_every_type(const tsr_gguf *g, uint32_t version, uint32_t alignment,
                             bool with_data)
{
    cr_assert_eq(tsr_gguf_version(g), version);
    cr_assert_eq(tsr_gguf_alignment(g), alignment);
    cr_assert_eq(tsr_gguf_data_offset(g) % alignment, 0);
    cr_assert_eq(tsr_gguf_key_count(g), 21 + (alignment != 32));

    uint64_t u64;
    int64_t i64;
    uint32_t u32;
    double f64;
    float f32;
    bool b;
    tsr_gguf_str s;
    cr_assert(tsr_gguf_get_u64(g, "t.u8", &u64) && u64 == 200);
    cr_assert(tsr_gguf_get_i64(g, "t.i8", &i64) && i64 == -100);
    cr_assert(tsr_gguf_get_u32(g, "t.u16", &u32) && u32 == 60000);
    cr_assert(tsr_gguf_get_i64(g, "t.i16", &i64) && i64 == -30000);
    cr_assert(tsr_gguf_get_u32(g, "t.u32", &u32) && u32 == 4000000000u);
    cr_assert(tsr_gguf_get_i64(g, "t.i32", &i64) && i64 == -2000000000);
    cr_assert(tsr_gguf_get_f32(g, "t.f32", &f32) && f32 == 0.25f);
    cr_assert(tsr_gguf_get_bool(g, "t.bool", &b) && b);
    cr_assert(tsr_gguf_get_str(g, "t.str", &s) && str_eq(s, "h\xc3\xa9llo"));
    cr_assert(tsr_gguf_get_u64(g, "t.u64", &u64) && u64 == ((uint64_t)1 << 63) + 5);
    cr_assert(tsr_gguf_get_i64(g, "t.i64", &i64) && i64 == -((int64_t)1 << 62));
    cr_assert(tsr_gguf_get_f64(g, "t.f64", &f64) && f64 == 1e300);
    cr_assert(tsr_gguf_get_str(g, "t.empty_str", &s) && s.len == 0);

    int64_t k = tsr_gguf_find_key(g, "t.u16");
    cr_assert_geq(k, 0);
    cr_assert(str_eq(tsr_gguf_key_name(g, k), "t.u16"));
    cr_assert_eq(tsr_gguf_key_type(g, k), TSR_GGUF_UINT16);
    cr_assert_eq(tsr_gguf_find_key(g, "t.u1"), -1);
    cr_assert_eq(tsr_gguf_find_key(g, "t.u16x"), -1);

    tsr_gguf_type type;
    uint64_t count;
    const void *data;
    cr_assert(tsr_gguf_get_array(g, "t.arr_u16", &type, &count, &data));
    cr_assert(type == TSR_GGUF_UINT16 && count == 3 && memcmp(data, arr_u16, sizeof arr_u16) == 0);
    cr_assert(tsr_gguf_get_array(g, "t.arr_i64", &type, &count, &data));
    cr_assert(type == TSR_GGUF_INT64 && count == 3 && memcmp(data, arr_i64, sizeof arr_i64) == 0);
    cr_assert(tsr_gguf_get_array(g, "t.arr_f32", &type, &count, &data));
    cr_assert(type == TSR_GGUF_FLOAT32 && memcmp(data, arr_f32, sizeof arr_f32) == 0);
    cr_assert(tsr_gguf_get_array(g, "t.arr_f64", &type, &count, &data));
    cr_assert(type == TSR_GGUF_FLOAT64 && count == 2 && memcmp(data, arr_f64, sizeof arr_f64) == 0);
    cr_assert(tsr_gguf_get_array(g, "t.arr_bool", &type, &count, &data));
    cr_assert(type == TSR_GGUF_BOOL && memcmp(data, arr_bool, 3) == 0);
    cr_assert(tsr_gguf_get_array(g, "t.arr_empty", &type, &count, &data));
    cr_assert(type == TSR_GGUF_UINT32 && count == 0);
    cr_assert(tsr_gguf_get_array(g, "t.arr_str", &type, &count, &data));
    cr_assert(type == TSR_GGUF_STRING && count == 3 && data == NULL);
    for (uint64_t i = 0; i < 3; i++)
        cr_assert(tsr_gguf_array_str(g, "t.arr_str", i, &s) && str_eq(s, arr_str[i]),
                  "element %" PRIu64, i);
    cr_assert_not(tsr_gguf_array_str(g, "t.arr_str", 3, &s));
    cr_assert_not(tsr_gguf_array_str(g, "t.arr_u16", 0, &s));

    tsr_gguf_array nested, inner, innermost;
    cr_assert(tsr_gguf_find_array(g, "t.nested", &nested));
    cr_assert(nested.elem_type == TSR_GGUF_ARRAY && nested.count == 3 && nested.data == NULL);
    cr_assert(tsr_gguf_array_elem_array(&nested, 0, &inner));
    cr_assert(inner.elem_type == TSR_GGUF_INT8 && inner.count == 2);
    cr_assert(((const int8_t *)inner.data)[0] == 1 && ((const int8_t *)inner.data)[1] == 2);
    cr_assert(tsr_gguf_array_elem_array(&nested, 1, &inner));
    cr_assert(tsr_gguf_array_elem_str(&inner, 1, &s) && str_eq(s, "yy"));
    cr_assert(tsr_gguf_array_elem_array(&nested, 2, &inner));
    cr_assert(tsr_gguf_array_elem_array(&inner, 0, &innermost));
    cr_assert(innermost.elem_type == TSR_GGUF_BOOL && innermost.count == 1);
    cr_assert_eq(*(const uint8_t *)innermost.data, 1);
    cr_assert_not(tsr_gguf_array_elem_array(&nested, 3, &inner));
    cr_assert_not(tsr_gguf_array_elem_str(&nested, 0, &s));

    cr_assert_eq(tsr_gguf_tensor_count(g), 3);
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(g, "b.q8_0");
    cr_assert_not_null(t);
    cr_assert_eq(t, tsr_gguf_tensor_at(g, 1));
    cr_assert_str_eq(t->name, "b.q8_0");
    cr_assert(t->n_dims == 2 && t->dims[0] == 64 && t->dims[1] == 2 && t->dims[2] == 1);
    cr_assert(t->type == 8 && t->n_elems == 128 && t->n_bytes == sizeof tensor_q8_0);
    cr_assert_eq(t->offset % alignment, 0);
    cr_assert_eq(t->file_offset, tsr_gguf_data_offset(g) + t->offset);
    t = tsr_gguf_find_tensor(g, "c.q4_k");
    cr_assert(t->n_dims == 4 && t->dims[3] == 2 && t->n_elems == 512 && t->n_bytes == 288);
    cr_assert_null(tsr_gguf_find_tensor(g, "c.q4"));
    cr_assert_null(tsr_gguf_tensor_at(g, 3));
    for (uint64_t i = 0; i < 3; i++) {
        t = tsr_gguf_tensor_at(g, i);
        if (!with_data) {
            cr_assert_null(t->data);
            continue;
        }
        const void *want = i == 0 ? (const void *)tensor_f32
                           : i == 1 ? (const void *)tensor_q8_0 : (const void *)tensor_q4_k;
        cr_assert(memcmp(t->data, want, t->n_bytes) == 0, "tensor %s data", t->name);
    }
}

static void round_trip(uint32_t version, uint32_t alignment)
{
    gguf_writer *w = every_type_file(version, alignment);
    uint8_t *data;
    size_t n;
    gguf_writer_to_memory(w, &data, &n);
    cr_assert_eq(n, gguf_writer_file_size(w));

    tsr_gguf *g;
    tsr_error err = {0};
    cr_assert_eq(tsr_gguf_open_memory(data, n, "every.gguf", &g, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_gguf_data_offset(g), gguf_writer_data_offset(w));
    cr_assert_eq(tsr_gguf_file_size(g), n);
    cr_assert_str_eq(tsr_gguf_path(g), "every.gguf");
    check_every_type(g, version, alignment, true);
    tsr_gguf_close(g);

    make_tmp_dir();
    const char *path = tmp_file("every.gguf");
    cr_assert_eq(gguf_writer_write_file(w, path, false), 0);
    cr_assert_eq(tsr_gguf_open(path, &g, &err), TSR_OK, "%s", err.message);
    check_every_type(g, version, alignment, true);
    tsr_gguf_close(g);
    cr_assert_eq(tsr_gguf_open_headers(path, &g, &err), TSR_OK, "%s", err.message);
    check_every_type(g, version, alignment, false);
    tsr_gguf_close(g);
    remove_tmp_dir();
    gguf_writer_free(w);
    free(data);
}

Test(gguf, version_3_with_every_value_type_reads_back) { round_trip(3, 32); }
Test(gguf, version_2_with_every_value_type_and_alignment_64_reads_back) { round_trip(2, 64); }
Test(gguf, alignment_1_reads_back) { round_trip(3, 1); }

Test(gguf, getters_convert_only_what_fits)
{
    gguf_writer *w = every_type_file(3, 32);
    uint8_t *data;
    size_t n;
    gguf_writer_to_memory(w, &data, &n);
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_memory(data, n, NULL, &g, &err), TSR_OK, "%s", err.message);
    uint64_t u64 = 0;
    uint32_t u32 = 0;
    int64_t i64 = 0;
    double f64 = 0;
    bool b;
    tsr_gguf_str s;
    cr_assert_not(tsr_gguf_get_u64(g, "t.i8", &u64), "negative is not a u64");
    cr_assert_not(tsr_gguf_get_u32(g, "t.u64", &u32), "2^63 is not a u32");
    cr_assert_not(tsr_gguf_get_i64(g, "t.u64", &i64), "2^63 + 5 is not an i64");
    cr_assert_not(tsr_gguf_get_u64(g, "t.f32", &u64), "a float is not an integer");
    cr_assert_not(tsr_gguf_get_u64(g, "t.str", &u64));
    cr_assert_not(tsr_gguf_get_bool(g, "t.u8", &b));
    cr_assert_not(tsr_gguf_get_str(g, "t.u8", &s));
    cr_assert_not(tsr_gguf_get_u64(g, "no.such.key", &u64));
    cr_assert_not(tsr_gguf_get_u64(g, "t.arr_u16", &u64));
    cr_assert(tsr_gguf_get_f64(g, "t.u32", &f64) && f64 == 4e9);
    cr_assert(tsr_gguf_get_f64(g, "t.i64", &f64) && f64 == -0x1p62);
    cr_assert(tsr_gguf_get_u64(g, "t.i16", &u64) == false);
    cr_assert(tsr_gguf_get_i64(g, "t.u32", &i64) && i64 == 4000000000);
    cr_assert_eq(tsr_gguf_key_type(g, 1000), tsr_gguf_key_type(g, -1));
    cr_assert_str_eq(tsr_gguf_type_name(tsr_gguf_key_type(g, 1000)), "unknown");
    cr_assert_null(tsr_gguf_key_name(g, 1000).data);
    cr_assert_str_eq(tsr_gguf_type_name(TSR_GGUF_FLOAT64), "float64");
    cr_assert_eq(tsr_gguf_key_offset(g, 0), 24);
    tsr_gguf_close(g);
    free(data);
    gguf_writer_free(w);
}

/* ---- sparse and headers-only files, limits ---------------------------- */

/* A 70B-sized tensor table in miniature: one 8192 x 128256 f16 tensor
 * (2 GiB) whose data is a hole. */
static gguf_writer *sparse_file(void)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_kv_str(w, "general.architecture", "llama");
    gguf_writer_tensor(w, "token_embd.weight", 1, 2, (uint64_t[]){8192, 128256}, NULL);
    gguf_writer_tensor(w, "output_norm.weight", 0, 1, (uint64_t[]){8192}, NULL);
    return w;
}

Test(gguf, sparse_file_opens_headers_only_without_reading_the_hole)
{
    make_tmp_dir();
    gguf_writer *w = sparse_file();
    const char *path = tmp_file("sparse.gguf");
    cr_assert_eq(gguf_writer_write_file(w, path, true), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_gt(st.st_size, (off_t)2000000000);
    cr_assert_lt((uint64_t)st.st_blocks * 512, 1 << 20, "the data is a hole");
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_headers(path, &g, &err), TSR_OK, "%s", err.message);
    const tsr_gguf_tensor *t = tsr_gguf_find_tensor(g, "token_embd.weight");
    cr_assert(t && t->n_bytes == (uint64_t)8192 * 128256 * 2 && t->data == NULL);
    cr_assert_eq(tsr_gguf_file_size(g), (uint64_t)st.st_size);
    tsr_gguf_close(g);
    cr_assert_eq(tsr_gguf_open(path, &g, &err), TSR_OK, "%s", err.message);
    cr_assert_not_null(tsr_gguf_tensor_at(g, 1)->data);
    tsr_gguf_close(g);
    gguf_writer_free(w);
    remove_tmp_dir();
}

Test(gguf, headers_only_file_plans_but_does_not_open)
{
    make_tmp_dir();
    gguf_writer *w = sparse_file();
    const char *path = tmp_file("headers.gguf");
    cr_assert_eq(gguf_writer_write_file(w, path, true), 0);
    /* cut right after the tensor infos, before the padding */
    cr_assert_eq(truncate(path, (off_t)gguf_writer_tensor_info_at(w, 2)), 0);
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_headers(path, &g, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_gguf_tensor_count(g), 2);
    cr_assert_eq(tsr_gguf_data_offset(g), gguf_writer_data_offset(w));
    tsr_gguf_close(g);
    cr_assert_eq(tsr_gguf_open(path, &g, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "tensor 0 (token_embd.weight): data at byte") &&
                  strstr(err.message, "past the end of the"),
              "%s", err.message);
    gguf_writer_free(w);
    remove_tmp_dir();
}

Test(gguf, hostile_count_in_a_huge_sparse_file_is_refused_at_once)
{
    make_tmp_dir();
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_key(w, "tokenizer.ggml.tokens", TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, TSR_GGUF_STRING, (uint64_t)1 << 33);
    const char *path = tmp_file("hostile.gguf");
    cr_assert_eq(gguf_writer_write_file(w, path, true), 0);
    cr_assert_eq(truncate(path, (off_t)64 << 30), 0); /* 64 GiB of zeros */
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_headers(path, &g, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "array count 8589934592 at byte 61 cannot fit"), "%s",
              err.message);
    cr_assert(strstr(err.message, "134217659 bytes left"), "%s", err.message);
    gguf_writer_free(w);
    remove_tmp_dir();
}

Test(gguf, headers_over_128_mib_are_refused)
{
    make_tmp_dir();
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_key(w, "general.name", TSR_GGUF_STRING);
    gguf_writer_raw_u64(w, (uint64_t)200 << 20);
    const char *path = tmp_file("big_header.gguf");
    cr_assert_eq(gguf_writer_write_file(w, path, true), 0);
    cr_assert_eq(truncate(path, (off_t)300 << 20), 0);
    open_fn opens[] = {tsr_gguf_open, tsr_gguf_open_headers};
    for (int i = 0; i < 2; i++) {
        tsr_gguf *g;
        tsr_error err;
        cr_assert_eq(opens[i](path, &g, &err), TSR_ERR_FORMAT);
        cr_assert(strstr(err.message, "key 0 (general.name): string at byte 56 takes the headers"
                                      " past 128 MiB"), "%s", err.message);
    }
    gguf_writer_free(w);
    remove_tmp_dir();
}

Test(gguf, more_nested_arrays_than_the_limit_are_refused)
{
    enum { N = (1 << 20) + 1 };
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_key(w, "general.nested", TSR_GGUF_ARRAY);
    gguf_writer_array_head(w, TSR_GGUF_ARRAY, N);
    for (int i = 0; i < N; i++)
        gguf_writer_array_head(w, TSR_GGUF_UINT8, 0);
    uint8_t *data;
    size_t n;
    gguf_writer_to_memory(w, &data, &n);
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_memory(data, n, "bomb.gguf", &g, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "array count 1048577 at byte 54 takes the file past 1048576"
                                  " nested arrays"), "%s", err.message);
    free(data);
    gguf_writer_free(w);
}

Test(gguf, names_with_nul_or_over_the_limit_are_refused)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_raw_u64(w, 3);
    gguf_writer_raw_bytes(w, "a\0b", 3);
    gguf_writer_raw_u32(w, TSR_GGUF_UINT8);
    gguf_writer_raw_u8(w, 1);
    gguf_writer_set_counts(w, 0, 1);
    uint8_t *data;
    size_t n;
    gguf_writer_to_memory(w, &data, &n);
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open_memory(data, n, "nul.gguf", &g, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "nul.gguf: key 0: key at byte 32 holds a NUL byte"), "%s",
              err.message);
    free(data);
    gguf_writer_free(w);

    char long_name[1026];
    memset(long_name, 'x', 1025);
    long_name[1025] = '\0';
    w = gguf_writer_new(3);
    gguf_writer_tensor(w, long_name, 0, 1, (uint64_t[]){8}, NULL);
    gguf_writer_to_memory(w, &data, &n);
    cr_assert_eq(tsr_gguf_open_memory(data, n, "long.gguf", &g, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "long.gguf: tensor 0: name length 1025 at byte 24 is over the"
                                  " 1024-byte limit"), "%s", err.message);
    free(data);
    gguf_writer_free(w);
}

Test(gguf, missing_file_and_folder_are_named)
{
    tsr_gguf *g = (tsr_gguf *)1;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open("/nonexistent/model.gguf", &g, &err), TSR_ERR_NOT_FOUND);
    cr_assert_null(g);
    cr_assert(strstr(err.message, "/nonexistent/model.gguf: cannot open"), "%s", err.message);
    cr_assert_eq(tsr_gguf_open_headers(test_srcdir(), &g, &err), TSR_ERR_IO);
    cr_assert(strstr(err.message, "not a regular file"), "%s", err.message);
    cr_assert_eq(tsr_gguf_open_memory(NULL, 0, "nothing", &g, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "nothing: header: magic at byte 0 needs 4 bytes"), "%s",
              err.message);
    tsr_gguf_close(NULL);
}

/* ---- the default model, against llama.cpp's own reader --------------------- */

/* As tests/reference/gguf_dump.py quotes: printable ASCII but " and \ as
 * is, every other byte as \xNN. */
static void print_quoted(FILE *out, const char *s, uint64_t len)
{
    fputc('"', out);
    for (uint64_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
    fputc('"', out);
}

/* One packed element of a numeric or bool array. */
static void print_element(FILE *out, tsr_gguf_type type, const uint8_t *p)
{
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64;
    } v;
    static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    memcpy(&v, p, sizes[type]);
    switch (type) {
    case TSR_GGUF_UINT8: fprintf(out, "%u", v.u8); break;
    case TSR_GGUF_INT8: fprintf(out, "%d", v.i8); break;
    case TSR_GGUF_UINT16: fprintf(out, "%u", v.u16); break;
    case TSR_GGUF_INT16: fprintf(out, "%d", v.i16); break;
    case TSR_GGUF_UINT32: fprintf(out, "%" PRIu32, v.u32); break;
    case TSR_GGUF_INT32: fprintf(out, "%" PRId32, v.i32); break;
    case TSR_GGUF_UINT64: fprintf(out, "%" PRIu64, v.u64); break;
    case TSR_GGUF_INT64: fprintf(out, "%" PRId64, v.i64); break;
    case TSR_GGUF_FLOAT32: fprintf(out, "%.9g", (double)v.f32); break;
    case TSR_GGUF_FLOAT64: fprintf(out, "%.17g", v.f64); break;
    case TSR_GGUF_BOOL: fputs(v.u8 ? "true" : "false", out); break;
    default: cr_assert_fail("not a packed type: %d", type);
    }
}

static void print_scalar(FILE *out, const tsr_gguf *g, const char *key, tsr_gguf_type type)
{
    uint64_t u64;
    int64_t i64;
    double f64;
    bool b;
    tsr_gguf_str s;
    switch (type) {
    case TSR_GGUF_STRING:
        cr_assert(tsr_gguf_get_str(g, key, &s));
        print_quoted(out, s.data, s.len);
        break;
    case TSR_GGUF_BOOL:
        cr_assert(tsr_gguf_get_bool(g, key, &b));
        fputs(b ? "true" : "false", out);
        break;
    case TSR_GGUF_FLOAT32:
    case TSR_GGUF_FLOAT64:
        cr_assert(tsr_gguf_get_f64(g, key, &f64));
        fprintf(out, type == TSR_GGUF_FLOAT32 ? "%.9g" : "%.17g", f64);
        break;
    case TSR_GGUF_UINT8: case TSR_GGUF_UINT16: case TSR_GGUF_UINT32: case TSR_GGUF_UINT64:
        cr_assert(tsr_gguf_get_u64(g, key, &u64));
        fprintf(out, "%" PRIu64, u64);
        break;
    default:
        cr_assert(tsr_gguf_get_i64(g, key, &i64));
        fprintf(out, "%" PRId64, i64);
    }
}

/* The dump tests/reference/gguf_dump.py writes, from tessera's reader. */
static char *dump(const tsr_gguf *g)
{
    char *text;
    size_t n;
    FILE *out = open_memstream(&text, &n);
    fprintf(out, "version %" PRIu32 "\ntensor_count %" PRIu64 "\nkv_count %" PRId64
            "\nalignment %" PRIu32 "\ndata_offset %" PRIu64 "\n", tsr_gguf_version(g),
            tsr_gguf_tensor_count(g), tsr_gguf_key_count(g), tsr_gguf_alignment(g),
            tsr_gguf_data_offset(g));
    for (int64_t k = 0; k < tsr_gguf_key_count(g); k++) {
        tsr_gguf_str name = tsr_gguf_key_name(g, k);
        char key[1024];
        snprintf(key, sizeof key, "%.*s", (int)name.len, name.data);
        tsr_gguf_type type = tsr_gguf_key_type(g, k);
        fprintf(out, "key %" PRIu64 " %s ", tsr_gguf_key_offset(g, k), key);
        if (type != TSR_GGUF_ARRAY) {
            fprintf(out, "%s ", tsr_gguf_type_name(type));
            print_scalar(out, g, key, type);
            fputc('\n', out);
            continue;
        }
        tsr_gguf_array a;
        cr_assert(tsr_gguf_key_array(g, k, &a));
        fprintf(out, "array[%s] %" PRIu64 " [", tsr_gguf_type_name(a.elem_type), a.count);
        static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        for (uint64_t i = 0; i < a.count && i < 8; i++) {
            if (i)
                fputs(", ", out);
            tsr_gguf_str s;
            if (a.elem_type == TSR_GGUF_STRING) {
                cr_assert(tsr_gguf_array_elem_str(&a, i, &s));
                print_quoted(out, s.data, s.len);
            } else {
                print_element(out, a.elem_type, (const uint8_t *)a.data + i * sizes[a.elem_type]);
            }
        }
        fputs("]\n", out);
    }
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(g); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(g, i);
        fprintf(out, "tensor %s %s [", t->name, tsr_ggml_type(t->type)->name);
        for (uint32_t d = 0; d < t->n_dims; d++)
            fprintf(out, "%s%" PRIu64, d ? ", " : "", t->dims[d]);
        fprintf(out, "] offset %" PRIu64 " file_offset %" PRIu64 " bytes %" PRIu64 "\n", t->offset,
                t->file_offset, t->n_bytes);
    }
    fclose(out);
    return text;
}

/* Compares text with the reference line by line, naming the first
 * difference. */
static void compare_with_reference(const char *text, const char *reference)
{
    int line = 1;
    const char *a = text, *b = reference;
    while (*a && *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        cr_assert(la == lb && memcmp(a, b, la) == 0,
                  "line %d differs:\n  tessera: %.*s\n  gguf-py: %.*s", line, (int)la, a, (int)lb, b);
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
        line++;
    }
    cr_assert(!*a && !*b, "line %d: %s", line, *a ? "tessera prints more" : "gguf-py prints more");
}

Test(gguf, default_model_reads_as_gguf_py_reads_it)
{
    const char *path = test_model_path();
    size_t n;
    char *reference = (char *)read_file(test_path(test_srcdir(), "tests/reference/smollm2-gguf.txt"), &n);
    reference = realloc(reference, n + 1);
    reference[n] = '\0';
    open_fn opens[] = {tsr_gguf_open, tsr_gguf_open_headers};
    for (int i = 0; i < 2; i++) {
        tsr_gguf *g;
        tsr_error err;
        cr_assert_eq(opens[i](path, &g, &err), TSR_OK, "%s", err.message);
        char *text = dump(g);
        compare_with_reference(text, reference);
        free(text);
        tsr_gguf_close(g);
    }
    free(reference);
}

Test(gguf, default_model_tensor_data_point_at_their_bytes)
{
    const char *path = test_model_path();
    tsr_gguf *g;
    tsr_error err;
    cr_assert_eq(tsr_gguf_open(path, &g, &err), TSR_OK, "%s", err.message);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    for (uint64_t i = 0; i < tsr_gguf_tensor_count(g); i++) {
        const tsr_gguf_tensor *t = tsr_gguf_tensor_at(g, i);
        uint8_t head[64], tail[64];
        size_t k = t->n_bytes < 64 ? (size_t)t->n_bytes : 64;
        cr_assert_eq(pread(fd, head, k, (off_t)t->file_offset), (ssize_t)k);
        cr_assert_eq(pread(fd, tail, k, (off_t)(t->file_offset + t->n_bytes - k)), (ssize_t)k);
        cr_assert(memcmp(t->data, head, k) == 0 &&
                      memcmp((const uint8_t *)t->data + t->n_bytes - k, tail, k) == 0,
                  "tensor %s", t->name);
    }
    close(fd);
    tsr_gguf_close(g);
}
