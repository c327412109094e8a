#!/usr/bin/env bash
# The GPU suite under NVIDIA's compute-sanitizer, for the lent GPU machine: memcheck (out-of-bounds
# and misaligned accesses, leaks of device memory), racecheck (shared-memory hazards) and
# synccheck (barrier misuse), each over the GPU-vs-CPU tests.
#
#   1. here:            bash bench/prepare_gpu_carry.sh
#   2. the device call: run(command="bash bench/gpu_sanitize.sh", carry=[".deps"], timeout_s=600)
#
# Builds ae_tests_gpu as bench/gpu_suite.sh does (the same build folder, so a warm machine reuses
# it). The tests that fill the GPU or provoke out-of-memory on purpose are left out: under the
# sanitizers they would take the whole call, and they exercise the same kernels as the rest.
# TOOLS (default "memcheck racecheck synccheck") and FILTER (a gtest filter) override the choice;
# each tool gets an equal share of BUDGET_S seconds (default 540).
#
# Logs in $OUT (build.log, sanitize_<tool>.log); without $OUT in build/gpu_sanitize/. Exit status 0
# when every tool ran to the end and reported no error.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
OUT=${OUT:-$ROOT/build/gpu_sanitize}
BUILD=$ROOT/build/gpu
BUDGET_S=${BUDGET_S:-540}
TOOLS=${TOOLS:-memcheck racecheck synccheck}
FILTER=${FILTER:--*Large*:*Huge*:*OutOfMemory*:*TooLarge*}
mkdir -p "$OUT"
START=$SECONDS

if [ ! -f .deps/googletest/CMakeLists.txt ]; then
  echo "gpu_sanitize: .deps/googletest is missing: run bench/prepare_gpu_carry.sh here and carry .deps"
  exit 2
fi
sanitizer=$(command -v compute-sanitizer)
for candidate in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  [ -n "$sanitizer" ] || [ ! -x "$candidate" ] || sanitizer=$candidate
done
if [ -z "$sanitizer" ]; then
  echo "gpu_sanitize: compute-sanitizer not found (PATH, /usr/local/cuda/bin, /usr/local/cuda/compute-sanitizer)"
  exit 2
fi

{
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DAE_TOOLS=OFF -DAE_TESTS=ON -DAE_BENCH=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DAE_GTEST_SOURCE_DIR="$ROOT/.deps/googletest" &&
    cmake --build "$BUILD" -j "$(nproc)" --target ae_tests_gpu
} >"$OUT/build.log" 2>&1 || {
  echo "build FAILED; the end of build.log:"
  grep -E "error|FAILED" "$OUT/build.log" | head -20
  exit 1
}
echo "build: ok ($((SECONDS - START))s); tests: --gtest_filter='$FILTER'"

read -r -a tools <<<"$TOOLS"
share=$(((BUDGET_S - (SECONDS - START)) / ${#tools[@]}))
failed=0
for tool in "${tools[@]}"; do
  t0=$SECONDS
  log=$OUT/sanitize_$tool.log
  timeout "$share" "$sanitizer" --tool "$tool" --error-exitcode 99 --print-limit 20 \
    "$BUILD/tests/ae_tests_gpu" --gtest_color=no --gtest_filter="$FILTER" >"$log" 2>&1
  rc=$?
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1)
  passed=$(grep -E '^\[  PASSED  \]' "$log" | tail -1)
  case $rc in
    0) echo "$tool: ok (${summary:-no summary}; $passed; $((SECONDS - t0))s)" ;;
    77) echo "$tool: SKIPPED: no usable device ($(grep -m1 -i device "$log"))"; failed=1 ;;
    124) echo "$tool: TIMED OUT after $((SECONDS - t0))s (raise BUDGET_S or narrow FILTER)"; failed=1 ;;
    *)
      echo "$tool: FAILED (exit $rc; ${summary:-no summary}; $passed)"
      grep -E "^========= (Invalid|Error|Race|Barrier|Program hit|Leaked)" "$log" | sort | uniq -c | head -15
      grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | sort -u | head -10
      failed=1
      ;;
  esac
done
exit $failed
