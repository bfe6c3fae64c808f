/* Byte-level BPE (GPT-2 style): the pre-tokenizer regexes that cut text
 * into words, and the merge loop that joins each word's bytes by rank.
 *
 * Token texts and merge rules are stored with GPT-2's byte map, which shows
 * every byte as a printable character (space as Ġ, newline as Ċ). They are
 * unmapped once at load time (vocab.c), so the merge loop works on raw bytes: a
 * word's symbols start as its bytes, and the pair of adjacent symbols with
 * the lowest rank is merged until no pair has a rule. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* ---- pre-tokenizers ------------------------------------------------------ */

/* The regexes each tokenizer.ggml.pre value stands for, as the model's
 * tokenizer.json writes them (llama.cpp applies the same ones; it spells
 * (?i:'s|...) out as '[sS]|..., which reads the same for these letters). */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct pre_family {
    const char *names[10];
    const char *regexes[TSR_PRE_MAX_REGEXES];
    bool ignore_merges;
    bool add_bos;
} pre_family;

static const pre_family pre_families[] = {
    /* no pre-tokenizer named: llama.cpp's fallback */
    {{"default"}, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false},
    /* Llama 3: a whole-word token is taken as it is, and BOS is added */
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
     {RE_LLAMA3}, true, true},
    {{"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, {RE_LLAMA3}, false, false},
    {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4", "jina-es", "jina-de", "gigachat",
      "mellum"},
     {RE_GPT2}, false, false},
    /* SmolLM, StarCoder: every digit is a word of its own */
    {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
     {"\\p{N}", RE_GPT2}, false, false},
    {{"qwen2", "deepseek-r1-qwen", "stablelm2", "hunyuan", "megrez"}, {RE_QWEN2}, false, false},
    {{"falcon"}, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, false, false},
};

tsr_status tsr_bpe_setup_pre(tsr_vocab *vocab, const char *pre, int *add_bos_default,
                             tsr_error *err)
{
    const pre_family *family = NULL;
    for (size_t f = 0; f < sizeof pre_families / sizeof pre_families[0] && !family; f++)
        for (size_t i = 0; i < 10 && pre_families[f].names[i]; i++)
            if (strcmp(pre_families[f].names[i], pre) == 0)
                family = &pre_families[f];
    if (!family)
        return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "tokenizer.ggml.pre \"%s\" is not a "
                             "pre-tokenizer tessera knows (known: default, llama-bpe, gpt-2, "
                             "smollm, qwen2, falcon and their aliases)", pre);
    for (size_t i = 0; i < TSR_PRE_MAX_REGEXES && family->regexes[i]; i++) {
        int code;
        PCRE2_SIZE offset;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)family->regexes[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
        if (!re) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(code, message, sizeof message);
            return tsr_error_set(err, TSR_ERR_INTERNAL, "pre-tokenizer \"%s\": regex %zu does "
                                 "not compile at offset %zu: %s", pre, i, (size_t)offset,
                                 (const char *)message);
        }
        /* Without JIT (an unsupported CPU) matching still works, slower. */
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        vocab->regexes[vocab->n_regexes++] = re;
    }
    vocab->ignore_merges = family->ignore_merges;
    *add_bos_default = family->add_bos;
    return TSR_OK;
}

/* ---- merge rules ---------------------------------------------------------- */

static const tsr_merge *find_merge(const tsr_vocab *vocab, const char *pair, size_t left_bytes,
                                   size_t right_bytes)
{
    const tsr_byte_map *map = &vocab->merge_by_pair;
    size_t mask = map->n_slots - 1;
    size_t n = left_bytes + right_bytes;
    for (size_t i = tsr_hash_bytes(pair, n, left_bytes) & mask;; i = (i + 1) & mask) {
        uint32_t slot = map->slots[i];
        if (!slot)
            return NULL;
        const tsr_merge *m = &vocab->merges[slot - 1];
        if (m->left_bytes == left_bytes && m->right_bytes == right_bytes &&
            memcmp(vocab->merge_blob + m->offset, pair, n) == 0)
            return m;
    }
}

