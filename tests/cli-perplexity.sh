#!/bin/sh
# `tessera perplexity` on the default model: its PPL agrees with llama.cpp's
# on the same text and chunks (tests/reference/perplexity-smollm2.json, made
# by tests/reference/make_perplexity_ref.py), a model compared with its own
# saved logits shows no divergence and another format of it some, and bad
# input gets a clear error and exit 2. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
. "$src/tests/default-model.sh"
text="$src/tests/data/perplexity.txt"
ref="$src/tests/reference/perplexity-smollm2.json"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-cli-perplexity-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..17"
n=0
check() { # check STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f" | head -20; done
  fi
}
run() { "$tessera" perplexity "$@" > "$dir/out" 2> "$dir/err"; }
# field NAME FILE: a number of the reference JSON
field() { sed -n "s/^ *\"$1\": *\([0-9.]*\).*/\1/p" "$2"; }
# value LABEL: the first number after LABEL in the output
value() { sed -n "s/^$1 *\(-\{0,1\}[0-9.]*\).*/\1/p" "$dir/out" | head -1; }

ctx=$(field ctx "$ref")
chunks=$(field chunks "$ref")
want=$(field ppl "$ref")
run -m "$model" -f "$text" -c "$ctx" --chunks "$chunks" -t 2
rc=$?
got=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- [0-9.]*$/\1/p' "$dir/out")
[ $rc -eq 0 ] && [ -n "$got" ] &&
  awk -v a="$got" -v b="$want" 'BEGIN { d = (a - b) / b; exit !(d < 0.005 && d > -0.005) }'
check $? "PPL on -c $ctx, $chunks chunks: $got, within 0.5% of llama.cpp's $want"
echo "# tessera PPL $got, llama.cpp $want ($(field scored_tokens "$ref") tokens scored)"
[ "$(grep -Ec "^\[[0-9]+/$chunks\] PPL = [0-9.]+ \+/- [0-9.]+ \([0-9.]+ s a chunk\)$" "$dir/err")" -eq "$chunks" ]
check $? "one tidy progress line per chunk on stderr, with the running estimate"

run -m "$model" -f "$text" -c 128 --chunks 3 -t 2 -q --save-logits "$dir/base.logits"
[ $? -eq 0 ] && [ -s "$dir/base.logits" ] && [ ! -s "$dir/err" ]
check $? "--save-logits writes the reference file (-q: nothing on stderr)"

run -m "$model" -f "$text" --chunks 3 -t 2 -q --kl-divergence "$dir/base.logits"
rc=$?
kld=$(value "Mean KLD:")
[ $rc -eq 0 ] && awk -v k="$kld" 'BEGIN { exit !(k < 1e-4 && k > -1e-4) }' &&
  grep -q "^Same top token: 100.000 " "$dir/out"
check $? "the same model against its own logits: mean KLD $kld ~ 0, the same top token always"
grep -q "^99.0% KLD: " "$dir/out" && grep -q "^Maximum KLD: " "$dir/out" &&
  grep -q "^Mean delta-p: " "$dir/out" && grep -q "^Median   delta-p: " "$dir/out"
check $? "--kl-divergence prints the 99th percentile and maximum KLD and delta-p statistics"

run -m "$model" -f "$text" -t 2 -q --kl-divergence "$dir/base.logits" --quantize q8_0
rc=$?
kld=$(value "Mean KLD:")
top=$(value "Same top token:")
[ $rc -eq 0 ] && awk -v k="$kld" -v t="$top" 'BEGIN { exit !(k > 1e-4 && k < 0.1 && t < 100) }'
check $? "re-quantized to q8_0: a small positive KLD ($kld), the top token sometimes differs ($top%)"

run -m "$model" -f "$dir/missing.txt"
[ $? -eq 2 ] && grep -q "missing.txt" "$dir/err"
check $? "a missing text: exit 2, the message names it"
: > "$dir/empty.txt"
run -m "$model" -f "$dir/empty.txt"
[ $? -eq 2 ] && grep -q "empty" "$dir/err"
check $? "an empty text: exit 2, says it is empty"
printf 'text\000more' > "$dir/binary.txt"
run -m "$model" -f "$dir/binary.txt"
[ $? -eq 2 ] && grep -q "NUL byte" "$dir/err"
check $? "a binary file: exit 2, names the NUL byte"
head -c 1500 "$text" > "$dir/short.txt"
run -m "$model" -f "$dir/short.txt" -c 256 -q
[ $? -eq 2 ] && grep -q "needs at least 512 (two chunks)" "$dir/err"
check $? "a text shorter than two chunks: exit 2, says how many tokens -c needs"
run -m "$model" -f "$text" -c 9000 -q
[ $? -eq 2 ] && grep -q "trained on 8192 positions" "$dir/err"
check $? "-c beyond the model's context: exit 2, says how far it goes"

head -c 100000 "$dir/base.logits" > "$dir/truncated.logits"
run -m "$model" -f "$text" -q --kl-divergence "$dir/truncated.logits"
[ $? -eq 2 ] && grep -q "truncated.logits: truncated" "$dir/err"
check $? "a truncated logits file: exit 2, says so"
cp "$dir/base.logits" "$dir/corrupt.logits"
printf 'X' | dd of="$dir/corrupt.logits" bs=1 seek=300000 conv=notrunc 2> /dev/null
run -m "$model" -f "$text" -q --kl-divergence "$dir/corrupt.logits"
[ $? -eq 2 ] && grep -q "corrupt" "$dir/err"
check $? "a corrupt logits file: exit 2, says so"
sed 's/lighthouse/beacon/' "$text" > "$dir/changed.txt"
run -m "$model" -f "$dir/changed.txt" -q --kl-divergence "$dir/base.logits"
[ $? -eq 2 ] && grep -q "made from another text" "$dir/err"
check $? "a text that changed since --save-logits: exit 2, names the first token that differs"
run -m "$model" -f "$text" -q --kl-divergence "$text"
[ $? -eq 2 ] && grep -q "not a logits file" "$dir/err"
check $? "a file that is no logits file: exit 2, says so"

"$tessera" perplexity --help > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q "Usage: tessera perplexity" "$dir/out" && grep -q -- "--kl-divergence FILE" "$dir/out" &&
  grep -q -- "--chunks N" "$dir/out" && grep -q TESSERA_PLUGIN_PATH "$dir/out"
check $? "perplexity --help: usage, every option, environment"
"$tessera" help perplexity > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q "Usage: tessera perplexity" "$dir/out"
check $? "help perplexity"
