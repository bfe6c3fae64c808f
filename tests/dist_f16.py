#!/usr/bin/env python3
"""Compares two `perplexity --save-logits` files token by token (the layout
is drawn in cli/logits_file.h): one process's, and a pipeline's with
dist.activations: f16. Prints, as TAP comments, the largest difference of
ln p (log-softmax: a row's logits up to the constant the softmax removes)
over every entry and over the entries the reference gives p >= 1e-4, and how
often both put the same token first; exit 0 when these are within the bounds
given and the largest is not 0 (the file itself rounds ln p to half precision: within 2^-11 near 0,
0.008 at ln p = -9.2).

Usage: dist_f16.py REFERENCE OTHER MAX_DIFF_LIKELY MIN_TOP1_SHARE"""
import struct
import sys

import numpy as np


def read(path):
    data = open(path, "rb").read()
    assert data[:8] == b"TSRLOGIT", path
    _version, n_vocab, n_ctx, n_chunks = struct.unpack_from("<4I", data, 8)
    rows = n_chunks * (n_ctx - 1 - n_ctx // 2)
    start = 24 + 4 * n_ctx * n_chunks
    values = np.frombuffer(data, dtype="<f2", count=rows * n_vocab, offset=start)
    return values.astype(np.float64).reshape(rows, n_vocab)


def main():
    ref, other = read(sys.argv[1]), read(sys.argv[2])
    max_likely, min_top1 = float(sys.argv[3]), float(sys.argv[4])
    assert ref.shape == other.shape, (ref.shape, other.shape)
    diff = np.abs(ref - other)
    likely = ref >= np.log(1e-4)
    top1 = float(np.mean(np.argmax(ref, axis=1) == np.argmax(other, axis=1)))
    worst_likely = float(diff[likely].max())
    print(f"# f16 activations, over {ref.shape[0]} tokens of {ref.shape[1]} entries: "
          f"largest |d ln p| {diff.max():.4f} (every entry), {worst_likely:.4f} "
          f"(entries with p >= 1e-4), mean {diff.mean():.5f}; top-1 agreement "
          f"{100 * top1:.1f}%")
    # Something was rounded: a pipeline that sent f32 anyway would agree exactly.
    ok = 0 < worst_likely <= max_likely and top1 >= min_top1 and np.isfinite(diff).all()
    if not ok:
        print(f"# bounds: 0 < largest |d ln p| (p >= 1e-4) <= {max_likely}, "
              f"top-1 >= {min_top1}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
