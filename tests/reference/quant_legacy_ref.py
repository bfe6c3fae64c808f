#!/usr/bin/env python3
"""Writes tests/reference/quant/FORMAT.bin for q4_0, q5_0, q5_1, iq4_nl and iq4_xs
(the layout quant_ref.py uses for the other formats, read by the same
loader in the tests):

  dequantize: blocks from a real file of the format, made here by llama.cpp's
              quantizer (llama-cpp-python) from the default model, plus seeded
              random blocks; the expected floats are the gguf package's
              gguf.quants.dequantize of the same bytes.
  quantize:   seeded random floats (and edge cases: zeros, constants, exact
              halves of a step, heavy tails, tiny values); the expected bytes
              are gguf.quants.quantize's, checked against ggml's own reference
              quantizer (libggml-base from llama-cpp-python). iq4_nl and
              iq4_xs are not quantized by the package: their expectation is
              ggml's quantize_iq4_nl / quantize_iq4_xs (what llama.cpp's
              quantizer writes, no importance matrix).

Random scale fields are finite: a NaN scale's payload after arithmetic is
not something two implementations agree on, and no quantizer writes one.

Run with the project's test venv:
  /opt/tsr-venv/bin/python tests/reference/quant_legacy_ref.py
File layout (little-endian):
  "TSRQREF1", u32 gguf_type, u32 block_elems, u32 block_bytes,
  u32 n_dequant, n_dequant * block_bytes bytes, n_dequant * block_elems f32,
  u32 n_quant, n_quant * block_elems f32, n_quant * block_bytes bytes"""

import ctypes
import os
import pathlib
import struct
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

