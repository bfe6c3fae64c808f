#!/usr/bin/env python3
"""Writes tests/reference/quant/NAME.bin for the low-bit formats big models
ship in (mxfp4 and ggml's 1- to 3-bit i-quants), in quant_ref.py's file
layout (see there), which tests/test_quant_lowbit.c reads.

  dequantize: blocks ggml's own quantizer (ggml_quantize_chunk, from
              llama-cpp-python's libggml-base) makes from the default
              model's real ffn_down weights, and seeded random blocks (any
              bytes are a valid block; f16 scales are kept finite). The
              expected floats are the gguf package's gguf.quants.dequantize
              of the bytes, checked against ggml's dequantize_row_NAME bit
              for bit. Random blocks of the larger grids (iq2_xs, iq2_s,
              iq3_s, iq1_s) go through every grid point. The i-quants' quantizer
              takes an importance matrix (ggml insists on one for
              iq2_xxs, iq2_xs and iq1_s): all ones, every column as
              important as the next.
  quantize:   mxfp4 only (the plugins read the i-quants, they do not make
              them): quant_legacy_ref.py's assorted float blocks, the bytes
              ggml's quantize_row_mxfp4_ref makes of them, checked against
              gguf.quants.quantize.

Run with the project's test venv:
  /opt/tsr-venv/bin/python tests/reference/quant_lowbit_ref.py [NAME...]
"""
import ctypes
import pathlib
import sys

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from quant_iq3_xxs_ref import ggml_base, real_rows  # noqa: E402
from quant_legacy_ref import ggml_quantize_ref, quant_inputs, random_halves  # noqa: E402
from quant_ref import write_reference  # noqa: E402

OUT = HERE / "quant"
SEED = 20261207

# name: (type, offsets of the f16 scale fields, random blocks); iq1_m's f16
# is in no field of its own (put_d_iq1_m)
FORMATS = {
    "mxfp4": (T.MXFP4, (), 96),
    "iq2_xxs": (T.IQ2_XXS, (0,), 96),
    "iq2_xs": (T.IQ2_XS, (0,), 96),
    "iq2_s": (T.IQ2_S, (0,), 96),
    "iq3_s": (T.IQ3_S, (0,), 96),
    "iq1_s": (T.IQ1_S, (0,), 96),
    "iq1_m": (T.IQ1_M, (), 96),
}


