#!/usr/bin/env python3
"""Writes tests/reference/quant/iq3_xxs.bin for the iq3_xxs plugin, in
quant_ref.py's file layout (see there), which tests/test_quant_iq3_xxs.c
reads.

  dequantize: blocks ggml's own quantizer (ggml_quantize_chunk, from
              llama-cpp-python's libggml-base, no importance matrix) makes
              from the default model's real ffn_down weights, and seeded
              random blocks (any bytes are a valid block; the f16 scale is
              kept finite). The expected floats are the gguf package's
              gguf.quants.dequantize of the bytes, checked against ggml's
              dequantize_row_iq3_xxs bit for bit.
  quantize:   none: the plugin does not quantize iq3_xxs.

llama.cpp's model quantizer will not write IQ3_XXS tensors without an
importance matrix, and its IQ3_XXS mix of the default model has none (the
576-wide tensors fall back to iq4_nl, ffn_down gets q3_K and q4_K), hence
ggml_quantize_chunk on rows of weights.

Run with the project's test venv:
  /opt/tsr-venv/bin/python tests/reference/quant_iq3_xxs_ref.py
"""
import ctypes
import pathlib
import struct
import sys

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import make_quant_models  # noqa: E402

OUT = HERE / "quant" / "iq3_xxs.bin"
SEED = 20251125
QK = 256
BLOCK_BYTES = 98


def ggml_base():
    import llama_cpp

    return ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))


def ggml_quantize_iq3_xxs(lib, rows):
    """ggml_quantize_chunk(IQ3_XXS, rows, dst, 0, nrows, n_per_row, NULL)."""
    fn = lib.ggml_quantize_chunk
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                   ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    fn.restype = ctypes.c_size_t
    x = np.ascontiguousarray(rows, dtype=np.float32)
    n_rows, n_per_row = x.shape
    out = np.zeros(n_rows * n_per_row // QK * BLOCK_BYTES, dtype=np.uint8)
    written = fn(int(T.IQ3_XXS), x.ctypes.data, out.ctypes.data, 0, n_rows, n_per_row, None)
    assert written == len(out), (written, len(out))
    return out


def ggml_dequantize_iq3_xxs(lib, data):
    fn = lib.dequantize_row_iq3_xxs
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    blocks = np.ascontiguousarray(data, dtype=np.uint8)
    n = len(blocks) // BLOCK_BYTES * QK
    out = np.zeros(n, dtype=np.float32)
    fn(blocks.ctypes.data, out.ctypes.data, n)
    return out


def real_rows(n_rows):
    """n_rows 1536-wide rows of the default model's ffn_down weights, as floats."""
    reader = gguf.GGUFReader(make_quant_models.MODEL)
    rows = []
    for t in reader.tensors:
        if t.name.endswith("ffn_down.weight") and len(rows) < n_rows:
            w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1, 1536)
            rows.append(w[len(rows) * 37 % w.shape[0]])
    return np.stack(rows).astype(np.float32)


def random_blocks(rng, n):
    blocks = rng.integers(0, 256, size=(n, BLOCK_BYTES), dtype=np.uint8)
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    exponent = (bits >> 10) & 0x1F
    bits = np.where(exponent == 0x1F, bits & 0xFBFF, bits)  # finite
    special = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x3C00], dtype=np.uint16)
    bits[: len(special)] = special
    blocks[:, 0:2] = bits.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(-1)


def main():
    lib = ggml_base()
    rng = np.random.default_rng(SEED)
    from_weights = ggml_quantize_iq3_xxs(lib, real_rows(8))
    data = np.concatenate([from_weights, random_blocks(rng, 24)])
    expected = gguf.quants.dequantize(data, T.IQ3_XXS).astype(np.float32).reshape(-1)
    ggml = ggml_dequantize_iq3_xxs(lib, data)
    assert np.array_equal(expected.view(np.uint32), ggml.view(np.uint32)), \
        "the gguf package and ggml dequantize iq3_xxs differently"
    n_blocks = len(data) // BLOCK_BYTES
    with open(OUT, "wb") as f:
        f.write(b"TSRQREF1")
        f.write(struct.pack("<III", int(T.IQ3_XXS), QK, BLOCK_BYTES))
        f.write(struct.pack("<I", n_blocks))
        f.write(data.tobytes())
        f.write(expected.astype("<f4").tobytes())
        f.write(struct.pack("<I", 0))
    print(f"{OUT}: {n_blocks} blocks ({len(from_weights) // BLOCK_BYTES} from ggml's quantizer)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
