/* The sampler plugins against an independent implementation: llama.cpp's own
 * samplers on random logits (tests/reference/samplers/llama_cpp_cases.txt,
 * made by make_llama_cpp_cases.py next to it with llama-cpp-python). Each
 * case gives the logits, the tokens accepted before, and what llama.cpp left:
 * the same tokens must survive with the same logits (and in the same order
 * where both keep one). */
#include <stdlib.h>

#include "samplertest.h"

static tsr_registry *reg;

static void open_registry(void)
{
    reg = samplers_open_registry();
}

static void close_registry(void)
{
    tsr_registry_close(reg);
}

TestSuite(llama_cpp, .init = open_registry, .fini = close_registry);

typedef struct reference_case {
    char sampler[64];
    char settings[256];
    size_t n_logits;
    float *logits;
    size_t n_accept;
    int32_t *accept;
    bool ordered;    /* compare the order of survivors */
    bool only_changed; /* logits start at 0; expect lists those that moved */
    size_t n_expect;
    int32_t *expect_tokens;
    float *expect_logits;
} reference_case;

static void case_free(reference_case *c)
{
    free(c->logits);
    free(c->accept);
    free(c->expect_tokens);
    free(c->expect_logits);
    memset(c, 0, sizeof *c);
}

/* Reads "WORD N v1 .. vN" after the word: n values as floats or ints. */
static char *read_count(char *line, const char *word, size_t *n)
{
    size_t len = strlen(word);
    cr_assert(strncmp(line, word, len) == 0 && line[len] == ' ', "expected '%s': %.40s", word,
              line);
    char *end;
    *n = strtoul(line + len + 1, &end, 10);
    return end;
}

static bool read_case(FILE *f, reference_case *c)
{
    char *line = NULL;
    size_t cap = 0;
    memset(c, 0, sizeof *c);
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0 && line[0] == '#')
        ;
    if (got <= 0) {
        free(line);
        return false;
    }
    line[strcspn(line, "\n")] = '\0';
    cr_assert_eq(sscanf(line, "case %63s %255s", c->sampler, c->settings) >= 1, true, "%s",
                 line);

    cr_assert(getline(&line, &cap, f) > 0);
    char *at;
    if (strncmp(line, "zeros ", 6) == 0) {
        at = read_count(line, "zeros", &c->n_logits);
        c->logits = calloc(c->n_logits, sizeof *c->logits);
    } else {
        at = read_count(line, "logits", &c->n_logits);
        c->logits = calloc(c->n_logits, sizeof *c->logits);
        for (size_t i = 0; i < c->n_logits; i++)
            c->logits[i] = strtof(at, &at);
    }

    cr_assert(getline(&line, &cap, f) > 0);
    at = read_count(line, "accept", &c->n_accept);
    c->accept = calloc(c->n_accept + 1, sizeof *c->accept);
    for (size_t i = 0; i < c->n_accept; i++)
        c->accept[i] = (int32_t)strtol(at, &at, 10);

    cr_assert(getline(&line, &cap, f) > 0);
    if (strncmp(line, "changed ", 8) == 0) {
        c->only_changed = true;
        at = read_count(line, "changed", &c->n_expect);
    } else {
        size_t ordered;
        at = read_count(line, "expect", &ordered); /* the flag, then the count */
        c->ordered = ordered != 0;
        c->n_expect = strtoul(at, &at, 10);
    }
    c->expect_tokens = calloc(c->n_expect + 1, sizeof *c->expect_tokens);
    c->expect_logits = calloc(c->n_expect + 1, sizeof *c->expect_logits);
    for (size_t i = 0; i < c->n_expect; i++) {
        c->expect_tokens[i] = (int32_t)strtol(at, &at, 10);
        c->expect_logits[i] = strtof(at, &at);
    }
    free(line);
    return true;
}

static int by_token(const void *a, const void *b)
{
    const tsr_candidate *x = a, *y = b;
    return (x->token > y->token) - (x->token < y->token);
}

