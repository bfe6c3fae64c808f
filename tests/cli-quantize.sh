#!/bin/sh
# `tessera quantize` on the default model, judged by llama.cpp and the gguf
# package (tests/quantize_check.py): every mix gives each tensor the type
# llama.cpp's quantizer gives it; the files it writes read back in the gguf
# package and load and generate in tessera and llama.cpp; q8_0 and q4_0
# are llama.cpp's bytes; --keep overrides; bad input, formats no plugin
# writes and an output that cannot be written get clear errors and leave
# nothing behind. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
py=/opt/tsr-venv/bin/python
check_py="$src/tests/quantize_check.py"
models="$build/tests/models"
. "$src/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-cli-quantize-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..18"
n=0
check() { # check STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f" | head -20; done
  fi
}
run() { "$tessera" quantize "$@" > "$dir/out" 2> "$dir/err"; }
# nothing_left FILE: no temporary file of FILE's remains beside it
nothing_left() { ! ls "$1".tmp.* > /dev/null 2>&1; }

# Every mix llama-quantize offers (the i-quants below 4 bits too: a dry run
# needs no importance matrix), against llama.cpp's own dry run.
mixes="q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q2_k_s q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m
  q6_k iq4_nl iq4_xs iq3_xxs iq3_xs iq3_s iq3_m iq2_xxs iq2_xs iq2_s iq2_m iq1_s iq1_m f16 bf16"
"$py" "$check_py" types "$model" $mixes > "$dir/theirs" 2> "$dir/err"
rc=$?
for mix in $mixes; do
  "$tessera" quantize "$model" "$dir/never.gguf" "$mix" --dry-run 2>> "$dir/err" |
    awk -v m="$mix" '/ -> .* MiB -> / { print m, $1, $4 }'
done | sort > "$dir/ours"
[ $rc -eq 0 ] && [ -s "$dir/ours" ] && [ ! -e "$dir/never.gguf" ] &&
  diff "$dir/theirs" "$dir/ours" > "$dir/out"
check $? "the types of all $(echo $mixes | wc -w) mixes, $(wc -l < "$dir/ours") tensors, are llama.cpp's (a dry run writes nothing)"

run "$model" "$dir/q4_k_m.gguf" q4_k_m -t 2
[ $? -eq 0 ] && [ -s "$dir/q4_k_m.gguf" ] && nothing_left "$dir/q4_k_m.gguf" &&
  grep -q "q4_k_m.gguf: 272 tensors, .* MiB -> .* MiB (q4_k_m): .*16 q4_k" "$dir/out"
check $? "q4_k_m writes the file and says what it holds"
"$py" "$check_py" readback "$dir/q4_k_m.gguf" "$model" > "$dir/out" 2> "$dir/err"
check $? "the gguf package reads it back: metadata copied, aligned, its dequantization near the input's"
cat "$dir/out" | sed 's/^/# /'
"$tessera" run -m "$dir/q4_k_m.gguf" -p "The capital of France is" --no-chat -n 6 --temp 0 \
  -t 2 -q > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q Paris "$dir/out"
check $? "tessera loads it and continues 'The capital of France is' with Paris"
"$py" "$check_py" generate "$dir/q4_k_m.gguf" > "$dir/out" 2> "$dir/err"
[ $? -eq 0 ] && grep -q Paris "$dir/out"
check $? "llama.cpp loads it and continues the prompt with Paris"

for type in q8_0 q4_0; do
  run "$model" "$dir/$type.gguf" "$type" --pure -t 2 &&
    "$py" "$check_py" same-bytes "$dir/$type.gguf" "$models/$type.gguf" > "$dir/out" 2> "$dir/err"
  check $? "$type --pure: every tensor's bytes are llama.cpp's ($models/$type.gguf)"
done

run "$model" "$dir/keep.gguf" q4_0 --dry-run --keep 'blk.*.ffn_down.weight=q8_0' \
  --keep token_embd.weight=f16
