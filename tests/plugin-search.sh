#!/bin/sh
# Where plugins come from and which one serves what: nothing is loaded from
# the current folder, a profile's relative plugins.path starts at the
# profile's folder, and `tessera plugins` lists the search path `run` uses.
# TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
plugins="$build/plugins/.libs"
. "$src/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-plugin-search-XXXXXX") || exit 1
dir=$(cd "$dir" && pwd -P)
trap 'rm -rf "$dir"' EXIT
echo "1..5"
n=0
check() { # check STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f" | head -30; done
  fi
}

# A folder named plugins in the current folder, holding a real plugin: the
# q4_1 the default model needs, which would win over the installed one.
mkdir -p "$dir/work/plugins" "$dir/deploy"
cp "$plugins/quant_q4_1.so" "$dir/work/plugins/"

(cd "$dir/work" && TESSERA_LOG=debug "$tessera" run -m "$model" -p hi -n 1 --greedy -t 1) \
  > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q "quant plugin 'q4_1' loaded" "$dir/err" && ! grep -q "$dir/work/plugins" "$dir/err"
check $? "run -m MODEL does not load ./plugins of the current folder"

(cd "$dir/work" && "$tessera" plugins) > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && ! grep -q "$dir/work" "$dir/out" && grep -q "searched: .*$plugins" "$dir/out"
check $? "tessera plugins in that folder neither lists nor searches it"

# A profile's relative plugins.path starts at the profile's folder, wherever
# tessera runs; `tessera plugins PROFILE` shows that path.
printf 'model: {path: "%s", max_seq_len: 64}\nplugins: {path: [../work/plugins]}\n' "$model" \
  > "$dir/deploy/p.yaml"
(cd / && "$tessera" plugins "$dir/deploy/p.yaml") > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -Eq "^quant +q4_1 .* $dir/work/plugins/quant_q4_1.so$" "$dir/out" \
  && grep -q "searched: $dir/work/plugins $plugins" "$dir/out"
check $? "tessera plugins PROFILE: the profile's relative folder first, against its own folder"

(cd / && TESSERA_LOG=debug "$tessera" run "$dir/deploy/p.yaml" -p hi -n 1 --greedy -t 1) \
  > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q "$dir/work/plugins/quant_q4_1.so: quant plugin 'q4_1' loaded" "$dir/err"
check $? "run PROFILE loads the plugin the profile's relative plugins.path names"

printf 'model: {path: "%s"}\nplugins: {path: [42, {a: b}]}\n' "$model" > "$dir/deploy/bad.yaml"
"$tessera" plugins "$dir/deploy/bad.yaml" > "$dir/out" 2> "$dir/err"
[ $? -eq 2 ] && grep -q "bad.yaml:2:" "$dir/err" && grep -q "profile check" "$dir/err"
check $? "tessera plugins with an unusable profile: exit 2, its problems with their places"
