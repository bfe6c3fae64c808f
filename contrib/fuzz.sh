#!/bin/sh
# Builds the libFuzzer targets with clang in a scratch tree and runs each for
# a bounded time. Usage: contrib/fuzz.sh [SECONDS=60] [BUILD_DIR]
set -u
seconds=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$src/_build/fuzz}
mkdir -p "$build"
cd "$build" || exit 1
if [ ! -f Makefile ]; then
  "$src/configure" -q --enable-fuzzers CC=clang || exit 1
fi
make -s -j2 fuzzers || exit 1
status=0
for target in tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus="$src/tests/fuzz/corpus/${name#fuzz_}"
  work="$build/corpus-${name#fuzz_}"
  mkdir -p "$work"
  dict="$src/tests/fuzz/${name#fuzz_}.dict"
  dict_flag=""
  [ -f "$dict" ] && dict_flag="-dict=$dict"
  echo "fuzzing $name for $seconds s"
  if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $dict_flag \
       -artifact_prefix="$build/$name-" -print_final_stats=0 "$work" "$corpus" \
       > "$build/$name.log" 2>&1; then
    tail -n 40 "$build/$name.log"
    echo "FAIL: $name (log: $build/$name.log)"
    status=1
  else
    echo "PASS: $name"
  fi
done
exit $status
