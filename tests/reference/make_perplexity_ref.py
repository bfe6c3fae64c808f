#!/usr/bin/env python3
"""Perplexity of the default model on tests/data/perplexity.txt, computed by
llama.cpp (through llama-cpp-python), for tests/cli-perplexity.sh.

The method is llama-perplexity's, so the figure is the one it prints: the
text is tokenized with the BOS the model asks for, cut into chunks of N_CTX
tokens (what is left over is dropped), each chunk evaluated from an empty
cache with its first token replaced by BOS (when the model adds one), and
every token of the chunk's second half but the first scored by the logits
of the row before it. PPL = exp(mean NLL); the error is PPL times the
standard error of the mean NLL.

The text, tests/data/perplexity.txt (12 KB of plain English prose), was
written for tessera's tests and is dedicated to the public domain (CC0).

Run:  /opt/tsr-venv/bin/python tests/reference/make_perplexity_ref.py [MODEL]
"""
import json
import math
import pathlib
import sys

import llama_cpp
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
TEXT = HERE.parent / "data" / "perplexity.txt"
OUT = HERE / "perplexity-smollm2.json"
N_CTX = 128
N_CHUNKS = 8  # the first chunks only, as the test runs with --chunks


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else str(
        pathlib.Path.home() / ".cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    llm = llama_cpp.Llama(model_path=model, n_ctx=N_CTX, n_batch=N_CTX, n_ubatch=N_CTX,
                          logits_all=True, n_threads=2, verbose=False)
    text = TEXT.read_bytes()
    tokens = llm.tokenize(text, add_bos=True, special=False)
    add_bos = llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model))
    bos = llm.token_bos()
    n_chunks = min(N_CHUNKS, len(tokens) // N_CTX)
    first = N_CTX // 2
    nll = []
    for c in range(n_chunks):
        chunk = list(tokens[c * N_CTX:(c + 1) * N_CTX])
        if add_bos:
            chunk[0] = bos
        llm.reset()
        llm.eval(chunk)
        logits = np.asarray(llm.scores[:N_CTX], dtype=np.float64)
        for k in range(first, N_CTX - 1):
            row = logits[k]
            m = row.max()
            lse = m + math.log(np.exp(row - m).sum())
            nll.append(lse - row[chunk[k + 1]] if k + 1 < N_CTX else 0)
    nll = np.asarray(nll)
    mean = nll.mean()
    sd = math.sqrt(max((nll * nll).mean() - mean * mean, 0) / (len(nll) - 1))
    ppl = math.exp(mean)
    result = {
        "model": pathlib.Path(model).name,
        "text": "tests/data/perplexity.txt",
        "n_text_tokens": len(tokens),
        "add_bos": bool(add_bos),
        "ctx": N_CTX,
        "chunks": n_chunks,
        "scored_tokens": int(len(nll)),
        "ppl": round(ppl, 4),
        "ppl_error": round(sd * ppl, 5),
        "llama_cpp_python": llama_cpp.__version__,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
