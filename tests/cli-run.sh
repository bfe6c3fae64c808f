#!/bin/sh
# `tessera run` and `tessera bench` as a user runs them, on the default
# model: text comes out, -n and --stop are honoured, the same seed gives the
# same text, chat reads turns from standard input, bad input gets a clear
# error and exit 2. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
. "$src/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-cli-run-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..19"
n=0
check() { # check STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f" | head -20; done
  fi
}
run() { "$tessera" "$@" > "$dir/out" 2> "$dir/err"; }

run run -m "$model" -p "The capital of France is" -n 12 --greedy --stats -t 2 --no-chat
rc=$?
[ $rc -eq 0 ] && [ -s "$dir/out" ] && grep -q "generated: 12 tokens" "$dir/err"
check $? "run -m MODEL -p --no-chat: text on stdout, --stats counts the 12 tokens -n asked for"
grep -Eq '^\[prompt: [0-9]+ tokens, [0-9.]+ tokens/s \| generated: 12 tokens, [0-9.]+ tokens/s \| stop: length\]$' "$dir/err"
check $? "--stats prints one tidy summary line"

cp "$dir/out" "$dir/first"
run run "$src/conf/smollm2-cpu.yaml" -m "$model" -p "Tell me a story about a cat." -n 24 -t 2 --seed 7
cp "$dir/out" "$dir/a"
run run "$src/conf/smollm2-cpu.yaml" -m "$model" -p "Tell me a story about a cat." -n 24 -t 1 --seed 7
cmp -s "$dir/a" "$dir/out" && [ -s "$dir/a" ]
check $? "the default profile's sampler chain: same seed, same text, on 2 threads and on 1"

run run -m "$model" -p "Count: 1, 2, 3, 4," -n 40 --greedy --stop "7" --stats --no-chat
[ $? -eq 0 ] && ! grep -q 7 "$dir/out" && grep -q "stop: stop" "$dir/err"
check $? "--stop ends generation before the stop text, which is not printed"

printf 'Hello! What is your name?\nAnd what can you do?\n' > "$dir/turns"
"$tessera" run -m "$model" --chat -n 24 --greedy < "$dir/turns" > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && [ "$(grep -c . "$dir/out")" -ge 2 ]
check $? "--chat answers each line of standard input"

printf 'this is not a model\n' > "$dir/bad.gguf"
run run -m "$dir/bad.gguf" -p hi
[ $? -eq 2 ] && grep -q "bad.gguf" "$dir/err"
check $? "a file that is not a model: exit 2, and the message names it"

run run -m "$model" -p hi --no-such-option
[ $? -eq 2 ] && grep -q "unknown argument '--no-such-option'" "$dir/err"
check $? "an unknown option: exit 2 and says which"

run run -m "$model"
[ $? -eq 2 ] && grep -q "no prompt" "$dir/err"
check $? "no prompt: exit 2 and says what to give"

run run -m "$model" -p hi --cache-type q4_1
[ $? -eq 2 ] && grep -q "q4_1" "$dir/err"
check $? "a cache type that cannot hold the KV cache is refused (exit 2)"

run bench -m "$model" -p 16 -n 4 -r 1 -t 2
[ $? -eq 0 ] && grep -Eq '\| +pp16 \| +[0-9.]+ ± [0-9.]+ \|' "$dir/out" && grep -Eq '\| +tg4 \| +[0-9.]+ ± [0-9.]+ \|' "$dir/out"
check $? "bench: a llama-bench style table with pp16 and tg4 rows"

run run --help
[ $? -eq 0 ] && grep -q "Usage: tessera run" "$dir/out" && grep -q -- "--top-k" "$dir/out" && grep -q TESSERA_PLUGIN_PATH "$dir/out" && grep -q -- "--quantize NAME" "$dir/out" && grep -q -- "--no-chat" "$dir/out"
check $? "run --help: usage, sampling options, --quantize, --no-chat, environment"

run help bench
[ $? -eq 0 ] && grep -q "Usage: tessera bench" "$dir/out"
check $? "help bench"

# Weights re-quantized at load: the profile's model.quantize, and --quantize.
printf 'model: {path: "%s", max_seq_len: 256, quantize: q8_0}\n' "$model" > "$dir/q8_0.yaml"
run run "$dir/q8_0.yaml" -p "The capital of France is" -n 12 --greedy --stats -t 2 --no-chat
[ $? -eq 0 ] && [ -s "$dir/out" ] && grep -q "generated: 12 tokens" "$dir/err"
check $? "a profile with model.quantize: q8_0 generates text"

run bench -m "$model" --quantize q8_0 -p 16 -n 4 -r 1 -t 2
[ $? -eq 0 ] && grep -Eq '\| 1[0-9][0-9]\.[0-9]+ MiB \| .*\| +tg4 \|' "$dir/out"
check $? "bench --quantize q8_0: the table shows the weights re-quantized (over 100 MiB)"

run run -m "$model" -p hi --quantize q9_9
[ $? -eq 2 ] && grep -q "model.quantize.*q9_9" "$dir/err"
check $? "--quantize with no such plugin: exit 2, naming model.quantize"

# With a chat template in the model, -p is the user's message of a one-turn
# chat: README's first example answers (raw, the instruct model ends its
# turn at once and prints nothing).
readme=$(grep -m 1 '^tessera run -m ' "$src/README.md")
case $readme in
  *' -p "Why is the sky blue?"'*) ;;
  *) readme= ;;
esac
n_readme=$(printf '%s\n' "$readme" | sed -n 's/.* -n \([0-9][0-9]*\).*/\1/p')
run run -m "$model" -p "Why is the sky blue?" -n "${n_readme:-128}" -t 2
rc=$?
[ -n "$readme" ] && [ $rc -eq 0 ] && [ "$(tr -d ' \n' < "$dir/out" | wc -c)" -gt 40 ] \
  && grep -Eqi 'light|sun|atmospher|scatter|wavelength' "$dir/out"
check $? "README's first example ($readme) answers the question"

run run -m "$model" -p "Why is the sky blue?" -n 24 --greedy -t 2
cp "$dir/out" "$dir/prompted"
printf 'Why is the sky blue?\n' > "$dir/turn"
"$tessera" run -m "$model" --chat -n 24 --greedy -t 2 < "$dir/turn" > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && [ -s "$dir/out" ] && cmp -s "$dir/prompted" "$dir/out"
check $? "run -p renders the chat template exactly as --chat's first turn does"

run run -m "$model" -p "Why is the sky blue?" -n 24 --greedy -t 2 --no-chat
cp "$dir/out" "$dir/raw"
run run -m "$model" -p "<|im_start|>user
Why is the sky blue?<|im_end|>
<|im_start|>assistant
" -n 24 --greedy -t 2 --no-chat
[ $? -eq 0 ] && [ -s "$dir/out" ] && ! cmp -s "$dir/raw" "$dir/out"
check $? "--no-chat: raw completion, with special tokens in the prompt parsed"

run run -m "$model" -p hi --no-chat --system "Be brief."
[ $? -eq 2 ] && grep -q -- "--no-chat completes raw text; it cannot go with --system" "$dir/err"
check $? "--no-chat with --system: exit 2, says why"
