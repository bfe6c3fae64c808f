#!/usr/bin/env python3
"""Milliseconds per decode step of the default model, measured with llama.cpp
(llama-cpp-python), for sampler-bench's --decode-ms: the figure sampling must
stay well under. Prints one number.

    decode_step.py [--model PATH] [--threads N] [--tokens N]
"""
import argparse
import os
import time

from llama_cpp import Llama

DEFAULT_MODEL = os.path.expanduser(
    "~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    llm = Llama(model_path=args.model, n_ctx=512, n_threads=args.threads,
                n_batch=64, verbose=False)
    prompt = llm.tokenize(b"The quick brown fox jumps over the lazy dog.")
    llm.eval(prompt)
    token = prompt[-1]
    for _ in range(4):  # warm up
        llm.eval([token])
    start = time.perf_counter()
    for _ in range(args.tokens):
        llm.eval([token])
    elapsed = time.perf_counter() - start
    print(f"{elapsed * 1000.0 / args.tokens:.3f}")


if __name__ == "__main__":
    main()
