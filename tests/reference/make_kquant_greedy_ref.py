#!/usr/bin/env python3
"""Greedy continuations by llama.cpp of the default model's K-quant files
(tests/make_quant_models.py), for tests/test_quant_models.c.

For each file: the prompt (tokens, so the test needs no tokenizer), llama.cpp's
first N_GEN greedy tokens, and at each step the top-5 logits and the gap
between the best two. Near ties let two correct implementations part
(tessera's logits differ from llama.cpp's by float noise of a few tenths
through 30 layers, and this small model has many), so each file gets, from
CANDIDATES, the prompt whose continuation has the widest smallest gap, and
the test forgives a different choice only where the gap is that narrow.

Run:  /opt/tsr-venv/bin/python tests/reference/make_kquant_greedy_ref.py [MODELS_DIR]
(MODELS_DIR holds or receives the files; a temporary folder by default.)
"""
import json
import pathlib
import sys
import tempfile

import llama_cpp
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import make_quant_models  # noqa: E402

OUT = HERE / "kquant-greedy.json"
N_GEN = 16
TOP = 5

CANDIDATES = [
    "The capital of France is",
    "Once upon a time, there was a little",
    "def add(a, b):\n    return",
    "Water boils at a temperature of",
    "The three primary colors are",
    "Monday, Tuesday, Wednesday,",
    "The largest planet in our solar system is",
    "Q: What is 2 + 2?\nA:",
]


def continuation(llm, tokens):
    llm.reset()
    llm.eval(tokens)
    generated, steps = [], []
    for _ in range(N_GEN):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        order = np.argsort(-logits, kind="stable")[:TOP]
        steps.append({"top": [[int(t), float(logits[t])] for t in order],
                      "gap": float(logits[order[0]] - logits[order[1]])})
        generated.append(int(order[0]))
        llm.eval([int(order[0])])
    return generated, steps


def main():
    models_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    files = []
    for variant, (_, _, reference) in make_quant_models.MODELS.items():
        if reference != OUT.name:
            continue
        path = make_quant_models.make_quietly(models_dir, variant)
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_batch=256, n_threads=2,
                              logits_all=True, verbose=False, seed=0)
        best = None
        for text in CANDIDATES:
            tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            generated, steps = continuation(llm, tokens)
            smallest = min(s["gap"] for s in steps)
            if best is None or smallest > best["smallest_gap"]:
                best = {"variant": variant, "file": path.name, "prompt": text,
                        "prompt_tokens": tokens, "generated": generated, "steps": steps,
                        "smallest_gap": smallest,
                        "text": llm.detokenize(generated).decode("utf-8", "replace")}
        print(f"{variant}: {best['prompt']!r} -> {best['text']!r} "
              f"(smallest gap {best['smallest_gap']:.2f})", file=sys.stderr)
        files.append(best)
        del llm
    with open(OUT, "w") as f:
        json.dump({"llama_cpp_python": llama_cpp.__version__, "n_gen": N_GEN,
                   "source_model": pathlib.Path(make_quant_models.MODEL).name, "files": files},
                  f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
