#!/bin/sh
# Where plugins come from and which one serves what: nothing is loaded from
# the current folder, a profile's relative plugins.path starts at the
# profile's folder, and `tessera plugins` lists the search path `run` uses;
# the first plugin on the search path wins a clash (files of one folder in
# name order), the refusal names the GGUF type, `profile check` notes a
# plugin that shadows another, and `run --stats` and `bench` say which file
# and kernels served each tensor type. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
plugins="$build/plugins/.libs"
. "$src/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-plugin-search-XXXXXX") || exit 1
dir=$(cd "$dir" && pwd -P)
trap 'rm -rf "$dir"' EXIT
echo "1..11"
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

(cd "$dir/work" && "$tessera" run -m "$model" -p hi -n 1 --greedy -t 1 --stats) \
  > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -Eq "^\[weights q4_1, [0-9]+ tensors: quant plugin q4_1 from $plugins/quant_q4_1.so, kernel [a-z0-9]+\]$" "$dir/err"
check $? "run --stats: the installed file served q4_1, and which kernels ran"

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

# A folder holding a stand-in q4_1 (quant_q4_1.so, the installed name) and
# q4_1_naive (quant_q4_1_naive.so, the same GGUF type): in name order, the
# first wins inside the folder, and the folder, first on the path, wins over
# the installed plugin.
shadow="$build/tests/shadow/.libs"
printf 'model: {path: "%s", max_seq_len: 64}\nplugins: {path: ["%s"]}\n' "$model" "$shadow" \
  > "$dir/deploy/shadow.yaml"
"$tessera" plugins "$dir/deploy/shadow.yaml" > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -Eq "^quant +q4_1 .* $shadow/quant_q4_1.so$" "$dir/out" \
  && grep -qF "$shadow/quant_q4_1_naive.so: quant plugin 'q4_1_naive' claims GGUF type 3 (q4_1), which quant plugin 'q4_1' of $shadow/quant_q4_1.so already serves" "$dir/out" \
  && grep -qF "$plugins/quant_q4_1.so: quant plugin 'q4_1' for GGUF type 3 (q4_1) is already provided by $shadow/quant_q4_1.so" "$dir/out"
check $? "a clash: the first on the path wins, files of a folder in name order, the refusal names the GGUF type"

"$tessera" profile check "$dir/deploy/shadow.yaml" > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -qF "$dir/deploy/shadow.yaml:2:17: note: plugins.path: quant plugin 'q4_1' of $shadow/quant_q4_1.so shadows the one of $plugins/quant_q4_1.so" "$dir/out" \
  && grep -q "shadow.yaml: ok" "$dir/out"
check $? "profile check notes the plugin of plugins.path that shadows the installed one"

"$tessera" profile check "$dir/deploy/p.yaml" > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q "note: plugins.path: quant plugin 'q4_1' of $dir/work/plugins/quant_q4_1.so shadows" "$dir/out"
check $? "profile check notes a copy of the installed plugin under the same name too"

"$tessera" run "$dir/deploy/shadow.yaml" -p "The capital of France is" -n 4 --greedy -t 1 --stats --no-chat \
  > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && [ -s "$dir/out" ] \
  && grep -qF "[weights q4_1, 210 tensors: quant plugin q4_1 from $shadow/quant_q4_1.so, kernel test-scalar]" "$dir/err" \
  && grep -Eq "^\[activations f32: quant plugin f32 from $plugins/quant_f32.so, kernel [a-z0-9]+\]$" "$dir/err" \
  && grep -Eq "^\[kv cache f16: quant plugin f16 from $plugins/quant_f16.so" "$dir/err"
check $? "run --stats: the shadowing file and its kernels served q4_1, its activations f32"

"$tessera" bench "$dir/deploy/shadow.yaml" -p 8 -n 2 -r 1 -t 1 > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q "| *pp8 |" "$dir/out" \
  && grep -qF "weights q4_1, 210 tensors: quant plugin q4_1 from $shadow/quant_q4_1.so, kernel test-scalar" "$dir/out"
check $? "bench: below the table, which file and kernels served each tensor type"
