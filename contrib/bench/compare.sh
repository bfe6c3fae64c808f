#!/bin/sh
# tessera against llama.cpp (llama-cpp-python) in one run, on the same GGUF,
# threads, prompt and generation lengths: pp and tg tokens/s of both, the
# ratio, and the decode roofline (this machine's read bandwidth, measured
# here, divided by the weight bytes one token reads).
#
# Run from a build tree configured without sanitizers:
#   contrib/bench/compare.sh [-t THREADS] [-r REPS] [-p 512] [-n 128] [MODEL.gguf...]
# MODEL defaults to the default model. PYTHON names a Python with
# llama-cpp-python (default /opt/tsr-venv/bin/python, else python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/opt/tsr-venv/bin/python}
[ -x "$python" ] || python=python3
threads=$(nproc) reps=5 pp=512 tg=128
while getopts t:r:p:n: opt; do
  case $opt in
    t) threads=$OPTARG ;; r) reps=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- "${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -x ./tessera ] && [ -x ./contrib/bench/membw ] || { echo "compare.sh: run it from a build tree (./tessera, ./contrib/bench/membw)" >&2; exit 2; }
export TESSERA_PLUGIN_PATH="$PWD/plugins/.libs${TESSERA_PLUGIN_PATH:+:$TESSERA_PLUGIN_PATH}"

bw=$(./contrib/bench/membw "$threads")
echo "machine: $(nproc) cores, $threads threads, memory read bandwidth $bw GB/s (contrib/bench/membw)"
printf '%-34s %-6s %14s %14s %7s %10s\n' model test "tessera t/s" "llama.cpp t/s" ratio roofline
for model in "$@"; do
  name=$(basename "$model" .gguf)
  profile=$(mktemp --suffix=.yaml)
  printf 'model: {path: "%s"}\n' "$model" > "$profile"
  bytes=$(./tessera plan "$profile" --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["weights_bytes"])')
  rm -f "$profile"
  ours=$(./tessera bench -m "$model" -t "$threads" -r "$reps" -p "$pp" -n "$tg" | \
         awk -F'|' '/ pp[0-9]| tg[0-9]/ { gsub(/ /, "", $7); split($8, r, " "); print $7, r[1], r[3] }')
  theirs=$("$python" "$here/llama_bench.py" "$model" -t "$threads" -r "$reps" -p "$pp" -n "$tg")
  for test in "pp$pp" "tg$tg"; do
    o=$(echo "$ours" | awk -v t="$test" '$1 == t { print $2 " ± " $3 }')
    l=$(echo "$theirs" | awk -v t="$test" '$1 == t { print $2 " ± " $3 }')
    ratio=$(awk -v a="${o%% *}" -v b="${l%% *}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    roof=-
    [ "$test" = "tg$tg" ] && roof=$(awk -v bw="$bw" -v by="$bytes" 'BEGIN { printf "%.0f t/s", bw * 1e9 / by }')
    printf '%-34s %-6s %14s %14s %7s %10s\n' "$name" "$test" "$o" "$l" "$ratio" "$roof"
  done
done
