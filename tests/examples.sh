#!/bin/sh
# The runtime API's examples as an application meets tessera: tessera is
# installed into a temporary DESTDIR, contrib/examples is copied out and
# built with that installation's pkg-config alone (compile and link), and
# both programs run on the default model: simple generates the reply that
# `tessera run --chat` gives (same profile defaults, seed, template); batched
# decodes three prompts together and, greedy, gives each the reply it gives
# that prompt alone. The installation holds the documentation `tessera help`
# points at (the profile reference, the plugin guide, the examples, the man
# pages), and no help text names a file it lacks. TAP by hand; works from a
# read-only source tree.
set -u
builddir=${TSR_TEST_BUILDDIR:-.}
srcdir=${TSR_TEST_SRCDIR:-.}
. "$srcdir/tests/default-model.sh"
echo "1..6"

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

# The documentation: in the install's doc folder and man folders, the man
# pages well-formed, and the verdict's codes in both references.
ok=yes
docdir=$(find "$dest" -type d -path '*/doc/tessera' | head -n 1)
man1=$(find "$dest" -type f -path '*/man1/tessera.1' | head -n 1)
man5=$(find "$dest" -type f -path '*/man5/tessera-profile.5' | head -n 1)
[ -n "$docdir" ] && [ -n "$man1" ] && [ -n "$man5" ] || { echo "# doc folder or man pages missing"; ok=no; }
for f in profile.md plugins.md README.md examples/smollm2-cpu.yaml examples/tessera.ini; do
  [ -s "$docdir/$f" ] || { echo "# not installed: $docdir/$f"; ok=no; }
done
if [ "$ok" = yes ] && command -v groff >/dev/null 2>&1; then
  for m in "$man1" "$man5"; do
    groff -man -ww -z "$m" > "$work/groff.log" 2>&1 && [ ! -s "$work/groff.log" ] ||
      { echo "# groff warns about $m"; show "$work/groff.log"; ok=no; }
  done
fi
for code in draft-is-main draft-vocab-mismatch draft-too-large does-not-fit split-mismatch \
            split-exceeds-device; do
  [ "$ok" = yes ] && grep -q "$code" "$docdir/profile.md" && grep -q "$code" "$man5" ||
    { echo "# the references lack $code"; ok=no; }
done
if [ "$ok" = yes ]; then
  echo "ok 5 - make install puts the profile reference, the plugin guide, the examples and the man pages in place"
else
  echo "not ok 5 - make install puts the profile reference, the plugin guide, the examples and the man pages in place"
fi

# Every file `tessera --help` and `tessera help COMMAND` names is installed.
ok=yes
: > "$work/help.txt"
for command in run bench perplexity plan plugins plugin profile serve; do
  run "$bin" help "$command" >> "$work/help.txt" 2>&1 || { echo "# help $command failed"; ok=no; }
done
run "$bin" --help >> "$work/help.txt" 2>&1 || ok=no
pattern="/[^ ,;:)\`']*/doc/tessera[^ ,;:)\`']*"
n_named=0
for path in $(grep -o "$pattern" "$work/help.txt" | sed 's/[.]$//' | sort -u); do
  n_named=$((n_named + 1))
  [ -e "$dest$path" ] || { echo "# help names $path, which is not installed"; ok=no; }
done
[ "$n_named" -ge 3 ] || { echo "# help names $n_named documentation files"; ok=no; }
for ref in $(grep -o 'tessera[a-z-]*([15])' "$work/help.txt" | sort -u); do
  name=${ref%%(*} section=${ref#*(}
  section=${section%)}
  find "$dest" -type f -path "*/man$section/$name.$section" | grep -q . ||
    { echo "# help names $ref, which is not installed"; ok=no; }
done
if grep -nE 'PROFILE\.md|DESIGN\.md|README|docs/|conf/' "$work/help.txt" | sed 's/^/# source tree: /' | grep .; then
  ok=no
fi
if [ "$ok" = yes ]; then
  echo "ok 6 - help names only installed documentation ($n_named files, the man pages)"
else
  echo "not ok 6 - help names only installed documentation"
fi
