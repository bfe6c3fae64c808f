#!/bin/sh
# What a careless or hostile user does to `tessera` (issue 10), replayed:
# model files changed during a run, endless inputs, a bad environment, full
# disks, signals, memory limits, numbers that are not numbers. Each case
# expects an exit status and a message; every line of the TAP output says
# the case, the status it got and the first line of what tessera said.
# Every command runs under a memory limit and a timeout, so a regression (an
# endless input read whole) fails its case instead of taking the machine.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
tessera="$build/tessera"
. "$src/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-hostile-XXXXXX") || exit 1
trap 'chmod -R u+rwx "$dir" 2>/dev/null; rm -rf "$dir"' EXIT

# Under AddressSanitizer `ulimit -v` cannot work (its shadow memory alone is
# terabytes of address space): its own RSS limit stands in.
asan=0
ASAN_OPTIONS=help=1 "$tessera" --version 2>&1 | grep -q AddressSanitizer && asan=1
limit_mb=1024
# limited SECONDS CMD...: CMD with at most $limit_mb MiB and SECONDS seconds.
limited() {
  seconds=$1
  shift
  if [ $asan = 1 ]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:hard_rss_limit_mb=$limit_mb" timeout -k 5 "$seconds" "$@"
  else
    (ulimit -v $((limit_mb * 1024)) && exec timeout -k 5 "$seconds" "$@")
  fi
}

n=0
# report STATUS DESCRIPTION RC: one TAP line, with the first line tessera said.
report() {
  n=$((n + 1))
  said=$(cat "$dir/err" "$dir/out" 2>/dev/null | grep -v '^[[:space:]]*$' | head -n 1 | cut -c 1-240)
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2: exit $3: $said"
  else
    echo "not ok $n - $2: exit $3: $said"
    sed 's/^/#   /' "$dir/err" | head -n 8
  fi
}
input=/dev/null
# hostile RC PATTERN DESCRIPTION CMD...: runs CMD (stdin $input, then reset
# to /dev/null), expects exit RC and a line matching PATTERN (ERE) on stderr
# (or stdout: `profile check` reports there).
hostile() {
  want=$1 pattern=$2 what=$3
  shift 3
  limited 60 "$@" < "$input" > "$dir/out" 2> "$dir/err"
  rc=$?
  input=/dev/null
  [ "$rc" -eq "$want" ] && cat "$dir/err" "$dir/out" | grep -Eq -- "$pattern"
  report $? "$what" "$rc"
}
# background CMD...: starts CMD (memory bounded, output to $dir) as $pid,
# which a watchdog kills after 120 s; finish waits for it and gives its status.
background() {
  : > "$dir/out" # now, not when the background shell gets to it
  if [ $asan = 1 ]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:hard_rss_limit_mb=$limit_mb" "$@" > "$dir/out" 2> "$dir/err" &
  else
    (ulimit -v $((limit_mb * 1024)) && exec "$@") > "$dir/out" 2> "$dir/err" &
  fi
  pid=$!
  (sleep 120; kill -KILL $pid 2>/dev/null) &
  watchdog=$!
}
finish() {
  wait $pid 2>/dev/null
  rc=$?
  kill $watchdog 2>/dev/null
  wait $watchdog 2>/dev/null
  return $rc
}
# Until the run started in the background ($pid) prints, or ends (120 s at most).
wait_for_text() {
  i=0
  while [ ! -s "$dir/out" ] && kill -0 $pid 2>/dev/null && [ $i -lt 1200 ]; do
    sleep 0.1
    i=$((i + 1))
  done
}

m="-m $model"
gen="-n 8 --greedy -t 2 -q"

# ---- model files changed during a run ------------------------------------
# Weights are mapped: a file cut short under the mapping faults (SIGBUS)
# when a page past its new end is read.
cp "$model" "$dir/model.gguf"
background "$tessera" run -m "$dir/model.gguf" -p "Tell me a long story." -n 4000 --ignore-eos \
  -t 2 -q
wait_for_text
truncate -s 2M "$dir/model.gguf"
finish
rc=$?
[ $rc -eq 1 ] && grep -q "model.gguf: the model file was truncated or replaced while in use" \
  "$dir/err" && [ -s "$dir/out" ]
report $? "the model file truncated during generation: a message naming it, the text so far" $rc

cp "$model" "$dir/model.gguf"
head -c 1048576 "$model" > "$dir/other.gguf"
background "$tessera" run -m "$dir/model.gguf" -p "Tell me a long story." -n 4000 --ignore-eos \
  -t 2 -q
