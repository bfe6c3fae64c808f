#!/usr/bin/env python3
"""Reference data for tessera's forward pass, from llama.cpp (llama-cpp-python).

For each prompt: llama.cpp's prompt tokens, a greedy continuation of N_GEN
tokens, and at every generated step the top-10 logits (token, logit) and the
gap between the best two logits. tests/test_model.c compares tessera with it.

Run:  /opt/tsr-venv/bin/python tests/reference/make_llama_ref.py MODEL.gguf OUT.json [f16|f32]
(llama-cpp-python 0.3.x; the model is SmolLM2-135M-Instruct.Q4_1.gguf, sha256 b179c952...)

The last argument is the KV cache type (default f16, llama.cpp's default, with
its default flash-attention choice); f32 also turns flash attention off, so
the only rounding left is the weights' and the activations' own:
  smollm2-greedy.json      f16 KV cache
  smollm2-greedy-f32.json  f32 KV cache, no flash attention
  smollm2-q8_0-greedy.json f16 KV cache, on the default model re-quantized to q8_0 by
                           llama.cpp (tests/make_quant_models.py's q8_0.gguf, sha256
                           7b46609d...), for tests/test_model_requant.c
"""
import json
import sys

import llama_cpp
import numpy as np

N_GEN = 80
TOP = 10

PROMPTS = [
    ("english", "The sky is blue because"),
    ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("chinese", "中国的首都是北京。北京是一座"),
    ("emoji", "My favourite emoji are 😀🎉🚀 and they mean"),
    ("chat", None),  # the chat-templated prompt below
]

CHAT = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Why is the sky blue? Answer in two sentences."},
]


def main():
    model_path, out_path = sys.argv[1], sys.argv[2]
    cache = sys.argv[3] if len(sys.argv) > 3 else "f16"
    extra = {"flash_attn": False, "type_k": 0, "type_v": 0} if cache == "f32" else {}
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=512, n_batch=512, n_threads=2,
                          logits_all=True, verbose=False, seed=0, **extra)
    template = llm.metadata.get("tokenizer.chat_template")
    from jinja2 import Environment
    chat_text = Environment().from_string(template).render(
        messages=CHAT, add_generation_prompt=True)
    cases = []
    for name, prompt in PROMPTS:
        text = chat_text if prompt is None else prompt
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        llm.reset()
        llm.eval(tokens)
        generated, steps = [], []
        for _ in range(N_GEN):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
            order = np.argsort(-logits, kind="stable")[:TOP]
            top = [[int(t), float(logits[t])] for t in order]
            steps.append({"top": top, "gap": top[0][1] - top[1][1]})
            token = int(order[0])
            generated.append(token)
            llm.eval([token])
        cases.append({"name": name, "prompt": text, "prompt_tokens": tokens,
                      "generated": generated, "steps": steps,
                      "text": llm.detokenize(generated).decode("utf-8", "replace")})
        print(name, repr(cases[-1]["text"][:80]), file=sys.stderr)
    with open(out_path, "w") as f:
        json.dump({"model": model_path.split("/")[-1], "llama_cpp_python": llama_cpp.__version__,
                   "kv_cache": cache, "n_gen": N_GEN, "cases": cases}, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