tsr_status tsr_bpe_add_merges(tsr_vocab *vocab, const tsr_tokenizer_spec *spec, const char *source,
                              tsr_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < spec->n_merges; i++)
        total += spec->merge_lens ? spec->merge_lens[i] : strlen(spec->merges[i]);
    if (total > UINT32_MAX || spec->n_merges > INT32_MAX)
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: tokenizer.ggml.merges: %zu rules in %zu "
                             "bytes is more than this tokenizer can hold", source,
                             spec->n_merges, total);
    vocab->merges = malloc((spec->n_merges + 1) * sizeof *vocab->merges);
    vocab->merge_blob = malloc(total + 1);
    if (!vocab->merges || !vocab->merge_blob ||
        !tsr_byte_map_init(&vocab->merge_by_pair, spec->n_merges))
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory for the %zu merge rules of %s",
                             spec->n_merges, source);
    size_t used = 0;
    for (size_t i = 0; i < spec->n_merges; i++) {
        const char *rule = spec->merges[i];
        size_t n = spec->merge_lens ? spec->merge_lens[i] : strlen(rule);
        /* "left right": the separator is the first space after the first byte */
        const char *space = n > 1 ? memchr(rule + 1, ' ', n - 1) : NULL;
        if (!space)
            continue;
        size_t left_text = (size_t)(space - rule);
        char *out = vocab->merge_blob + used;
        long left = tsr_gpt2_unmap(rule, left_text, out);
        long right = left < 0 ? -1 : tsr_gpt2_unmap(space + 1, n - left_text - 1, out + left);
        if (left <= 0 || right <= 0)
            continue; /* a rule outside the byte map can never apply */
        tsr_merge *m = &vocab->merges[vocab->n_merges];
        *m = (tsr_merge){(uint32_t)used, (uint32_t)left, (uint32_t)right, (int32_t)i};
        /* insert unless the pair is there already: the first rule wins */
        tsr_byte_map *map = &vocab->merge_by_pair;
        size_t mask = map->n_slots - 1, pair_bytes = (size_t)(left + right);
        for (size_t s = tsr_hash_bytes(out, pair_bytes, (size_t)left) & mask;; s = (s + 1) & mask) {
            if (!map->slots[s]) {
                map->slots[s] = (uint32_t)vocab->n_merges + 1;
                vocab->n_merges++;
                used += pair_bytes;
                break;
            }
            const tsr_merge *o = &vocab->merges[map->slots[s] - 1];
            if (o->left_bytes == (uint32_t)left && o->right_bytes == (uint32_t)right &&
                memcmp(vocab->merge_blob + o->offset, out, pair_bytes) == 0)
                break;
        }
    }
    return TSR_OK;
}

/* ---- the merge loop --------------------------------------------------------- */

/* Queues left and right when a rule merges them, keyed by its rank: the
 * lowest rank first, on a tie the leftmost, as llama.cpp and HF order them. */
static void try_bigram(const tsr_vocab *vocab, const char *word, const tsr_merge_symbol *symbols,
                       int32_t left, int32_t right, tsr_merge_pair *heap, size_t *n_heap)
{
    if (left < 0 || right < 0)
        return;
    const tsr_merge_symbol *l = &symbols[left], *r = &symbols[right];
    const tsr_merge *m = find_merge(vocab, word + l->start, l->n_bytes, r->n_bytes);
    if (m)
        tsr_merge_queue_push(heap, n_heap,
                             (tsr_merge_pair){m->rank, left, right, l->n_bytes, r->n_bytes});
}