wait_for_text
cp "$dir/other.gguf" "$dir/model.gguf"
finish
rc=$?
[ $rc -eq 1 ] && grep -q "truncated or replaced while in use" "$dir/err" && [ -s "$dir/out" ]
report $? "another file copied over the model during generation (cp truncates first)" $rc
rm -f "$dir/model.gguf" "$dir/other.gguf"

# ---- endless and binary inputs ---------------------------------------------
hostile 2 "/dev/zero: .*byte 0 is a NUL byte" "plan /dev/zero" "$tessera" plan /dev/zero
hostile 2 "/dev/zero: .*NUL byte" "profile check /dev/zero" "$tessera" profile check /dev/zero
hostile 2 "/dev/zero: .*NUL byte" "profile show /dev/zero" "$tessera" profile show /dev/zero
hostile 2 "/dev/zero: .*NUL byte" "run /dev/zero as the profile" "$tessera" run /dev/zero -p hi
hostile 2 "more than 1048576 bytes, the most a profile may hold" \
  "an endless profile without a NUL (yes | profile check /dev/stdin)" \
  sh -c 'yes | "$0" profile check /dev/stdin' "$tessera"
hostile 2 "/dev/zero: byte 0 is a NUL byte: a prompt is text" "run -f /dev/zero" \
  "$tessera" run $m -f /dev/zero $gen
input=/dev/zero
hostile 2 "standard input: byte 0 is a NUL byte" "run -f - < /dev/zero" \
  "$tessera" run $m -f - $gen
hostile 2 "standard input: more than [0-9]+ bytes, the most the [0-9]+-token context can hold" \
  "an endless prompt without a NUL (yes | run -f -)" \
  sh -c 'yes | "$0" run -m "$1" -f - -n 8 -q' "$tessera" "$model"
input=/dev/zero
hostile 2 "standard input: line 1: byte 0 is a NUL byte" "run --chat < /dev/zero" \
  "$tessera" run $m --chat $gen
hostile 2 "standard input: line 1 is longer than [0-9]+ bytes" \
  "an endless chat line (yes | tr -d '\\\\n' | run --chat)" \
  sh -c 'yes | tr -d "\n" | "$0" run -m "$1" --chat -n 8 -q' "$tessera" "$model"
truncate -s 1G "$dir/huge.txt"
hostile 2 "huge.txt: 1073741824 bytes, more than [0-9]+, the most the" \
  "a 1 GiB prompt file is refused from its size, unread" "$tessera" run $m -f "$dir/huge.txt" $gen
rm -f "$dir/huge.txt"
hostile 2 "is a folder, not a file" "run -f FOLDER" "$tessera" run $m -f "$dir" $gen
printf 'hello\0world' > "$dir/nul.txt"
hostile 2 "nul.txt: byte 5 is a NUL byte: a prompt is text" "a prompt file with a NUL byte" \
  "$tessera" run $m -f "$dir/nul.txt" $gen

# ---- a bad environment -----------------------------------------------------
hostile 2 "TESSERA_CONFIG: /dev/zero: byte 0 is a NUL byte" "TESSERA_CONFIG=/dev/zero run" \
  env TESSERA_CONFIG=/dev/zero "$tessera" run $m -p hi $gen
hostile 2 "TESSERA_CONFIG: /dev/zero: byte 0 is a NUL byte" "TESSERA_CONFIG=/dev/zero plan" \
  env TESSERA_CONFIG=/dev/zero "$tessera" plan "$src/conf/smollm2-cpu.yaml"
hostile 2 "TESSERA_CONFIG: .*: is a folder, not a file" "TESSERA_CONFIG=FOLDER" \
  env TESSERA_CONFIG="$dir" "$tessera" run $m -p hi $gen
hostile 2 "TESSERA_THREADS=many: must be a whole number" "TESSERA_THREADS=many" \
  env TESSERA_THREADS=many "$tessera" run $m -p hi $gen
hostile 2 "TESSERA_ISA" "TESSERA_ISA=sse9" env TESSERA_ISA=sse9 "$tessera" run $m -p hi $gen
# An unreadable plugin folder is skipped with a warning, as a missing one is.
# root reads any folder: the case then runs as nobody.
mkdir -p "$dir/locked"
chmod 000 "$dir/locked"
as_user=""
if [ "$(id -u)" -eq 0 ]; then
  chmod 755 "$dir"
  as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
