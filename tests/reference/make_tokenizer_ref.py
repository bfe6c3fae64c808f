#!/usr/bin/env python3
"""Reference data for tests/test_tokenizer.c and tests/test_chat.c.

llama.cpp (through the PyPI package llama-cpp-python, vocabulary only) tokenizes
a few hundred strings with the default model's GGUF vocabulary: English prose,
code, CJK, Arabic, Hindi, emoji sequences, whitespace runs, digits, punctuation,
contractions, URLs, special tokens inline, invalid UTF-8, and systematic
combinations of these. For each string it records the ids with and without
parse_special and with and without add_special, and what llama.cpp's own
detokenizer gives back. It also renders chat prompts with the jinja2 templates
(the file's own tokenizer.chat_template, and Meta's Llama 3 template) the way
llama-cpp-python does, so that core/text/chat.c can be checked byte for byte.

Usage (from the repository root):
    /opt/tsr-venv/bin/python tests/reference/make_tokenizer_ref.py \
        [MODEL.gguf] > tests/reference/tokenizer-smollm2.json

Strings are stored as hex (some are not valid UTF-8), with a readable copy
when they are valid UTF-8.
"""
import ctypes
import json
import os
import random
import sys

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

DEFAULT_MODEL = os.path.expanduser(
    "~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")

# Meta-Llama-3-8B-Instruct's tokenizer_config.json chat_template.
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

ENGLISH = (
    "The quick brown fox jumps over the lazy dog. It wasn't the first time; "
    "the dog had seen foxes before, and he'd learned they're mostly harmless. "
    "In 1998, researchers at Stanford measured 3.14159 kilograms of \"stuff\" "
    "(approximately) -- nobody knows why!\n\n"
)


