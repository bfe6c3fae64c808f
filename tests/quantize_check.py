#!/usr/bin/env python3
"""tests/cli-quantize.sh's independent judges of `tessera quantize`: llama.cpp
(llama-cpp-python) and the gguf package. Run with /opt/tsr-venv/bin/python.

  quantize_check.py types MODEL MIX...
      llama.cpp's own choice of type for every tensor of MODEL under each
      mix (llama_model_quantize with dry_run: nothing is written), one line
      "MIX NAME TYPE" per tensor, sorted.
  quantize_check.py readback OUT IN [MAX_RMS]
      the gguf package reads OUT: the same tensors and shapes as IN, the
      metadata copied (general.file_type and general.quantized_by set), the
      data offsets aligned; every tensor dequantized by the gguf package
      within MAX_RMS (relative RMS) of IN's own values. Prints the worst.
  quantize_check.py generate FILE
      llama.cpp loads FILE and continues a prompt greedily; prints the text.
  quantize_check.py same-bytes OURS THEIRS
      every tensor of OURS has the type and the bytes of THEIRS's.
Exit status 0 when the check holds, 1 (with the reason) when not."""

import ctypes
import os
import re
import struct
import sys


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def types(model, mixes):
    import llama_cpp

    log = []

    @llama_cpp.llama_log_callback
    def sink(level, text, user):
        log.append(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(sink, ctypes.c_void_p(0))
    # "[  12/ 272] blk.0.attn_v.weight - [576, 192, 1, 1], type = q4_1, size = ...
    #  MiB -> ... MiB (q5_0)": the new type in parentheses when it changes
    line = re.compile(r"\]\s+(\S+)\s+- \[[^\]]*\], type =\s+(\S+), size =[^\n]*?(?:\((\w+)\))?\n")
    out = []
    for mix in mixes:
        log.clear()
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + mix.upper(), None) or \
            getattr(llama_cpp, "LLAMA_FTYPE_ALL_" + mix.upper())
        params.allow_requantize = True
        params.dry_run = True
        params.nthread = 1
        if llama_cpp.llama_model_quantize(model.encode(), b"/dev/null", ctypes.byref(params)):
            fail(f"llama.cpp's dry run of {mix} failed")
        found = [(m.group(1), (m.group(3) or m.group(2)).lower())
                 for m in line.finditer("".join(log))]
        if not found:
            fail(f"no tensor lines in llama.cpp's log of {mix}")
        out += [f"{mix} {name} {t}" for name, t in found]
    print("\n".join(sorted(out)))


def tensors(path):
    """name -> (ggml type, shape, bytes): the tensor infos of a GGUF file by
    the specification, read here directly (the gguf package's reader takes
    seconds over a 49k-token vocabulary)."""
    import gguf
    import numpy as np

    data = np.memmap(path, dtype=np.uint8, mode="r")
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_value(kind):
        nonlocal pos
        if kind == 8:
            n = take("Q")
            pos += n
        elif kind == 9:
            elem, count = take("I"), take("Q")
            if elem in sizes:
                pos += sizes[elem] * count
            else:
                for _ in range(count):
                    skip_value(elem)
        else:
            pos += sizes[kind]

    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return bytes(data[pos - n:pos]).decode()

    if bytes(data[:4]) != b"GGUF":
        fail(f"{path}: not a GGUF file")
    pos = 4
    take("I")  # the version
    n_tensors, n_kvs = take("Q"), take("Q")
    alignment = 32
    for _ in range(n_kvs):
        key, kind = string(), take("I")
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", data, pos)[0]
        skip_value(kind)
    infos = []
    for _ in range(n_tensors):
        name, n_dims = string(), take("I")
        shape = [take("Q") for _ in range(n_dims)]
        infos.append((name, shape, take("I"), take("Q")))
    start = (pos + alignment - 1) // alignment * alignment
    out = {}
    for name, shape, kind, offset in infos:
        block, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
        n = int(np.prod(shape)) // block * block_bytes
        out[name] = (kind, shape, data[start + offset:start + offset + n])
    return out