cp "$model" "$dir/model.gguf"
printf 'model: {path: "%s"}\nplugins: {path: "%s"}\n' "$dir/model.gguf" "$dir/locked" \
  > "$dir/locked.yaml"
chmod 644 "$dir/locked.yaml" "$dir/model.gguf"
hostile 0 "locked: cannot read this plugin folder \(Permission denied\); its plugins are skipped" \
  "TESSERA_PLUGIN_PATH with an unreadable folder: a warning" \
  env TESSERA_PLUGIN_PATH="$dir/locked:${TESSERA_PLUGIN_PATH:-}" $as_user "$tessera" plugins
hostile 0 "locked cannot be read \(Permission denied\); it is skipped" \
  "plugins.path with an unreadable folder: a warning" \
  $as_user "$tessera" profile check "$dir/locked.yaml"
chmod 755 "$dir/locked"
rm -f "$dir/model.gguf"

# ---- non-finite weights ----------------------------------------------------
"$build/tests/make_hostile_model" "$model" "$dir/nan-norm.gguf" output_norm.weight nan &&
  hostile 1 "step 0 \(the prompt\): the logit of token [0-9]+ is NaN" \
    "a model whose output norm is NaN" "$tessera" run -m "$dir/nan-norm.gguf" -p hi $gen
rm -f "$dir/nan-norm.gguf"
"$build/tests/make_hostile_model" "$model" "$dir/nan-scales.gguf" blk.3.ffn_up.weight nan &&
  hostile 1 "nan-scales.gguf: tensor blk.3.ffn_up.weight holds non-finite values" \
    "a model whose block scales in layer 3 are NaN: the tensor named" \
    "$tessera" run -m "$dir/nan-scales.gguf" -p hi $gen
rm -f "$dir/nan-scales.gguf"
"$build/tests/make_hostile_model" "$model" "$dir/inf.gguf" blk.0.attn_norm.weight inf &&
  hostile 1 "inf.gguf: tensor blk.0.attn_norm.weight holds non-finite" \
    "a model whose attention norm in layer 0 is Inf: the tensor named" \
    "$tessera" run -m "$dir/inf.gguf" -p hi $gen
rm -f "$dir/inf.gguf"

# ---- -n 0 --------------------------------------------------------------------
hostile 0 "generated: 0 tokens" "-n 0 generates nothing" \
  "$tessera" run $m -p "Count to a million:" -n 0 --stats -q
[ "$(tr -d '\n' < "$dir/out")" = "" ]
report $? "-n 0 prints no text" 0

# ---- full disks and closed pipes ---------------------------------------------
hostile 1 "cannot write the output: No space left on device" "run > /dev/full" \
  sh -c '"$0" run -m "$1" -p hi -n 8 --greedy -q > /dev/full' "$tessera" "$model"
hostile 1 "cannot write the output: No space left on device" "run --echo > /dev/full" \
  sh -c '"$0" run -m "$1" -p hi -n 0 --echo -q > /dev/full' "$tessera" "$model"
hostile 1 "cannot write the output" "plan > /dev/full" \
  sh -c '"$0" plan "$1" > /dev/full' "$tessera" "$src/conf/smollm2-cpu.yaml"
hostile 1 "cannot write the output: No space left on device" "bench > /dev/full" \
  sh -c '"$0" bench -m "$1" -p 8 -n 2 -r 1 -t 2 -q > /dev/full' "$tessera" "$model"
hostile 1 "cannot write the output: No space left on device" "profile show > /dev/full" \
  sh -c '"$0" profile show "$1" > /dev/full' "$tessera" "$src/conf/smollm2-cpu.yaml"
hostile 1 "cannot write the output: No space left on device" "plugins -v > /dev/full" \
  sh -c '"$0" plugins -v > /dev/full' "$tessera"
hostile 1 "cannot write the output: No space left on device" "--help > /dev/full" \
  sh -c '"$0" --help > /dev/full' "$tessera"
# SIGPIPE ignored (as some parents leave it): the write fails with EPIPE, and
# generation stops there instead of running on into a closed pipe.
hostile 1 "cannot write the output: Broken pipe" "a closed pipe with SIGPIPE ignored" \
  sh -c 'trap "" PIPE
    { "$0" run -m "$1" -p "Tell me a story." -n 4000 --ignore-eos -t 2 -q; echo $? > "$2"; } |
      head -c 1 > /dev/null
    exit "$(cat "$2")"' "$tessera" "$model" "$dir/rc"

