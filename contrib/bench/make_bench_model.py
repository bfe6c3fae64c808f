#!/usr/bin/env python3
"""A Llama-shaped benchmark model at the sizes users run, for
contrib/bench/compare.sh --model-1b: random f16 weights in the shape asked
(default Llama-3.2-1B's: hidden 2048, 16 layers, 32 heads / 8 KV heads,
FFN 8192, tied embeddings) with the default model's tokenizer (its
tokenizer.* metadata copied with the `gguf` package: vocabulary 49152), then
quantized into each FORMAT by llama.cpp's own quantizer. The weights are
meaningless; the speed of reading and multiplying them is not.

    make_bench_model.py [--hidden 2048] [--layers 16] [--heads 32]
                        [--kv-heads 8] [--ffn 8192] [--seed 1] [--pure]
                        [--out-dir DIR] [--quantizer PATH] FORMAT...

FORMAT is f16 (the random model itself) or one of the formats below, each
llama.cpp's usual mix for its file type (what users download: the tied
embedding/output matrix in q6_k for the 4- and 5-bit types, q4_k as
Q4_K_S, ...); --pure puts every matrix in the named format instead. Files
go to DIR (default $TESSERA_MODEL_CACHE/bench, TESSERA_MODEL_CACHE
defaulting to ~/.cache/tessera/models), named Llama-1B-shaped.FORMAT.gguf
for the default shape and seed, else by their shape; files already there
are kept. The quantizer is llama.cpp's llama-quantize built by peer.sh
(LLAMA_QUANTIZE=PATH or --quantizer PATH use another; --quantizer python
uses llama-cpp-python's llama_model_quantize). Prints each file's path, one
a line, in the order asked; progress goes to stderr.

The weights are N(0, 1/fan_in): each matrix keeps its input's scale, so 16
layers of residual sums stay small, and the tied embedding (N(0, 1/hidden))
gives logits of about unit spread under the final norm; every norm is 1.
Each tensor has its own generator seeded by (seed, tensor index)."""
import argparse
import ctypes
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.expanduser(os.environ.get("TESSERA_MODEL_CACHE", "~/.cache/tessera/models"))
TOKENIZER_MODEL = os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf")
DEFAULT_SHAPE = dict(hidden=2048, layers=16, heads=32, kv_heads=8, ffn=8192, seed=1)

