#!/bin/sh
# The runtime API's examples as an application meets tessera: tessera is
# installed into a temporary DESTDIR, contrib/examples is copied out and
# built with that installation's pkg-config alone (compile and link), and
# both programs run on the default model: simple generates the reply that
# `tessera run --chat` gives (same profile defaults, seed, template); batched
# decodes three prompts together and, greedy, gives each the reply it gives
# that prompt alone. TAP by hand; works from a read-only source tree.
set -u
builddir=${TSR_TEST_BUILDDIR:-.}
srcdir=${TSR_TEST_SRCDIR:-.}
. "$srcdir/tests/default-model.sh"
echo "1..4"

work=$(mktemp -d "${TMPDIR:-/tmp}/tsr-examples.XXXXXX") || { echo "Bail out! no temporary folder"; exit 1; }
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dest=$work/dest
show() { tail -n 25 "$1" | sed 's/^/# /'; }

unset MAKEFLAGS MFLAGS MAKELEVEL
if ${MAKE:-make} -C "$builddir" install DESTDIR="$dest" >"$work/install.log" 2>&1; then
  echo "ok 1 - tessera installs into a DESTDIR"
else
  echo "not ok 1 - tessera installs into a DESTDIR"; show "$work/install.log"
  echo "Bail out! cannot install"; exit 1
fi

pc=$(find "$dest" -name tessera.pc | head -n 1)
cp -R "$srcdir/contrib/examples" "$work/examples" && chmod -R u+w "$work/examples"
lib=$(dirname "$(find "$dest" -name 'libtessera.so' | head -n 1)")
plugins=$(find "$dest" -type d -name plugins -path '*tessera*' | head -n 1)
# The library is found at run time through LD_LIBRARY_PATH: it lies under DESTDIR.
# A sanitizer build's library needs its runtime in the program too (and then
# checks the examples for leaks as well).
san=${TSR_TEST_SANITIZER_CFLAGS:-}
if [ -n "$pc" ] &&
   PKG_CONFIG_LIBDIR=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH= \
     ${MAKE:-make} -C "$work/examples" CFLAGS="-O2 -g -Wall -Wextra -Werror $san" \
       LDFLAGS="$san" >"$work/build.log" 2>&1 &&
   [ -x "$work/examples/simple" ] && [ -x "$work/examples/batched" ]; then
  echo "ok 2 - the examples build with pkg-config --cflags --libs tessera alone"
else
  echo "not ok 2 - the examples build with pkg-config --cflags --libs tessera alone"; show "$work/build.log"
  echo "Bail out! nothing to run"; exit 1
fi

run() {
  LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} TESSERA_PLUGIN_PATH=$plugins \
    TESSERA_CONFIG=/dev/null "$@"
}

bin=$(find "$dest" -type f -name tessera | head -n 1)
question="Why is the sky blue?"
if run "$work/examples/simple" "$model" "$question" 24 >"$work/simple.out" 2>"$work/simple.err" &&
   printf '%s\n' "$question" | run "$bin" run -m "$model" --chat -n 24 -q >"$work/run.out" 2>&1 &&
   grep -q "atmosphere" "$work/simple.out" && cmp -s "$work/simple.out" "$work/run.out"; then
  echo "ok 3 - simple answers from the installed library, word for word as tessera run --chat"
else
  echo "not ok 3 - simple answers from the installed library, word for word as tessera run --chat"
  show "$work/simple.out"; show "$work/simple.err"; show "$work/run.out"
fi

ok=yes
run env BATCHED_GREEDY=1 "$work/examples/batched" "$model" 16 "Name a color." "What is 2+2?" \
  "Write a haiku about the sea." >"$work/together.out" 2>&1 || ok=no
i=1
for prompt in "Name a color." "What is 2+2?" "Write a haiku about the sea."; do
  run env BATCHED_GREEDY=1 "$work/examples/batched" "$model" 16 "$prompt" >"$work/alone.out" 2>&1 || ok=no
  alone=$(sed -n 's/^\[1\] //p' "$work/alone.out")
  together=$(sed -n "s/^\[$i\] //p" "$work/together.out")
  if [ -z "$alone" ] || [ "$alone" != "$together" ]; then
    ok=no
    echo "# prompt $i alone:    $alone"
    echo "# prompt $i together: $together"
  fi
  i=$((i + 1))
done
if [ "$ok" = yes ]; then
  echo "ok 4 - batched: each greedy reply decoded together equals that prompt's reply alone"
else
  echo "not ok 4 - batched: each greedy reply decoded together equals that prompt's reply alone"
  show "$work/together.out"
fi
