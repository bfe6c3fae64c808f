#!/usr/bin/env python3
"""Writes llama_cpp_cases.txt: what llama.cpp's own samplers (through
llama-cpp-python's low-level API) make of random logits, for
tests/test_samplers_llama_cpp.c to compare tessera's plugins against.

    /opt/tsr-venv/bin/python tests/reference/samplers/make_llama_cpp_cases.py

Format, one case per four lines:
    case SAMPLER SETTINGS        tessera plugin and its parameters (name=value;...)
    logits N V1 .. VN            or `zeros N`
    accept M T1 .. TM            tokens accepted before the step
    expect ORDERED K T1 L1 ..    llama.cpp's surviving tokens (finite logits) and
                                 logits; ORDERED 1: compare the order too
    changed K T1 L1 ..           (after `zeros`) the tokens whose logit is no longer
                                 0, and their logits; every other token stays, at 0
Only deterministic samplers (no draw) are covered; DRY runs without sequence
breakers (it needs a vocabulary: the default model's is loaded for llama.cpp).
"""
import ctypes
import os
import sys

import numpy as np
import llama_cpp as l

MODEL = os.path.expanduser("~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llama_cpp_cases.txt")


def apply(sampler, logits, accept=()):
    n = len(logits)
    data = (l.llama_token_data * n)()
    for i, x in enumerate(logits):
        data[i].id, data[i].logit, data[i].p = i, float(x), 0.0
    cur = l.llama_token_data_array(data=data, size=n, selected=-1, sorted=False)
    for t in accept:
        l.llama_sampler_accept(sampler, int(t))
    l.llama_sampler_apply(sampler, ctypes.byref(cur))
    out = [(cur.data[i].id, cur.data[i].logit) for i in range(cur.size)]
    l.llama_sampler_free(sampler)
    return [(t, x) for t, x in out if np.isfinite(x)]


def fmt(x):
    return repr(float(np.float32(x)))


def main():
    rng = np.random.default_rng(20240611)
    lines = []

    def case(name, settings, sampler, logits, accept=(), ordered=True, zeros=False):
        kept = apply(sampler, logits, accept)
        lines.append(f"case {name} {settings}")
        lines.append(f"zeros {len(logits)}" if zeros else
                     "logits %d %s" % (len(logits), " ".join(fmt(x) for x in logits)))
        lines.append("accept %d %s" % (len(accept), " ".join(str(t) for t in accept)))
        if zeros:
            changed = [(t, x) for t, x in kept if x != 0.0]
            assert len(kept) == len(logits)
            lines.append("changed %d %s" % (len(changed),
                                            " ".join(f"{t} {fmt(x)}" for t, x in changed)))
        else:
            lines.append("expect %d %d %s" % (int(ordered), len(kept),
                                              " ".join(f"{t} {fmt(x)}" for t, x in kept)))

    def logits(n=200, scale=3.0):
        return (rng.standard_normal(n) * scale).astype(np.float32)

    for k in (1, 5, 40):
        case("top_k", f"k={k}", l.llama_sampler_init_top_k(k), logits())
    for p in (0.5, 0.9, 0.95):
        case("top_p", f"p={p}", l.llama_sampler_init_top_p(p, 1), logits())
    for p in (0.05, 0.2):
        case("min_p", f"p={p}", l.llama_sampler_init_min_p(p, 1), logits())
    for p in (0.5, 0.9):
        case("typical_p", f"p={p}", l.llama_sampler_init_typical(p, 1), logits(scale=1.5))
    for t in (0.5, 1.7):
        case("temperature", f"temperature={t}", l.llama_sampler_init_temp(t), logits())
    for t, delta, e in ((1.0, 0.5, 1.0), (0.8, 0.3, 2.0)):
        # llama.cpp sorts here; tessera keeps the order: compare as sets
        case("temperature", f"temperature={t};dynamic_range={delta};exponent={e}",
             l.llama_sampler_init_temp_ext(t, delta, e), logits(), ordered=False)
    for n in (1.0, 2.5):
        # llama.cpp masks with -inf and sorts; tessera removes: compare the finite set
        case("top_n_sigma", f"n={n}", l.llama_sampler_init_top_n_sigma(n), logits(),
             ordered=False)
    for p, t in ((1.0, 0.05), (1.0, 0.1), (1.0, 0.3)):
        # probability 1 always cuts; llama.cpp sorts, tessera keeps the order
        case("xtc", f"probability={p};threshold={t};min_keep=1",
             l.llama_sampler_init_xtc(p, t, 1, 1), logits(n=30, scale=1.5), ordered=False)

    history = rng.integers(0, 20, size=40).tolist()
    n = 200
    case("repetition_penalty", "penalty=1.3;last_n=64",
         l.llama_sampler_init_penalties(n, 64, 1.3, 0.0, 0.0), logits(), history)
    case("repetition_penalty", "penalty=1.3;last_n=16",
         l.llama_sampler_init_penalties(n, 16, 1.3, 0.0, 0.0), logits(), history)
    case("frequency_penalty", "penalty=0.4;last_n=64",
         l.llama_sampler_init_penalties(n, 64, 1.0, 0.4, 0.0), logits(), history)
    case("presence_penalty", "penalty=0.6;last_n=16",
         l.llama_sampler_init_penalties(n, 16, 1.0, 0.0, 0.6), logits(), history)

    l.llama_backend_init()
    params = l.llama_model_default_params()
    params.vocab_only = True
    model = l.llama_model_load_from_file(MODEL.encode(), params)
    if not model:
        sys.exit(f"cannot load {MODEL}")
    vocab = l.llama_model_get_vocab(model)
    n_vocab = l.llama_vocab_n_tokens(vocab)
    phrase = rng.integers(100, 140, size=6).tolist()
    for mult, base, allowed, last_n in ((0.8, 1.75, 2, 64), (1.0, 2.0, 3, 40)):
        text = rng.integers(100, 140, size=10).tolist() + phrase + [7] + \
            rng.integers(100, 140, size=5).tolist() + phrase[:4]
        case("dry", f"multiplier={mult};base={base};allowed_length={allowed};"
             f"last_n={last_n};sequence_breakers=",
             l.llama_sampler_init_dry(vocab, mult, base, allowed, last_n, None, 0),
             np.zeros(n_vocab, dtype=np.float32), text, zeros=True)
    # Many short, overlapping repeats: every earlier match counts.
    text = rng.integers(100, 103, size=60).tolist()
    case("dry", "multiplier=0.8;base=1.75;allowed_length=2;last_n=48;sequence_breakers=",
         l.llama_sampler_init_dry(vocab, 0.8, 1.75, 2, 48, None, 0),
         np.zeros(n_vocab, dtype=np.float32), text, zeros=True)
    l.llama_model_free(model)

    with open(OUT, "w") as f:
        f.write("# llama.cpp (llama-cpp-python %s) on random logits; made by %s\n"
                % (l.__version__, os.path.basename(__file__)))
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
