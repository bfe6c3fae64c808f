#!/usr/bin/env python3
"""Real model files of the formats q4_0, q5_0, q5_1, iq4_nl, iq4_xs and q8_0,
for tests/test_quant_models.c and tests/test_model_requant.c (which compares
tessera's own re-quantization at load with them, byte for byte): the default
model (SmolLM2-135M-Instruct, Q4_1) requantized by llama.cpp's own quantizer
(llama-cpp-python's llama_model_quantize, allow_requantize, pure: the
embedding and every matrix in the format; no importance matrix).

  make_quant_models.py OUTDIR
      writes OUTDIR/FORMAT.gguf for every format (test setup: make check runs
      it into the build tree's tests/models when the Python is there) and
      checks each file's sha256 against tests/reference/quant_models.json, so
      that a llama.cpp that quantizes differently is caught here (the file
      is removed and the test skips it), not reported as a tessera bug.
  make_quant_models.py --reference OUTDIR
      also runs llama.cpp on each file and rewrites
      tests/reference/quant_models.json: the file's sha256, the prompt's
      tokens, and for each of N_GEN greedy steps the chosen token, the gap
      between the two best logits and the top logits.

Run with the project's test venv: /opt/tsr-venv/bin/python."""

import ctypes
import hashlib
import json
import os
import pathlib
import sys

MODEL = os.path.expanduser("~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")
REFERENCE = pathlib.Path(__file__).resolve().parent / "reference" / "quant_models.json"
PROMPT = "The capital of France is Paris. The capital of Italy is"
N_GEN = 16
TOP = 5

# name: llama_ftype (llama.h's LLAMA_FTYPE_MOSTLY_*)
FORMATS = {"q4_0": 2, "q5_0": 8, "q5_1": 9, "iq4_nl": 25, "iq4_xs": 30, "q8_0": 7}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def quantize(name, path):
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FORMATS[name]
    params.allow_requantize = True
    # every weight in the format (no mix of bigger types for sensitive
    # tensors), except where a row is too short for it: iq4_xs's 256-value
    # blocks fall back to iq4_nl on the 576-wide rows
    params.pure = True
    params.nthread = 2
    tmp = path + ".tmp"
    rc = llama_cpp.llama_model_quantize(MODEL.encode(), tmp.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"make_quant_models: llama_model_quantize failed for {name} ({rc})")
    os.replace(tmp, path)


def greedy(path):
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=path, n_ctx=128, n_batch=128, n_threads=2, logits_all=True,
                          verbose=False, seed=0)
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    llm.eval(tokens)
    steps = []
    for _ in range(N_GEN):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        order = np.argsort(-logits, kind="stable")[:TOP]
        steps.append({"token": int(order[0]), "gap": float(logits[order[0]] - logits[order[1]]),
                      "top": [[int(t), float(logits[t])] for t in order]})
        llm.eval([int(order[0])])
    text = llm.detokenize([s["token"] for s in steps]).decode("utf-8", "replace")
    return tokens, steps, text


def dump_reference(reference):
    """JSON with one line per greedy step, for readable diffs."""
    lines = ["{"]
    for key in ("model", "llama_cpp_python", "prompt", "n_gen"):
        lines.append(f" {json.dumps(key)}: {json.dumps(reference[key], ensure_ascii=False)},")
    lines.append(' "formats": {')
    names = list(reference["formats"])
    for i, name in enumerate(names):
        entry = reference["formats"][name]
        lines.append(f"  {json.dumps(name)}: {{")
        lines.append(f'   "sha256": {json.dumps(entry["sha256"])},')
        lines.append(f'   "prompt_tokens": {json.dumps(entry["prompt_tokens"])},')
        lines.append(f'   "text": {json.dumps(entry["text"], ensure_ascii=False)},')
        lines.append('   "steps": [')
        steps = [json.dumps(step) for step in entry["steps"]]
        lines.append(",\n".join("    " + step for step in steps))
        lines.append("   ]")
        lines.append("  }" + ("," if i + 1 < len(names) else ""))
    lines.append(" }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # well-formed
    return text


def main():
    args = sys.argv[1:]
    write_reference = bool(args) and args[0] == "--reference"
    if write_reference:
        args = args[1:]
    if len(args) != 1:
        raise SystemExit("usage: make_quant_models.py [--reference] OUTDIR")
    import llama_cpp

    quiet = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(quiet, ctypes.c_void_p())
    outdir = pathlib.Path(args[0])
    outdir.mkdir(parents=True, exist_ok=True)
    known = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {"formats": {}}
    reference = {"model": os.path.basename(MODEL), "llama_cpp_python": llama_cpp.__version__,
                 "prompt": PROMPT, "n_gen": N_GEN, "formats": {}}
    mismatched = []
    for name in FORMATS:
        path = str(outdir / f"{name}.gguf")
        quantize(name, path)
        digest = sha256(path)
        want = known["formats"].get(name, {}).get("sha256")
        if want and digest != want and not write_reference:
            mismatched.append(name)
            os.unlink(path)  # the test skips a missing file; it would fail a foreign one
        if write_reference:
            tokens, steps, text = greedy(path)
            reference["formats"][name] = {"sha256": digest, "prompt_tokens": tokens,
                                          "steps": steps, "text": text}
            print(f"{name}: {text!r}", file=sys.stderr)
    if write_reference:
        REFERENCE.write_text(dump_reference(reference))
    if mismatched:
        raise SystemExit("make_quant_models: this llama.cpp quantizes "
                         f"{', '.join(mismatched)} differently from the one that made "
                         f"{REFERENCE.name} (llama-cpp-python {known.get('llama_cpp_python')}); "
                         "rerun with --reference on purpose, or use that version")


if __name__ == "__main__":
    main()
