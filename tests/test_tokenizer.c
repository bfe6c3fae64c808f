/* The tokenizer against llama.cpp: the default model's vocabulary must give
 * llama.cpp's ids for every string of tests/reference/tokenizer-smollm2.json
 * (made by make_tokenizer_ref.py with llama-cpp-python), decode as llama.cpp
 * decodes, and end generations where llama.cpp does. Then the algorithms on
 * tiny hand-made vocabularies, including SentencePiece, for which the
 * expected ids follow from the algorithm's definition. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "default_model.h"
#include "testutil.h"
#include "tokenizer_internal.h"

/* ---- the default model and its reference data ------------------------------ */

static tsr_gguf *gguf;
static tsr_tokenizer *tok;
static json_t *ref;

static void open_model(void)
{
    const char *path = test_model_path();
    tsr_error err = {0};
    cr_assert_eq(tsr_gguf_open(path, &gguf, &err), TSR_OK, "%s", err.message);
    cr_assert_eq(tsr_tokenizer_open(gguf, &tok, &err), TSR_OK, "%s", err.message);
    json_error_t jerr;
    const char *data = test_path(test_srcdir(), "tests/reference/tokenizer-smollm2.json");
    ref = json_load_file(data, JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(ref, "%s:%d: %s", data, jerr.line, jerr.text);
}

static void close_model(void)
{
    json_decref(ref);
    tsr_tokenizer_close(tok);
    tsr_gguf_close(gguf);
}

/* Hex -> bytes in a malloc'd buffer (NUL-terminated for convenience). */
static char *from_hex(const char *hex, size_t *n)
{
    size_t len = strlen(hex) / 2;
    char *out = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[len] = '\0';
    *n = len;
    return out;
}

/* Encodes and compares with a JSON array of ids; prints the first difference. */
static bool same_ids(const char *text, size_t n, bool add_special, bool parse_special,
                     json_t *expected, const char *label)
{
    size_t n_expected = json_array_size(expected);
    int32_t *ids = malloc((n_expected + n + 8) * sizeof *ids);
    size_t n_ids = 0;
    tsr_error err = {0};
    tsr_status st = tsr_tokenizer_encode(tok, text, n, add_special, parse_special, ids,
                                         n_expected + n + 8, &n_ids, &err);
    bool same = st == TSR_OK && n_ids == n_expected;
    for (size_t i = 0; same && i < n_ids; i++)
        same = ids[i] == json_integer_value(json_array_get(expected, i));
    if (!same) {
        fprintf(stderr, "%s \"%.60s\": got %zu ids (", label, text, n_ids);
        for (size_t i = 0; i < n_ids && i < 12; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, " ), llama.cpp %zu (", n_expected);
        for (size_t i = 0; i < n_expected && i < 12; i++)
            fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(expected, i)));
        fprintf(stderr, " ) %s\n", st == TSR_OK ? "" : err.message);
    }
    free(ids);
    return same;
}

TestSuite(smollm2, .init = open_model, .fini = close_model);

Test(smollm2, reads_the_vocabulary_and_special_ids)
{
    cr_assert_eq(tsr_tokenizer_kind_of(tok), TSR_TOKENIZER_BPE);
    cr_assert_str_eq(tsr_tokenizer_pre(tok), "smollm");
    cr_assert_eq(tsr_tokenizer_n_tokens(tok), json_integer_value(json_object_get(ref, "n_tokens")));
    cr_assert_eq(tsr_tokenizer_bos(tok), json_integer_value(json_object_get(ref, "bos")));
    cr_assert_eq(tsr_tokenizer_eos(tok), json_integer_value(json_object_get(ref, "eos")));
    cr_assert_not(tsr_tokenizer_adds_bos(tok), "the file says add_bos_token = false");
    cr_assert_eq(tsr_tokenizer_find(tok, "<|im_start|>", 12), 1);
    cr_assert_eq(tsr_tokenizer_token_type(tok, 1), TSR_TOKEN_CONTROL);
}