def hand_written():
    s = []
    # English prose and sentences
    s += [
        "Hello world",
        "Hello, world!",
        " Hello world",
        "hello  world",
        "The quick brown fox jumps over the lazy dog.",
        ENGLISH,
        "Once upon a time, in a land far, far away, there lived a small robot named Tessera.",
        "I can't believe it's not butter!",
        "Mr. O'Neil's dog--a terrier--barked (loudly).",
        "E-mail: someone@example.com; phone: +1 (555) 010-9999.",
        "ALL CAPS SENTENCE WITH NUMBERS 42 AND PUNCTUATION!!!",
        "camelCaseIdentifier snake_case_identifier kebab-case-identifier",
        "Ünïcödé áccents: café, naïve, résumé, Zürich, São Paulo, Ångström.",
        "Straße, Œuvre, ǅemal, ﬁnance (ligature), ℌilbert",
        "Greek: Αλφάβητο, Cyrillic: Привет мир, Armenian: Բարեւ",
        "Hebrew: שלום עולם",
        "Thai: สวัสดีครับ",
        "Vietnamese: Tiếng Việt có dấu",
        "Combining: e\u0301 a\u0308 n\u0303 (decomposed)",
    ]
    # code
    s += [
        "def add(a, b):\n    return a + b\n",
        "for i in range(10):\n\tif i % 2 == 0:\n\t\tprint(i)\n",
        "#include <stdio.h>\n\nint main(void)\n{\n\tprintf(\"hello\\n\");\n\treturn 0;\n}\n",
        "if (x->next != NULL && *p++ == '\\0') { y <<= 2; z >>= 3; }",
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
        "const f = (x) => x ** 2; // square\n/* block */",
        "    indented four\n        indented eight\n\t\ttabbed two",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
        "<div class=\"main\"><p>Hello&nbsp;world</p></div>",
        "x=1;y=2;z=x+y",
        "$ ls -la | grep '^d' && echo \"done\" || exit 1",
        "fn main() { let v: Vec<u8> = vec![0xff; 16]; }",
    ]
    # CJK, Arabic, Hindi
    s += [
        "你好，世界！",
        "我爱自然语言处理。今天天气很好。",
        "中文English混合text",
        "こんにちは、世界。カタカナとひらがな。",
        "東京は日本の首都です。",
        "안녕하세요 세계",
        "한국어 텍스트와 English 섞기",
        "مرحبا بالعالم",
        "العربية: ١٢٣ ٤٥٦",
        "नमस्ते दुनिया",
        "हिन्दी में वाक्य। १२३",
        "Emoji in 中文 text 😀 and عربى",
    ]
    # emoji
    s += [
        "😀",
        "😀😃😄😁",
        "I love 🍕 and 🍣!",
        "👍🏽 👍🏿 👋🏻",
        "👨‍👩‍👧‍👦 family",
        "🏳️‍🌈 flag, 🇫🇷🇯🇵 flags",
        "❤️ ❤ ♥️",
        "🧑🏾‍💻 coding",
        "a😀b😀c",
        " 😀 ",
    ]
    # whitespace
    s += [
        "", " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n",
        "\r\n", "\r\n\r\n", "\r", " \n", "\n ", " \t \n ",
        "word ", "word  ", "word   ", "word\n", "word \n", "word\t\n",
        " leading", "  two leading", "trailing ", "trailing  ",
        "a b  c   d    e", "a\tb\t\tc", "a\nb\n\nc", "a \n b",
        "line one\r\nline two\r\n",
        "\u00a0non-breaking\u00a0space", "ideographic\u3000space", "em\u2003space",
        "zero\u200bwidth", "line\u2028sep", "nel\u0085char", "mongolian\u180eseparator",
        "\x0b vertical \x0c formfeed",
    ]
    # digits
    s += [
        "0", "1", "12", "123", "1234", "12345", "1234567", "1234567890123",
        "3.14159", "-2.5e10", "1,000,000", "0xFF", "2024-01-15", "12:30:45",
        "v1.2.3", "100%", "$9.99", "1st 2nd 3rd 4th", "a1b2c3", " 42 ", "x 7",
        "²³ ½ ⅓ Ⅻ", "٣ ४ ๕",
    ]
    # punctuation runs
    s += [
        "...", "!!!", "?!?!", "---", "***", "...and then", "wait...what?!",
        "((()))", "[[]]{{}}", "<<>>", "::", ";;", "@#$%^&*", "~`|\\",
        "«quotes» „German“ “curly” ‘single’", "— – - ‐", "…", "¿Qué? ¡Sí!",
    ]
    # contractions
    s += [
        "it's", "don't", "you're", "we've", "I'm", "we'll", "he'd",
        "IT'S", "DON'T", "YOU'RE", "WE'VE", "I'M", "WE'LL", "HE'D",
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'x", "''", "'",
        "rock 'n' roll", "the '90s", "'quoted'",
    ]
    # URLs
    s += [
        "https://www.example.com/path/to/page?query=1&other=two#frag",
        "http://localhost:8080/api/v1/items",
        "Visit https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct today.",
        "ftp://user:pass@host.example.org/file.tar.gz",
        "mailto:test@example.com",
    ]
    # special tokens inline
    s += [
        "<|im_start|>",
        "<|im_end|>",
        "<|endoftext|>",
        "<|im_start|>user\nHello<|im_end|>\n",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text",
        "<|im_start|><|im_end|>",
        "<|im_start|> spaced <|im_end|>",
        "<|im_start|<|im_end|>|>",
        "<|im_end",
        "<repo_name>tessera<file_sep>core/tokenizer.c",
        "<filename>main.c\n<gh_stars>10",
        "<jupyter_code>print(1)<jupyter_output>1<empty_output>",
        "<|unknown_special|>",
        "< |im_start| >",
    ]
    # code points where Unicode versions or regex engines could disagree:
    # recent letters (CJK extension H, Kawi), recent emoji, unassigned,
    # noncharacters, private use, tags, the last code point
    s += [
        "\U00031350\U00031351 text", "a \U00031350b", "x\U00011F04y kawi",
        "\U0001FAE8 shaking face", "a\u0ecey", "\U0001F6DC wireless",
        "\U000E0001 tag", "\uFFFE\uFFFF nonchars", "\U0010FFFF max",
        "\U000F0000 private use", "\u0378 unassigned", "x\u0378y",
    ]
    return s


def invalid_utf8():
    # Bytes, not str: lone continuation bytes, truncated sequences, overlongs,
    # stray lead bytes (llama.cpp reads each bad byte as U+FFFD); and control
    # bytes, NUL included.
    return [
        b"\x80",
        b"abc\xffdef",
        b"\xc3",
        b"caf\xc3",
        b"\xe4\xbd",
        b"\xe4\xbd\xa0\xe4\xbd",
        b"\xf0\x9f\x98",
        b"\xf0\x9f\x98 after",
        b"\xc0\x80",
        b"\xfe\xff",
        b"mixed \xa0\xa1 bytes",
        b"\xed\xa0\x80 surrogate",
        b"valid \xe2\x82\xac then \xe2\x82",
        b"\x00",
        b"nul\x00inside",
        b"\x01\x02\x1b[31mred\x1b[0m\x7f",
    ]


