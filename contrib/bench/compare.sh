#!/bin/sh
# tessera against llama.cpp's own llama-bench in one run, on the same GGUF,
# threads, prompt and generation lengths and repetitions: pp and tg tokens/s
# of both, the ratio, and for tg the decode roofline (this machine's read
# bandwidth, measured by membw beside each model's runs with every load
# width the CPU has, divided by the weight bytes one token reads) and the
# share of it each runtime reaches.
#
# Run from a build tree configured without sanitizers:
#   contrib/bench/compare.sh [-t THREADS[,THREADS...]] [-r REPS] [-p 512] [-n 128]
#                            [--formats[=LIST]] [--model-1b | --only-1b] [MODEL.gguf...]
# MODEL defaults to the default model. --formats adds the default model
# re-quantized by llama.cpp into each format of LIST (comma-separated;
# default: all of bf16,q4_0,q5_0,q5_1,q8_0,q4_k,q5_k,q6_k,q3_k,q2_k,iq4_nl,
# iq4_xs,mxfp4,iq3_xxs,iq3_s,iq2_s,iq2_xs,iq2_xxs,iq1_s,iq1_m), made once by
# make_formats.py into $TESSERA_MODEL_CACHE/formats/. --model-1b adds a
# Llama-3.2-1B-shaped model (random weights, the default model's tokenizer;
# make_bench_model.py, once, into $TESSERA_MODEL_CACHE/bench/) in each
# format of --formats that make_bench_model.py offers, or in q4_0 without;
# --only-1b measures that model alone (neither the default model nor its
# formats).
# The peer is llama-bench built by peer.sh (LLAMA_BENCH=PATH: another
# build); tessera and llama-bench alternate, model by model, which goes
# first. PYTHON names a Python with the gguf package and llama-cpp-python
# (make_formats.py; default /opt/tsr-venv/bin/python, else python3). The
# machine should be otherwise idle: both runtimes spin threads, and a core
# taken away mid-step stalls every thread of the step. Under Linux
# autogroups, other sessions' `nice` does not make them yield to this one;
# as root, `echo -20 > /proc/self/autogroup` in this shell does.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/opt/tsr-venv/bin/python}
[ -x "$python" ] || python=python3
cache=${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}
all_formats=bf16,q4_0,q5_0,q5_1,q8_0,q4_k,q5_k,q6_k,q3_k,q2_k,iq4_nl,iq4_xs,mxfp4,iq3_xxs,iq3_s,iq2_s,iq2_xs,iq2_xxs,iq1_s,iq1_m
bench_formats=" f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs "
usage() { sed -n '2,28p' "$0"; exit 2; }

# The long options, taken out before getopts sees the rest.
formats='' model_1b='' only_1b=''
for arg; do
  shift
  case $arg in
    --formats) formats=$all_formats ;;
    --formats=*) formats=${arg#--formats=} ;;
    --model-1b) model_1b=1 ;;
    --only-1b) model_1b=1 only_1b=1 ;;
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
# shellcheck source=contrib/bench/peer.sh
. "$here/peer.sh"
llama_bench=${LLAMA_BENCH:-$(llama_peer llama-bench)}

models=$(mktemp)
trap 'rm -f "$models" "$models.membw"' EXIT
if [ $# -gt 0 ]; then
  printf '%s\n' "$@" > "$models"
elif [ -z "$only_1b" ]; then
  echo "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" > "$models"
fi
if [ -n "$formats" ] && [ -z "$only_1b" ]; then
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
if [ -n "$model_1b" ]; then
  wanted=
  for f in $(echo "${formats:-q4_0}" | tr ',' ' '); do
    case $bench_formats in *" $f "*) wanted="$wanted $f" ;; esac
  done
  [ -n "$wanted" ] || { echo "compare.sh: --model-1b: none of $formats is a format make_bench_model.py makes ($bench_formats)" >&2; exit 2; }
  log="$cache/bench/make_bench_model.log"
  mkdir -p "$cache/bench"
  # shellcheck disable=SC2086
  if ! TESSERA_MODEL_CACHE=$cache LLAMA_QUANTIZE=${LLAMA_QUANTIZE:-$(llama_peer llama-quantize)} \
       "$python" "$here/make_bench_model.py" $wanted >> "$models" 2> "$log"; then
    tail -n 5 "$log" >&2
    exit 1
  fi
