#!/usr/bin/env python3
"""Writes tests/reference/quant/FORMAT.bin: bytes of each format the quant
plugins claim, with what independent implementations make of them.

  dequantize: blocks taken from the default model where the format occurs
              there, plus seeded random blocks; the expected floats are the
              gguf package's gguf.quants.dequantize of the same bytes.
  quantize:   seeded random floats (and edge cases: zeros, constants, ties,
              overflow); the expected bytes are gguf.quants.quantize's, checked
              against ggml's own reference quantizer (libggml-base from
              llama-cpp-python) where ggml exports one.

q8_1 is not in the package (it lists Q8_1 as 40 bytes, the layout before ggml
halved d and s; ggml-common.h has 36): its quantize expectation comes from
ggml's quantize_row_q8_1_ref, its dequantize expectation is d * q computed
here from that layout.

Random scale fields are finite: a NaN scale's payload after arithmetic is
not something two implementations agree on, and no quantizer writes one.

Run with the project's test venv: /opt/tsr-venv/bin/python tests/reference/quant_ref.py
File layout (little-endian):
  "TSRQREF1", u32 gguf_type, u32 block_elems, u32 block_bytes,
  u32 n_dequant, n_dequant * block_bytes bytes, n_dequant * block_elems f32,
  u32 n_quant, n_quant * block_elems f32, n_quant * block_bytes bytes
(for f32, f16 and bf16 a block is one value)."""

import ctypes
import os
import pathlib
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