def systematic(rng):
    s = []
    words = ["hello", "World", "tok", "naïve", "中文", "😀", "42", "3.5", "it's",
             "x_y", "<b>", "ÀÉÎ", "مرحبا", "नमस्ते", "...", "\u0301e"]
    seps = ["", " ", "  ", "\t", "\n", " \n", "\n\n", "\r\n", "   ", ", "]
    # every word with every separator on both sides
    for w in words:
        for sep in seps:
            s.append(sep + w + sep)
    # digit strings of every length 1..20, plain and with a space before
    for n in range(1, 21):
        digits = "".join(str((i * 7 + 3) % 10) for i in range(n))
        s.append(digits)
        s.append(" " + digits)
        s.append("a" + digits + "b")
    # contractions x case x context
    for c in ["s", "t", "re", "ve", "m", "ll", "d"]:
        for variant in [c, c.upper(), c.capitalize()]:
            s.append("word'" + variant)
            s.append("word '" + variant + " x")
    # whitespace runs of every length before a word and at the end
    for n in range(1, 9):
        s.append(" " * n + "x")
        s.append("x" + " " * n)
        s.append("x" + " " * n + "y")
        s.append("\n" * n + "x")
        s.append("x" + "\t" * n + "y")
    # random mixed-script strings from a pool of characters
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            + list(" \t\n.,;:!?'\"()[]{}<>-_+=*/\\|@#$%^&~`")
            + list("éèêëñçøåßÆŒ")
            + list("中文字汉语日本語ひらがなカタカナ한국어")
            + list("ابتثجحخدذرزسشصضطظعغفقكلمنهوي")
            + list("अआइईउऊकखगघचछजझ्ािीुू")
            + ["😀", "👍", "🏽", "\u200d", "❤", "\ufe0f", "🇫", "🇷", "🎉", "🚀"]
            + ["\u00a0", "\u3000", "\u2003", "\u0301", "²", "½", "١", "४"])
    for _ in range(120):
        n = rng.randint(1, 40)
        s.append("".join(rng.choice(pool) for _ in range(n)))
    return s


def to_case(llm, vocab, data):
    def ids(add_special, parse_special):
        return llm.tokenize(data, add_bos=add_special, special=parse_special)

    plain = ids(False, False)
    n = len(plain)
    buf_len = 4 * len(data) + 64
    buf = ctypes.create_string_buffer(buf_len)
    arr = (llama_cpp.llama_token * max(n, 1))(*plain)
    got = llama_cpp.llama_detokenize(vocab, arr, n, buf, buf_len, False, False)
    decoded = buf.raw[:got] if got >= 0 else b""
    case = {"hex": data.hex()}
    try:
        case["text"] = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    case["ids"] = plain
    case["ids_special"] = ids(False, True)
    case["ids_add_special"] = ids(True, False)
    case["ids_add_special_special"] = ids(True, True)
    case["decoded_hex"] = decoded.hex()
    case["round_trips"] = decoded == data
    return case


def chat_cases(template, bos, eos):
    conversations = {
        "two_turns": [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "The capital of France is Paris."},
            {"role": "user", "content": "And of Germany?"},
        ],
        "with_system": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Hi!"},
        ],
        "single_user": [
            {"role": "user", "content": "Hello"},
        ],
        "padded_content": [
            {"role": "user", "content": "  spaces around\n"},
        ],
    }
    out = []
    for name, messages in conversations.items():
        for add_gen in (True, False):
            fmt = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                      add_generation_prompt=add_gen)
            prompt = fmt(messages=messages).prompt
            out.append({"name": name, "messages": messages,
                        "add_generation_prompt": add_gen, "prompt": prompt})
    return out


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

    strings = [t.encode("utf-8") for t in hand_written()]
    strings += invalid_utf8()
    strings += [t.encode("utf-8") for t in systematic(random.Random(20240515))]
    strings.append((ENGLISH * 40).encode("utf-8"))  # ~10 KB, also the speed test's text
    seen = set()
    unique = []
    for data in strings:
        if data not in seen:
            seen.add(data)
            unique.append(data)

    template = llm.metadata.get("tokenizer.chat_template", "")
    ref = {
        "generator": "tests/reference/make_tokenizer_ref.py",
        "llama_cpp_python": llama_cpp.__version__,
        "model": os.path.basename(model),
        "n_tokens": n_vocab,
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "eot": llama_cpp.llama_vocab_eot(vocab),
        "end_of_generation": [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)],
        "cases": [to_case(llm, vocab, data) for data in unique],
        "chat_template": template,
        "chat": chat_cases(template, "<|im_start|>", "<|im_end|>"),
        "llama3_template": LLAMA3_TEMPLATE,
        "llama3_chat": chat_cases(LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>"),
    }
    # The two-turn chat prompt tokenized as a generation would (parse_special).
    for c in ref["chat"]:
        c["ids"] = llm.tokenize(c["prompt"].encode("utf-8"), add_bos=False, special=True)
    # One case per line: readable diffs when the data is regenerated.
    out = sys.stdout
    out.write("{\n")
    keys = list(ref)
    for k, key in enumerate(keys):
        value = ref[key]
        out.write(json.dumps(key) + ": ")
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out.write("[\n")
            for i, item in enumerate(value):
                out.write("  " + json.dumps(item, ensure_ascii=False))
                out.write(",\n" if i + 1 < len(value) else "\n")
            out.write("]")
        else:
            out.write(json.dumps(value, ensure_ascii=False))
        out.write(",\n" if k + 1 < len(keys) else "\n")
    out.write("}\n")


if __name__ == "__main__":
    main()
