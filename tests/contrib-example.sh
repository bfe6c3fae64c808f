#!/bin/sh
# The contrib example plugins as a third party meets tessera: tessera is
# installed into a temporary DESTDIR, contrib/example-sampler and
# contrib/example-allocator are copied out and built with that
# installation's pkg-config alone. The sampler: `tessera plugins` lists it
# through TESSERA_PLUGIN_PATH, chains that use it are run and checked
# (tests/contrib_chain), and the installed `tessera plugin check` passes it.
# The allocator: plugin check passes it, and the default model is planned
# and run within its declared `limit` (devices.options), or refused with the
# plan's message when the limit is too small. TAP by hand. Works from a read-only source
# tree (make distcheck): everything is written under a temporary folder.
set -u
builddir=${TSR_TEST_BUILDDIR:-.}
srcdir=${TSR_TEST_SRCDIR:-.}
. "$srcdir/tests/default-model.sh"
echo "1..11"

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

# ---- the example allocator ----------------------------------------------
cp -R "$srcdir/contrib/example-allocator" "$work/alloc" && chmod -R u+w "$work/alloc"
if PKG_CONFIG_LIBDIR=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH= \
     ${MAKE:-make} -C "$work/alloc" CFLAGS="-O2 -g -Wall -Wextra -Werror" >"$work/alloc-build.log" 2>&1 &&
   [ -f "$work/alloc/example_capped.so" ]; then
  echo "ok 6 - the example allocator builds with pkg-config --cflags tessera alone"
else
  echo "not ok 6 - the example allocator builds with pkg-config --cflags tessera alone"
  show "$work/alloc-build.log"
  echo "Bail out! no allocator to test"; exit 1
fi

# The installed tessera, the example allocator and the build's plugins.
installed() {
  LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} TESSERA_CONFIG=/dev/null \
    TESSERA_PLUGIN_PATH=$work/alloc:$builddir/plugins/.libs "$bin" "$@"
}
# The example is built against the installed plugin.h: it declares this ABI.
abi=$(sed -n 's/^#define TSR_ABI_MAJOR \([0-9]*\)$/\1/p' "$srcdir/include/tessera/plugin.h").$(
  sed -n 's/^#define TSR_ABI_MINOR \([0-9]*\)$/\1/p' "$srcdir/include/tessera/plugin.h")
if installed plugin check "$work/alloc/example_capped.so" >"$work/alloc-check.log" 2>&1 &&
   grep -q "^ok   capped: capped0: a reservation past capacity is refused in the shared words$" "$work/alloc-check.log" &&
   installed plugins -v >>"$work/alloc-check.log" 2>&1 &&
   grep -q "^alloc  *capped  *1\.0\.0  *$abi .*/example_capped\.so$" "$work/alloc-check.log" &&
   grep -q "limit  *int  *default 0 " "$work/alloc-check.log"; then
  echo "ok 7 - tessera plugin check passes the example allocator; plugins -v documents its limit"
else
  echo "not ok 7 - tessera plugin check passes the example allocator; plugins -v documents its limit"
  show "$work/alloc-check.log"
fi

profile() { # profile FILE ALLOCATOR OPTIONS
  printf 'model: {path: %s, max_seq_len: 512}\ndevices: {allocator: %s, options: %s}\n' \
    "$model" "$2" "$3" > "$1"
}
profile "$work/capped.yaml" capped "{limit: 536870912}"
if installed plan "$work/capped.yaml" >"$work/plan.log" 2>&1 &&
   grep -q "^capped0 .* 512\.0 MiB  0-29$" "$work/plan.log"; then
  echo "ok 8 - the default model is planned within the allocator's limit of 512 MiB"
else
  echo "not ok 8 - the default model is planned within the allocator's limit of 512 MiB"
  show "$work/plan.log"
fi

profile "$work/host.yaml" host "{}"
if installed run "$work/capped.yaml" -p "The capital of France is" -n 12 --greedy -t 1 \
     >"$work/capped.out" 2>"$work/run.log" &&
   installed run "$work/host.yaml" -p "The capital of France is" -n 12 --greedy -t 1 \
     >"$work/host.out" 2>>"$work/run.log" &&
   [ -s "$work/capped.out" ] && cmp -s "$work/capped.out" "$work/host.out"; then
  echo "ok 9 - the default model runs on it, writing what it writes on the host allocator"
else
  echo "not ok 9 - the default model runs on it, writing what it writes on the host allocator"
  show "$work/run.log"; sed 's/^/# capped: /' "$work/capped.out"; sed 's/^/# host: /' "$work/host.out"
fi

profile "$work/small.yaml" capped "{limit: 300000000}"
installed plan "$work/small.yaml" >"$work/small-plan.log" 2>&1; plan_status=$?
installed run "$work/small.yaml" -p "hi" -n 1 >"$work/small-run.log" 2>&1; run_status=$?
needs="device capped0 would need [0-9.]* MiB but holds 286\.1 MiB.*\[does-not-fit\]"
if [ $plan_status -eq 3 ] && [ $run_status -eq 3 ] &&
   grep -q "$needs" "$work/small-plan.log" && grep -q "$needs" "$work/small-run.log"; then
  echo "ok 10 - a limit too small is refused by plan and run with the plan's message"
else
  echo "not ok 10 - a limit too small is refused by plan and run with the plan's message"
  show "$work/small-plan.log"; show "$work/small-run.log"
fi

profile "$work/typo.yaml" capped "{limt: 1}"
installed plan "$work/typo.yaml" >"$work/typo.log" 2>&1; typo_status=$?
if [ $typo_status -eq 2 ] &&
   grep -q "typo.yaml:2:[0-9]*: capped has no parameter 'limt'; did you mean 'limit'?" "$work/typo.log"; then
  echo "ok 11 - an unknown option is refused with FILE:LINE:COLUMN and the declared name"
else
  echo "not ok 11 - an unknown option is refused with FILE:LINE:COLUMN and the declared name"
  show "$work/typo.log"
fi