def ggml_quantize_chunk(lib, qtype, rows):
    """ggml_quantize_chunk(qtype, rows, dst, 0, nrows, n_per_row, ones)."""
    fn = lib.ggml_quantize_chunk
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                   ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    fn.restype = ctypes.c_size_t
    elems, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    x = np.ascontiguousarray(rows, dtype=np.float32)
    n_rows, n_per_row = x.shape
    importance = np.ones(n_per_row, dtype=np.float32)
    out = np.zeros(n_rows * n_per_row // elems * nbytes, dtype=np.uint8)
    written = fn(int(qtype), x.ctypes.data, out.ctypes.data, 0, n_rows, n_per_row,
                 importance.ctypes.data)
    assert written == len(out), (written, len(out))
    return out


def ggml_dequantize(lib, name, qtype, data):
    fn = getattr(lib, f"dequantize_row_{name}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    elems, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = np.ascontiguousarray(data, dtype=np.uint8)
    n = len(blocks) // nbytes * elems
    out = np.zeros(n, dtype=np.float32)
    fn(blocks.ctypes.data, out.ctypes.data, n)
    return out


def put_index_iq2_xs(block, k, index):
    """Grid index of point k (0..31): the low 9 bits of u16 k at byte 2."""
    q = int(block[2 + 2 * k]) | int(block[3 + 2 * k]) << 8
    q = (q & ~511) | index
    block[2 + 2 * k], block[3 + 2 * k] = q & 255, q >> 8


def put_index_iq2_s(block, k, index):
    """Point k: qs[k] at byte 2, bits 8-9 in qh[k // 4] (byte 66), bits 2(k % 4) on."""
    block[2 + k] = index & 255
    shift = 2 * (k % 4)
    block[66 + k // 4] = (int(block[66 + k // 4]) & ~(3 << shift)) | (index >> 8) << shift


def put_index_iq3_s(block, k, index):
    """Point k (0..63): qs[k] at byte 2, bit 8 in qh[k // 8] (byte 66), bit k % 8."""
    block[2 + k] = index & 255
    bit = k % 8
    block[66 + k // 8] = (int(block[66 + k // 8]) & ~(1 << bit)) | (index >> 8) << bit


def put_index_iq1_s(block, k, index):
    """Point k: qs[k] at byte 2, bits 8-10 in u16 qh[k // 4] (byte 34), bits 3(k % 4) on."""
    block[2 + k] = index & 255
    at = 34 + 2 * (k // 4)
    shift = 3 * (k % 4)
    qh = int(block[at]) | int(block[at + 1]) << 8
    qh = (qh & ~(7 << shift)) | (index >> 8) << shift
    block[at], block[at + 1] = qh & 255, qh >> 8


def put_index_iq1_m(block, k, index):
    """Point k: qs[k] at byte 0, bits 8-10 the low 3 bits of nibble k % 2 (low first)
    of qh[k // 2] at byte 32; the nibble's top bit (the shift's sign) stays."""
    block[k] = index & 255
    shift = 4 * (k % 2)
    block[32 + k // 2] = (int(block[32 + k // 2]) & ~(7 << shift)) | (index >> 8) << shift


def put_d_iq1_m(blocks, halves):
    """Each block's f16 d: bits 4j .. 4j + 3 in the top nibble of u16 scale word j
    (byte 48 + 2j), whose 3-bit scales stay."""
    bits = halves.view(np.uint16).astype(np.int64)
    for j in range(4):
        hi = 49 + 2 * j
        blocks[:, hi] = (blocks[:, hi] & 0x0f) | ((bits >> 4 * j & 15) << 4).astype(np.uint8)


# type: (grid points, points per block, how to set a point's index)
GRID_INDICES = {
    T.IQ2_XS: (512, 32, put_index_iq2_xs),
    T.IQ2_S: (1024, 32, put_index_iq2_s),
    T.IQ3_S: (512, 64, put_index_iq3_s),
    T.IQ1_S: (2048, 32, put_index_iq1_s),
    T.IQ1_M: (2048, 32, put_index_iq1_m),
}


def random_blocks(rng, qtype, scales, n):
    _, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    for offset in scales:
        blocks[:, offset:offset + 2] = random_halves(rng, n).view(np.uint8).reshape(-1, 2)
    if qtype == T.IQ1_M:
        put_d_iq1_m(blocks, random_halves(rng, n))
    if qtype == T.MXFP4:  # the E8M0 edges: subnormal scales, 1, overflow
        edges = [0, 1, 2, 127, 128, 254, 255]
        blocks[:len(edges), 0] = edges
    if qtype in GRID_INDICES:  # the first blocks go through the whole grid, in a random order
        n_points, per_block, put_index = GRID_INDICES[qtype]
        assert n * per_block >= n_points
        for position, index in enumerate(rng.permutation(n_points)):
            put_index(blocks[position // per_block], position % per_block, int(index))
    return blocks.reshape(-1)


def dequant_section(lib, name, rng):
    qtype, scales, n_random = FORMATS[name]
    _, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    from_weights = ggml_quantize_chunk(lib, qtype, real_rows(8))
    data = np.concatenate([from_weights, random_blocks(rng, qtype, scales, n_random)])
    expected = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
    ggml = ggml_dequantize(lib, name, qtype, data)
    assert np.array_equal(expected.view(np.uint32), ggml.view(np.uint32)), \
        f"the gguf package and ggml dequantize {name} differently"
    return len(data) // nbytes, len(from_weights) // nbytes, data, expected


def quant_section(lib, name, rng):
    if name != "mxfp4":
        return 0, np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.uint8)
    qtype = FORMATS[name][0]
    elems, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    x = quant_inputs(elems, rng)
    expected = ggml_quantize_ref(lib, name, x, nbytes, elems)
    package = np.ascontiguousarray(gguf.quants.quantize(x, qtype)).view(np.uint8).reshape(-1)
    assert np.array_equal(package, expected), f"gguf and ggml quantize {name} differently"
    return len(x) // elems, x, expected


def main():
    names = sys.argv[1:] or list(FORMATS)
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise SystemExit(f"quant_lowbit_ref.py: unknown {', '.join(unknown)}; "
                         f"known: {', '.join(FORMATS)}")
    lib = ggml_base()
    for name in names:
        rng = np.random.default_rng(SEED + int(FORMATS[name][0]))
        qtype = FORMATS[name][0]
        elems, nbytes = gguf.GGML_QUANT_SIZES[qtype]
        n_deq, n_ggml, deq_bytes, deq_floats = dequant_section(lib, name, rng)
        n_q, q_floats, q_bytes = quant_section(lib, name, rng)
        write_reference(OUT / f"{name}.bin", qtype, elems, nbytes, deq_bytes, deq_floats,
                        q_floats, q_bytes)
        print(f"{name}: {n_deq} blocks to dequantize ({n_ggml} from ggml's quantizer), "
              f"{n_q} to quantize", file=sys.stderr)


if __name__ == "__main__":
    main()