Test(smollm2, gives_llama_cpp_ids_for_every_reference_string)
{
    json_t *cases = json_object_get(ref, "cases");
    size_t n_cases = json_array_size(cases), matched[4] = {0};
    static const char *const variants[4] = {"ids", "ids_special", "ids_add_special",
                                            "ids_add_special_special"};
    for (size_t c = 0; c < n_cases; c++) {
        json_t *item = json_array_get(cases, c);
        size_t n;
        char *text = from_hex(json_string_value(json_object_get(item, "hex")), &n);
        for (int v = 0; v < 4; v++)
            matched[v] += same_ids(text, n, v >= 2, v % 2 == 1, json_object_get(item, variants[v]),
                                   variants[v]);
        free(text);
    }
    fprintf(stderr, "llama.cpp agreement over %zu strings: plain %zu, parse_special %zu, "
            "add_special %zu, both %zu\n", n_cases, matched[0], matched[1], matched[2], matched[3]);
    cr_assert_gt(n_cases, 300);
    for (int v = 0; v < 4; v++)
        cr_assert_eq(matched[v], n_cases, "%s: %zu of %zu strings match llama.cpp", variants[v],
                     matched[v], n_cases);
}

/* Concatenated pieces, as llama.cpp's detokenizer gives them for this model
 * (it cleans no spaces for "smollm"). */
