#!/usr/bin/env python3
"""llama.cpp's speed on a GGUF, measured as `tessera bench` measures tessera's:
ppN = N prompt tokens as one batch, tgN = N tokens one at a time from an
empty context, tokens/s mean and standard deviation over repetitions after a
warm-up. Uses llama-cpp-python. Prints one line per test: "ppN MEAN SD".

    llama_bench.py MODEL [-p 512] [-n 128] [-r 5] [-t THREADS]
"""
import argparse
import os
import random
import statistics
import time

import llama_cpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=5)
    ap.add_argument("-t", type=int, default=os.cpu_count())
    a = ap.parse_args()
    n_ctx = max(a.p, a.n) + 8
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=n_ctx, n_batch=max(a.p, 1), n_ubatch=max(a.p, 1),
                          n_threads=a.t, n_threads_batch=a.t, verbose=False)
    rng = random.Random(1)
    tokens = [rng.randrange(llm.n_vocab()) for _ in range(max(a.p, a.n))]

    def pp():
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens[:a.p])
        return a.p / (time.perf_counter() - t0)

    def tg():
        llm.reset()
        t0 = time.perf_counter()
        for tok in tokens[:a.n]:
            llm.eval([tok])
        return a.n / (time.perf_counter() - t0)

    for name, count, fn in (("pp", a.p, pp), ("tg", a.n, tg)):
        if count <= 0:
            continue
        fn()  # warm-up
        rates = [fn() for _ in range(a.r)]
        sd = statistics.stdev(rates) if len(rates) > 1 else 0.0
        print(f"{name}{count} {statistics.mean(rates):.2f} {sd:.2f}", flush=True)


if __name__ == "__main__":
    main()
