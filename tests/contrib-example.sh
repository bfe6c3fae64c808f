#!/bin/sh
# The contrib example sampler as a third party meets tessera: tessera is
# installed into a temporary DESTDIR, contrib/example-sampler is copied out
# and built with that installation's pkg-config alone, `tessera plugins`
# lists it through TESSERA_PLUGIN_PATH, and chains that use it are run and
# checked (tests/contrib_chain), and the installed `tessera plugin check`
# passes it. TAP by hand. Works from a read-only source
# tree (make distcheck): everything is written under a temporary folder.
set -u
builddir=${TSR_TEST_BUILDDIR:-.}
srcdir=${TSR_TEST_SRCDIR:-.}
echo "1..5"

work=$(mktemp -d "${TMPDIR:-/tmp}/tsr-contrib.XXXXXX") || { echo "Bail out! no temporary folder"; exit 1; }
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dest=$work/dest

# Prints the last lines of a log as TAP comments.
show() { tail -n 25 "$1" | sed 's/^/# /'; }

# The outer make's jobserver and flags are not this make's business.
unset MAKEFLAGS MFLAGS MAKELEVEL
if ${MAKE:-make} -C "$builddir" install DESTDIR="$dest" >"$work/install.log" 2>&1; then
  echo "ok 1 - tessera installs into a DESTDIR"
else
  echo "not ok 1 - tessera installs into a DESTDIR"; show "$work/install.log"
  echo "Bail out! cannot install"; exit 1
fi

pc=$(find "$dest" -name tessera.pc | head -n 1)
cp -R "$srcdir/contrib/example-sampler" "$work/example" && chmod -R u+w "$work/example"
# PKG_CONFIG_LIBDIR: only this installation; SYSROOT: its paths lie under DESTDIR.
if [ -n "$pc" ] &&
   PKG_CONFIG_LIBDIR=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH= \
     ${MAKE:-make} -C "$work/example" CFLAGS="-O2 -g -Wall -Wextra -Werror" >"$work/build.log" 2>&1 &&
   [ -f "$work/example/example_truncation.so" ]; then
  echo "ok 2 - the example builds with pkg-config --cflags tessera alone"
else
  echo "not ok 2 - the example builds with pkg-config --cflags tessera alone"; show "$work/build.log"
  echo "Bail out! no plugin to test"; exit 1
fi

bin=$(find "$dest" -type f -name tessera | head -n 1)
lib=$(dirname "$(find "$dest" -name 'libtessera.so*' | head -n 1)")
if LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} TESSERA_PLUGIN_PATH=$work/example \
     TESSERA_CONFIG=/dev/null "$bin" plugins -v >"$work/plugins.log" 2>&1 &&
   grep -q "^sampler  *eta_cutoff .*/example_truncation\.so$" "$work/plugins.log" &&
   grep -q "^sampler  *epsilon_cutoff " "$work/plugins.log" &&
   grep -q "eta  *float  *default 0.0009" "$work/plugins.log"; then
  echo "ok 3 - the installed tessera plugins lists both samplers and their parameters"
else
  echo "not ok 3 - the installed tessera plugins lists both samplers and their parameters"
  show "$work/plugins.log"
fi

if "$builddir/tests/contrib_chain" "$work/example" >"$work/chain.log" 2>&1; then
  echo "ok 4 - chains using eta_cutoff and epsilon_cutoff keep the hand-computed tokens"
else
  echo "not ok 4 - chains using eta_cutoff and epsilon_cutoff keep the hand-computed tokens"
  show "$work/chain.log"
fi

if LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} TESSERA_CONFIG=/dev/null \
     "$bin" plugin check "$work/example/example_truncation.so" >"$work/check.log" 2>&1 &&
   grep -q "^ok   eta_cutoff: apply on half the logits -inf leaves a valid array$" "$work/check.log" &&
   grep -q "^ok   epsilon_cutoff: apply on one candidate leaves a valid array$" "$work/check.log" &&
   grep -q "every check passed" "$work/check.log"; then
  echo "ok 5 - the installed tessera plugin check passes both samplers"
else
  echo "not ok 5 - the installed tessera plugin check passes both samplers"
  show "$work/check.log"
fi
