#!/bin/sh
# Planning for GPUs on a machine that may have none. A profile for the cuda
# allocator planned with --devices gets simulated CUDA devices (sim's kind:
# cuda), never plain CPU ones: in a build without --enable-cuda the default
# model's q4_1 has no CUDA kernels and is refused (no-device-kernels, exit
# 3), in one with it each device counts a CUDA context. Without a GPU or
# driver, alloc/cuda (--enable-cuda) cannot open its devices: `tessera plan`
# exits 2 with the CUDA runtime's words and a hint that says how to plan
# anyway. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
tessera="$build/tessera"
. "${TSR_TEST_SRCDIR:-.}/tests/default-model.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tsr-cuda-plan-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
echo "1..3"
n=0
result() { # result STATUS DESCRIPTION
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"
    for f in out err; do [ -f "$dir/$f" ] && sed "s/^/# $f: /" "$dir/$f"; done
  fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
run() { "$tessera" "$@" > "$dir/out" 2> "$dir/err"; rc=$?; }

cat > "$dir/gpu.yaml" <<YAML
model: {path: "$model", max_seq_len: 256}
devices: {allocator: cuda}
threads: 2
YAML
cuda_so="$build/plugins/.libs/alloc_cuda.so"

run plan "$dir/gpu.yaml" --devices 2x1GiB --json
if [ -f "$cuda_so" ]; then
  # q4_1 has CUDA kernels here: it fits, and each device counts the
  # simulated CUDA context (512 MiB) as its overhead.
  [ "$rc" -eq 0 ] && [ "$(grep -o '"overhead_bytes": 536870912' "$dir/out" | wc -l)" -eq 2 ]
  result $? "--devices on a cuda profile plans simulated CUDA devices (a context counted on each)"
else
  [ "$rc" -eq 3 ] && grep -q '"code": "no-device-kernels"' "$dir/out"
  result $? "--devices on a cuda profile plans simulated CUDA devices (q4_1 has no kernels there in this build)"
fi

# The same profile on the sim allocator without kind: CPU devices, which
# run everything (what --devices used to give a cuda profile).
sed 's/allocator: cuda/allocator: sim, sim: [1GiB, 1GiB]/' "$dir/gpu.yaml" > "$dir/cpu.yaml"
run plan "$dir/cpu.yaml" --json
[ "$rc" -eq 0 ] && ! grep -q '"overhead_bytes": 536870912' "$dir/out"
result $? "sim without kind: cuda plans CPU devices, no CUDA context"

if [ ! -f "$cuda_so" ]; then
  skip "no alloc/cuda in this build (configure --enable-cuda)"
else
  run plan "$dir/gpu.yaml"
  if [ "$rc" -eq 0 ]; then
    skip "this machine has a GPU: alloc/cuda opened its devices"
  else
    [ "$rc" -eq 2 ] &&
      grep -q "gpu.yaml:2:22: devices.allocator: cuda cannot open its devices: alloc/cuda: cudaGetDeviceCount failed: " "$dir/err" &&
      grep -q "tessera plan PROFILE --devices 2x24GiB" "$dir/err" &&
      grep -q "devices.options: {kind: cuda}" "$dir/err"
    result $? "without a GPU, tessera plan on the cuda allocator exits 2 saying why and how to plan anyway"
  fi
fi