static bool close_enough(float ours, float theirs)
{
    return fabsf(ours - theirs) <= 2e-5f * fmaxf(1.0f, fabsf(theirs));
}

static void check_case(const reference_case *rc, int index)
{
    sampler_under_test s;
    tsr_error err = {0};
    cr_assert_eq(sut_try_open(&s, reg, rc->sampler, (int32_t)rc->n_logits, rc->settings, NULL,
                              NULL, &err),
                 TSR_OK, "case %d %s: %s", index, rc->sampler, err.message);
    if (rc->n_accept)
        sut_accept(&s, rc->accept, rc->n_accept);
    tsr_candidate *buf = calloc(rc->n_logits, sizeof *buf);
    tsr_candidates c = cands_of(buf, rc->logits, rc->n_logits);
    sut_apply(&s, &c);

    if (rc->only_changed) {
        size_t moved = 0;
        cr_assert_eq(c.size, rc->n_logits);
        for (size_t i = 0; i < c.size; i++)
            moved += c.data[i].logit != 0.0f;
        cr_assert_eq(moved, rc->n_expect, "case %d %s %s: %zu logits moved, llama.cpp %zu",
                     index, rc->sampler, rc->settings, moved, rc->n_expect);
        for (size_t i = 0; i < rc->n_expect; i++) {
            float ours = logit_of(&c, rc->expect_tokens[i]);
            cr_assert(close_enough(ours, rc->expect_logits[i]),
                      "case %d %s: token %d has %g, llama.cpp %g", index, rc->sampler,
                      rc->expect_tokens[i], ours, rc->expect_logits[i]);
        }
    } else {
        /* llama.cpp keeps masked tokens at -inf; tessera removes them. */
        size_t kept = 0;
        for (size_t i = 0; i < c.size; i++)
            if (isfinite(c.data[i].logit))
                c.data[kept++] = c.data[i];
        c.size = kept;
        cr_assert_eq(c.size, rc->n_expect, "case %d %s %s: %zu survive, llama.cpp keeps %zu",
                     index, rc->sampler, rc->settings, c.size, rc->n_expect);
        if (!rc->ordered)
            qsort(c.data, c.size, sizeof c.data[0], by_token);
        tsr_candidate *theirs = calloc(rc->n_expect + 1, sizeof *theirs);
        for (size_t i = 0; i < rc->n_expect; i++)
            theirs[i] = (tsr_candidate){rc->expect_tokens[i], rc->expect_logits[i], 0};
        if (!rc->ordered)
            qsort(theirs, rc->n_expect, sizeof theirs[0], by_token);
        for (size_t i = 0; i < c.size; i++) {
            cr_assert_eq(c.data[i].token, theirs[i].token,
                         "case %d %s %s: position %zu holds %d, llama.cpp %d", index,
                         rc->sampler, rc->settings, i, c.data[i].token, theirs[i].token);
            cr_assert(close_enough(c.data[i].logit, theirs[i].logit),
                      "case %d %s %s: token %d has %g, llama.cpp %g", index, rc->sampler,
                      rc->settings, c.data[i].token, c.data[i].logit, theirs[i].logit);
        }
        free(theirs);
    }
    free(buf);
    sut_close(&s);
}

Test(llama_cpp, samplers_leave_what_llama_cpp_leaves_on_random_logits)
{
    const char *path = test_path(test_srcdir(), "tests/reference/samplers/llama_cpp_cases.txt");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    reference_case rc;
    int n = 0;
    bool seen_dry = false, seen_sigma = false;
    while (read_case(f, &rc)) {
        check_case(&rc, ++n);
        seen_dry = seen_dry || strcmp(rc.sampler, "dry") == 0;
        seen_sigma = seen_sigma || strcmp(rc.sampler, "top_n_sigma") == 0;
        case_free(&rc);
    }
    fclose(f);
    cr_assert_geq(n, 20, "only %d cases read from %s", n, path);
    cr_assert(seen_dry && seen_sigma);
}