fi

# tessera bench's table and llama-bench's JSON lines, each as "TEST MEAN SD"
# lines (TEST: ppN or tgN)
run_tessera() {
  ./tessera bench -q -m "$1" -t "$2" -r "$reps" -p "$pp" -n "$tg" </dev/null |
    awk -F'|' '/ pp[0-9]| tg[0-9]/ { gsub(/ /, "", $7); split($8, r, " "); print $7, r[1], r[3] }'
}
run_llama_bench() {
  "$llama_bench" -m "$1" -t "$2" -r "$reps" -p "$pp" -n "$tg" -o jsonl </dev/null 2>/dev/null |
    "$python" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    test = "pp%d" % r["n_prompt"] if r["n_gen"] == 0 else "tg%d" % r["n_gen"]
    print(test, "%.2f" % r["avg_ts"], "%.2f" % r["stddev_ts"])'
}

printf '%-28s %3s %-6s %15s %15s %6s %6s %9s %13s\n' model thr test "tessera t/s" "llama-bench t/s" ratio "GB/s" roofline "%roof ts/llb"
order=0
for t in $(echo "$threads" | tr ',' ' '); do
  # the best of every load width the CPU has; stderr says each one's figure
  bw=$(./contrib/bench/membw "$t" 1024 2> "$models.membw")
  echo "# $(nproc) cores, $t threads: memory read bandwidth $bw GB/s ($(sed 's/^membw: //' "$models.membw")); $(uptime | sed 's/.*load/load/')"
  while read -r model; do
    name=$(basename "$model" .gguf)
    name=${name#SmolLM2-135M-Instruct.}
    profile=$(mktemp --suffix=.yaml)
    printf 'model: {path: "%s"}\n' "$model" > "$profile"
    bytes=$(./tessera plan "$profile" --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["weights_bytes"])')
    rm -f "$profile"
    # the bandwidth beside each model's runs, before and after (the better
    # one): other work on the machine takes its share of memory too, and a
    # figure from the start of a long run would not be this model's
    bw_before=$(./contrib/bench/membw "$t" 1024 2>/dev/null)
    # alternate which runtime goes first, so that neither always runs on
    # the cooler (or the busier) machine
    order=$((order + 1))
    if [ $((order % 2)) -eq 1 ]; then
      ours=$(run_tessera "$model" "$t")
      theirs=$(run_llama_bench "$model" "$t")
    else
      theirs=$(run_llama_bench "$model" "$t")
      ours=$(run_tessera "$model" "$t")
    fi
    bw_after=$(./contrib/bench/membw "$t" 1024 2>/dev/null)
    bw=$(awk -v a="$bw_before" -v b="$bw_after" 'BEGIN { print (a > b ? a : b) }')
    [ -n "$theirs" ] || echo "# $name: llama-bench gave no result ($llama_bench -m $model)" >&2
    for test in "pp$pp" "tg$tg"; do
      o=$(echo "$ours" | awk -v t="$test" '$1 == t { print $2 " ± " $3 }')
      l=$(echo "$theirs" | awk -v t="$test" '$1 == t { print $2 " ± " $3 }')
      [ -n "$o$l" ] || continue
      ratio=$(awk -v a="${o%% *}" -v b="${l%% *}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
      roof=- share=- gbs=-
      if [ "$test" = "tg$tg" ]; then
        # tokens/s if every token read all the weights at the measured bandwidth
        gbs=$bw
        roof=$(awk -v bw="$bw" -v by="$bytes" 'BEGIN { printf "%.1f", bw * 1e9 / by }')
        share=$(awk -v a="${o%% *}" -v b="${l%% *}" -v r="$roof" \
                'BEGIN { if (r > 0) printf "%.0f%%/%.0f%%", 100 * a / r, 100 * b / r; else print "-" }')
      fi
      printf '%-28s %3s %-6s %15s %15s %6s %6s %9s %13s\n' "$name" "$t" "$test" "$o" "$l" "$ratio" "$gbs" "$roof" "$share"
    done
  done < "$models"
done
