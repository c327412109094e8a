#!/usr/bin/env bash
# Every GPU check of ae in ONE device call, from binaries built on the development machine:
#
#   1. here:            bash bench/gpu_carry.sh           (gpu_carry/: 4 binaries, ~35 MB)
#   2. the device call: run(command="bash bench/gpu_check.sh", carry=["gpu_carry"], timeout_s=540)
#
# Nothing is compiled there. Parts, each under its own time budget (seconds; a stuck part is
# killed and the next one starts; none runs past 465 s from the start, so the command ends
# under 8 minutes):
#   device     the GPU, driver, CUDA and PyTorch versions found; libraries the binaries miss
#   suite      ae_tests_gpu: every CUDA kernel and step against the CPU reference        (80)
#   huge       its tests past 2^31 and 2^32 elements (tens of GB filled on the host)     (60)
#   nccl       ae train on one GPU through a one-rank NCCL communicator (the data-parallel
#              step, gradients summed by ncclAllReduce) against the plain GPU run: the
#              checkpoints must be equal byte for byte                                    (30)
#   kernels    ae_bench_kernels: each kernel against the device's measured ceilings     (40)
#   steps      ae_bench_steps at batch 256 and 4096 (eager, fused, graph; fp32),        (140)
#              then the PyTorch peers (eager, CUDA graphs, torch.compile; fp32) on the same
#              files, and compare.py's table: ae vs PyTorch ratios and peak memory
#   memcheck   compute-sanitizer memcheck --leak-check full over the suite               (65)
#   racecheck  compute-sanitizer racecheck over ae's own kernels (not cuBLAS's)         (20)
#   synccheck  compute-sanitizer synccheck over ae's own kernels                         (20)
# and prints the summary table last. SCALE=0.5 halves every budget (a second, shorter try).
# Without a GPU (a dry run here) every part says "no device" and the summary still prints.
#
# Writes to $OUT (returned by the device call; build/gpu_check without it), at most 8 files:
# summary.txt, gpu_tests.log, kernels.log, steps.log, ae_steps.json, peers.json, sanitize.log.
# Exit status 0 when every part passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
CARRY=${CARRY:-$ROOT/gpu_carry}
OUT=${OUT:-$ROOT/build/gpu_check}
SCALE=${SCALE:-1}
WORK=$(mktemp -d /tmp/ae_gpu_check.XXXXXX)
mkdir -p "$OUT"
START=$SECONDS
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
# Libraries bench/gpu_carry.sh gzip'd to fit the carry (OpenBLAS) unpack in place, once.
for z in "$CARRY"/lib/*.gz; do
  if [ -e "$z" ]; then gunzip -f "$z"; fi
done

# A part's budget, scaled, and never past 465 s from the start (the whole command stays < 8 min).
budget() {
  awk -v b="$1" -v s="$SCALE" -v left=$((465 - (SECONDS - START))) \
    'BEGIN { b *= s; if (b > left) b = left; if (b < 1) b = 1; printf "%d", b }'
}
say() { echo "$*" | tee -a "$SUMMARY"; }
rows=()
row() { rows+=("$(printf '| %-9s | %-9s | %4ss | %s' "$1" "$2" "$3" "$4")"); }
# An ae binary from the carried folder, with the carried libraries (for it alone: python3 keeps
# its own).
ae_run() {  # ae_run SECONDS BINARY ARGS...
  local s=$1 b=$2
  shift 2
  timeout -k 3 "$s" env LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$CARRY/bin/$b" "$@"
}

if [ ! -x "$CARRY/bin/ae_tests_gpu" ]; then
  echo "gpu_check: $CARRY/bin is missing: run bench/gpu_carry.sh on the development machine and carry gpu_carry"
  exit 2
fi

# --- device ---------------------------------------------------------------------------------
say "== ae GPU check, $(date -u +%Y-%m-%dT%H:%MZ), $(head -1 "$CARRY/MANIFEST" 2>/dev/null)"
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
cuda_driver=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
say "GPU: ${gpu:-no nvidia-smi / no device}; driver's CUDA: ${cuda_driver:-?}"
torch=$(timeout 30 python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "available" if torch.cuda.is_available() else "no device")' 2>/dev/null | tail -1)
say "PyTorch: ${torch:-not importable by python3}"
sanitizer=$(command -v compute-sanitizer)
for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
         /opt/nvidia/compute-sanitizer/compute-sanitizer; do
  [ -n "$sanitizer" ] || [ ! -x "$c" ] || sanitizer=$c
done
say "compute-sanitizer: ${sanitizer:-not found}${sanitizer:+ ($("$sanitizer" --version 2>/dev/null | grep -m1 -o 'Version [0-9.]*'))}"
say "cuBLAS files present: $(ls /usr/local/cuda/lib64/libcublas.so.* /usr/local/cuda/targets/*/lib/libcublas.so.* \
  /opt/*/.venv/lib/python3*/site-packages/nvidia/cu*/lib/libcublas.so.* 2>/dev/null | tr '\n' ' ')"
