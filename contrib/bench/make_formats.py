#!/usr/bin/env python3
"""The default model in other quantization formats, for contrib/bench/compare.sh:
llama.cpp's own quantizer (llama-cpp-python's llama_model_quantize,
allow_requantize, pure: every tensor in the named format where llama.cpp
allows it) re-quantizes the default model once into
OUT_DIR/SmolLM2-135M-Instruct.FORMAT.gguf. Files already there are kept.
The i-quants below 4 bits get an importance matrix of ones (every column
as important as the next: llama.cpp refuses iq2_xxs, iq2_xs, iq1_s and
iq1_m without one), the rest none. mxfp4 is llama.cpp's MXFP4_MOE, which pure puts in
every tensor (without pure only in experts, which this model has none of).

    make_formats.py OUT_DIR FORMAT...

Prints each file's path, one a line, in the order asked. The 576-wide rows
of the default model are not a multiple of 256, so in the K-quant and iq4_xs
files llama.cpp gives those tensors its fallback format (q4_k -> q5_0,
q5_k -> q5_1, q6_k -> q8_0, q3_k/q2_k/iq4_xs and the i-quants below 4 bits
-> iq4_nl); only the 1536-wide ffn_down matrices carry the named format
there. Both runtimes read the same
file, so the comparison stays fair."""
import ctypes
import os
import sys

MODEL = os.path.join(os.path.expanduser(os.environ.get("TESSERA_MODEL_CACHE",
                                                       "~/.cache/tessera/models")),
                     "SmolLM2-135M-Instruct.Q4_1.gguf")

# format: llama.h's file type (LLAMA_FTYPE_MOSTLY_*); the K mixes' "_M" is
# irrelevant with pure, which gives every tensor the mix's base format. That
# base format of IQ2_S is IQ2_XS, and of IQ2_M IQ2_S (llama-quant.cpp's
# llama_ftype_get_default_type): iq2_s comes from IQ2_M.
FORMATS = {
    "bf16": "BF16", "q4_0": "Q4_0", "q4_1": "Q4_1", "q5_0": "Q5_0", "q5_1": "Q5_1",
    "q8_0": "Q8_0", "q2_k": "Q2_K", "q3_k": "Q3_K_M", "q4_k": "Q4_K_M", "q5_k": "Q5_K_M",
    "q6_k": "Q6_K", "iq4_nl": "IQ4_NL", "iq4_xs": "IQ4_XS", "mxfp4": "MXFP4_MOE",
    "iq3_xxs": "IQ3_XXS", "iq3_s": "IQ3_S", "iq2_s": "IQ2_M", "iq2_xs": "IQ2_XS",
    "iq2_xxs": "IQ2_XXS", "iq1_s": "IQ1_S", "iq1_m": "IQ1_M",
}
# the formats quantized with an importance matrix (of ones)
IMPORTANCE = {"iq3_xxs", "iq3_s", "iq2_s", "iq2_xs", "iq2_xxs", "iq1_s", "iq1_m"}


def importance_of_ones():
    """llama_model_imatrix_data entries, one per matrix of the model, all
    ones, NULL-terminated; returned with the arrays they point into."""
    import gguf
    import llama_cpp
    import numpy as np

    matrices = [t for t in gguf.GGUFReader(MODEL).tensors
                if len(t.shape) == 2 and t.name.endswith(".weight")]
    entries = (llama_cpp.llama_model_imatrix_data * (len(matrices) + 1))()
    keep = []
    for entry, t in zip(entries, matrices):
        ones = np.ones(int(t.shape[0]), dtype=np.float32)
        keep.append((t.name.encode(), ones))
        entry.name = keep[-1][0]
        entry.data = ones.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        entry.size = ones.size
    return entries, keep


def make(fmt, path):
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + FORMATS[fmt])
    params.allow_requantize = True  # the source is already q4_1
    params.pure = True
    params.nthread = 2
    if fmt in IMPORTANCE:
        entries, keep = importance_of_ones()  # noqa: F841 (alive through the call)
        params.imatrix = ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    partial = path + ".partial"
    rc = llama_cpp.llama_model_quantize(MODEL.encode(), partial.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"make_formats.py: llama_model_quantize({fmt}) returned {rc}")
    os.replace(partial, path)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, formats = sys.argv[1], sys.argv[2:]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        sys.exit(f"make_formats.py: unknown format {', '.join(unknown)}; "
                 f"known: {', '.join(FORMATS)}")
    if not os.path.exists(MODEL):
        sys.exit(f"make_formats.py: {MODEL}: no such file (contrib/fetch-model.sh fetches it)")
    os.makedirs(out_dir, exist_ok=True)
    for fmt in formats:
        path = os.path.join(out_dir, f"SmolLM2-135M-Instruct.{fmt}.gguf")
        if not os.path.exists(path):
            print(f"make_formats.py: quantizing {fmt} into {path}", file=sys.stderr)
            make(fmt, path)
        print(path, flush=True)


if __name__ == "__main__":
    main()
