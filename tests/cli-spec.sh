#!/bin/sh
# Speculative decoding as a user runs it, on the default model: the example
# profiles pass `tessera profile check`; run with ngram and with a self-draft
# prints the text --no-spec prints, and --stats says what was drafted and
# kept; bench --spec-compare prints its table; a strategy that refuses its
# options, or a profile without one, is a clear error. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
. "$src/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-cli-spec-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..10"
n=0
check() { # check STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f" | head -20; done
  fi
}
run() { "$tessera" "$@" > "$dir/out" 2> "$dir/err"; }

# The examples name the model cache's copy; here, wherever the tests find it.
for p in smollm2-ngram smollm2-selfdraft; do
  sed "s|~/.cache/tessera/models/SmolLM2-135M-Instruct.Q4_1.gguf|$model|" \
    "$src/conf/examples/$p.yaml" > "$dir/$p.yaml"
done
ok=0
for p in smollm2-ngram smollm2-selfdraft; do
  run profile check "$dir/$p.yaml" || ok=1
done
check $ok "tessera profile check passes conf/examples/smollm2-ngram.yaml and smollm2-selfdraft.yaml"

list="Repeat this list exactly, one per line: apple, banana, cherry, date, elderberry, fig, grape, honeydew, kiwi."
echo "$list" | "$tessera" run "$dir/smollm2-ngram.yaml" --chat -n 48 --stats -t 2 -q \
  > "$dir/spec" 2> "$dir/err"
rc=$?
cp "$dir/spec" "$dir/out"
[ $rc -eq 0 ] && [ -s "$dir/spec" ] &&
  grep -Eq '^\[speculation ngram: [0-9]+ drafted, [1-9][0-9]* accepted \([0-9.]+%\) \| [0-9]+ verifications, [0-9.]+ accepted per verification \| [0-9]+ one-token steps\]$' "$dir/err"
check $? "run with ngram: --stats adds one tidy line of what was drafted and accepted"

echo "$list" | "$tessera" run "$dir/smollm2-ngram.yaml" --chat -n 48 --stats -t 2 -q --no-spec \
  > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && cmp -s "$dir/spec" "$dir/out" && grep -q 'speculation ngram: 0 drafted' "$dir/err"
check $? "--no-spec decodes one token at a time and prints the same text"

run run "$dir/smollm2-selfdraft.yaml" -p "The three primary colours are" -n 16 --stats -t 2 -q
rc=$?
cp "$dir/out" "$dir/spec"
[ $rc -eq 0 ] && [ -s "$dir/spec" ] && grep -q '^\[speculation draft-model: ' "$dir/err" &&
  grep -q '\[self-draft\]' "$dir/err"
check $? "run with a self-draft (f16 checks its own Q4_1 file): a note says so, --stats counts the drafts"

run run "$dir/smollm2-selfdraft.yaml" -p "The three primary colours are" -n 16 -t 2 -q --no-spec
[ $? -eq 0 ] && cmp -s "$dir/spec" "$dir/out"
check $? "the self-draft's text is the f16 model's own"

printf 'Repeat: one, two, three, four, five.\n\nSay hello.\n' > "$dir/prompts"
run bench "$dir/smollm2-ngram.yaml" --spec-compare --prompts "$dir/prompts" -n 12 -r 1 -t 2 -q
[ $? -eq 0 ] && grep -q '^| prompt  *| tokens | plain t/s |  spec t/s | speedup |' "$dir/out" &&
  grep -Eq '^\| prompt 2 +\| +[0-9]+ \| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+x \|' "$dir/out" &&
  ! grep -q '^| prompt 3' "$dir/out"
check $? "bench --spec-compare --prompts FILE: a row per non-empty line, both speeds and the speedup"

run bench -m "$model" --spec-compare -n 4 -r 1 -q
[ $? -eq 2 ] && grep -q 'no speculative strategy' "$dir/err"
check $? "bench --spec-compare without a strategy: exit 2, saying what to add"

run bench "$dir/smollm2-ngram.yaml" --prompts "$dir/prompts" -q
[ $? -eq 2 ] && grep -q -- '--prompts is for --spec-compare' "$dir/err"
check $? "bench --prompts without --spec-compare: exit 2"

printf 'model: {path: "%s", max_seq_len: 256}\nspeculative: {strategy: ngram, options: {min_n: 5, max_n: 2}}\n' \
  "$model" > "$dir/bad.yaml"
run run "$dir/bad.yaml" -p hi -n 4 -q
[ $? -ne 0 ] && grep -q 'min_n 5 is larger than max_n 2' "$dir/err"
check $? "ngram with min_n above max_n: refused when the deployment opens, saying why"

run run --help
grep -q -- '--no-spec' "$dir/out" && "$tessera" bench --help | grep -q -- '--spec-compare'
check $? "run --help lists --no-spec, bench --help --spec-compare"