def readback(out_path, in_path, max_rms):
    import gguf
    import numpy as np

    ours = gguf.GGUFReader(out_path)
    for key in ("general.file_type", "general.quantized_by", "general.architecture",
                "tokenizer.ggml.tokens"):
        if key not in ours.fields:
            fail(f"{out_path}: no {key}")
    if "tessera" not in ours.fields["general.quantized_by"].contents():
        fail(f"{out_path}: general.quantized_by does not name tessera")
    alignment = ours.fields["general.alignment"].contents() \
        if "general.alignment" in ours.fields else 32
    if ours.data_offset % alignment:
        fail(f"{out_path}: data starts at {ours.data_offset}, not a multiple of {alignment}")
    src = tensors(in_path)
    if sorted(src) != sorted(t.name for t in ours.tensors):
        fail(f"{out_path}: not the tensors of {in_path}")
    worst = (0.0, "")
    for t in ours.tensors:
        kind, shape, raw = src[t.name]
        if [int(d) for d in t.shape] != shape:
            fail(f"{t.name}: shape {list(t.shape)}, {in_path} has {shape}")
        if (t.data_offset - ours.data_offset) % alignment:
            fail(f"{t.name}: offset not a multiple of {alignment}")
        # the first rows of each tensor: enough to catch a wrong layout
        rows = min(16, int(np.prod(shape[1:])))
        row_bytes = len(raw) // int(np.prod(shape[1:]))
        x = gguf.quants.dequantize(np.asarray(raw[:rows * row_bytes]).reshape(rows, row_bytes),
                                   gguf.GGMLQuantizationType(kind)).astype(np.float64).ravel()
        ours_raw = np.asarray(t.data).reshape(-1).view(np.uint8)
        ours_row = len(ours_raw) // int(np.prod(shape[1:]))
        y = gguf.quants.dequantize(ours_raw[:rows * ours_row].reshape(rows, ours_row),
                                   t.tensor_type).astype(np.float64).ravel()
        rms = float(np.sqrt(np.mean((x - y) ** 2) / max(np.mean(x ** 2), 1e-30)))
        if not np.isfinite(rms) or rms > max_rms:
            fail(f"{t.name} ({t.tensor_type.name}): relative RMS error {rms:.4f} against "
                 f"{in_path}, more than {max_rms}")
        worst = max(worst, (rms, f"{t.name} ({t.tensor_type.name})"))
    print(f"{len(ours.tensors)} tensors read back; worst relative RMS error {worst[0]:.4f} "
          f"in {worst[1]}")


def generate(path):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, n_ctx=64, n_threads=2, verbose=False, seed=0)
    out = llm("The capital of France is", max_tokens=8, temperature=0.0)
    text = out["choices"][0]["text"]
    if not text.strip():
        fail(f"llama.cpp generated nothing from {path}")
    print(repr(text))


def same_bytes(ours_path, theirs_path):
    ours, theirs = tensors(ours_path), tensors(theirs_path)
    for name, (kind, _, raw) in ours.items():
        if name not in theirs or theirs[name][0] != kind:
            fail(f"{name}: type {kind}, llama.cpp's {theirs.get(name, ('missing',))[0]}")
        if raw.tobytes() != theirs[name][2].tobytes():
            fail(f"{name} (type {kind}): bytes differ from llama.cpp's")
    print(f"{len(ours)} tensors, every byte llama.cpp's")


def main():
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "types":
        types(args[1], args[2:])
    elif len(args) in (3, 4) and args[0] == "readback":
        readback(args[1], args[2], float(args[3]) if len(args) == 4 else 0.25)
    elif len(args) == 2 and args[0] == "generate":
        generate(args[1])
    elif len(args) == 3 and args[0] == "same-bytes":
        same_bytes(args[1], args[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