static char *decode(const int32_t *ids, size_t n_ids, size_t *n_out)
{
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < n_ids; i++) {
        size_t len;
        const char *piece = tsr_tokenizer_piece(tok, ids[i], &len);
        cr_assert_not_null(piece);
        while (n + len + 1 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    *n_out = n;
    return out;
}

Test(smollm2, decodes_as_llama_cpp_and_round_trips_where_it_does)
{
    json_t *cases = json_object_get(ref, "cases");
    size_t n_round_trips = 0, n_cases = json_array_size(cases);
    for (size_t c = 0; c < n_cases; c++) {
        json_t *item = json_array_get(cases, c);
        size_t n, n_expected, n_ids, n_decoded;
        char *text = from_hex(json_string_value(json_object_get(item, "hex")), &n);
        char *expected = from_hex(json_string_value(json_object_get(item, "decoded_hex")),
                                  &n_expected);
        int32_t *ids = malloc((n + 1) * sizeof *ids);
        cr_assert_eq(tsr_tokenizer_encode(tok, text, n, false, false, ids, n + 1, &n_ids, NULL),
                     TSR_OK);
        char *decoded = decode(ids, n_ids, &n_decoded);
        cr_assert(n_decoded == n_expected && memcmp(decoded, expected, n_decoded) == 0,
                  "case %zu: decode differs from llama.cpp's", c);
        if (json_is_true(json_object_get(item, "round_trips"))) {
            cr_assert(n_decoded == n && memcmp(decoded, text, n) == 0,
                      "case %zu \"%.40s\" does not round-trip", c, text);
            n_round_trips++;
        }
        free(text);
        free(expected);
        free(ids);
        free(decoded);
    }
    fprintf(stderr, "decode(encode(s)) == s for %zu of %zu strings (llama.cpp: the same %zu; "
            "the rest are invalid UTF-8)\n", n_round_trips, n_cases, n_round_trips);
    cr_assert_gt(n_round_trips, 300);
}

Test(smollm2, ends_generation_where_llama_cpp_does)
{
    json_t *eog = json_object_get(ref, "end_of_generation");
    size_t next = 0;
    for (int32_t id = 0; id < tsr_tokenizer_n_tokens(tok); id++) {
        bool expected = next < json_array_size(eog) &&
                        json_integer_value(json_array_get(eog, next)) == id;
        next += expected;
        cr_assert_eq(tsr_tokenizer_is_eog(tok, id), expected, "token %d", id);
    }
    cr_assert(tsr_tokenizer_is_eog(tok, tsr_tokenizer_find(tok, "<|im_end|>", 10)));
    cr_assert_not(tsr_tokenizer_is_eog(tok, -1));
    cr_assert_not(tsr_tokenizer_is_eog(tok, tsr_tokenizer_n_tokens(tok)));
}

Test(smollm2, encode_asks_for_a_larger_buffer_when_short)
{
    const char *text = "The quick brown fox jumps over the lazy dog.";
    int32_t ids[3];
    size_t n_needed;
    cr_assert_eq(tsr_tokenizer_encode(tok, text, strlen(text), false, false, ids, 3, &n_needed,
                                      NULL), TSR_OK);
    cr_assert_eq(n_needed, 10);
    cr_assert_eq(ids[0], 504, "the first ids are still written");
    cr_assert_eq(tsr_tokenizer_encode(tok, text, strlen(text), false, false, NULL, 0, &n_needed,
                                      NULL), TSR_OK);
    cr_assert_eq(n_needed, 10, "a NULL buffer only counts");
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3
                   : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

Test(smollm2, detokenizer_streams_whole_characters)
{
    tsr_detokenizer *detok;
    cr_assert_eq(tsr_detokenizer_open(tok, 0, &detok, NULL), TSR_OK);
    json_t *cases = json_object_get(ref, "cases");
    size_t n_split = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *item = json_array_get(cases, c);
        if (!json_is_true(json_object_get(item, "round_trips")))
            continue;
        size_t n, n_ids, n_out = 0, chunk;
        char *text = from_hex(json_string_value(json_object_get(item, "hex")), &n);
        int32_t *ids = malloc((n + 1) * sizeof *ids);
        char *out = malloc(n + 1);
        tsr_tokenizer_encode(tok, text, n, false, false, ids, n + 1, &n_ids, NULL);
        for (size_t i = 0; i < n_ids; i++) {
            const char *bytes = tsr_detokenizer_push(detok, ids[i], &chunk);
            cr_assert(valid_utf8((const unsigned char *)bytes, chunk),
                      "case %zu, token %zu: a chunk ends inside a character", c, i);
            size_t piece_bytes;
            tsr_tokenizer_piece(tok, ids[i], &piece_bytes);
            n_split += chunk != piece_bytes;
            cr_assert_leq(n_out + chunk, n);
            memcpy(out + n_out, bytes, chunk);
            n_out += chunk;
        }
        tsr_detokenizer_flush(detok, &chunk);
        cr_assert_eq(chunk, 0, "case %zu: valid text leaves nothing held", c);
        cr_assert(n_out == n && memcmp(out, text, n) == 0, "case %zu streams back its text", c);
        free(text);
        free(ids);
        free(out);
    }
    cr_assert_gt(n_split, 0, "some characters were split over tokens (emoji, CJK)");
    tsr_detokenizer_close(detok);
}

Test(smollm2, detokenizer_hides_control_tokens_unless_asked)
{
    tsr_detokenizer *plain, *special;
    cr_assert_eq(tsr_detokenizer_open(tok, 0, &plain, NULL), TSR_OK);
    cr_assert_eq(tsr_detokenizer_open(tok, TSR_DETOKENIZE_RENDER_SPECIAL, &special, NULL), TSR_OK);
    size_t n;
    tsr_detokenizer_push(plain, 2, &n);
    cr_assert_eq(n, 0);
    const char *text = tsr_detokenizer_push(special, 2, &n);
    cr_assert(n == 10 && memcmp(text, "<|im_end|>", 10) == 0);
    /* the start of a character is held, then given back at the end of the stream */
    int32_t ids[4];
    size_t n_ids;
    tsr_tokenizer_encode(tok, "\xe4\xbd\xa0", 3, false, false, ids, 4, &n_ids, NULL);
    cr_assert_gt(n_ids, 1, "\xe4\xbd\xa0 is several byte tokens");
    size_t first_piece;
    tsr_tokenizer_piece(tok, ids[0], &first_piece);
    tsr_detokenizer_push(plain, ids[0], &n);
    cr_assert_eq(n, 0, "the first byte token starts the character and is held");
    tsr_detokenizer_flush(plain, &n);
    cr_assert_eq(n, first_piece, "the end of the stream gives it back");
    tsr_detokenizer_close(plain);
    tsr_detokenizer_close(special);
}

Test(smollm2, encodes_10kb_of_english_in_milliseconds)
{
    json_t *cases = json_object_get(ref, "cases");
    json_t *item = json_array_get(cases, json_array_size(cases) - 1);
    size_t n, n_ids;
    char *text = from_hex(json_string_value(json_object_get(item, "hex")), &n);
    cr_assert_gt(n, 10000, "the last reference string is the 10 KB text");
    int32_t *ids = malloc(n * sizeof *ids);
    enum { RUNS = 20 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < RUNS; r++)
        cr_assert_eq(tsr_tokenizer_encode(tok, text, n, false, false, ids, n, &n_ids, NULL), TSR_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) /
                RUNS;
    fprintf(stderr, "encode: %zu bytes -> %zu tokens in %.3f ms\n", n, n_ids, ms);
    /* a few ms in an optimised build; sanitizers and a busy machine cost up to ~10x */
    cr_assert_lt(ms, 100.0, "%.1f ms for %zu bytes", ms, n);
    free(ids);
    free(text);
}

Test(smollm2, long_runs_do_not_exhaust_the_regex_engine)
{
    size_t n = 200000;
    char *text = malloc(n);
    memset(text, ' ', n);
    memcpy(text + n / 2, "x\n\t1", 4);
    size_t n_ids;
    cr_assert_eq(tsr_tokenizer_encode(tok, text, n, false, false, NULL, 0, &n_ids, NULL), TSR_OK);
    cr_assert_gt(n_ids, 4);
    free(text);
}

/* ---- refusals: a vocabulary that cannot work says why ----------------------- */

static const char *const tiny_tokens[] = {"a", "b", "ab", "<s>"};

static tsr_status open_tiny(tsr_tokenizer_spec *spec, tsr_error *err)
{
    tsr_tokenizer *t = NULL;
    spec->tokens = spec->tokens ? spec->tokens : tiny_tokens;
    spec->n_tokens = spec->n_tokens ? spec->n_tokens : 4;
    spec->source = "tiny.gguf";
    tsr_status st = tsr_tokenizer_open_spec(spec, &t, err);
    cr_assert_eq(t == NULL, st != TSR_OK, "a tokenizer exactly when it succeeds");
    tsr_tokenizer_close(t);
    return st;
}

Test(open, refuses_an_unknown_model_naming_it)
{
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "bert";
    tsr_error err = {0};
    cr_assert_eq(open_tiny(&spec, &err), TSR_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "tiny.gguf") && strstr(err.message, "\"bert\""), "%s",
              err.message);
}