# format: llama.h's file type (LLAMA_FTYPE_MOSTLY_*), whose name is also
# llama-quantize's type argument. The i-quants below 4 bits need an
# importance matrix, which random weights do not have: not offered.
FORMATS = {
    "bf16": "BF16", "q4_0": "Q4_0", "q4_1": "Q4_1", "q5_0": "Q5_0", "q5_1": "Q5_1",
    "q8_0": "Q8_0", "q2_k": "Q2_K", "q3_k": "Q3_K_S", "q4_k": "Q4_K_S", "q5_k": "Q5_K_S",
    "q6_k": "Q6_K", "iq4_nl": "IQ4_NL", "iq4_xs": "IQ4_XS",
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("formats", nargs="+", metavar="FORMAT",
                    help="f16, " + ", ".join(FORMATS))
    ap.add_argument("--hidden", type=int, default=DEFAULT_SHAPE["hidden"])
    ap.add_argument("--layers", type=int, default=DEFAULT_SHAPE["layers"])
    ap.add_argument("--heads", type=int, default=DEFAULT_SHAPE["heads"])
    ap.add_argument("--kv-heads", type=int, default=DEFAULT_SHAPE["kv_heads"])
    ap.add_argument("--ffn", type=int, default=DEFAULT_SHAPE["ffn"])
    ap.add_argument("--seed", type=int, default=DEFAULT_SHAPE["seed"])
    ap.add_argument("--pure", action="store_true",
                    help="every matrix in the named format (llama-quantize --pure)")
    ap.add_argument("--out-dir", default=os.path.join(CACHE, "bench"))
    ap.add_argument("--quantizer", default=os.environ.get("LLAMA_QUANTIZE"),
                    help="llama-quantize's path, or 'python' for llama-cpp-python")
    a = ap.parse_args()
    unknown = [f for f in a.formats if f != "f16" and f not in FORMATS]
    if unknown:
        ap.error(f"unknown format {', '.join(unknown)}; known: f16, {', '.join(FORMATS)}")
    for name in ("hidden", "layers", "heads", "kv_heads", "ffn"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.hidden % a.heads:
        ap.error(f"--hidden {a.hidden} is not a multiple of --heads {a.heads}")
    if a.heads % a.kv_heads:
        ap.error(f"--heads {a.heads} is not a multiple of --kv-heads {a.kv_heads}")
    if (a.hidden // a.heads) % 2:
        ap.error(f"the head size {a.hidden // a.heads} is odd: rope needs an even one")
    if a.hidden % 32 or a.ffn % 32:
        ap.error("--hidden and --ffn must be multiples of 32 (the quantized formats' block)")
    return a


def stem(a):
    shape = dict(hidden=a.hidden, layers=a.layers, heads=a.heads, kv_heads=a.kv_heads,
                 ffn=a.ffn, seed=a.seed)
    if shape == DEFAULT_SHAPE:
        return "Llama-1B-shaped"
    return f"Llama-h{a.hidden}-l{a.layers}-a{a.heads}-kv{a.kv_heads}-ff{a.ffn}-s{a.seed}"


def tensors(a, n_vocab):
    """(name, rows, columns, scale) of every tensor in file order; scale 0
    marks a norm (f32 ones)."""
    head_dim = a.hidden // a.heads
    kv_dim = head_dim * a.kv_heads
    out = [("token_embd.weight", n_vocab, a.hidden, a.hidden ** -0.5)]
    for i in range(a.layers):
        b = f"blk.{i}."
        out += [(b + "attn_norm.weight", 1, a.hidden, 0.0),
                (b + "attn_q.weight", a.hidden, a.hidden, a.hidden ** -0.5),
                (b + "attn_k.weight", kv_dim, a.hidden, a.hidden ** -0.5),
                (b + "attn_v.weight", kv_dim, a.hidden, a.hidden ** -0.5),
                (b + "attn_output.weight", a.hidden, a.hidden, a.hidden ** -0.5),
                (b + "ffn_norm.weight", 1, a.hidden, 0.0),
                (b + "ffn_gate.weight", a.ffn, a.hidden, a.hidden ** -0.5),
                (b + "ffn_up.weight", a.ffn, a.hidden, a.hidden ** -0.5),
                (b + "ffn_down.weight", a.hidden, a.ffn, a.ffn ** -0.5)]
    out.append(("output_norm.weight", 1, a.hidden, 0.0))
    return out


def write_f16(a, path):
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(TOKENIZER_MODEL)
    vocab = reader.fields["tokenizer.ggml.tokens"]
    n_vocab = len(vocab.data)
    head_dim = a.hidden // a.heads
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"{stem(a)} (random weights, tessera benchmark)")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_context_length(8192)
    w.add_embedding_length(a.hidden)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ffn)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    # the default model's tokenizer, every tokenizer.* key as it is there
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, field.contents(), vtype, sub_type=field.types[-1])
        else:
            w.add_key_value(key, field.contents(), vtype)
    layout = tensors(a, n_vocab)
    for name, rows, cols, scale in layout:
        if scale == 0.0:
            w.add_tensor_info(name, (cols,), np.dtype(np.float32), cols * 4)
        else:
            w.add_tensor_info(name, (rows, cols), np.dtype(np.float16), rows * cols * 2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for index, (name, rows, cols, scale) in enumerate(layout):
        if scale == 0.0:
            w.write_tensor_data(np.ones(cols, dtype=np.float32))
            continue
        rng = np.random.default_rng([a.seed, index])
        data = np.empty((rows, cols), dtype=np.float16)
        step = max(1, (1 << 24) // cols)  # 16M values at a time
        for r in range(0, rows, step):
            block = rng.standard_normal((min(step, rows - r), cols), dtype=np.float32)
            block *= scale
            data[r:r + block.shape[0]] = block
        w.write_tensor_data(data)
    w.close()


def quantizer_path(a):
    if a.quantizer:
        return a.quantizer
    out = subprocess.run(["sh", "-c", '. "$1/peer.sh" && llama_peer llama-quantize', "sh", HERE],
                         stdout=subprocess.PIPE, check=False, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        sys.exit("make_bench_model.py: cannot build llama-quantize (peer.sh); "
                 "--quantizer python uses llama-cpp-python's instead")
    return out.stdout.strip().splitlines()[-1]


def quantize(a, quantizer, source, fmt, path):
    partial = path + ".partial"
    ftype = FORMATS[fmt]
    if quantizer == "python":
        import llama_cpp

        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + ftype)
        params.pure = a.pure
        params.nthread = os.cpu_count() or 1
        rc = llama_cpp.llama_model_quantize(source.encode(), partial.encode(), ctypes.byref(params))
        if rc != 0:
            sys.exit(f"make_bench_model.py: llama_model_quantize({fmt}) returned {rc}")
    else:
        cmd = [quantizer] + (["--pure"] if a.pure else []) + \
              [source, partial, ftype, str(os.cpu_count() or 1)]
        # llama-quantize reports every tensor: its output goes to stderr
        rc = subprocess.run(cmd, stdout=sys.stderr, check=False).returncode
        if rc != 0:
            sys.exit(f"make_bench_model.py: {' '.join(cmd)} exited with {rc}")
    os.replace(partial, path)


def main():
    a = parse_args()
    if not os.path.exists(TOKENIZER_MODEL):
        sys.exit(f"make_bench_model.py: {TOKENIZER_MODEL}: no such file "
                 "(contrib/fetch-model.sh fetches it; its tokenizer is the one used)")
    os.makedirs(a.out_dir, exist_ok=True)
    base = os.path.join(a.out_dir, stem(a))
    source = base + ".f16.gguf"
    if not os.path.exists(source):
        print(f"make_bench_model.py: writing random f16 weights into {source}", file=sys.stderr)
        write_f16(a, source + ".partial")
        os.replace(source + ".partial", source)
    quantizer = None
    for fmt in a.formats:
        path = source if fmt == "f16" else f"{base}.{fmt}{'-pure' if a.pure else ''}.gguf"
        if not os.path.exists(path):
            quantizer = quantizer or quantizer_path(a)
            print(f"make_bench_model.py: quantizing {fmt} ({FORMATS[fmt]}) into {path}",
                  file=sys.stderr)
            quantize(a, quantizer, source, fmt, path)
        print(path, flush=True)


if __name__ == "__main__":
    main()
