/* The tokenizer: text <-> token ids, as llama.cpp does it for the same GGUF.
 *
 * Two algorithms, chosen by tokenizer.ggml.model:
 *   "gpt2"  byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen2): the text is cut
 *           into words by the pre-tokenizer regexes that tokenizer.ggml.pre
 *           names (PCRE2, UTF + UCP, JIT), each word's bytes are merged by
 *           rank (tokenizer.ggml.merges), and tokens are stored with GPT-2's
 *           byte <-> printable-character map.
 *   "llama" SentencePiece BPE (Llama 2): spaces become U+2581, characters are
 *           merged by token score, unknown characters fall back to <0xNN>
 *           byte tokens.
 * Special tokens (control and user-defined) found in the text are cut out
 * before either algorithm runs, longest first, when asked (parse_special);
 * user-defined ones always are. Invalid UTF-8 reads as U+FFFD per bad byte,
 * as llama.cpp reads it.
 *
 * A tsr_tokenizer is the model's vocabulary: it is the tsr_vocab plugins see
 * through the host table (tessera/plugin.h). It is immutable once open, so
 * the tsr_tokenizer_* functions may be called from any thread at once; a
 * tsr_detokenizer is one stream's state, used by one thread at a time.
 *
 * What llama.cpp does that this does not: per-model strip attributes of
 * special tokens (Phi-3's rstrip, some BERTs' lstrip), the clean-up of
 * spaces before punctuation that llama_detokenize applies for some BPE
 * vocabularies (a generation streams pieces uncleaned in both), and the
 * WPM, UGM and RWKV tokenizers.
 */
#ifndef TSR_CORE_TOKENIZER_H
#define TSR_CORE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "tessera/plugin.h"

typedef tsr_vocab tsr_tokenizer;

enum { TSR_TOKEN_NONE = -1 }; /* "no such token" (a model without a BOS, ...) */

typedef enum tsr_tokenizer_kind {
    TSR_TOKENIZER_BPE = 1, /* "gpt2": byte-level BPE */
    TSR_TOKENIZER_SPM = 2, /* "llama": SentencePiece BPE */
} tsr_tokenizer_kind;

/* GGUF's tokenizer.ggml.token_type values. */
typedef enum tsr_token_type {
    TSR_TOKEN_UNDEFINED = 0,
    TSR_TOKEN_NORMAL = 1,
    TSR_TOKEN_UNKNOWN = 2,
    TSR_TOKEN_CONTROL = 3,      /* <|im_start|>, <s>: parsed only with parse_special */
    TSR_TOKEN_USER_DEFINED = 4, /* always cut out of the text as a whole */
    TSR_TOKEN_UNUSED = 5,
    TSR_TOKEN_BYTE = 6,         /* <0xNN>: one raw byte */
} tsr_token_type;

/* A vocabulary given as plain arrays (unit tests, other file formats). The
 * strings are copied; lens may be NULL when the strings are NUL-terminated.
 * Call tsr_tokenizer_spec_init first: it sets every id to TSR_TOKEN_NONE and
 * every tri-state flag to -1 ("the model type's default", as llama.cpp's). */
typedef struct tsr_tokenizer_spec {
    const char *model;            /* "gpt2" or "llama" */
    const char *pre;              /* tokenizer.ggml.pre ("smollm", "llama-bpe", ...); NULL: "default" */
    size_t n_tokens;
    const char *const *tokens;    /* token texts as the file stores them (Ġ, ▁, <0x0A>) */
    const size_t *token_lens;
    const float *scores;          /* SPM merge priorities; NULL: all 0 */
    const int32_t *token_types;   /* tsr_token_type per token; NULL: all normal */
    size_t n_merges;              /* BPE: "left right" pairs, highest priority first */
    const char *const *merges;
    const size_t *merge_lens;
    int32_t bos, eos, eot, eom, unk, pad;   /* ids, or TSR_TOKEN_NONE */
    int32_t fim_pad, fim_rep, fim_sep;      /* TSR_TOKEN_NONE: found by their text */
    int add_bos, add_eos, add_space_prefix; /* 1, 0, or -1 for the default */
    const char *chat_template;    /* tokenizer.chat_template, or NULL */
    size_t chat_template_len;
    const char *source;           /* names the origin in error messages ("model.gguf") */
} tsr_tokenizer_spec;

void tsr_tokenizer_spec_init(tsr_tokenizer_spec *spec);

/* Builds a tokenizer from a model file's tokenizer.ggml.* metadata and
 * tokenizer.chat_template. Errors name the file and the key: a missing or
 * mistyped key, an unsupported model or pre-tokenizer, an id out of range. */
tsr_status tsr_tokenizer_open(const tsr_gguf *gguf, tsr_tokenizer **out, tsr_error *err);
tsr_status tsr_tokenizer_open_spec(const tsr_tokenizer_spec *spec, tsr_tokenizer **out,
                                   tsr_error *err);
void tsr_tokenizer_close(tsr_tokenizer *tok);