missing=$(env LD_LIBRARY_PATH="$CARRY/lib" ldd "$CARRY"/bin/* 2>/dev/null | grep "not found" | sort -u | tr -s ' \t\n' ' ')
say "NCCL files present: $(ls /usr/local/cuda/lib64/libnccl.so.* /usr/lib/x86_64-linux-gnu/libnccl.so.* \
  /opt/*/.venv/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.* \
  /usr/local/lib/python3*/dist-packages/nvidia/nccl/lib/libnccl.so.* 2>/dev/null | tr '\n' ' ')"
[ -z "$missing" ] || say "MISSING shared libraries: $missing"
ae_run 15 ae info 2>&1 | grep -E "backends|devices" | tee -a "$SUMMARY"

# --- suite, then the tests past 2^31 and 2^32 elements (host-heavy: tens of GB to fill and compare)
suite_part() {  # suite_part NAME BUDGET GTEST_FILTER
  local name=$1 t0=$SECONDS rc passed failed_tests log=$WORK/$1.log
  ae_run "$(budget "$2")" ae_tests_gpu --gtest_color=no --gtest_filter="$3" >"$log" 2>&1
  rc=$?
  { echo "===== $name (--gtest_filter=$3), exit $rc"; cat "$log"; } >>"$OUT/gpu_tests.log"
  passed=$(grep -E '^\[  PASSED  \]' "$log" | tail -1 | sed 's/\[  PASSED  \] //')
  failed_tests=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | sort -u | sed 's/\[  FAILED  \] //' | head -8 | tr '\n' ' ')
  case $rc in
    0) row "$name" ok $((SECONDS - t0)) "$passed; $(grep -m1 '^cuBLAS' "$log")" ;;
    77) row "$name" "no device" $((SECONDS - t0)) "$(head -1 "$log")"; no_device=1 ;;
    124 | 137) row "$name" TIMEOUT $((SECONDS - t0)) "last: $(grep -E '^\[ RUN' "$log" | tail -1)" ;;
    *) row "$name" FAILED $((SECONDS - t0)) "exit $rc; passed: ${passed:-none}; failed: $failed_tests" ;;
  esac
}
no_device=0
: >"$OUT/gpu_tests.log"
suite_part suite 80 '-*Huge*'
if [ $no_device = 1 ]; then row huge "no device" 0 "the suite found no device"; else suite_part huge 60 '*Huge*'; fi

# --- nccl: one rank through NCCL against the plain run, byte for byte ------------------------
t0=$SECONDS
if [ $no_device = 1 ]; then
  row nccl "no device" 0 "the suite found no device"
else
  d=$WORK/nccl
  mkdir -p "$d"
  train=(train --model dae --epochs 2 --device cuda -q)  # the built-in shapes, masking noise
  ae_run "$(budget 15)" ae "${train[@]}" --out "$d/plain" >"$d/log" 2>&1 &&
    AE_COMM=nccl ae_run "$(budget 15)" ae "${train[@]}" --out "$d/nccl" >>"$d/log" 2>&1
  rc=$?
  { echo "===== nccl, exit $rc"; cat "$d/log"; } >>"$OUT/gpu_tests.log"
  if [ $rc != 0 ]; then
    row nccl FAILED $((SECONDS - t0)) "exit $rc: $(tail -1 "$d/log")"
  elif cmp -s "$d/plain/latest.safetensors" "$d/nccl/latest.safetensors"; then
    row nccl ok $((SECONDS - t0)) "one-rank NCCL checkpoint equals the plain GPU run's, byte for byte"
  else
    row nccl FAILED $((SECONDS - t0)) "the one-rank NCCL checkpoint differs from the plain GPU run's"
  fi
fi
# --- kernels --------------------------------------------------------------------------------
t0=$SECONDS
ae_run "$(budget 40)" ae_bench_kernels >"$OUT/kernels.log" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "skipped" "$OUT/kernels.log"; then
  row kernels "no device" $((SECONDS - t0)) "$(head -1 "$OUT/kernels.log")"
elif [ $rc = 0 ]; then
  row kernels ok $((SECONDS - t0)) "$(grep -c '^|' "$OUT/kernels.log") table rows in kernels.log"
else
  row kernels FAILED $((SECONDS - t0)) "exit $rc: $(tail -1 "$OUT/kernels.log")"
fi