static tsr_status bpe_word(const tsr_vocab *vocab, const char *word, size_t n_bytes,
                           tsr_encode_scratch *scratch, tsr_token_sink *sink)
{
    if (vocab->ignore_merges || n_bytes == 1) {
        int32_t id = tsr_vocab_lookup(vocab, word, n_bytes);
        if (id != TSR_TOKEN_NONE) {
            tsr_sink_push(sink, id);
            return TSR_OK;
        }
    }
    if (n_bytes > INT32_MAX ||
        !tsr_scratch_reserve(&scratch->symbols, &scratch->symbols_cap, n_bytes,
                             sizeof(tsr_merge_symbol)) ||
        !tsr_scratch_reserve(&scratch->heap, &scratch->heap_cap, 2 * n_bytes,
                             sizeof(tsr_merge_pair)))
        return TSR_ERR_NOMEM;
    tsr_merge_symbol *symbols = scratch->symbols;
    tsr_merge_pair *heap = scratch->heap;
    size_t n_heap = 0;
    int32_t n = (int32_t)n_bytes;
    for (int32_t i = 0; i < n; i++)
        symbols[i] = (tsr_merge_symbol){i - 1, i + 1 < n ? i + 1 : -1, (uint32_t)i, 1};
    for (int32_t i = 1; i < n; i++)
        try_bigram(vocab, word, symbols, i - 1, i, heap, &n_heap);
    /* Each merge removes one symbol and adds at most two bigrams, so the heap
     * never holds more than 2 * n_bytes entries. */
    while (n_heap > 0) {
        tsr_merge_pair b = tsr_merge_queue_pop(heap, &n_heap);
        tsr_merge_symbol *l = &symbols[b.left], *r = &symbols[b.right];
        /* stale: one side has changed since this pair was found */
        if (l->n_bytes != b.left_bytes || r->n_bytes != b.right_bytes || l->next != b.right)
            continue;
        tsr_merge_symbols(symbols, b.left, b.right);
        try_bigram(vocab, word, symbols, l->prev, b.left, heap, &n_heap);
        try_bigram(vocab, word, symbols, b.left, l->next, heap, &n_heap);
    }
    for (int32_t i = 0; i != -1; i = symbols[i].next) {
        const tsr_merge_symbol *s = &symbols[i];
        int32_t id = tsr_vocab_lookup(vocab, word + s->start, s->n_bytes);
        if (id != TSR_TOKEN_NONE) {
            tsr_sink_push(sink, id);
            continue;
        }
        /* no token for the merged text: its bytes one by one */
        for (uint32_t k = 0; k < s->n_bytes; k++) {
            int32_t byte_id = vocab->byte_tokens[(unsigned char)word[s->start + k]];
            if (byte_id != TSR_TOKEN_NONE)
                tsr_sink_push(sink, byte_id);
        }
    }
    return TSR_OK;
}

/* ---- cutting text into words ------------------------------------------------ */

/* Reads bytes as llama.cpp does (a bad byte is U+FFFD) and writes them back
 * as valid UTF-8 to out, for the merges; match gets the same bytes with
 * stand-ins where PCRE2's character classes differ from llama.cpp's: a
 * surrogate (not valid UTF-8) becomes U+FFFD, U+180E (whitespace to PCRE2,
 * not to Unicode's White_Space since 6.3) becomes U+200B; both keep their
 * length. Returns the bytes written; *stand_ins says whether match differs. */
