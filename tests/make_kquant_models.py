#!/usr/bin/env python3
"""Test setup: the default model re-quantized by llama.cpp into the K-quant
mixes, for tests/test_quant_k_model.c (and for tests/reference/quant_k_ref.py,
which takes real K-quant blocks from them).

  make_kquant_models.py OUT_DIR [VARIANT...]

writes OUT_DIR/SmolLM2-135M-Instruct.VARIANT.gguf for each variant (all by
default), skipping files already there. The files are build output, never
committed: make check runs this into the build tree. When llama-cpp-python or
the default model is missing it writes OUT_DIR/UNAVAILABLE with the reason
and exits 1, so the tests can say why they cannot run.

The default model's 576-wide rows are not multiples of 256, so llama.cpp's
quantizer gives those tensors the fallback types (q5_0, q5_1, q4_0, q8_0);
only the 1536-wide ffn_down tensors get K-quants. The standard q2_k mix ends
up with q3_K there and no q2_K at all, so q2_k_pure (every tensor at the
ftype's own type, where it fits) is made as well.
"""
import ctypes
import os
import pathlib
import sys

MODEL = os.path.expanduser(
    os.path.join(os.environ.get("TESSERA_MODEL_CACHE", "~/.cache/tessera/models"),
                 "SmolLM2-135M-Instruct.Q4_1.gguf"))

# variant: (llama.cpp file type, pure)
VARIANTS = {
    "Q4_K_M": ("LLAMA_FTYPE_MOSTLY_Q4_K_M", False),
    "Q5_K_M": ("LLAMA_FTYPE_MOSTLY_Q5_K_M", False),
    "Q6_K": ("LLAMA_FTYPE_MOSTLY_Q6_K", False),
    "Q3_K_M": ("LLAMA_FTYPE_MOSTLY_Q3_K_M", False),
    "Q2_K": ("LLAMA_FTYPE_MOSTLY_Q2_K", False),
    "Q2_K_pure": ("LLAMA_FTYPE_MOSTLY_Q2_K", True),
}


def model_path(out_dir, variant):
    return pathlib.Path(out_dir) / f"SmolLM2-135M-Instruct.{variant}.gguf"


def make(out_dir, variant):
    """Quantizes the default model into OUT_DIR; returns the file's path."""
    import llama_cpp

    path = model_path(out_dir, variant)
    if path.exists():
        return path
    ftype, pure = VARIANTS[variant]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, ftype)
    params.allow_requantize = True  # the source is already q4_1
    params.pure = pure
    params.nthread = 2
    partial = path.with_suffix(".partial")
    rc = llama_cpp.llama_model_quantize(str(MODEL).encode(), str(partial).encode(),
                                        ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({variant}) returned {rc}")
    partial.rename(path)
    return path


def make_quietly(out_dir, variant):
    """make(), with llama.cpp's per-tensor log (on stderr) thrown away."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(devnull, 2)
    try:
        return make(out_dir, variant)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    unavailable = out_dir / "UNAVAILABLE"
    variants = sys.argv[2:] or list(VARIANTS)
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        unavailable.write_text(f"llama-cpp-python is not importable by {sys.executable}: {e}\n")
        print(unavailable.read_text(), file=sys.stderr, end="")
        return 1
    if not os.path.exists(MODEL):
        unavailable.write_text(f"the default model is missing at {MODEL}: "
                               "run contrib/fetch-model.sh\n")
        print(unavailable.read_text(), file=sys.stderr, end="")
        return 1
    try:
        for variant in variants:
            make_quietly(out_dir, variant)
    except Exception as e:  # the reason goes where the tests will read it
        unavailable.write_text(f"llama.cpp's quantizer failed: {e}\n")
        print(unavailable.read_text(), file=sys.stderr, end="")
        return 1
    if unavailable.exists():
        unavailable.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
