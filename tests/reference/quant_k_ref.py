#!/usr/bin/env python3
"""Writes tests/reference/quant/FORMAT.bin for the K-quant plugins (q4_k,
q6_k, q5_k, q3_k, q2_k) and q8_k, their activation form, in quant_ref.py's
file layout (see there), which tests/test_quant_k.c reads.

  dequantize: blocks from the default model re-quantized by llama.cpp
              (tests/make_quant_models.py makes the files; its 1536-wide
              ffn_down tensors are K-quants), blocks ggml's reference
              quantizer makes from the model's real weights, and seeded
              random blocks (f16 scale fields finite). The expected floats
              are the gguf package's gguf.quants.dequantize of the bytes,
              checked against ggml's own dequantize_row_* (libggml-base
              from llama-cpp-python) bit for bit.
  quantize:   seeded random floats of several shapes and rows of the
              model's real weights. For q8_k the expected bytes are ggml's
              quantize_row_q8_K_ref (the gguf package has no Q8_K), which
              the plugin must reproduce exactly; for the weight formats they
              are ggml's quantize_row_*_ref, which the plugins need not match
              byte for byte (ggml searches for least-squares scales): the
              test compares the plugins' round-trip error with ggml's.

q8_k's dequantize expectation is ggml's dequantize_row_q8_K (d * q).

Run with the project's test venv:
  /opt/tsr-venv/bin/python tests/reference/quant_k_ref.py
"""
import ctypes
import pathlib
import struct
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import make_quant_models  # noqa: E402

OUT = HERE / "quant"
SEED = 20240614

# name: (type, block_bytes, offsets of f16 scale fields, model variant with real blocks)
FORMATS = {
    "q8_k": (T.Q8_K, 292, (), None),
    "q4_k": (T.Q4_K, 144, (0, 2), "Q4_K_M"),
    "q6_k": (T.Q6_K, 210, (208,), "Q6_K"),
    "q5_k": (T.Q5_K, 176, (0, 2), "Q5_K_M"),
    "q3_k": (T.Q3_K, 110, (108,), "Q2_K"),
    "q2_k": (T.Q2_K, 84, (80, 82), "Q2_K_pure"),
}
QK = 256


def ggml_base():
    import llama_cpp

    return ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))


