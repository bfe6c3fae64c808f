#!/usr/bin/env python3
"""Checks `run --stats`'s stage lines under mpirun against the model file as
the gguf package reads it: the stages follow one another over every layer,
each holds the bytes of exactly its tensors (its layers; token_embd on the
first stage and, for a tied head, on the last; output_norm and output on the
last; rope_freqs on all), within the file's alignment padding, and the
figures are sane (compute time > 0, idle share in [0, 100), the f32
activations of one row per token sent by every stage but the last).

Usage: dist_stages.py MODEL.gguf STDERR_FILE RANKS; exit 0 when it holds."""
import re
import sys

import gguf

LINE = re.compile(r"\[stage (\d+) \(rank (\d+), host ([^)]*)\): layers (\d+)-(\d+), "
                  r"([0-9.]+) MiB of weights held \| compute ([0-9.]+) s, wait ([0-9.]+) s, "
                  r"idle ([0-9.]+)% \| ([0-9]+) bytes sent per token\]")


def should_hold(name, first, last, n_layer, tied):
    m = re.match(r"blk\.(\d+)\.", name)
    if m:
        return first <= int(m.group(1)) <= last
    if name == "token_embd.weight":
        return first == 0 or (tied and last == n_layer - 1)
    if name in ("output_norm.weight", "output.weight"):
        return last == n_layer - 1
    return name == "rope_freqs.weight"


def main():
    model, err_file, ranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reader = gguf.GGUFReader(model)
    arch = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")
    field = reader.fields[arch + ".block_count"]
    n_layer = int(field.parts[field.data[0]][0])
    names = [t.name for t in reader.tensors]
    tied = "output.weight" not in names
    stages = [LINE.search(line) for line in open(err_file, encoding="utf-8")]
    stages = [m for m in stages if m]
    problems = []
    if len(stages) != ranks:
        problems.append(f"{len(stages)} stage lines for {ranks} ranks")
    expect_first = 0
    n_embd_field = reader.fields[arch + ".embedding_length"]
    n_embd = int(n_embd_field.parts[n_embd_field.data[0]][0])
    for i, m in enumerate(stages):
        stage, rank, first, last = int(m[1]), int(m[2]), int(m[4]), int(m[5])
        held, compute, idle, sent = float(m[6]), float(m[7]), float(m[9]), int(m[10])
        if stage != i or rank != i:
            problems.append(f"line {i} is stage {stage} of rank {rank}")
        if first != expect_first or last < first:
            problems.append(f"stage {i} holds layers {first}-{last}; expected from {expect_first}")
        expect_first = last + 1
        tensors = [t for t in reader.tensors if should_hold(t.name, first, last, n_layer, tied)]
        want = sum(int(t.n_bytes) for t in tensors) / 1048576
        pad = 32 * len(tensors) / 1048576
        if not want - 0.05 <= held <= want + pad + 0.05:
            problems.append(f"stage {i} holds {held} MiB; its {len(tensors)} tensors are "
                            f"{want:.2f} MiB")
        if compute <= 0 or not 0 <= idle < 100:
            problems.append(f"stage {i}: compute {compute} s, idle {idle}%")
        if i + 1 < len(stages) and not n_embd * 4 <= sent < n_embd * 4 + 64:
            problems.append(f"stage {i} sends {sent} bytes per token; a row of f32 "
                            f"activations is {n_embd * 4}")
        print(f"# stage {i}: layers {first}-{last}, {held} MiB held "
              f"({want:.2f} MiB in the file), {sent} bytes per token")
    if expect_first != n_layer:
        problems.append(f"the stages end at layer {expect_first - 1} of {n_layer}")
    for p in problems:
        print("# " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
