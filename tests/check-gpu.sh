#!/bin/sh
# `make check-gpu`: the device checks, on the first CUDA device.
#   1. every CUDA kernel against the CPU (tests/test_cuda_device: the
#      format-independent kernels and the quant plugins' device kernels,
#      reached through the loaded plugins);
#   2. the same under compute-sanitizer's memcheck and racecheck, when the
#      toolkit has it.
# Each step is bounded by a timeout so that the whole stays under ten
# minutes. Without a device it exits 77, saying why.
set -u
build=${TSR_TEST_BUILDDIR:?run through make check-gpu}
TESSERA_PLUGIN_PATH="$build/plugins/.libs"
TESSERA_CONFIG=/dev/null
export TESSERA_PLUGIN_PATH TESSERA_CONFIG
test_program="$build/tests/test_cuda_device"

step() {
  name=$1; shift
  start=$(date +%s)
  timeout 240 "$@"
  status=$?
  echo "check-gpu: $name: exit $status in $(( $(date +%s) - start )) s"
  return $status
}

step "kernels against the CPU" "$test_program" --tap=-
status=$?
if [ $status -eq 77 ]; then
  echo "check-gpu: skipped: no CUDA device here (see the SKIP line above)" >&2
  exit 77
fi
[ $status -eq 0 ] || exit $status

sanitizer=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
if [ -x "$sanitizer" ]; then
  for tool in memcheck racecheck; do
    step "compute-sanitizer --tool $tool" "$sanitizer" --tool $tool --error-exitcode 1 \
      --target-processes all "$test_program" --tap=- || exit 1
  done
else
  echo "check-gpu: $sanitizer is not installed: the sanitizer runs are skipped"
fi
echo "check-gpu: all device checks passed"
