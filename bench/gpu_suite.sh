#!/usr/bin/env bash
# The GPU suite of ae in one command, for the lent GPU machine (H100/H200; CUDA, CMake, ninja and
# Python there, but no -dev packages and no network): builds ae for sm_90 with GoogleTest from
# carried sources, runs the GPU-vs-CPU test binary and the kernel benchmarks, prints a short
# summary last.
#
#   1. here:            bash bench/prepare_gpu_carry.sh
#   2. the device call: run(command="bash bench/gpu_suite.sh", carry=[".deps"], timeout_s=600)
#
# The training-step benchmarks against PyTorch are a second device call of their own (their
# timings need most of one): bench/run_peers.sh, with the same carry.
#
# Full logs go to $OUT (returned by the device call): build.log, gpu_tests.log, bench.log.
# Without $OUT (a local run) they go to build/gpu_suite/. Exit status: 0 when the build, the tests
# and the benchmarks all succeed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/build/gpu_suite}
BUILD=$ROOT/build/gpu
mkdir -p "$OUT"

if [ ! -f .deps/googletest/CMakeLists.txt ]; then
  echo "gpu_suite: .deps/googletest is missing: run bench/prepare_gpu_carry.sh here and carry .deps"
  exit 2
fi

gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
echo "== ae GPU suite: ${gpu:-no nvidia-smi}; nvcc $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p'); $(cmake --version | head -1)"

# --- build ------------------------------------------------------------------------------------
t0=$SECONDS
{
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DAE_TOOLS=OFF -DAE_TESTS=ON -DAE_BENCH=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DAE_GTEST_SOURCE_DIR="$ROOT/.deps/googletest" &&
    cmake --build "$BUILD" -j "$(nproc)" --target ae_tests_gpu ae_bench_kernels
} >"$OUT/build.log" 2>&1
build_rc=$?
build_s=$((SECONDS - t0))
if [ $build_rc -ne 0 ]; then
  echo "build FAILED after ${build_s}s; the end of build.log:"
  grep -E "error|FAILED" "$OUT/build.log" | head -20
  tail -20 "$OUT/build.log"
  exit 1
fi

# --- GPU tests --------------------------------------------------------------------------------
t0=$SECONDS
timeout 420 "$BUILD/tests/ae_tests_gpu" --gtest_color=no >"$OUT/gpu_tests.log" 2>&1
test_rc=$?
test_s=$((SECONDS - t0))

# --- benchmarks ---------------------------------------------------------------------------------
t0=$SECONDS
timeout 150 "$BUILD/bench/ae_bench_kernels" >"$OUT/bench.log" 2>&1
bench_rc=$?
bench_s=$((SECONDS - t0))

# --- summary (last, so that it is in the tail the device call returns) ---------------------------
echo
echo "build: ok (${build_s}s)"
case $test_rc in
  0) echo "gpu tests: $(grep -E '^\[  PASSED  \]' "$OUT/gpu_tests.log") (${test_s}s)" ;;
  77) echo "gpu tests: SKIPPED: $(head -1 "$OUT/gpu_tests.log")" ;;
  124) echo "gpu tests: TIMED OUT after ${test_s}s; last lines:"; tail -5 "$OUT/gpu_tests.log" ;;
  *)
    echo "gpu tests: FAILED (exit $test_rc, ${test_s}s): $(grep -E '^\[  PASSED  \]' "$OUT/gpu_tests.log")"
    grep -E '^\[  FAILED  \] [A-Za-z]' "$OUT/gpu_tests.log" | sort -u | head -30
    grep -E 'Failure|relative error' "$OUT/gpu_tests.log" | head -20
    ;;
esac
if [ $bench_rc -eq 0 ]; then
  echo "bench (${bench_s}s):"
  head -1 "$OUT/bench.log"
  grep -E '^\|' "$OUT/bench.log"
else
  echo "bench: FAILED (exit $bench_rc, ${bench_s}s):"
  tail -5 "$OUT/bench.log"
fi
[ $test_rc -eq 0 ] && [ $bench_rc -eq 0 ]
