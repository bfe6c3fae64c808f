#!/bin/sh
# tessera against llama.cpp (llama-cpp-python) in one run, on the same GGUF,
# threads, prompt and generation lengths: pp and tg tokens/s of both, the
# ratio, and for tg the decode roofline (this machine's read bandwidth,
# measured here, divided by the weight bytes one token reads) and the share
# of it tessera reaches.
#
# Run from a build tree configured without sanitizers:
#   contrib/bench/compare.sh [-t THREADS[,THREADS...]] [-r REPS] [-p 512] [-n 128]
#                            [--formats[=LIST]] [MODEL.gguf...]
# MODEL defaults to the default model. --formats adds the default model
# re-quantized by llama.cpp into each format of LIST (comma-separated;
# default: all of bf16,q4_0,q5_0,q5_1,q8_0,q4_k,q5_k,q6_k,q3_k,q2_k,iq4_nl,
# iq4_xs,mxfp4,iq3_xxs,iq3_s,iq2_s,iq2_xs,iq2_xxs,iq1_s,iq1_m), made once by
# make_formats.py into $TESSERA_MODEL_CACHE/formats/.
# PYTHON names a Python with llama-cpp-python (default /opt/tsr-venv/bin/python,
# else python3). The machine should be otherwise idle: both runtimes spin
# threads, and a core taken away mid-step stalls every thread of the step.
# Under Linux autogroups, other sessions' `nice` does not make them yield to
# this one; as root, `echo -20 > /proc/self/autogroup` in this shell does.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/opt/tsr-venv/bin/python}
[ -x "$python" ] || python=python3
cache=${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}
all_formats=bf16,q4_0,q5_0,q5_1,q8_0,q4_k,q5_k,q6_k,q3_k,q2_k,iq4_nl,iq4_xs,mxfp4,iq3_xxs,iq3_s,iq2_s,iq2_xs,iq2_xxs,iq1_s,iq1_m
usage() { sed -n '2,20p' "$0"; exit 2; }

# The one long option, taken out before getopts sees the rest.
formats=
for arg; do
  shift
  case $arg in
    --formats) formats=$all_formats ;;
    --formats=*) formats=${arg#--formats=} ;;
    --help) usage ;;
    *) set -- "$@" "$arg" ;;
  esac
done
threads=$(nproc) reps=5 pp=512 tg=128
while getopts t:r:p:n: opt; do
  case $opt in
    t) threads=$OPTARG ;; r) reps=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ -x ./tessera ] && [ -x ./contrib/bench/membw ] || { echo "compare.sh: run it from a build tree (./tessera, ./contrib/bench/membw)" >&2; exit 2; }
export TESSERA_PLUGIN_PATH="$PWD/plugins/.libs${TESSERA_PLUGIN_PATH:+:$TESSERA_PLUGIN_PATH}"

models=$(mktemp)
trap 'rm -f "$models"' EXIT
if [ $# -gt 0 ]; then
  printf '%s\n' "$@" > "$models"
else
  echo "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" > "$models"
fi
if [ -n "$formats" ]; then
  log="$cache/formats/make_formats.log"
  mkdir -p "$cache/formats"
  # llama.cpp's quantizer reports every tensor on stderr: kept in the log
  # shellcheck disable=SC2046
  if ! TESSERA_MODEL_CACHE=$cache "$python" "$here/make_formats.py" "$cache/formats" \
       $(echo "$formats" | tr ',' ' ') >> "$models" 2> "$log"; then
    tail -n 5 "$log" >&2
    exit 1
  fi
fi

printf '%-28s %3s %-6s %15s %15s %6s %9s %6s\n' model thr test "tessera t/s" "llama.cpp t/s" ratio roofline "%roof"
for t in $(echo "$threads" | tr ',' ' '); do
  bw=$(./contrib/bench/membw "$t")
  echo "# $(nproc) cores, $t threads: memory read bandwidth $bw GB/s (contrib/bench/membw)"
  while read -r model; do
    name=$(basename "$model" .gguf)
    name=${name#SmolLM2-135M-Instruct.}
    profile=$(mktemp --suffix=.yaml)
    printf 'model: {path: "%s"}\n' "$model" > "$profile"
    bytes=$(./tessera plan "$profile" --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["weights_bytes"])')
    rm -f "$profile"
    ours=$(./tessera bench -q -m "$model" -t "$t" -r "$reps" -p "$pp" -n "$tg" </dev/null | \
           awk -F'|' '/ pp[0-9]| tg[0-9]/ { gsub(/ /, "", $7); split($8, r, " "); print $7, r[1], r[3] }')
    theirs=$("$python" "$here/llama_bench.py" "$model" -t "$t" -r "$reps" -p "$pp" -n "$tg" </dev/null)
    for test in "pp$pp" "tg$tg"; do
      o=$(echo "$ours" | awk -v t="$test" '$1 == t { print $2 " ± " $3 }')
      l=$(echo "$theirs" | awk -v t="$test" '$1 == t { print $2 " ± " $3 }')
      [ -n "$o$l" ] || continue
      ratio=$(awk -v a="${o%% *}" -v b="${l%% *}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
      roof=- share=-
      if [ "$test" = "tg$tg" ]; then
        roof=$(awk -v bw="$bw" -v by="$bytes" 'BEGIN { printf "%.0f", bw * 1e9 / by }')
        share=$(awk -v a="${o%% *}" -v r="$roof" 'BEGIN { if (r > 0) printf "%.0f%%", 100 * a / r; else print "-" }')
      fi
      printf '%-28s %3s %-6s %15s %15s %6s %9s %6s\n' "$name" "$t" "$test" "$o" "$l" "$ratio" "$roof" "$share"
    done
  done < "$models"
done
