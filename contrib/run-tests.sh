#!/bin/sh
# Runs the whole test suite and ends with one line: "N passed, N failed, N skipped".
#   1. an ASan + UBSan build and `make check` (every unit and end-to-end test);
#   2. a plain build: the CLI commands under valgrind (no leaks, no errors);
#      then, when Open MPI is installed, a build --with-mpi and tests/dist.sh
#      (pipeline stages over mpirun, ranks oversubscribed on this machine),
#      once over shared memory and once over TCP (tests/dist-tcp.sh);
#      then, when the CUDA toolkit (nvcc) is installed, a build --enable-cuda
#      and its CUDA tests (the kernels emulated on the CPU, alloc/cuda's
#      logic, every plugin's check with alloc/cuda among them, the device
#      tests, which skip without a GPU, and planning for GPUs without one);
#   3. each libFuzzer target for $TSR_FUZZ_SECONDS seconds (default 60), with clang;
#   4. `make distcheck` (a tarball that builds and passes its tests elsewhere).
# Build trees go to $TSR_BUILD_DIR (default _build/ in the source tree).
# Usage: contrib/run-tests.sh [--quick]   (--quick: stage 1 only)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${TSR_BUILD_DIR:-$src/_build}
jobs=${TSR_JOBS:-2}
quick=no
[ "${1:-}" = "--quick" ] && quick=yes
passed=0 failed=0 skipped=0

stage() { printf '\n==> %s\n' "$*"; }
record() { # record NAME STATUS(0 pass, 77 skip, else fail)
  case "$2" in
    0) passed=$((passed + 1)); echo "PASS: $1" ;;
    77) skipped=$((skipped + 1)); echo "SKIP: $1" ;;
    *) failed=$((failed + 1)); echo "FAIL: $1" ;;
  esac
}
# Adds the counts of a TAP script's output (a plan "1..0 # SKIP" skips it).
count_tap() {
  out="$1"
  if grep -q '^1\.\.0 # SKIP' "$out"; then skipped=$((skipped + 1)); return; fi
  p=$(grep -c '^ok ' "$out")
  f=$(grep -c '^not ok ' "$out")
  want=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$out" | head -n 1)
  [ $((p + f)) -eq "${want:-0}" ] || f=$((f + 1))
  passed=$((passed + p)); failed=$((failed + f))
}
# Adds the counts of an automake test-suite.log (each TAP line is one test).
count_suite() {
  log="$1"
  if [ ! -f "$log" ]; then failed=$((failed + 1)); echo "FAIL: $log missing"; return; fi
  p=$(sed -n 's/^# PASS: *//p' "$log" | head -n 1)
  s=$(sed -n 's/^# SKIP: *//p' "$log" | head -n 1)
  f=0
  for key in FAIL ERROR XPASS; do
    n=$(sed -n "s/^# $key: *//p" "$log" | head -n 1)
    f=$((f + ${n:-0}))
  done
  passed=$((passed + ${p:-0})); skipped=$((skipped + ${s:-0})); failed=$((failed + f))
}

if [ ! -x "$src/configure" ]; then
  stage "autogen"
  (cd "$src" && ./autogen.sh) || { echo "0 passed, 1 failed"; exit 1; }
fi

stage "1. ASan + UBSan build, make check"
mkdir -p "$build/asan"
(cd "$build/asan" && { [ -f Makefile ] || "$src/configure" -q --enable-sanitizers; } &&
  make -s -j"$jobs" && make -s -j"$jobs" check) 
count_suite "$build/asan/test-suite.log"
if [ -f "$build/asan/test-suite.log" ] && grep -q '^# \(FAIL\|ERROR\): *[1-9]' "$build/asan/test-suite.log"; then
  cat "$build/asan/test-suite.log"
fi