def ggml_quantize(lib, name, floats, block_bytes):
    """ggml's quantize_row_X_ref(const float *x, void *y, int64_t k), into a zeroed buffer."""
    fn = getattr(lib, f"quantize_row_{name}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    x = np.ascontiguousarray(floats, dtype=np.float32)
    out = np.zeros(len(x) // QK * block_bytes, dtype=np.uint8)
    fn(x.ctypes.data, out.ctypes.data, len(x))
    return out


def ggml_dequantize(lib, name, data):
    fn = getattr(lib, f"dequantize_row_{name}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    blocks = np.ascontiguousarray(data, dtype=np.uint8)
    n_blocks = len(blocks) // FORMATS[name.lower()][1]
    out = np.zeros(n_blocks * QK, dtype=np.float32)
    fn(blocks.ctypes.data, out.ctypes.data, n_blocks * QK)
    return out


def random_halves(rng, n):
    """Finite f16 bit patterns across the whole range (quant_ref.py's)."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    exponent = (bits >> 10) & 0x1F
    bits = np.where(exponent == 0x1F, bits & 0xFBFF, bits)
    special = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x3C00], dtype=np.uint16)
    bits[: min(n, len(special))] = special[: min(n, len(special))]
    return bits


def real_weights(n_rows):
    """n_rows 1536-wide rows of the default model's ffn_down weights, as floats."""
    reader = gguf.GGUFReader(make_quant_models.MODEL)
    rows = []
    for t in reader.tensors:
        if t.name.endswith("ffn_down.weight") and len(rows) < n_rows:
            w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1, 1536)
            rows.append(w[len(rows) * 37 % w.shape[0]])
    return np.concatenate(rows).astype(np.float32)


def model_blocks(path, qtype, block_bytes, per_tensor=8, tensors=3):
    """per_tensor blocks from the middle of up to `tensors` tensors of qtype."""
    reader = gguf.GGUFReader(path)
    chosen = [t for t in reader.tensors if t.tensor_type == qtype]
    assert chosen, f"{path} has no {qtype.name} tensor"
    picks = [chosen[i] for i in sorted({0, len(chosen) // 2, len(chosen) - 1})][:tensors]
    parts = []
    for t in picks:
        raw = np.ascontiguousarray(t.data).view(np.uint8).reshape(-1)
        middle = (len(raw) // block_bytes // 2) * block_bytes
        parts.append(raw[middle : middle + per_tensor * block_bytes])
    return np.concatenate(parts)


def dequant_section(name, models_dir, lib, rng, weights):
    qtype, nbytes, scales, variant = FORMATS[name]
    n_random = 24
    random = rng.integers(0, 256, size=(n_random, nbytes), dtype=np.uint8)
    if name == "q8_k":
        d = (rng.standard_normal(n_random) * 10.0 ** rng.uniform(-6, 3, n_random)).astype(np.float32)
        d[:3] = [0.0, -0.0, 1.0]
        random[:, 0:4] = d.view(np.uint8).reshape(-1, 4)
        data = random.reshape(-1)
        expected = ggml_dequantize(lib, "q8_K", data)
        numpy_says = (d[:, None] * random[:, 4:260].view(np.int8).astype(np.float32)).reshape(-1)
        assert np.array_equal(expected.view(np.uint32), numpy_says.view(np.uint32))
        return n_random, data, expected
    for offset in scales:
        random[:, offset : offset + 2] = random_halves(rng, n_random).view(np.uint8).reshape(-1, 2)
    from_model = model_blocks(make_quant_models.make_quietly(models_dir, variant), qtype, nbytes)
    from_weights = ggml_quantize(lib, name[:2] + "_K", weights[: 8 * QK], nbytes)
    data = np.concatenate([from_model, from_weights, random.reshape(-1)])
    expected = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
    ggml = ggml_dequantize(lib, name[:2] + "_K", data)
    assert np.array_equal(expected.view(np.uint32), ggml.view(np.uint32)), \
        f"the gguf package and ggml dequantize {name} differently"
    return len(data) // nbytes, data, expected


def quant_inputs(name, rng, weights):
    """Blocks of 256 floats: shapes a quantizer meets, edge cases first."""
    blocks = []
    if name == "q8_k":
        # scale exactly 1 (the first largest magnitude is -127): ties to even
        ties = (np.arange(QK) % 255 - 127 + 0.5).astype(np.float32)
        ties[0] = -127.0
        blocks.append(ties)
        blocks.append(-ties)  # scale -1
        sign_tie = rng.standard_normal(QK).astype(np.float32)
        sign_tie[3], sign_tie[10] = -5.0, 5.0  # the first of equal magnitudes sets the sign
        blocks.append(sign_tie)
        blocks.append(np.where(np.arange(QK) % 2 == 0, 3.0, -3.0).astype(np.float32))
        blocks.append(np.zeros(QK, dtype=np.float32))
        blocks.append((rng.standard_normal(QK) * 1e-30).astype(np.float32))
        blocks.append((rng.standard_normal(QK) * 1e30).astype(np.float32))
    for i in range(18):
        kind = i % 6
        scale = np.float32(10.0 ** rng.uniform(-3, 2))
        if kind == 0:
            b = rng.standard_normal(QK) * scale
        elif kind == 1:
            b = rng.uniform(-1, 1, QK) * scale
        elif kind == 2:
            b = rng.standard_normal(QK) * scale + 3 * scale  # one-sided: minimums
        elif kind == 3:
            b = rng.standard_t(2, QK) * scale  # heavy tails
        elif kind == 4:
            b = rng.standard_normal(QK) * scale * np.repeat(10.0 ** rng.uniform(-2, 0, 16), 16)
        else:
            b = np.full(QK, scale) if i < 6 else -np.abs(rng.standard_normal(QK)) * scale
        blocks.append(b.astype(np.float32))
    blocks.append(weights[8 * QK : 16 * QK])  # real weights, not those dequantized above
    return np.concatenate(blocks)


def main():
    lib = ggml_base()
    OUT.mkdir(exist_ok=True)
    weights = real_weights(4)
    with tempfile.TemporaryDirectory() as models_dir:
        for index, name in enumerate(FORMATS):
            rng = np.random.default_rng(SEED + index)
            qtype, nbytes, _, _ = FORMATS[name]
            n_deq, deq_bytes, deq_floats = dequant_section(name, models_dir, lib, rng, weights)
            q_floats = quant_inputs(name, rng, weights)
            q_bytes = ggml_quantize(lib, name[:2] + "_K", q_floats, nbytes)
            n_q = len(q_floats) // QK
            with open(OUT / f"{name}.bin", "wb") as f:
                f.write(b"TSRQREF1")
                f.write(struct.pack("<III", int(qtype), QK, nbytes))
                f.write(struct.pack("<I", n_deq))
                f.write(deq_bytes.tobytes())
                f.write(deq_floats.astype("<f4").tobytes())
                f.write(struct.pack("<I", n_q))
                f.write(q_floats.astype("<f4").tobytes())
                f.write(q_bytes.tobytes())
            print(f"{name}: {n_deq} blocks to dequantize, {n_q} to quantize", file=sys.stderr)


if __name__ == "__main__":
    main()