Test(open, refuses_an_unknown_pre_tokenizer_naming_it)
{
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.pre = "nonesuch";
    tsr_error err = {0};
    cr_assert_eq(open_tiny(&spec, &err), TSR_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "tokenizer.ggml.pre \"nonesuch\""), "%s", err.message);
}

Test(open, refuses_an_id_outside_the_vocabulary)
{
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.eos = 4;
    tsr_error err = {0};
    cr_assert_eq(open_tiny(&spec, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "tokenizer.ggml.eos_token_id is 4"), "%s", err.message);
}

Test(open, refuses_a_repeated_token)
{
    const char *const repeated[] = {"a", "b", "a"};
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.tokens = repeated;
    spec.n_tokens = 3;
    tsr_error err = {0};
    cr_assert_eq(open_tiny(&spec, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "tokens[2] \"a\" repeats token 0"), "%s", err.message);
}

Test(open, refuses_add_bos_without_a_bos)
{
    tsr_tokenizer_spec spec;
    tsr_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.add_bos = 1;
    tsr_error err = {0};
    cr_assert_eq(open_tiny(&spec, &err), TSR_ERR_FORMAT);
    cr_assert(strstr(err.message, "add_bos_token is true"), "%s", err.message);
    spec.bos = 3;
    cr_assert_eq(open_tiny(&spec, &err), TSR_OK);
}