MODEL = os.path.expanduser("~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = pathlib.Path(__file__).resolve().parent / "quant"
SEED = 20240707

# name: (type, block_elems, block_bytes, offsets of f16 scale fields, llama ftype)
FORMATS = {
    "q4_0": (T.Q4_0, 32, 18, (0,), 2),
    "q5_0": (T.Q5_0, 32, 22, (0,), 8),
    "q5_1": (T.Q5_1, 32, 24, (0, 2), 9),
    "iq4_nl": (T.IQ4_NL, 32, 18, (0,), 25),
    # llama.cpp writes iq4_xs only where rows are a multiple of 256 (the
    # model's ffn_down); the rest of that file falls back to iq4_nl
    "iq4_xs": (T.IQ4_XS, 256, 136, (0,), 30),
}


def ggml_base():
    import llama_cpp

    path = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    return ctypes.CDLL(str(path))


def ggml_quantize_rows(lib, name, floats, block_bytes, block_elems):
    """ggml's quantize_X(src, dst, nrow, n_per_row, imatrix) on one row per block,
    so each block is quantized on its own."""
    fn = getattr(lib, f"quantize_{name}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    fn.restype = ctypes.c_size_t
    x = np.ascontiguousarray(floats, dtype=np.float32)
    n_blocks = len(x) // block_elems
    out = np.zeros(n_blocks * block_bytes, dtype=np.uint8)
    written = fn(x.ctypes.data, out.ctypes.data, n_blocks, block_elems, None)
    assert written == out.size
    return out


def ggml_quantize_ref(lib, name, floats, block_bytes, block_elems):
    """ggml's quantize_row_X_ref(const float *x, void *y, int64_t k)."""
    fn = getattr(lib, f"quantize_row_{name}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    x = np.ascontiguousarray(floats, dtype=np.float32)
    out = np.zeros(len(x) // block_elems * block_bytes, dtype=np.uint8)
    fn(x.ctypes.data, out.ctypes.data, len(x))
    return out


def random_halves(rng, n):
    """Finite f16 bit patterns across the whole range: normals of every
    exponent, subnormals, zeros of both signs, the largest value."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    exponent = (bits >> 10) & 0x1F
    bits = np.where(exponent == 0x1F, bits & 0xFBFF, bits)  # no inf or NaN
    special = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x3C00], dtype=np.uint16)
    bits[: min(n, len(special))] = special[: min(n, len(special))]
    return bits


def quiet_llama():
    """llama.cpp logs every tensor it quantizes to stderr; drop its log."""
    import llama_cpp

    callback = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p())
    return callback  # must outlive every call into llama.cpp


def quantized_model(name, directory):
    """The default model requantized to the format by llama.cpp's quantizer."""
    import llama_cpp

    path = os.path.join(directory, f"{name}.gguf")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FORMATS[name][4]
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(MODEL.encode(), path.encode(), ctypes.byref(params))
    assert rc == 0, f"llama_model_quantize failed for {name}"
    return path


def model_bytes(path, qtype, block_bytes, per_tensor, tensors):
    """per_tensor blocks' bytes from the middle of up to `tensors` tensors of
    qtype, taken from the start, the middle and the end of the model."""
    reader = gguf.GGUFReader(path)
    chosen = [t for t in reader.tensors if t.tensor_type == qtype]
    assert chosen, f"{path} has no tensor of type {qtype.name}"
    picks = [chosen[i] for i in sorted({0, len(chosen) // 2, len(chosen) - 1})][:tensors]
    parts = []
    for t in picks:
        raw = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
        middle = (len(raw) // block_bytes // 2) * block_bytes
        parts.append(raw[middle : middle + per_tensor * block_bytes].copy())
    return np.concatenate(parts)


def dequant_section(name, model_path, rng):
    qtype, elems, nbytes, scales, _ = FORMATS[name]
    small = elems > 32  # iq4_xs: fewer, larger blocks
    from_model = model_bytes(model_path, qtype, nbytes, 8 if small else 16, 3)
    n_random = 16 if small else 48
    random = rng.integers(0, 256, size=n_random * nbytes, dtype=np.uint8).reshape(n_random, nbytes)
    for offset in scales:
        random[:, offset : offset + 2] = random_halves(rng, n_random).view(np.uint8).reshape(-1, 2)
    data = np.concatenate([from_model, random.reshape(-1)])
    n_blocks = len(data) // nbytes
    expected = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
    assert expected.size == n_blocks * elems
    return n_blocks, data, expected


def quant_inputs(elems, rng):
    """64 blocks of assorted kinds (24 super-blocks for iq4_xs)."""
    blocks = []
    for i in range(24 if elems > 32 else 64):
        kind = i % 8
        scale = np.float32(10.0 ** rng.uniform(-4, 3))
        if kind == 0:
            b = rng.standard_normal(elems) * scale
        elif kind == 1:
            b = rng.uniform(-1, 1, elems) * scale
        elif kind == 2:
            b = rng.standard_normal(elems) * scale + 3 * scale  # one-sided: the minimum matters
        elif kind == 3:
            b = np.zeros(elems) if i < 8 else np.full(elems, scale)  # d = 0 / constant block
        elif kind == 4:
            # exact halves of a step for q4_0 (max -8 -> d = 1) and q5_0 (max -16)
            steps = 8 if i % 16 == 4 else 16
            b = (rng.integers(-steps, steps, elems) + 0.5).astype(np.float64)
            b[0] = -steps
        elif kind == 5:
            b = rng.standard_t(2, elems) * scale  # heavy tails: one big value sets the scale
        elif kind == 6:
            b = np.array([(-1) ** j * 2.0 ** rng.integers(-20, 20) for j in range(elems)])
        else:
            b = rng.standard_normal(elems) * np.float32(1e-6)  # tiny: f16 subnormal scales
        if elems > 32:  # iq4_xs: sub-blocks of 32 of unequal sizes, one all zero
            b = b * np.repeat(10.0 ** rng.uniform(-2, 0, elems // 32), 32)
            if i % 3 == 0:
                b[32 * (i % 8) : 32 * (i % 8) + 32] = 0
        blocks.append(b.astype(np.float32))
    return np.concatenate(blocks)


def quant_section(name, rng, lib):
    qtype, elems, nbytes, _, _ = FORMATS[name]
    x = quant_inputs(elems, rng)
    if name in ("iq4_nl", "iq4_xs"):
        expected = ggml_quantize_rows(lib, name, x, nbytes, elems)
    else:
        expected = np.ascontiguousarray(gguf.quants.quantize(x, qtype)).view(np.uint8).reshape(-1)
        ggml = ggml_quantize_ref(lib, name, x, nbytes, elems)
        assert np.array_equal(ggml, expected), f"gguf and ggml disagree on {name}"
    assert expected.size == len(x) // elems * nbytes
    return len(x) // elems, x, expected


def main():
    lib = ggml_base()
    keep = quiet_llama()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for index, name in enumerate(FORMATS):
            rng = np.random.default_rng(SEED + index)
            qtype, elems, nbytes, _, _ = FORMATS[name]
            model_path = quantized_model(name, scratch)
            n_deq, deq_bytes, deq_floats = dequant_section(name, model_path, rng)
            os.unlink(model_path)
            n_q, q_floats, q_bytes = quant_section(name, rng, lib)
            with open(OUT / f"{name}.bin", "wb") as f:
                f.write(b"TSRQREF1")
                f.write(struct.pack("<III", int(qtype), elems, nbytes))
                f.write(struct.pack("<I", n_deq))
                f.write(deq_bytes.tobytes())
                f.write(deq_floats.astype("<f4").tobytes())
                f.write(struct.pack("<I", n_q))
                f.write(q_floats.astype("<f4").tobytes())
                f.write(q_bytes.tobytes())
            print(f"{name}: {n_deq} blocks to dequantize, {n_q} to quantize", file=sys.stderr)


if __name__ == "__main__":
    main()