# ---- signals -------------------------------------------------------------------
# (SIGTERM: a shell starts background commands with SIGINT ignored.)
background "$tessera" run $m -p "Tell me a long story." -n 4000 --ignore-eos -t 2 -q
wait_for_text
kill -TERM $pid
finish
rc=$?
[ $rc -eq 143 ] && [ -s "$dir/out" ]
report $? "SIGTERM during generation: it stops at once, the text so far is out" $rc

# ---- numbers that are not numbers ------------------------------------------
hostile 2 "must be a number, not 'hot'" "--temp hot" "$tessera" run $m -p hi --temp hot -n 4 -q
hostile 2 "must be a number, not ''" "--temp ''" "$tessera" run $m -p hi --temp "" -n 4 -q
hostile 2 "must be a number, not '0.8abc'" "--temp 0.8abc" \
  "$tessera" run $m -p hi --temp 0.8abc -n 4 -q
hostile 2 "out of range" "--top-p nan" "$tessera" run $m -p hi --top-p nan -n 4 -q
hostile 2 "-n 5x: expected a number of tokens" "-n 5x" "$tessera" run $m -p hi -n 5x
hostile 2 "-c 0x10: expected a whole number" "-c 0x10" "$tessera" run $m -p hi -c 0x10
hostile 2 "bench: --top-p: bench times no sampling" "bench --top-p 7" \
  "$tessera" bench $m --top-p 7 -p 8 -n 2 -r 1
hostile 2 "bench: -r 1e3: expected 1 to 1000" "bench -r 1e3" "$tessera" bench $m -r 1e3

# ---- the same condition, the same status -------------------------------------
yes "the cat sat on the mat" | head -n 40 | tr '\n' ' ' > "$dir/long.txt"
hostile 2 "the prompt is [0-9]+ tokens; the context holds 64" "a prompt longer than -c (run)" \
  "$tessera" run $m -f "$dir/long.txt" -c 64 $gen
echo >> "$dir/long.txt"
input="$dir/long.txt"
hostile 2 "the conversation is [0-9]+ tokens; the context holds 64" \
  "a chat line longer than -c (--chat): the same status" "$tessera" run $m --chat -c 64 $gen
hostile 2 "cache_type.*q9_9|q9_9.*cache" "--cache-type q9_9 with a profile" \
  "$tessera" run "$src/conf/smollm2-cpu.yaml" $m -p hi --cache-type q9_9 -n 4 -q
grep -q "smollm2-cpu.yaml:[0-9]" "$dir/err"
[ $? -ne 0 ]
report $? "--cache-type q9_9 is blamed on the option, not on a line of the profile" "$rc"

# ---- memory limits -------------------------------------------------------------
# Running out of memory is exit 1 and says "out of memory", whatever it was
# that could not be allocated; never "unusable input" (2), never a crash.
# Without ASan: the address space, from too small to map the model to enough.
# Under ASan (no address-space limit possible): allocations over the size fail.
oom_seen=0
bad=""
seen=""
limits="64 128 192 256 320 384 448 512"
[ $asan = 1 ] && limits="1 2 4 16 64 256"
for mb in $limits; do
  if [ $asan = 1 ]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1:max_allocation_size_mb=$mb" \
      timeout -k 5 120 "$tessera" run $m -p "Hello" $gen > "$dir/out" 2> "$dir/err"
  else
    (ulimit -v $((mb * 1024)) && exec timeout -k 5 120 "$tessera" run $m -p "Hello" $gen) \
      > "$dir/out" 2> "$dir/err"
  fi
  rc=$?
  seen="$seen $mb:$rc"
  case $rc in
  0) ;;
  1) if grep -q "out of memory" "$dir/err"; then oom_seen=$((oom_seen + 1)); else bad="$bad $mb"; fi ;;
  *) bad="$bad $mb" ;;
  esac
  [ $rc -eq 1 ] && cp "$dir/err" "$dir/oom-err"
  [ -z "$bad" ] || break
done
# The line shown: what a limit that ran out said.
[ -f "$dir/oom-err" ] && grep -v "^==" "$dir/oom-err" > "$dir/err" && [ -z "$bad" ] && rc=1
[ -z "$bad" ] && [ $oom_seen -gt 0 ]
report $? "out of memory: exit 1 and 'out of memory', never 2 (MiB:status$seen)" "$rc"
echo "1..$n"
