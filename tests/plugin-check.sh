#!/bin/sh
# tessera plugin check: every plugin the tree builds passes it, and each
# deliberately broken plugin of tests/plugins/check_broken.c fails it, with
# one line per check naming what broke. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
tessera="$build/tessera"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-plugin-check-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
n=0
check() { # check STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    sed 's/^/# /' "$dir/out" | grep -v '^# ok ' | head -30
  fi
}
plugins=$(ls "$build"/plugins/.libs/*.so)
echo "1..$(($(echo "$plugins" | wc -l) + 9))"

for so in $plugins; do
  "$tessera" plugin check "$so" > "$dir/out" 2>&1
  [ $? -eq 0 ] && grep -q "every check passed" "$dir/out" && ! grep -q '^FAIL' "$dir/out"
  status=$?
  what="passes tessera plugin check"
  # alloc/cuda (--enable-cuda): without a GPU its open fails in the CUDA
  # runtime's words and the device checks are skipped, saying so; with one,
  # cuda0 is checked, its upload included.
  if [ $status -eq 0 ] && [ "$(basename "$so")" = alloc_cuda.so ]; then
    if grep -q '^skip cuda: open with its default parameters (and every device check): alloc/cuda: cudaGetDeviceCount ' "$dir/out"; then
      what="$what (no GPU here: $(sed -n 's/^skip cuda: open[^:]*: alloc\/cuda: //p' "$dir/out"))"
    else
      grep -q '^ok   cuda: cuda0: upload fills an arena and refuses a range past its end$' "$dir/out"
      status=$?
    fi
  fi
  check $status "$(basename "$so") $what"
done

broken="$build/tests/checkbad/.libs"
"$tessera" plugin check "$broken/check_broken_quant.so" > "$dir/out" 2>&1
[ $? -eq 1 ] &&
  grep -q '^FAIL check_broken_quant: ISA level scalar (kernel unnamed): matmat matches matmat_reference: token 0 row 0: ' "$dir/out" &&
  grep -q '^ok   check_broken_quant: ISA level scalar (kernel unnamed): matvec matches matmat_reference$' "$dir/out"
check $? "a quant plugin whose matmat strays from its reference fails, and only there"

"$tessera" plugin check "$broken/check_broken_sampler.so" > "$dir/out" 2>&1
[ $? -eq 1 ] &&
  grep -q '^FAIL check_broken_sampler: apply on an unsorted array leaves a valid array: sorted is true, but data' "$dir/out" &&
  grep -q '^ok   check_broken_sampler: apply on one candidate leaves a valid array$' "$dir/out"
check $? "a sampler that calls an unsorted array sorted fails"

"$tessera" plugin check "$broken/check_broken_alloc.so" > "$dir/out" 2>&1
[ $? -eq 1 ] &&
  grep -q '^FAIL check_broken_alloc: tiny0: a reservation past capacity is refused in the shared words: its message is "", not "tiny0: cannot reserve 1048576 bytes: 4096 of 1048576 bytes in use"$' "$dir/out" &&
  grep -q '^ok   check_broken_alloc: tiny0: reserve and release are counted$' "$dir/out"
check $? "an allocator that refuses in words of its own fails, naming the shared words"

"$tessera" plugin check "$broken/check_broken_abort.so" > "$dir/out" 2>&1
[ $? -eq 1 ] &&
  grep -q '^FAIL .*check_broken_abort.so: the plugin crashed the checks after the last line above (signal 6, ' "$dir/out"
check $? "a plugin that aborts is a failed check, not the checker's end"

# A copy of an installed plugin is compared with the installed one; a
# plugin that claims f32 and stores it otherwise is caught by that.
mkdir "$dir/copy" && cp "$build/plugins/.libs/quant_q4_1.so" "$dir/copy/"
"$tessera" plugin check "$dir/copy/quant_q4_1.so" > "$dir/out" 2>&1
[ $? -eq 0 ] && grep -q '^ok   q4_1: agrees with the installed plugin of its GGUF type$' "$dir/out"
check $? "a copy of q4_1 agrees with the installed q4_1"

"$tessera" plugin check "$broken/check_broken_f32.so" > "$dir/out" 2>&1
[ $? -eq 1 ] &&
  grep -q '^ok   check_broken_f32: ISA level scalar (kernel unnamed): matmat matches matmat_reference$' "$dir/out" &&
  grep -q "^FAIL check_broken_f32: agrees with the installed plugin of its GGUF type: value 0 of the same bytes dequantizes to .* here and .* in .*quant_f32.so$" "$dir/out"
check $? "an f32 that stores values its own way fails against the installed f32"

"$tessera" plugin check "$build/tests/plugins/.libs/broken_wrong_major.so" > "$dir/out" 2>&1
[ $? -eq 1 ] && grep -q '^FAIL the file loads: .*built for plugin ABI 2\.0; this core speaks 1\.' "$dir/out"
check $? "a plugin built for another major fails with the loader's reason"

printf 'not a shared object' > "$dir/fake.so"
"$tessera" plugin check "$dir/fake.so" > "$dir/out" 2>&1
[ $? -eq 1 ] && grep -q '^FAIL the file loads: .*cannot be loaded as a shared object' "$dir/out"
check $? "a file that is no shared object fails, and nothing crashes"

"$tessera" plugin check > "$dir/out" 2>&1
s1=$?
"$tessera" plugin check a.so b.so > "$dir/out" 2>&1
s2=$?
"$tessera" help plugin > "$dir/out" 2>&1 && grep -q 'Usage: tessera plugin check FILE.so' "$dir/out" &&
  "$tessera" --help > "$dir/out" 2>&1 && grep -q '^  plugin  ' "$dir/out" &&
  [ $s1 -eq 2 ] && [ $s2 -eq 2 ]
check $? "bad arguments exit 2; tessera help and --help show the command"