if [ "$quick" = no ]; then
  stage "2. plain build, the CLI under valgrind"
  mkdir -p "$build/plain"
  if (cd "$build/plain" && { [ -f Makefile ] || "$src/configure" -q; } && make -s -j"$jobs"); then
    "$src/tests/valgrind-cli.sh" "$build/plain" "$src"
    status=$?
    passed=$((passed + $(grep -c '^PASS' "$build/plain/valgrind-cli.log" 2>/dev/null || true)))
    failed=$((failed + $(grep -c '^FAIL' "$build/plain/valgrind-cli.log" 2>/dev/null || true)))
    [ "$status" -eq 0 ] || [ -f "$build/plain/valgrind-cli.log" ] || record "valgrind-cli" 1
  else
    record "plain build" 1
  fi

  stage "2b. MPI build, pipeline stages over mpirun"
  if command -v mpirun > /dev/null 2>&1 && pkg-config --exists ompi-c; then
    mkdir -p "$build/mpi"
    if (cd "$build/mpi" && { [ -f Makefile ] || "$src/configure" -q --with-mpi; } &&
        make -s -j"$jobs"); then
      # Over shared memory, then over TCP on a slow loopback (as root).
      for t in dist dist-tcp; do
        (cd "$build/mpi" && TSR_TEST_BUILDDIR="$build/mpi" TSR_TEST_SRCDIR="$src" \
          TESSERA_PLUGIN_PATH="$build/mpi/plugins/.libs" TESSERA_CONFIG=/dev/null \
          sh "$src/tests/$t.sh") > "$build/mpi/$t.log" 2>&1
        cat "$build/mpi/$t.log"
        count_tap "$build/mpi/$t.log"
      done
    else
      record "MPI build" 1
    fi
  else
    echo "Open MPI is not installed (contrib/install-deps.sh installs it)"
    record "MPI build" 77
  fi

  stage "2c. CUDA build (--enable-cuda), the CUDA tests"
  # What --enable-cuda changes: nvcc's kernels in the quant plugins and
  # kernels/cuda, alloc/cuda linked against libcudart, the device tests.
  # Those tests only: the rest of the tree is the plain build's (stage 2)
  # and ran under the sanitizers (stage 1), the emulated kernels and
  # alloc/cuda's logic included. No sanitizers here: cudart runs under ASan
  # without a driver, but a real driver needs ASAN_OPTIONS=protect_shadow_gap=0.
  cuda_home=${CUDA_HOME:-/usr/local/cuda}
  if command -v nvcc > /dev/null 2>&1 || [ -x "$cuda_home/bin/nvcc" ]; then
    mkdir -p "$build/cuda"
    # Only these programs are built for the check (the test plugins too):
    # the other check programs are the plain build's.
    cuda_programs="tests/test_cuda_emu tests/test_alloc_cuda tests/test_cuda_device"
    cuda_tests="$cuda_programs tests/plugin-check.sh tests/cuda-plan.sh"
    if (cd "$build/cuda" && { [ -f Makefile ] || "$src/configure" -q --enable-cuda=yes; } &&
        make -s -j"$jobs"); then
      rm -f "$build/cuda/test-suite.log"
      (cd "$build/cuda" &&
        make -s -j"$jobs" check TESTS="$cuda_tests" check_PROGRAMS="$cuda_programs")
      count_suite "$build/cuda/test-suite.log"
      grep -h '^\(SKIP\|FAIL\|ERROR\)' "$build/cuda/tests/"*.log 2>/dev/null | head -n 20
    else
      record "CUDA build" 1
    fi
  else
    echo "no nvcc (neither on PATH nor in $cuda_home/bin): the CUDA build is skipped"
    record "CUDA build" 77
  fi

  stage "3. fuzzing (${TSR_FUZZ_SECONDS:-60} s per target)"
  "$src/contrib/fuzz.sh" "${TSR_FUZZ_SECONDS:-60}" "$build/fuzz"
  record "fuzzers" $?

  stage "4. make distcheck"
  (cd "$build/plain" && make -s -j"$jobs" distcheck)
  record "distcheck" $?
fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