static size_t reencode(const unsigned char *in, size_t n, char *out, char *match, bool *stand_ins)
{
    size_t w = 0;
    *stand_ins = false;
    for (size_t i = 0; i < n;) {
        unsigned char b = in[i];
        uint32_t cp = 0xfffd;
        size_t len = 1;
        if (b < 0x80) {
            cp = b;
        } else if ((b & 0xe0) == 0xc0) {
            if (i + 1 < n && (in[i + 1] & 0xc0) == 0x80)
                cp = (uint32_t)(b & 0x1f) << 6 | (in[i + 1] & 0x3f), len = 2;
        } else if ((b & 0xf0) == 0xe0) {
            if (i + 2 < n && (in[i + 1] & 0xc0) == 0x80 && (in[i + 2] & 0xc0) == 0x80)
                cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(in[i + 1] & 0x3f) << 6 |
                     (in[i + 2] & 0x3f), len = 3;
        } else if ((b & 0xf8) == 0xf0) {
            if (i + 3 < n && (in[i + 1] & 0xc0) == 0x80 && (in[i + 2] & 0xc0) == 0x80 &&
                (in[i + 3] & 0xc0) == 0x80)
                cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(in[i + 1] & 0x3f) << 12 |
                     (uint32_t)(in[i + 2] & 0x3f) << 6 | (in[i + 3] & 0x3f), len = 4;
        }
        if (cp > 0x10ffff)
            cp = 0xfffd;
        i += len;
        size_t start = w;
        if (cp < 0x80) {
            out[w++] = (char)cp;
        } else if (cp < 0x800) {
            out[w++] = (char)(0xc0 | cp >> 6);
            out[w++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[w++] = (char)(0xe0 | cp >> 12);
            out[w++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[w++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[w++] = (char)(0xf0 | cp >> 18);
            out[w++] = (char)(0x80 | (cp >> 12 & 0x3f));
            out[w++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[w++] = (char)(0x80 | (cp & 0x3f));
        }
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0x180e) {
            memcpy(match + start, cp == 0x180e ? "\xe2\x80\x8b" : "\xef\xbf\xbd", 3);
            *stand_ins = true;
        } else {
            memcpy(match + start, out + start, w - start);
        }
    }
    return w;
}

typedef struct splitter splitter;
typedef tsr_status (*word_fn)(splitter *sp, size_t start, size_t end);

struct splitter {
    const tsr_vocab *vocab;
    tsr_encode_scratch *scratch;
    const char *text;       /* re-encoded, what the merges read */
    const char *match_text; /* what the regexes read */
    word_fn on_word;
    tsr_token_sink *sink;   /* encode */
    size_t *word_ends;      /* split (tests) */
    size_t max_words, n_words;
};

/* Applies regex `level` to [start, end): the matches and the text between
 * them become pieces, each of which the next regex cuts further. */
static tsr_status split_range(splitter *sp, size_t level, size_t start, size_t end)
{
    if (level == sp->vocab->n_regexes)
        return sp->on_word(sp, start, end);
    pcre2_match_data **md = &sp->scratch->match_data[level];
    if (!*md && !(*md = pcre2_match_data_create_from_pattern(sp->vocab->regexes[level], NULL)))
        return TSR_ERR_NOMEM;
    const pcre2_code *re = sp->vocab->regexes[level];
    PCRE2_SPTR subject = (PCRE2_SPTR)(sp->match_text + start);
    size_t length = end - start, last = 0, search = 0;
    tsr_status st;
    while (search < length) {
        int rc = pcre2_match(re, subject, length, search, PCRE2_NO_UTF_CHECK, *md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its stack on the heap */
            rc = pcre2_match(re, subject, length, search, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, *md,
                             NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return TSR_ERR_INTERNAL;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(*md);
        size_t match_start = ov[0], match_end = ov[1];
        if (match_end == match_start) { /* an empty match cuts nothing */
            search = match_start + tsr_utf8_lead_len(subject[match_start]);
            continue;
        }
        if (match_start > last && (st = split_range(sp, level + 1, start + last,
                                                    start + match_start)) != TSR_OK)
            return st;
        if ((st = split_range(sp, level + 1, start + match_start, start + match_end)) != TSR_OK)
            return st;
        last = search = match_end;
    }
    if (last < length)
        return split_range(sp, level + 1, start + last, end);
    return TSR_OK;
}

static tsr_status encode_word(splitter *sp, size_t start, size_t end)
{
    return bpe_word(sp->vocab, sp->text + start, end - start, sp->scratch, sp->sink);
}

static tsr_status record_word(splitter *sp, size_t start, size_t end)
{
    (void)start;
    if (sp->n_words < sp->max_words)
        sp->word_ends[sp->n_words] = end;
    sp->n_words++;
    return TSR_OK;
}

static tsr_status run_splitter(splitter *sp, const char *text, size_t n_bytes)
{
    tsr_encode_scratch *scratch = sp->scratch;
    /* a bad byte (1) can grow into U+FFFD (3) */
    if (n_bytes > SIZE_MAX / 3 ||
        !tsr_scratch_reserve((void **)&scratch->text, &scratch->text_cap, 3 * n_bytes + 1, 1) ||
        !tsr_scratch_reserve((void **)&scratch->match_text, &scratch->match_text_cap,
                             3 * n_bytes + 1, 1))
        return TSR_ERR_NOMEM;
    bool stand_ins;
    size_t n = reencode((const unsigned char *)text, n_bytes, scratch->text, scratch->match_text,
                        &stand_ins);
    sp->text = scratch->text;
    sp->match_text = stand_ins ? scratch->match_text : scratch->text;
    return split_range(sp, 0, 0, n);
}

tsr_status tsr_bpe_encode(const tsr_vocab *vocab, const char *text, size_t n_bytes,
                          tsr_encode_scratch *scratch, tsr_token_sink *sink, tsr_error *err)
{
    splitter sp = {.vocab = vocab, .scratch = scratch, .on_word = encode_word, .sink = sink};
    tsr_status st = run_splitter(&sp, text, n_bytes);
    if (st == TSR_ERR_NOMEM)
        return tsr_error_set(err, st, "tokenizer: out of memory encoding %zu bytes", n_bytes);
    if (st != TSR_OK)
        return tsr_error_set(err, st, "tokenizer: the \"%s\" pre-tokenizer's regex failed on "
                             "%zu bytes of text", vocab->pre, n_bytes);
    return TSR_OK;
}

long tsr_bpe_split(const tsr_vocab *vocab, const char *text, size_t n_bytes, size_t *word_ends,
                   size_t max_words)
{
    tsr_encode_scratch scratch = {0};
    splitter sp = {.vocab = vocab, .scratch = &scratch, .on_word = record_word,
                   .word_ends = word_ends, .max_words = max_words};
    tsr_status st = run_splitter(&sp, text, n_bytes);
    tsr_scratch_free(&scratch);
    return st == TSR_OK ? (long)sp.n_words : -1;
}
