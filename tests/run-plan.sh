#!/bin/sh
# `tessera run` plans before it allocates. A refused deployment exits 3 with
# the planner's reasons and its allocator is asked for nothing; one that
# fits reserves exactly what `tessera plan` prints, and `tessera plan`
# itself reserves nothing. The allocator is tests/plugins/counting_alloc.c,
# which logs every reservation to $TSR_TEST_ALLOC_LOG. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
tessera="$build/tessera"
. "${TSR_TEST_SRCDIR:-.}/tests/default-model.sh"
if ! "$tessera" run --help >/dev/null 2>&1; then
  echo "Bail out! $tessera run --help fails: the build has no working tessera run"; exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-run-plan-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..4"
n=0
result() { # result STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err log; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f"; done
  fi
}
profile() { # profile FILE [DRAFT]
  {
    echo "model: {path: \"$model\", max_seq_len: 256}"
    [ $# -gt 1 ] && echo "draft: {path: \"$2\"}"
    echo "devices: {allocator: counting, sim: [4GiB], reserve: 64MiB}"
    echo "plugins: {path: [\"$build/tests/counting/.libs\"]}"
    echo "threads: 2"
  } > "$1"
}
run() { # run ARGS...: tessera with the log, keeping out, err, the status
  rm -f "$dir/log"
  TSR_TEST_ALLOC_LOG="$dir/log" "$tessera" "$@" > "$dir/out" 2> "$dir/err"
  rc=$?
  touch "$dir/log"
}

# The model as its own draft: refused, with nothing asked of the allocator.
profile "$dir/refused.yaml" "$model"
run run "$dir/refused.yaml" -p "Hello" -n 4 --greedy
[ "$rc" -eq 3 ] && grep -q '\[draft-is-main\]' "$dir/err"
result $? "a refused deployment exits 3 with draft-is-main"
grep -qx open "$dir/log" && ! grep -qE '^(reserve|map)' "$dir/log"
result $? "a refused deployment allocates nothing (its allocator was opened, never asked)"

# Without the draft it fits: what run reserves is what plan prints.
profile "$dir/fits.yaml"
run plan --json "$dir/fits.yaml"
first() { sed -n "s/.*\"$1\": \\([0-9]*\\).*/\\1/p" "$dir/out" | head -n 1; }
planned=$(( $(first weights_bytes) + $(first kv_cache_bytes) + $(first scratch_bytes) ))
[ "$rc" -eq 0 ] && [ "$planned" -gt 0 ] && grep -qx open "$dir/log" &&
  ! grep -qE '^(reserve|map)' "$dir/log"
result $? "tessera plan reads headers and reserves nothing"
run run "$dir/fits.yaml" -p "Hello" -n 4 --greedy
asked=$(awk '$1 == "reserve" || $1 == "map" { s += $3 } END { print s + 0 }' "$dir/log")
echo "# planned $planned bytes; run asked the allocator for $asked"
[ "$rc" -eq 0 ] && [ "$asked" -eq "$planned" ]
result $? "tessera run reserves exactly the plan ($planned bytes)"