# --- steps and the PyTorch peers ------------------------------------------------------------
t0=$SECONDS
steps_end=$((SECONDS + $(budget 140)))
DATA=$WORK/peer_files
mkdir -p "$DATA"
ae_run "$(budget 70)" ae_bench_steps --quick --batches 256,4096 --precisions fp32 --out "$DATA" >"$OUT/steps.log" 2>&1
rc=$?
cp "$DATA/ae_steps.json" "$OUT/" 2>/dev/null
if [ $rc = 0 ] && grep -q "no usable CUDA device" "$OUT/steps.log"; then
  row steps "no device" $((SECONDS - t0)) "$(head -1 "$OUT/steps.log")"
elif [ $rc != 0 ]; then
  row steps FAILED $((SECONDS - t0)) "ae_bench_steps exit $rc: $(tail -1 "$OUT/steps.log")"
elif [ -z "$torch" ]; then
  row steps "ae only" $((SECONDS - t0)) "PyTorch not importable: no peers"
else
  left=$((steps_end - SECONDS))
  deadline=$(($(date +%s) + left - 10))
  echo "== PyTorch peers" >>"$OUT/steps.log"
  PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=$WORK/inductor timeout -k 3 "$left" \
    python3 bench/peers/bench_peers.py --dir "$DATA" --out "$OUT/peers.json" --batches 256,4096 \
    --modes eager,graphs,compile --precisions fp32 --quick --deadline "$deadline" \
    >>"$OUT/steps.log" 2>&1
  prc=$?
  echo "== ae vs PyTorch" >>"$OUT/steps.log"
  if [ -f "$OUT/peers.json" ] && python3 bench/peers/compare.py "$OUT/ae_steps.json" "$OUT/peers.json" \
       >"$WORK/compare.md" 2>&1; then
    cat "$WORK/compare.md" >>"$OUT/steps.log"
    row steps "$([ $prc = 0 ] && echo ok || echo "peers $prc")" $((SECONDS - t0)) "ae + peers; the table below and in steps.log"
  else
    row steps FAILED $((SECONDS - t0)) "peers exit $prc, no comparison: $(tail -1 "$OUT/steps.log")"
  fi
fi

# --- compute-sanitizer ----------------------------------------------------------------------
# The suite without the tests that fill the GPU or provoke out-of-memory on purpose (under the
# tools they would take the whole budget; they run the same kernels as the rest). racecheck and
# synccheck look at ae's kernels only: their mangled names start _ZN2ae2cu (namespace ae::cu).
FILTER=${FILTER:--*Large*:*Huge*:*OutOfMemory*:*TooLarge*}
: >"$OUT/sanitize.log"
for spec in "memcheck 65 --leak-check full" "racecheck 20 --kernel-name kns=_ZN2ae2cu" \
            "synccheck 20 --kernel-name kns=_ZN2ae2cu"; do
  read -r tool secs args <<<"$spec"
  t0=$SECONDS
  if [ $no_device = 1 ]; then row "$tool" "no device" 0 "the suite found no device"; continue; fi
  if [ -z "$sanitizer" ]; then row "$tool" "not run" 0 "compute-sanitizer not found"; continue; fi
  log=$WORK/$tool.log
  # shellcheck disable=SC2086  # args is a list of options
  timeout -k 3 "$(budget "$secs")" env LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$sanitizer" --tool "$tool" $args --error-exitcode 99 --print-limit 20 \
    "$CARRY/bin/ae_tests_gpu" --gtest_color=no --gtest_filter="$FILTER" >"$log" 2>&1
  rc=$?
  { echo "===== $tool ($args), exit $rc"; cat "$log"; } >>"$OUT/sanitize.log"
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1 | sed 's/=* *//')
  case $rc in
    0) row "$tool" ok $((SECONDS - t0)) "${summary:-no summary}; $(grep -E '^\[  PASSED  \]' "$log" | tail -1)" ;;
    124 | 137) row "$tool" TIMEOUT $((SECONDS - t0)) "last: $(grep -E '^\[ RUN' "$log" | tail -1)" ;;
    *) row "$tool" FAILED $((SECONDS - t0)) "exit $rc; ${summary:-no summary}; $(grep -E '^========= (Invalid|Error|Race|Barrier|Leaked)' "$log" | sort | uniq -c | head -3 | tr -s ' \n' ' ')" ;;
  esac
done
rm -rf "$WORK"

# --- summary, last --------------------------------------------------------------------------
{
  echo
  [ -f "$OUT/ae_steps.json" ] && [ -f "$OUT/peers.json" ] && grep -E '^\|' "$OUT/steps.log" | tail -40 && echo
  echo "| part      | status    | time  | detail"
  echo "|-----------|-----------|-------|-------"
  printf '%s\n' "${rows[@]}"
  echo "total $((SECONDS - START)) s; logs in ${OUT}: $(cd "$OUT" && ls | tr '\n' ' ')"
} | tee -a "$SUMMARY"
! printf '%s\n' "${rows[@]}" | grep -qE '\| (FAILED|TIMEOUT|no device|not run|ae only|peers) '
