#!/usr/bin/env python3
"""Test setup: the default model (SmolLM2-135M-Instruct, Q4_1) re-quantized by
llama.cpp's own quantizer (llama-cpp-python's llama_model_quantize,
allow_requantize, no importance matrix; or ggml's, tensor by tensor, where
llama.cpp's wants an importance matrix) into the files of MODELS, for
tests/test_quant_models.c and tests/test_model_requant.c (which compares
tessera's own re-quantization at load with them, byte for byte), and for
tests/reference/quant_k_ref.py and make_kquant_greedy_ref.py, which import
this.

  make_quant_models.py OUTDIR [NAME...]
      writes OUTDIR/NAME.gguf for each entry of MODELS (all by default),
      keeping files already there. make check runs it once per build tree
      into tests/models. A new file whose MODELS entry names a reference
      with a sha256 for it must match it, so that a llama.cpp that
      quantizes differently is caught here, not reported as a tessera bug.
      When a file cannot be made (no llama-cpp-python, no default model, a
      quantizer failure, a foreign sha256) it writes the reasons to
      OUTDIR/UNAVAILABLE, one line each, and exits 1: the tests that need
      the file fail with that line.
  make_quant_models.py --reference OUTDIR [NAME...]
      remakes the files whose reference is quant_models.json (or the NAMEs
      among them), runs llama.cpp on each and rewrites their entries of
      tests/reference/quant_models.json: each file's sha256,
      the prompt's tokens, and for each of N_GEN greedy steps the chosen
      token, the gap between the two best logits and the top logits. (The
      K-quant mixes' reference, kquant-greedy.json, is
      tests/reference/make_kquant_greedy_ref.py's.)

Adding a file: one line in MODELS.

Run with the project's test venv: /opt/tsr-venv/bin/python."""

import ctypes
import hashlib
import json
import os
import pathlib
import sys

MODEL = os.path.expanduser(
    os.path.join(os.environ.get("TESSERA_MODEL_CACHE", "~/.cache/tessera/models"),
                 "SmolLM2-135M-Instruct.Q4_1.gguf"))
REFERENCE_DIR = pathlib.Path(__file__).resolve().parent / "reference"
GREEDY_REFERENCE = REFERENCE_DIR / "quant_models.json"
PROMPT = "The capital of France is Paris. The capital of Italy is"
N_GEN = 16
TOP = 5

