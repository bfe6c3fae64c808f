#!/bin/sh
# Runs the tessera commands a user starts with under valgrind: no invalid
# access, no leak. Writes PASS/FAIL lines to BUILD/valgrind-cli.log.
# Usage: tests/valgrind-cli.sh BUILD_DIR SRC_DIR
set -u
build="$1"; src="$2"
log="$build/valgrind-cli.log"
: > "$log"
export TESSERA_PLUGIN_PATH="$build/plugins/.libs" TESSERA_CONFIG=/dev/null
status=0
check() {
  name="$1"; shift
  out="$build/valgrind-$(echo "$name" | tr ' /' '__').out"
  if "$build/libtool" --mode=execute valgrind -q --error-exitcode=99 --leak-check=full \
       --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
       "$build/tessera" "$@" > "$out" 2>&1; then
    echo "PASS: valgrind tessera $name" | tee -a "$log"
  else
    rc=$?
    if [ "$rc" -eq 99 ]; then
      echo "FAIL: valgrind tessera $name (see $out)" | tee -a "$log"; cat "$out"; status=1
    else
      # The command's own failure exit is fine when expected (usage errors).
      case "$name" in
        *-bad*) echo "PASS: valgrind tessera $name (exit $rc as expected)" | tee -a "$log" ;;
        *) echo "FAIL: valgrind tessera $name exited $rc (see $out)" | tee -a "$log"; cat "$out"; status=1 ;;
      esac
    fi
  fi
}
check "--version" --version
check "--help" --help
check "help plugins" help plugins
check "plugins" plugins
check "plugins -v" plugins -v
check "unknown-bad" no-such-command
check "help profile" help profile
check "profile check-bad" profile check "$src/conf/smollm2-cpu.yaml" \
  "$src/tests/data/profiles/profile-md-example.yaml" "$src/tests/data/profiles/many-errors.yaml"
check "profile show-bad" profile show "$src/conf/smollm2-cpu.yaml"
model=${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}/SmolLM2-135M-Instruct.Q4_1.gguf
check "plan" plan "$src/conf/smollm2-cpu.yaml"
check "run" run -m "$model" -p "Hello" -n 3 --greedy -t 2 -c 64
# Speculation: prompt lookup drafts (and has drafts rejected) on a prompt
# that repeats itself; a few steps, each verifying several rows at once.
spec="$build/valgrind-spec.yaml"
printf 'model: {path: "%s", max_seq_len: 64}\nspeculative: {strategy: ngram, tokens: 4, options: {min_n: 1}}\nsampler: [greedy]\n' \
  "$model" > "$spec"
check "run speculative" run "$spec" --no-chat -p "a b c a b c a b c a b" -n 6 -t 2 -q
# The runtime API through its examples: deployment, context, batches of
# several sequences, samplers, every close.
check_example() {
  name=$1; shift
  out="$build/valgrind-$name.out"
  if "$build/libtool" --mode=execute valgrind -q --error-exitcode=99 --leak-check=full \
       --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
       "$build/contrib/examples/$name" "$@" > "$out" 2>&1; then
    echo "PASS: valgrind example $name" | tee -a "$log"
  else
    echo "FAIL: valgrind example $name exited $? (see $out)" | tee -a "$log"; cat "$out"; status=1
  fi
}
# batched alone (simple runs under ASan in tests/examples.sh): two sequences,
# two tokens each, since valgrind runs the forward pass some 50 times slower.
check_example batched "$model" 2 "Hi" "Bye"
exit $status