MODEL = os.path.expanduser("~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = pathlib.Path(__file__).resolve().parent / "quant"
SEED = 20240613

# name: (type, block_elems, block_bytes, offsets of f16 scale fields)
FORMATS = {
    "f32": (T.F32, 1, 4, ()),
    "f16": (T.F16, 1, 2, ()),
    "bf16": (T.BF16, 1, 2, ()),
    "q8_0": (T.Q8_0, 32, 34, (0,)),
    "q8_1": (T.Q8_1, 32, 36, (0, 2)),
    "q4_1": (T.Q4_1, 32, 20, (0, 2)),
}


def ggml_base():
    import llama_cpp

    path = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    return ctypes.CDLL(str(path))


def ggml_quantize(lib, fn_name, floats, block_bytes, block_elems):
    """Calls ggml's quantize_row_X_ref(const float *x, void *y, int64_t k)."""
    fn = getattr(lib, fn_name)
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


def model_bytes(reader, qtype, block_bytes, per_tensor, tensors):
    """per_tensor blocks' bytes from each of up to `tensors` tensors of qtype,
    taken from the start, the middle and the end of the model."""
    chosen = [t for t in reader.tensors if t.tensor_type == qtype]
    if not chosen:
        return np.zeros(0, dtype=np.uint8)
    picks = [chosen[i] for i in sorted({0, len(chosen) // 2, len(chosen) - 1})][:tensors]
    parts = []
    for t in picks:
        raw = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
        middle = (len(raw) // block_bytes // 2) * block_bytes
        parts.append(raw[middle : middle + per_tensor * block_bytes])
    return np.concatenate(parts)


def dequant_section(name, reader, rng):
    qtype, elems, nbytes, scales = FORMATS[name]
    from_model = model_bytes(reader, qtype, nbytes, 16 if elems > 1 else 256, 3)
    n_random = 32 if elems > 1 else 1024
    random = rng.integers(0, 256, size=n_random * nbytes, dtype=np.uint8).reshape(n_random, nbytes)
    for offset in scales:
        random[:, offset : offset + 2] = random_halves(rng, n_random).view(np.uint8).reshape(-1, 2)
    if name == "f16":  # no NaN halves: conversions differ in payload quieting
        random = random_halves(rng, n_random).view(np.uint8).reshape(n_random, nbytes)
        random[1:5] = np.array([0x7C00, 0xFC00, 0x0400, 0x03FF], dtype=np.uint16).view(np.uint8).reshape(4, 2)
    data = np.concatenate([from_model, random.reshape(-1)])
    n_blocks = len(data) // nbytes
    if name == "q8_1":
        blocks = data.reshape(n_blocks, nbytes)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        q = blocks[:, 4:].copy().view(np.int8).astype(np.float32)
        expected = (d * q).astype(np.float32).reshape(-1)
    else:
        expected = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
    assert expected.size == n_blocks * elems
    return n_blocks, data, expected


def quant_inputs(name, rng):
    _, elems, _, _ = FORMATS[name]
    if elems == 1:
        values = [rng.standard_normal(512) * 10.0 ** rng.integers(-8, 5, size=512)]
        if name == "f16":
            # ties at half precision, overflow, the subnormal range, infinities
            ulp = np.float32(2.0**-10)
            values.append(np.array([1 + ulp / 2, 1 + 3 * ulp / 2, 65504, 65519, 65520, 70000, -1e6,
                                    2.0**-24, 2.0**-25, 1.5 * 2.0**-25, 3 * 2.0**-26, 2.0**-14,
                                    np.inf, -np.inf, -0.0, 0.0], dtype=np.float32))
        if name == "bf16":
            values.append(np.array([1 + 2.0**-8, 1 + 3 * 2.0**-8, 3.4e38, np.inf, -np.inf, np.nan,
                                    -np.nan, 1e-40, -0.0], dtype=np.float32))
            # signaling NaNs, which must come out quiet (and not round into infinity)
            values.append(np.array([0x7F800001, 0xFF800001, 0x7F810000, 0x7FBFFFFF],
                                   dtype=np.uint32).view(np.float32))
        # the edge cases first, where the SIMD paths (not their scalar tails)
        # meet them; each part to float32 first, as a trip through float64
        # would quiet the NaNs
        parts = [v.astype(np.float32) for v in values]
        return np.concatenate(parts[1:] + parts[:1])
    # scale exactly 1 (d = 127 / 127): the values themselves meet the
    # rounding, including the trap of 0.49999997 + 0.5 rounding up to 1
    traps = np.array([127, 0.49999997, -0.49999997, 0.5, -0.5, 1.4999999, 1.5, -1.5, 2.5, -2.5,
                      126.5, -126.5, 0.50000006, 3.4999998, -3.4999998, 63.5] * 2, dtype=np.float32)
    blocks = [traps[:elems]]
    n = 47
    for i in range(n):
        kind = i % 8
        scale = np.float32(10.0 ** rng.uniform(-4, 3))
        if kind == 0:
            b = rng.standard_normal(elems) * scale
        elif kind == 1:
            b = rng.uniform(-1, 1, elems) * scale
        elif kind == 2:
            b = rng.standard_normal(elems) * scale + 3 * scale  # one-sided, for q4_1's minimum
        elif kind == 3:
            b = np.zeros(elems) if i < 8 else np.full(elems, scale)  # d = 0 / constant block
        elif kind == 4:
            # exact halves of the step: the round-half-away-from-zero cases
            b = (rng.integers(-127, 128, elems) + 0.5) * np.float32(1.0 / 128)
            b[0] = 127.0 / 128
        elif kind == 5:
            b = rng.standard_t(2, elems) * scale  # heavy tails: one big value sets the scale
        elif kind == 6:
            b = np.array([(-1) ** j * 2.0 ** rng.integers(-20, 20) for j in range(elems)])
        else:
            b = rng.standard_normal(elems) * np.float32(1e-6)  # tiny: f16 subnormal scales
        blocks.append(b.astype(np.float32))
    return np.concatenate(blocks)


def quant_section(name, rng, lib):
    qtype, elems, nbytes, _ = FORMATS[name]
    x = quant_inputs(name, rng)
    if name == "q8_1":
        expected = ggml_quantize(lib, "quantize_row_q8_1_ref", x, nbytes, elems)
    else:
        expected = np.ascontiguousarray(gguf.quants.quantize(x, qtype)).view(np.uint8).reshape(-1)
        if name in ("q8_0", "q4_1"):
            ggml = ggml_quantize(lib, f"quantize_row_{name}_ref", x, nbytes, elems)
            assert np.array_equal(ggml, expected), f"gguf and ggml disagree on {name}"
    assert expected.size == len(x) // elems * nbytes
    return len(x) // elems, x, expected


def write_reference(path, qtype, elems, nbytes, deq_bytes, deq_floats, q_floats, q_bytes):
    """One reference file in the layout above; the other quant*_ref.py scripts
    write theirs with it too."""
    with open(path, "wb") as f:
        f.write(b"TSRQREF1")
        f.write(struct.pack("<III", int(qtype), elems, nbytes))
        f.write(struct.pack("<I", len(deq_bytes) // nbytes))
        f.write(deq_bytes.tobytes())
        f.write(deq_floats.astype("<f4").tobytes())
        f.write(struct.pack("<I", len(q_bytes) // nbytes))
        f.write(q_floats.astype("<f4").tobytes())
        f.write(q_bytes.tobytes())


def main():
    reader = gguf.GGUFReader(MODEL)
    lib = ggml_base()
    OUT.mkdir(exist_ok=True)
    for index, name in enumerate(FORMATS):
        rng = np.random.default_rng(SEED + index)
        qtype, elems, nbytes, _ = FORMATS[name]
        n_deq, deq_bytes, deq_floats = dequant_section(name, reader, rng)
        n_q, q_floats, q_bytes = quant_section(name, rng, lib)
        write_reference(OUT / f"{name}.bin", qtype, elems, nbytes, deq_bytes, deq_floats,
                        q_floats, q_bytes)
        print(f"{name}: {n_deq} blocks to dequantize, {n_q} to quantize", file=sys.stderr)


if __name__ == "__main__":
    main()