[ $? -eq 0 ] && [ "$(grep -c '^blk\.[0-9]*\.ffn_down\.weight .* -> q8_0 ' "$dir/out")" -eq 30 ] &&
  grep -q '^token_embd\.weight .* -> f16 ' "$dir/out" &&
  grep -q '^blk\.0\.ffn_up\.weight .* -> q4_0 ' "$dir/out"
check $? "--keep gives the matrices a glob or a name matches their own type"

run "$model" "$dir/keep.gguf" q4_0 --keep 'nothing.*=q8_0'
[ $? -eq 2 ] && grep -q "keep nothing\.\*=q8_0: matches no matrix" "$dir/err" &&
  [ ! -e "$dir/keep.gguf" ]
check $? "a --keep rule that matches no matrix is refused"

run "$model" "$dir/x.gguf" q4_z
[ $? -eq 2 ] && grep -q "q4_z: no mix or type of that name; mixes: .*q4_k_m.*; types the loaded plugins can write: .*q4_k" "$dir/err"
check $? "an unknown format is refused, naming the mixes and the types that can be written"
run "$model" "$dir/x.gguf" iq2_xxs
[ $? -eq 2 ] && grep -q "iq2_xxs: tensor .* would be iq2_xxs in the mix iq2_xxs, which no loaded plugin can quantize; types the loaded plugins can write: .*q8_0" "$dir/err" &&
  [ ! -e "$dir/x.gguf" ] && nothing_left "$dir/x.gguf"
check $? "a mix whose types no plugin can write is refused, naming the types that can be"

run "$dir/missing.gguf" "$dir/x.gguf" q8_0
[ $? -eq 2 ] && grep -q "missing.gguf: No such file" "$dir/err"
check $? "a missing input is refused"
head -c 20000000 "$model" > "$dir/cut.gguf"
run "$dir/cut.gguf" "$dir/x.gguf" q8_0
[ $? -eq 2 ] && grep -q "cut.gguf: .*past the end of the 20000000-byte file" "$dir/err" &&
  [ ! -e "$dir/x.gguf" ]
check $? "a truncated input is refused, naming what runs past its end"

run "$model" "$dir/no/such/folder/x.gguf" q8_0
[ $? -eq 1 ] && grep -q "x.gguf: cannot create the output beside it: No such file or directory" "$dir/err"
check $? "an output in a folder that does not exist is refused before any work"
run "$model" /dev/full q8_0
[ $? -eq 1 ] && grep -q "/dev/full: is a device or other special file, not a regular file" "$dir/err" &&
  nothing_left /dev/full
check $? "a device as the output is refused, and nothing is created beside it"
# A full disk: a file-size limit makes writes past 4 MiB fail (EFBIG; the
# signal ignored, as a full disk's ENOSPC comes without one).
echo old > "$dir/full.gguf"
(trap '' XFSZ; ulimit -f 8192; exec "$tessera" quantize "$model" "$dir/full.gguf" q8_0 -t 2) \
  > "$dir/out" 2> "$dir/err"
[ $? -eq 1 ] && grep -q "full.gguf: cannot write (after [0-9]* bytes): File too large; the output is left as it was" "$dir/err" &&
  [ "$(cat "$dir/full.gguf")" = old ] && nothing_left "$dir/full.gguf"
check $? "a write that fails midway leaves the old output as it was and no temporary file"

script -qec "'$tessera' quantize '$model' '$dir/tty.gguf' q8_0 -t 2" /dev/null > "$dir/out" 2>&1
[ $? -eq 0 ] && grep -q "quantizing \[#*\.*\] *[0-9]*%" "$dir/out"
check $? "a progress bar on a terminal"
"$tessera" quantize --help > "$dir/out" 2>&1
[ $? -eq 0 ] && grep -q "re-quantizing is always allowed" "$dir/out" && grep -q -- "--keep TENSOR=TYPE" "$dir/out"
check $? "--help says that a quantized input may be re-quantized and documents --keep"
