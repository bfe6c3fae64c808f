#!/bin/sh
# Pipeline stages across hosts, timed (a benchmark, not a test): for 1 and 2
# ranks, the time per token of one sequence (batch 1) and the aggregate
# tokens/s of 1, 2, 4 and 8 sequences decoding together, each step's batch
# cut into one chunk per sequence (dist.in_flight = sequences), beside the
# hop cost the handshake timed and what the pipeline model predicts from
# them. Runs on one machine (mpirun --oversubscribe); see the note it prints
# for what such figures can and cannot show.
#
# Usage: contrib/bench/dist_bench.sh [BUILD_DIR] [MODEL]
#   BUILD_DIR: a build configured --with-mpi (default _build/mpi)
#   TSR_BENCH_TOKENS (default 32) tokens per sequence, TSR_BENCH_REPEATS (3).
set -u
build=${1:-_build/mpi}
model=${2:-$HOME/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf}
tokens=${TSR_BENCH_TOKENS:-32}
repeats=${TSR_BENCH_REPEATS:-3}
tessera="$build/tessera"
export TESSERA_PLUGIN_PATH=${TESSERA_PLUGIN_PATH:-$build/plugins/.libs}
export TESSERA_CONFIG=${TESSERA_CONFIG:-/dev/null}
if ! "$tessera" --version 2> /dev/null | grep -q 'mpi=yes'; then
  echo "dist_bench.sh: $tessera was not built --with-mpi (configure --with-mpi)" >&2
  exit 2
fi
command -v mpirun > /dev/null 2>&1 || { echo "dist_bench.sh: mpirun is missing" >&2; exit 2; }
py=/opt/tsr-venv/bin/python
[ -x "$py" ] || py=python3
mpi="mpirun --allow-run-as-root --oversubscribe --bind-to none"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-dist-bench-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cores=$(nproc)

# Aggregate tokens/s of P sequences: bench's "tgN xP" row (mean over repeats).
rate() { # rate RANKS P THREADS
  printf 'model: {path: %s}\ndist: {in_flight: %s}\n' "$model" "$2" > "$dir/p.yaml"
  if [ "$1" -eq 1 ]; then set -- "$@" "$tessera"; else set -- "$@" $mpi -np "$1" "$tessera"; fi
  ranks=$1 p=$2 threads=$3
  shift 3
  "$@" bench "$dir/p.yaml" -p 0 -n "$tokens" -r "$repeats" --parallel "$p" -t "$threads" \
    > "$dir/out" 2> "$dir/err" || { sed 's/^/# /' "$dir/err" >&2; echo nan; return; }
  sed -n "s/.*| *tg$tokens x$p | *\([0-9.]*\) ±.*/\1/p" "$dir/out"
}

# The hop, as the handshake of a 2-rank job times it.
printf 'model: {path: %s}\n' "$model" > "$dir/plan.yaml"
$mpi -np 2 "$tessera" plan "$dir/plan.yaml" --json > "$dir/plan.json" 2> "$dir/err" || {
  cat "$dir/err" >&2; exit 1; }
set -- $("$py" -c 'import json, sys
l = json.load(open(sys.argv[1]))["links"][0]
print(l["latency_s"], l["bytes_per_s"], l["row_bytes"])' "$dir/plan.json")
latency_s=$1 bytes_per_s=$2 row_bytes=$3
n_vocab=$("$py" -c 'import gguf, sys
r = gguf.GGUFReader(sys.argv[1])
t = [t for t in r.tensors if t.name == "token_embd.weight"][0]
print(int(t.shape[1]))' "$model" 2> /dev/null || echo 49152)

echo "tessera across hosts: $model, $tokens tokens per sequence, $repeats runs each"
echo "machine: $cores cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "hop (rank 0 -> rank 1, timed at the handshake): latency $(awk -v l="$latency_s" \
  'BEGIN { printf "%.1f us per row of", l * 1e6 }') $row_bytes bytes, bandwidth $(awk \
  -v b="$bytes_per_s" 'BEGIN { printf "%.0f MB/s", b / 1e6 }')"
echo
# Alternate the configurations within each P, so that a change of the
# machine's load falls on all three alike.
for p in 1 2 4 8; do
  one_1=$(rate 1 "$p" 1)
  two_1=$(rate 2 "$p" 1)
  one_all=$(rate 1 "$p" "$cores")
  echo "$p $one_1 $two_1 $one_all" >> "$dir/rates"
done
awk -v lat="$latency_s" -v bw="$bytes_per_s" -v vocab="$n_vocab" -v cores="$cores" '
BEGIN {
  printf "%-10s %16s %16s %16s %12s %16s\n", "sequences", "1 rank, 1 thread", \
    "2 ranks, 1 each", "1 rank, " cores " thr.", "idle share", "model, 2 hosts"
}
{
  p = $1; one = $2; two = $3; all = $4
  if (p == 1) row_s = 1 / one               # one row through every layer, one core
  # Two stages of half the layers each, one chunk per sequence (m = p):
  # (m + p_stages - 1) chunk-times per step, plus one activation hop and
  # the logits hop (n_vocab floats back to rank 0) for the last chunk.
  m = p; stages = 2
  step = (m + stages - 1) * row_s / stages + 2 * lat + vocab * 4 / bw
  printf "%-10d %12.1f t/s %12.1f t/s %12.1f t/s %11.0f%% %12.1f t/s\n", p, one, two, all, \
    100 * (stages - 1) / (m + stages - 1), p / step
  if (p == 1) ms1 = 1000 / one; if (p == 1) ms2 = 1000 / two; if (p == 1) msall = 1000 / all
}
END {
  printf "\nbatch 1, time per token: 1 rank %.2f ms (1 thread), %.2f ms (%d threads); " \
    "2 ranks %.2f ms\n", ms1, msall, cores, ms2
}' "$dir/rates"
cat <<EOF

How to read this. With p stages and m chunks in flight each step, a stage
works on m chunks and waits for the others' p - 1: it idles (p - 1) /
(m + p - 1) of the step (the "idle share" column, p = 2). One sequence
(m = 1) leaves each stage idle half the time: two ranks cannot beat one
process on batch-1 latency, they add a hop and the logits' return. With
more sequences in flight the stages overlap, and "model, 2 hosts" is what
two hosts of one core each would reach: the 1-thread, 1-sequence time per
row split over two stages, (m + 1) chunk-times per step, plus the hops timed
above (the logits of $n_vocab entries cross back to rank 0 every step).
Chunks of one row each give up the batching a single process gets from
decoding several sequences in one pass, so the model's figures are a floor,
not a ceiling, for larger chunks.

What this machine can and cannot show. Every rank runs here, on the same
$cores cores and memory bus, shared with whatever else runs (load average
above): the hop is shared memory or loopback, not a network, and two ranks
of one thread each have no more cores than one process of $cores threads.
So the figures show the pipeline's own costs (hops, idling, the logits'
return, one-row chunks) against one process on the same cores, and whether
overlap happens at all (2 ranks x 1 thread approaching 1 rank x $cores
threads as sequences grow); they cannot show the speedup of adding hosts.
On real hosts each stage brings its own cores and memory bandwidth: decode
is memory-bound, so p hosts read p times the bytes per second, and with
m >= p sequences in flight the aggregate rate approaches p times one host's
(less the idle share and the hops, which a 10 GbE link or faster makes small
beside a layer's compute); batch-1 latency stays one host's plus a hop per
stage. Where the model needs p hosts' memory, no single host runs it at all.
EOF