# name: (how, pure, the reference the test compares it with)
#
# how: llama.h's file type for llama.cpp's model quantizer, or "ggml:TYPE"
# for formats that quantizer will not write without an importance matrix
# (the i-quants below 4 bits) or writes only into experts (mxfp4): the
# default model with its 1536-wide ffn_down tensors re-quantized to TYPE by
# ggml's own quantizer (ggml_quantize_chunk), everything else as it is;
# "ggml:TYPE:N" only those of every Nth layer (0, N, 2N, ...). The importance matrix is
# none, or all ones where ggml insists on one (ggml_quantize_requires_imatrix:
# iq2_xxs, iq2_xs, iq1_s): every column as important as the next. Two bits
# in all 30 ffn_down tensors with such a matrix leave the model so near
# chaos that llama.cpp's own batched and token-by-token runs choose other
# tokens at gaps up to 0.53; the 2-bit files keep every other layer as it
# is (then the two runs agree on every token), the 1-bit files three of
# every four (with every other layer llama.cpp's two runs were 0.97 apart,
# ours 2.5 from llama.cpp's).
#
# pure: every tensor in the type (no bigger types for sensitive tensors),
# except where a row is too short for its blocks. The default model's
# 576-wide rows are not multiples of 256, so 256-value formats fall back
# there (iq4_xs to iq4_nl; the K-quant mixes to q5_0, q5_1, q4_0, q8_0) and
# only the 1536-wide ffn_down tensors are K-quants: q4_K and q6_K in Q4_K_M,
# q5_K and q6_K in Q5_K_M, q6_K in Q6_K, q4_K and q5_K in Q3_K_M, q3_K in
# Q2_K, q2_K in Q2_K_pure (the standard Q2_K mix has no q2_K at all).
MODELS = {
    # one format each, for test_quant_models' quant_models suite
    "q4_0": ("LLAMA_FTYPE_MOSTLY_Q4_0", True, "quant_models.json"),
    "q5_0": ("LLAMA_FTYPE_MOSTLY_Q5_0", True, "quant_models.json"),
    "q5_1": ("LLAMA_FTYPE_MOSTLY_Q5_1", True, "quant_models.json"),
    "iq4_nl": ("LLAMA_FTYPE_MOSTLY_IQ4_NL", True, "quant_models.json"),
    "iq4_xs": ("LLAMA_FTYPE_MOSTLY_IQ4_XS", True, "quant_models.json"),
    "iq3_xxs": ("ggml:IQ3_XXS", False, "quant_models.json"),
    "mxfp4": ("ggml:MXFP4", False, "quant_models.json"),
    "iq2_xxs": ("ggml:IQ2_XXS:2", False, "quant_models.json"),
    "iq2_xs": ("ggml:IQ2_XS:2", False, "quant_models.json"),
    "iq2_s": ("ggml:IQ2_S:2", False, "quant_models.json"),
    "iq3_s": ("ggml:IQ3_S", False, "quant_models.json"),
    "iq1_s": ("ggml:IQ1_S:4", False, "quant_models.json"),
    "iq1_m": ("ggml:IQ1_M:4", False, "quant_models.json"),
    # test_model_requant compares tessera's re-quantization at load with it
    "q8_0": ("LLAMA_FTYPE_MOSTLY_Q8_0", True, "quant_models.json"),
    # llama.cpp's K-quant mixes, for its quant_k_models suite
    "Q4_K_M": ("LLAMA_FTYPE_MOSTLY_Q4_K_M", False, "kquant-greedy.json"),
    "Q5_K_M": ("LLAMA_FTYPE_MOSTLY_Q5_K_M", False, "kquant-greedy.json"),
    "Q6_K": ("LLAMA_FTYPE_MOSTLY_Q6_K", False, "kquant-greedy.json"),
    "Q3_K_M": ("LLAMA_FTYPE_MOSTLY_Q3_K_M", False, "kquant-greedy.json"),
    "Q2_K": ("LLAMA_FTYPE_MOSTLY_Q2_K", False, "kquant-greedy.json"),
    "Q2_K_pure": ("LLAMA_FTYPE_MOSTLY_Q2_K", True, "kquant-greedy.json"),
}


class Unavailable(Exception):
    """Why a file cannot be made; the test that needs it reports this."""


def model_path(out_dir, name):
    return pathlib.Path(out_dir) / f"{name}.gguf"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def known_sha256(name):
    """The sha256 the file's reference records, or None."""
    reference = REFERENCE_DIR / MODELS[name][2]
    if not reference.exists():
        return None
    data = json.loads(reference.read_text())
    return data.get("formats", {}).get(name, {}).get("sha256")


def make(out_dir, name, check=True):
    """Quantizes the default model into OUT_DIR/NAME.gguf unless it is there;
    returns its path."""
    try:
        import llama_cpp
    except ImportError as e:
        raise Unavailable(f"llama-cpp-python is not importable by {sys.executable} ({e}): "
                          "contrib/install-test-python.sh installs it")
    path = model_path(out_dir, name)
    if path.exists():
        return path
    if not os.path.exists(MODEL):
        raise Unavailable(f"the default model is missing at {MODEL}: run contrib/fetch-model.sh")
    how, pure, _ = MODELS[name]
    partial = path.with_suffix(".partial")
    if how.startswith("ggml:"):
        type_name, _, every = how[len("ggml:"):].partition(":")
        requantize_ffn_down(type_name, partial, every_nth_layer=int(every or 1))
    else:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, how)
        params.allow_requantize = True  # the source is already q4_1
        params.pure = pure
        params.nthread = 2
        rc = llama_cpp.llama_model_quantize(MODEL.encode(), str(partial).encode(),
                                            ctypes.byref(params))
        if rc != 0:
            raise Unavailable(f"llama.cpp's llama_model_quantize returned {rc}")
    want = known_sha256(name) if check else None
    if want and sha256(partial) != want:
        partial.unlink()
        raise Unavailable(f"this llama.cpp (llama-cpp-python {llama_cpp.__version__}) quantizes "
                          f"it differently from the one that made tests/reference/"
                          f"{MODELS[name][2]}: install the version it names, or rerun "
                          "with --reference on purpose")
    partial.rename(path)
    return path