tsr_tokenizer_kind tsr_tokenizer_kind_of(const tsr_tokenizer *tok);
/* The pre-tokenizer's name as the file gave it ("smollm"), or "default". */
const char *tsr_tokenizer_pre(const tsr_tokenizer *tok);
int32_t tsr_tokenizer_n_tokens(const tsr_tokenizer *tok);
/* Special ids, or TSR_TOKEN_NONE. */
int32_t tsr_tokenizer_bos(const tsr_tokenizer *tok);
int32_t tsr_tokenizer_eos(const tsr_tokenizer *tok);
int32_t tsr_tokenizer_eot(const tsr_tokenizer *tok);
/* Whether encode with add_special puts a BOS first / an EOS last. */
bool tsr_tokenizer_adds_bos(const tsr_tokenizer *tok);
bool tsr_tokenizer_adds_eos(const tsr_tokenizer *tok);
/* The token's type; TSR_TOKEN_UNDEFINED for an id out of range. Tokens whose
 * text marks them as end-of-turn are CONTROL even when the file says not. */
tsr_token_type tsr_tokenizer_token_type(const tsr_tokenizer *tok, int32_t token);
/* The token's text as the file stores it (not NUL-terminated), or NULL. */
const char *tsr_tokenizer_token_text(const tsr_tokenizer *tok, int32_t token, size_t *n_bytes);
/* The id of the token whose text is exactly text, or TSR_TOKEN_NONE. */
int32_t tsr_tokenizer_find(const tsr_tokenizer *tok, const char *text, size_t n_bytes);

/* True for every token that ends a generation: EOS, EOT, EOM and the tokens
 * llama.cpp recognises by their text (<|im_end|>, <|eot_id|>, <|endoftext|>,
 * ...). Constant time; hot-path safe. */
bool tsr_tokenizer_is_eog(const tsr_tokenizer *tok, int32_t token);

/* Encodes n_bytes of text. add_special: add BOS/EOS where the model asks
 * for them. parse_special: text like "<|im_start|>" becomes its control
 * token (otherwise it is tokenized as plain text). Writes at most
 * max_tokens ids to tokens and sets *n_needed to how many the text needs:
 * when that is more than max_tokens, call again with a larger buffer.
 * Errors only for memory or a regex engine failure. */
tsr_status tsr_tokenizer_encode(const tsr_tokenizer *tok, const char *text, size_t n_bytes,
                                bool add_special, bool parse_special, int32_t *tokens,
                                size_t max_tokens, size_t *n_needed, tsr_error *err);

/* A byte range of a text. */
typedef struct tsr_text_span {
    size_t offset, n_bytes;
} tsr_text_span;

/* Encodes as tsr_tokenizer_encode with parse_special, except inside the
 * literal spans (in order, not overlapping, inside the text): no control
 * token is ever cut out of them. For text that mixes a template's markers
 * with what a user typed (a chat message's content): "<|im_end|>" typed by
 * the user stays text, the template's own becomes the control token. Text
 * across a span's edge is tokenized as one run, exactly as without spans.
 * TSR_ERR_INVALID for spans out of order or past the text. */
tsr_status tsr_tokenizer_encode_literal(const tsr_tokenizer *tok, const char *text,
                                        size_t n_bytes, bool add_special,
                                        const tsr_text_span *literal, size_t n_literal,
                                        int32_t *tokens, size_t max_tokens, size_t *n_needed,
                                        tsr_error *err);

/* The bytes a token decodes to (not NUL-terminated; may be a partial UTF-8
 * sequence), *n_bytes set; NULL for an id out of range. Control and unknown
 * tokens give their text. Points into the tokenizer. */
const char *tsr_tokenizer_piece(const tsr_tokenizer *tok, int32_t token, size_t *n_bytes);
/* The longest piece, in bytes. */
size_t tsr_tokenizer_max_piece_bytes(const tsr_tokenizer *tok);

/* tokenizer.chat_template (not NUL-terminated), or NULL when the file has none. */
const char *tsr_tokenizer_chat_template(const tsr_tokenizer *tok, size_t *n_bytes);

/* ---- streaming detokenizer --------------------------------------------
 * Turns generated tokens into text as they come, holding back a UTF-8
 * sequence that a token left incomplete until the next token completes it
 * (a CJK character or an emoji is often split over two or more byte
 * tokens), so every chunk it returns is whole characters. Bytes that can
 * never become valid UTF-8 are passed through as they are, not held. */
typedef struct tsr_detokenizer tsr_detokenizer;

enum {
    TSR_DETOKENIZE_RENDER_SPECIAL = 1u << 0, /* control tokens give their text (default: nothing) */
    TSR_DETOKENIZE_STRIP_SPACE = 1u << 1,    /* drop one leading space of the first text (SPM prompts) */
};

tsr_status tsr_detokenizer_open(const tsr_tokenizer *tok, uint32_t flags, tsr_detokenizer **out,
                                tsr_error *err);
void tsr_detokenizer_close(tsr_detokenizer *detok);
/* Adds a token; returns the text it completes (*n_bytes may be 0), valid
 * until the next call. Never allocates. An unknown id adds nothing. */
const char *tsr_detokenizer_push(tsr_detokenizer *detok, int32_t token, size_t *n_bytes);
/* Returns whatever is still held back (the end of the stream) and resets. */
const char *tsr_detokenizer_flush(tsr_detokenizer *detok, size_t *n_bytes);

#endif
