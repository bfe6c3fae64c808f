#!/bin/sh
# `tessera profile check` and `show` on good and bad files: exit codes and
# what they print (TAP).
set -u
build=${TSR_TEST_BUILDDIR:-.}
tessera="$build/tessera"
test_plugins="$build/tests/plugins/.libs"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-profile-cli-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
n=0
failed=0

result() { # result STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=1
    sed 's/^/# out: /' "$dir/out"
    sed 's/^/# err: /' "$dir/err"
  fi
}
# run ARGS...: runs tessera, keeps stdout, stderr and the exit status.
run() {
  "$tessera" "$@" > "$dir/out" 2> "$dir/err"
  rc=$?
}
expect() { # expect EXIT DESCRIPTION [PATTERN_IN_STDOUT]...
  want=$1 what=$2
  shift 2
  status=0
  [ "$rc" -eq "$want" ] || { echo "# exit $rc, expected $want"; status=1; }
  for pattern in "$@"; do
    grep -qF -- "$pattern" "$dir/out" || { echo "# stdout lacks: $pattern"; status=1; }
  done
  result $status "$what"
}

printf 'GGUF\003\000\000\000' > "$dir/model.gguf"
cat > "$dir/good.yaml" <<'YAML'
model: {path: model.gguf, cache_type: test_kv}
devices: {allocator: host}
sampler:
  - test_params: {k: 5}
  - test_choose
YAML
cat > "$dir/bad.yaml" <<'YAML'
model:
  max_seq_length: 2048
  path: missing.gguf
  cache_type: test_kv
devices: {allocator: sim, sim: [24GiB, 24GiB], split: [20, 24, 4], reserve: -1MiB}
sampler:
  - test_params: {k: 0, kk: 1}
  - no_such_sampler
threads: lots
YAML
cat > "$dir/warned.yaml" <<'YAML'
model: {path: model.gguf, cache_type: test_kv}
draft: {path: model.gguf}
speculative: {strategy: test_spec_alone}
sampler: [test_choose]
YAML

run profile check "$dir/good.yaml" --path "$test_plugins"
expect 0 "check: a valid profile is ok" "$dir/good.yaml: ok"

run profile check "$dir/bad.yaml" --path "$test_plugins"
expect 2 "check: every problem of a bad profile, with FILE:LINE:COLUMN" \
  "$dir/bad.yaml:2:3: unknown key 'max_seq_length' in model; did you mean 'max_seq_len'?" \
  "$dir/bad.yaml:3:9: model.path: $dir/missing.gguf: no such file or folder" \
  "$dir/bad.yaml:5:55: devices.split names 3 devices, but allocator sim has 2 (sim0, sim1)" \
  "$dir/bad.yaml:5:77: devices.reserve: size '-1MiB' is negative" \
  "$dir/bad.yaml:7:22: test_params.k = 0 is out of range [1, 1000]" \
  "$dir/bad.yaml:7:25: test_params has no parameter 'kk'; did you mean 'k'?" \
  "$dir/bad.yaml:8:5: sampler: no sampler plugin 'no_such_sampler' on the search path" \
  "  hint: searched: " \
  "$dir/bad.yaml:9:10: threads must be a whole number, not 'lots'"
lines=$(grep -c "^$dir/bad.yaml:" "$dir/out")
[ "$lines" -eq 8 ]; result $? "check: exactly the 8 problems, no more ($lines)"
grep "^$dir/bad.yaml:" "$dir/out" | sort -c -t: -k2,2n -k3,3n
result $? "check: problems in file order"

run profile check "$dir/good.yaml" "$dir/bad.yaml" "$dir/nowhere.yaml" --path "$test_plugins"
expect 2 "check: several files, each judged" "$dir/good.yaml: ok" \
  "$dir/nowhere.yaml: cannot read the profile: No such file or directory"

run profile check "$dir/warned.yaml" --path "$test_plugins"
expect 0 "check: warnings do not fail a profile" "$dir/warned.yaml: ok (1 warning)" \
  "$dir/warned.yaml:2:1: warning: draft is given, but speculative.strategy test_spec_alone"

run profile show "$dir/good.yaml" --path "$test_plugins"
expect 0 "show: the resolved profile" "path: $dir/model.gguf" "cache_type: test_kv" \
  "- test_params: {k: 5, p: 0.9, enabled: true, mode: fast," "- test_choose" \
  "reserve: 256MiB" "seed: 42" "port: 8080"
cp "$dir/out" "$dir/shown.yaml"
run profile check "$dir/shown.yaml" --path "$test_plugins"
expect 0 "show: its output checks clean" "$dir/shown.yaml: ok"

run profile show "$dir/bad.yaml" --path "$test_plugins"
[ "$rc" -eq 2 ] && [ ! -s "$dir/out" ] && grep -q "threads must be a whole number" "$dir/err"
result $? "show: a bad profile prints its problems on stderr and nothing else"

run profile --help
expect 0 "--help" "Usage: tessera profile check" "tessera profile show" "Exit status"
run help profile
expect 0 "help profile" "Usage: tessera profile check"
run profile
expect 2 "no action is a usage error"
run profile frobnicate x.yaml
expect 2 "an unknown action is a usage error"
run profile show "$dir/good.yaml" "$dir/bad.yaml"
expect 2 "show takes one file"

echo "1..$n"
exit $failed