def requantize_ffn_down(type_name, out_path, every_nth_layer=1):
    """The default model with the ffn_down tensors of every nth layer in
    type_name (ggml's quantizer), written with the gguf package; the rest
    copied as it is."""
    import gguf
    import llama_cpp
    import numpy as np

    qtype = gguf.GGMLQuantizationType[type_name]
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    lib = ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    quantize = lib.ggml_quantize_chunk
    quantize.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                         ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    quantize.restype = ctypes.c_size_t
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    needs_importance = lib.ggml_quantize_requires_imatrix(int(qtype))

    reader = gguf.GGUFReader(MODEL)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(out_path), arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer's own
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    tensors = []
    for t in reader.tensors:
        data, dtype = t.data, t.tensor_type
        layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else -1
        chosen = layer % every_nth_layer == 0
        if t.name.endswith("ffn_down.weight") and int(t.shape[0]) % block_elems == 0 and chosen:
            rows = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            rows = np.ascontiguousarray(rows.reshape(-1, int(t.shape[0])))
            n_rows, n_per_row = rows.shape
            data = np.zeros((n_rows, n_per_row // block_elems * block_bytes), dtype=np.uint8)
            importance = np.ones(n_per_row, dtype=np.float32)
            written = quantize(int(qtype), rows.ctypes.data, data.ctypes.data, 0, n_rows,
                               n_per_row, importance.ctypes.data if needs_importance else None)
            if written != data.nbytes:
                raise Unavailable(f"ggml_quantize_chunk({type_name}) wrote {written} bytes "
                                  f"of {data.nbytes}")
            dtype = qtype
        tensors.append((t.name, data, dtype))
    for name, data, dtype in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, data, _ in tensors:
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()


def make_quietly(out_dir, name, check=True):
    """make(), with llama.cpp's per-tensor log (on stderr) thrown away."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(devnull, 2)
    try:
        return make(out_dir, name, check)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def greedy(path):
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, n_batch=128, n_threads=2,
                          logits_all=True, verbose=False, seed=0)
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


def write_greedy_reference(out_dir, names):
    """Remakes the files `names` (all of quant_models.json's by default) and
    rewrites their entries; the others stay as they are."""
    import llama_cpp

    old = json.loads(GREEDY_REFERENCE.read_text()) if GREEDY_REFERENCE.exists() else {}
    if names and old.get("llama_cpp_python") != llama_cpp.__version__:
        raise SystemExit(f"make_quant_models: {GREEDY_REFERENCE.name} was made by llama-cpp-python "
                         f"{old.get('llama_cpp_python')}, this is {llama_cpp.__version__}: "
                         "remake every entry (--reference OUTDIR)")
    reference = {"model": os.path.basename(MODEL), "llama_cpp_python": llama_cpp.__version__,
                 "prompt": PROMPT, "n_gen": N_GEN, "formats": {}}
    for name, (_, _, ref) in MODELS.items():
        if ref != GREEDY_REFERENCE.name:
            continue
        if names and name not in names:
            if name in old.get("formats", {}):
                reference["formats"][name] = old["formats"][name]
            continue
        path = model_path(out_dir, name)
        if path.exists():
            path.unlink()  # made afresh by this llama.cpp
        path = make_quietly(out_dir, name, check=False)
        tokens, steps, text = greedy(path)
        reference["formats"][name] = {"sha256": sha256(path), "prompt_tokens": tokens,
                                      "steps": steps, "text": text}
        print(f"{name}: {text!r}", file=sys.stderr)
    GREEDY_REFERENCE.write_text(dump_reference(reference))


def main():
    args = sys.argv[1:]
    write_reference = bool(args) and args[0] == "--reference"
    if write_reference:
        args = args[1:]
    if not args:
        raise SystemExit("usage: make_quant_models.py [--reference] OUTDIR [NAME...]")
    out_dir = pathlib.Path(args[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    unavailable = out_dir / "UNAVAILABLE"
    unknown = [n for n in args[1:] if n not in MODELS]
    if unknown:
        raise SystemExit(f"make_quant_models: no such file in MODELS: {', '.join(unknown)}")
    if write_reference:
        write_greedy_reference(out_dir, args[1:])
        return 0
    names = args[1:] or list(MODELS)
    reasons = []
    for name in names:
        try:
            make_quietly(out_dir, name)
        except Unavailable as e:
            reasons.append(f"{name}.gguf: {e}")
    if reasons:
        unavailable.write_text("".join(line + "\n" for line in reasons))
        print(unavailable.read_text(), file=sys.stderr, end="")
        return 1
    if unavailable.exists():
        unavailable.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
