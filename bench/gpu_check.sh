#!/usr/bin/env bash
# Every GPU check of ae in ONE device call, from binaries built on the development machine:
#
#   1. here:            bash bench/gpu_carry.sh     (gpu_carry/: 5 binaries, their libraries and
#                       the wheels of sparsify's comparison; MANIFEST says the size)
#   2. the device call: run(command="bash bench/gpu_check.sh", carry=["gpu_carry"], timeout_s=540)
#      a second, shorter try, if one is needed, fits what is left of a 15-minute window:
#                       run(command="SCALE=0.5 bash bench/gpu_check.sh", carry=..., timeout_s=270)
#
# Nothing is compiled there. The parts run in order of value, each under its own budget; a part
# still running at the end of its budget is stopped (SIGTERM to its process group, SIGKILL GRACE
# s later, left behind ABANDON s after that) and the next one starts. The budgets, the stopping
# slack of every part and a fixed OVERHEAD add up to at most TOTAL = 440 s; SCALE=0.5 halves
# every budget and the total (220 s). The script checks that arithmetic before it starts
# (bash bench/gpu_check.sh --plan prints it) and gives a part only the time left of the total,
# so under the device call's 540 s the summary always prints, whichever part hangs.
#
# Estimates (s, at SCALE=1) from each part's work, and budgets:
#   part      est budget  what, and where the estimate comes from
#   device      5    10   the GPU, driver, sanitizer and libraries found, `ae info`: nvidia-smi
#                         ~1 s, ldd ~0.5 s, ae info ~2 s (a CUDA context)
#   suite      35    45   ae_tests_gpu but the tests past 2^31 elements: every CUDA kernel, op and
#                         training step against the CPU reference. A context and cuBLAS ~3 s; the
#                         kernel tests ~10 s (host references of up to 2^27 elements); the
#                         sparse-code kernels at a sparse autoencoder's sizes (4096 x 16384, k 32,
#                         dim 768; host references of 2^26 elements) ~5 s; 4096^3
#                         GEMM references ~1 s per dtype; the step, trainer and one-rank NCCL
#                         runs of five small models ~10 s; the 2^32 __sincosf angles ~1 s
#   steps      70    80   ae_bench_steps --quick at batch 256 and 4096 (eager, fused, graph;
#                         fp32; ~15 s with the cuBLAS peak and the peer files), a sparse
#                         autoencoder's step against its encoder GEMM (ae_bench_sae_step, four
#                         configurations, ~8 s; sae_steps.json), then the PyTorch
#                         peers on the same files (import and loss check ~10 s, 20 eager and
#                         CUDA-graph timings ~20 s, then torch.compile, ~20 s per configuration,
#                         largest batch first, until the part's deadline) and compare.py's table
#   saepeers  115   135   ae's SAE trainer against EleutherAI's sparsify 1.3.3 on the GPU
#                         (bench/peers/sae_peers.py --device cuda; d 768, k 32, batch 4096, 3
#                         epochs of 65,536 rows, the first a warm-up): the carried wheels
#                         installed (~3 s); the data drawn with torch on the GPU (the import and a
#                         context ~4 s, 67,584 rows from F 16384 features ~1 s, written ~1 s); per
#                         size, n 16384 then 65536 while its deadline allows, five trainers each in
#                         its own process: ae in float32 and TF32 (a context, the 200 MB file, 48
#                         steps of a few ms, each epoch's sparsity metrics and parameter check,
#                         the checkpoints: ~4 s, ~8 s at 65536) and sparsify in its bf16 autocast,
#                         float32 and TF32 (imports ~6 s, Triton's compilation ~3 s the first
#                         time, 48 steps ~1 s, the weights back ~1 s), each scored in numpy on 2048
#                         held-out rows (~1 s, ~3 s at 65536): ~45 s at 16384, ~60 s at 65536
#   memcheck   30    40   compute-sanitizer memcheck --leak-check full over the suite FILTERED
#                         to the kernel and op tests (MEMCHECK_FILTER: not the 2^31/2^32 and
#                         large-buffer tests, the 2^32-angle test, the training-step and NCCL
#                         tests): ~10 s of tests natively, the kernels slowed 10-30x
#   nccl       10    20   `ae train` (denoising, 2 epochs, the built-in shapes) on the GPU plain,
#                         through a one-rank NCCL communicator (AE_COMM=nccl) and through the id
#                         file bootstrap: the checkpoints must be equal byte for byte and the id
#                         file gone once the rank joined; three runs ~3 s each, NCCL's init ~2 s
#   huge       45    55   the tests past 2^31 and 2^32 elements: host-bound, 6.4e9 elements
#                         drawn, computed and compared at ~2 ns each per pass (~40 s) and 17 GB
#                         copied each way (~4 s); last, as the costliest per finding
# Not in the default plan (PARTS="kernels racecheck" runs them, e.g. in a later call):
#   kernels    30    40   ae_bench_kernels: each kernel against the device's measured ceilings
#   racecheck  15    20   compute-sanitizer racecheck over ae's kernels with shared memory
#   synccheck  15    20   compute-sanitizer synccheck over the same
#
# Writes to $OUT (returned by the device call; build/gpu_check without it): summary.txt (each
# part's row as it ends, then the tables), gpu_tests.log, steps.log, ae_steps.json, peers.json,
# compare.md, sae_steps.json, sae_peers.json, sae_peers.md, sae_peers.log, sanitize.log
# (kernels.log with PARTS=kernels). Exit status 0 when every part passed,
# 1 when one did not, 2 when the script could not start or was stopped (its summary still prints).
#
# Variables: SCALE (1), PARTS (the default plan above, in order), OUT, CARRY (gpu_carry),
# WHEELS (CARRY/wheels), SANITIZER (compute-sanitizer's path), PYTHON (python3), MEMCHECK_FILTER. For the dry run
# (bench/gpu_check_dry_run.sh, ctest gpu_check.dry_run): UNIT, real seconds per planned second.
#   bash bench/gpu_check.sh --plan    the plan and its arithmetic at SCALE; exit 1 when over TOTAL
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
SELF=$ROOT/bench/gpu_check.sh
export ROOT SELF
export CARRY=${CARRY:-$ROOT/gpu_carry}
export WHEELS=${WHEELS:-$CARRY/wheels}
export OUT=${OUT:-$ROOT/build/gpu_check}
export SCALE=${SCALE:-1}
export UNIT=${UNIT:-1}
export PYTHON=${PYTHON:-python3}
export PARTS=${PARTS:-device suite steps saepeers memcheck nccl huge}
export MEMCHECK_FILTER=${MEMCHECK_FILTER:--*Huge*:*Large*:*OutOfMemory*:*TooLarge*:PhiloxSincos.*:GpuStepTrain.*:CommNcclGpu.*}
RACECHECK_FILTER='*ReduceSum*:*KlSparsity*:*Contractive*:*BiasActBackward*:*AccumulateScalars*:BackendSparse/*'
TOTAL=440    # s at SCALE=1: the whole script
GRACE=2      # s from SIGTERM to SIGKILL
ABANDON=1    # s after SIGKILL before a part still running is left behind
OVERHEAD=5   # s outside the parts: checks, unpacking the libraries, the summary

# --- arithmetic (planned seconds; UNIT turns them into real ones) -----------------------------
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
show() { awk "BEGIN { printf \"%g\", $* }"; }
is() { awk "BEGIN { exit !($*) }"; }
now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }

plan_of() {  # plan_of PART: "ESTIMATE BUDGET" in seconds at SCALE=1
  case $1 in
    device) echo "5 10" ;;
    suite) echo "35 45" ;;
    steps) echo "70 80" ;;
    saepeers) echo "115 135" ;;
    memcheck) echo "30 40" ;;
    nccl) echo "10 20" ;;
    huge) echo "45 55" ;;
    kernels) echo "30 40" ;;
    racecheck | synccheck) echo "15 20" ;;
    *) return 1 ;;
  esac
}

# The plan of PARTS at SCALE: a table, and exit 1 when an estimate exceeds its budget or the
# budgets, each part's GRACE + ABANDON and OVERHEAD add up to more than TOTAL * SCALE.
check_plan() {
  local p est budget sum=0 n=0 bad=0 planned limit
  printf '%-10s %9s %9s %9s\n' part estimate budget "ends by"
  for p in $PARTS; do
    if ! read -r est budget < <(plan_of "$p"); then
      echo "gpu_check: unknown part '$p' (device suite steps saepeers memcheck nccl huge kernels racecheck synccheck)"
      return 1
    fi
    if is "$est > $budget"; then
      echo "gpu_check: part $p: its estimate ($est s) exceeds its budget ($budget s)"
      bad=1
    fi
    sum=$(calc "$sum + $budget * $SCALE + $GRACE + $ABANDON")
    n=$((n + 1))
    printf '%-10s %8ss %8ss %8ss\n' "$p" "$est" "$(show "$budget * $SCALE")" "$(show "$sum")"
  done
  planned=$(show "$sum + $OVERHEAD")
  limit=$(show "$TOTAL * $SCALE")
  echo "$n parts: budgets at SCALE=$SCALE, $GRACE + $ABANDON s to stop each, $OVERHEAD s overhead: $planned s of $limit s"
  if is "$planned > $limit"; then
    echo "gpu_check: the plan takes $planned s, more than $limit s (TOTAL $TOTAL s at SCALE=$SCALE)"
    bad=1
  fi
  return $bad
}

# --- the parts (each runs as `bash gpu_check.sh --part NAME`, its output in PART_LOG) ---------
result() { printf '%s\t%s\n' "$1" "$2" >"$WORK/$PART.result"; }  # result STATUS DETAIL
ae_bin() {  # ae_bin BINARY ARGS...: a carried binary with the carried libraries
  local b=$1
  shift
  env LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$CARRY/bin/$b" "$@"
}
say() { echo "$*" | tee -a "$SUMMARY"; }

part_device() {
  local gpu cuda_driver missing info rc
  gpu=$(timeout 5 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  cuda_driver=$(timeout 5 nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
  say "GPU: ${gpu:-no nvidia-smi / no device}; driver's CUDA: ${cuda_driver:-?}"
  say "compute-sanitizer: ${SANITIZER:-not found}${SANITIZER:+ ($(timeout 5 "$SANITIZER" --version 2>/dev/null | grep -m1 -o 'Version [0-9.]*'))}"
  say "cuBLAS files present: $(ls /usr/local/cuda/lib64/libcublas.so.* /usr/local/cuda/targets/*/lib/libcublas.so.* \
    /opt/*/.venv/lib/python3*/site-packages/nvidia/cu*/lib/libcublas.so.* 2>/dev/null | tr '\n' ' ')"
  say "NCCL files present: $(ls /usr/local/cuda/lib64/libnccl.so.* /usr/lib/x86_64-linux-gnu/libnccl.so.* \
    /opt/*/.venv/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.* \
    /usr/local/lib/python3*/dist-packages/nvidia/nccl/lib/libnccl.so.* 2>/dev/null | tr '\n' ' ')"
  missing=$(env LD_LIBRARY_PATH="$CARRY/lib" ldd "$CARRY"/bin/* 2>/dev/null | grep "not found" | sort -u | tr -s ' \t\n' ' ')
  [ -z "$missing" ] || say "MISSING shared libraries: $missing"
  info=$(ae_bin ae info 2>&1)
  rc=$?
  echo "$info" | grep -E "backends|devices" | tee -a "$SUMMARY"
  if [ -n "$missing" ]; then result FAILED "libraries the binaries miss: $missing"
  elif [ $rc != 0 ]; then result FAILED "ae info: exit $rc: $(echo "$info" | tail -1)"
  elif echo "$info" | grep -q "no usable CUDA device"; then result "no device" "ae info: $(echo "$info" | grep -m1 '^devices:')"
  else result ok "${gpu:-GPU name unknown (no nvidia-smi)}"
  fi
}

gtest_result() {  # gtest_result EXIT_CODE: the row of an ae_tests_gpu run, from PART_LOG
  local rc=$1 passed failed
  passed=$(grep -E '^\[  PASSED  \]' "$PART_LOG" | tail -1 | sed 's/\[  PASSED  \] //')
  failed=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$PART_LOG" | sort -u | sed 's/\[  FAILED  \] //' | head -8 | tr '\n' ' ')
  case $rc in
    0) result ok "${passed:-no tests}; $(grep -m1 '^cuBLAS' "$PART_LOG")" ;;
    77) result "no device" "$(grep -m1 'skipped' "$PART_LOG")" ;;
    *) result FAILED "exit $rc; passed: ${passed:-none}; failed: ${failed:-none named}" ;;
  esac
}
part_suite() { ae_bin ae_tests_gpu --gtest_color=no --gtest_filter='-*Huge*'; gtest_result $?; }
part_huge() { ae_bin ae_tests_gpu --gtest_color=no --gtest_filter='*Huge*'; gtest_result $?; }

part_steps() {
  local data=$WORK/peer_files end rc torch left prc
  end=$(calc "$(now) + $PART_LIMIT * $UNIT")
  mkdir -p "$data"
  ae_bin ae_bench_steps --quick --batches 256,4096 --precisions fp32 --out "$data"
  rc=$?
  cp "$data/ae_steps.json" "$OUT/" 2>/dev/null
  if [ $rc = 0 ] && grep -q "no usable CUDA device" "$PART_LOG"; then
    result "no device" "ae_bench_steps: no usable CUDA device"; return
  elif [ $rc != 0 ]; then
    result FAILED "ae_bench_steps exit $rc: $(tail -1 "$PART_LOG")"; return
  fi
  sae_steps
  if ! torch=$("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "available" if torch.cuda.is_available() else "no device")' 2>/dev/null | tail -1) || [ -z "$torch" ]; then
    result "ae only" "PyTorch not importable by $PYTHON: no peers"; return
  fi
  echo "== PyTorch $torch: the peers"
  # bench_peers.py starts no timing after its deadline and rewrites peers.json after each one;
  # the table needs ~5 s (planned) at the end.
  left=$(calc "$end - $(now) - 5 * $UNIT")
  if is "$left < $UNIT"; then result "ae only" "no time left for the PyTorch peers"; return; fi
  PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=$WORK/inductor timeout -k "$(calc "$GRACE * $UNIT")" "$left" \
    "$PYTHON" bench/peers/bench_peers.py --dir "$data" --out "$OUT/peers.json" --batches 256,4096 \
    --modes eager,graphs,compile --precisions fp32 --quick --deadline "$(calc "$(now) + $left - 3 * $UNIT")"
  prc=$?
  echo "== ae vs PyTorch"
  if [ -f "$OUT/peers.json" ] &&
    timeout "$(calc "4 * $UNIT")" "$PYTHON" bench/peers/compare.py "$OUT/ae_steps.json" "$OUT/peers.json" >"$OUT/compare.md"; then
    cat "$OUT/compare.md"
    if [ $prc = 0 ]; then result ok "ae and PyTorch $torch: the table below and in compare.md"
    else result "peers $prc" "ae and part of the peers (exit $prc): the table below and in compare.md"
    fi
  else
    rm -f "$OUT/compare.md"
    result FAILED "peers exit $prc, no comparison: $(tail -1 "$PART_LOG")"
  fi
}

# A sparse autoencoder's training step against its encoder GEMM alone (d 768, batch 4096, k 32):
# topk at 16384 and 65536 latents (float32, and TF32: the GEMM's share of the TF32 peak, 495
# TFLOP/s dense on an H100 SXM or H200), batchtopk and jumprelu at 16384, ~2 s each (the model's
# initialisation, 5 timed groups of a step and a GEMM of a few ms). One JSON line each in
# sae_steps.json, the ratios in the summary. Run by the steps part before the PyTorch peers, whose
# timings fill what is left of the part's budget.
sae_steps() {
  local rc=0 line ratios
  : >"$OUT/sae_steps.json"
  for args in "--kind topk --latents 16384" "--kind topk --latents 65536" \
              "--kind batchtopk --latents 16384" "--kind jumprelu --latents 16384" \
              "--kind topk --latents 16384 --precision tf32" \
              "--kind topk --latents 65536 --precision tf32"; do
    # shellcheck disable=SC2086
    line=$(ae_bin ae_bench_sae_step --device cuda $args --samples 5 --group-ms 50) || rc=$?
    echo "$line"
    case $line in "{"*) echo "$line" >>"$OUT/sae_steps.json" ;; esac
  done
  ratios=$(sed -n 's/.*"kind": "\([a-z]*\)", "precision": "\([a-z0-9]*\)".*"latents": \([0-9]*\).*"ratio": \([0-9.]*\), "gemm_gflops": \([0-9.]*\).*/\1 \2 n=\3: \4 (GEMM \5 GFLOP\/s)/p' "$OUT/sae_steps.json" | paste -sd, -)
  say "  sae step / encoder GEMM (ae_bench_sae_step, exit $rc): ${ratios:-none measured}"
}

# ae's sparse autoencoder trainer against EleutherAI's sparsify on the GPU: sae_peers.py
# --device cuda (its docstring; docs/sae.md), every run in its own process, the JSON and the
# table (sae_peers.md) rewritten after each one. sparsify comes from the carried wheels, installed
# into $WORK/site; without them (gpu_carry.sh could not download them) or when they do not
# install, ae runs alone. The row: each peer's ratio (ae's samples/s over its) and ae's encoder
# GEMM alone, from the steps part's sae_steps.json (topk, TF32, n 16384).
part_saepeers() {
  local end site=$WORK/site trainers=() skipped="" rc line gemm left
  end=$(calc "$(now) + $PART_LIMIT * $UNIT")
  if ! "$PYTHON" -c 'import numpy, torch' >/dev/null 2>&1; then
    result "not run" "numpy or PyTorch not importable by $PYTHON: no data to train on"; return
  fi
  if ! compgen -G "$WHEELS/*.whl" >/dev/null; then
    skipped="sparsify skipped: no wheels in $WHEELS (bench/gpu_carry.sh could not download them)"
  elif ! PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target "$site" "$WHEELS"/*.whl; then
    skipped="sparsify skipped: its wheels did not install ($(tail -1 "$PART_LOG"))"
  else
    export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
  fi
  [ -z "$skipped" ] || { echo "== $skipped"; trainers=(--trainers "ae-topk-tf32,ae-topk"); }
  # ae from the carry, with the carried libraries (only ae gets them, not Python).
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/bin/ae" "$@"\n' \
    "$CARRY" "$CARRY" >"$WORK/ae"
  chmod +x "$WORK/ae"
  # No run starts in the last 15 s (planned) of the part, about what one takes at n 65536; the
  # last 3 s are the row's.
  left=$(calc "$end - $(now) - 3 * $UNIT")
  if is "$left < $UNIT"; then result skipped "no time left"; return; fi
  AE_CLI=$WORK/ae PYTHONUNBUFFERED=1 timeout -k "$(calc "$GRACE * $UNIT")" "$left" \
    "$PYTHON" bench/peers/sae_peers.py --device cuda "${trainers[@]}" --work "$WORK/sae_peers" \
    --out "$OUT/sae_peers.json" --deadline "$(calc "$(now) + $left - 12 * $UNIT")"
  rc=$?
  # Wheels that install but do not import: sae_peers.py leaves sparsify out and says so.
  [ -n "$skipped" ] || skipped=$(grep -m1 '^peers skipped' "$PART_LOG")
  line=$(sed -n 's/^summary: //p' "$PART_LOG" | tail -1)
  gemm=$(sed -n 's/.*"kind": "topk", "precision": "tf32".*"latents": 16384,.*"gemm_gflops": \([0-9.]*\).*/\1/p' \
    "$OUT/sae_steps.json" 2>/dev/null | head -1)
  if [ -n "$gemm" ]; then
    gemm="ae's encoder GEMM alone (topk tf32 n=16384, steps part): $gemm GFLOP/s, $(awk "BEGIN { printf \"%.0f\", $gemm / 4950 }")% of 495 TFLOP/s"
  else
    gemm="ae's encoder GEMM alone: not measured (steps part, sae_steps.json)"
  fi
  case $rc in
    0) if [ -n "$skipped" ]; then result "ae only" "$skipped; $line; $gemm"
       else result ok "$line; $gemm"; fi ;;
    3) result partial "${skipped:+$skipped; }past its deadline: $line; $gemm" ;;
    124 | 137) result partial "${skipped:+$skipped; }stopped at the part's end; what ran is in sae_peers.md; $gemm" ;;
    *) line=$(grep -E ': exit [0-9]+;|Error' "$PART_LOG" | tail -1)
       result FAILED "sae_peers.py exit $rc: ${line:-$(tail -1 "$PART_LOG")}" ;;
  esac
}

sanitizer_part() {  # sanitizer_part TOOL FILTER ARGS...
  local tool=$1 filter=$2 rc summary
  shift 2
  if [ -z "$SANITIZER" ]; then result "not run" "compute-sanitizer not found"; return; fi
  env LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$SANITIZER" --tool "$tool" "$@" \
    --error-exitcode 99 --print-limit 20 "$CARRY/bin/ae_tests_gpu" --gtest_color=no --gtest_filter="$filter"
  rc=$?
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$PART_LOG" | tail -1 | sed 's/=* *//')
  case $rc in
    0) result ok "${summary:-no summary}; $(grep -E '^\[  PASSED  \]' "$PART_LOG" | tail -1)" ;;
    77) result "no device" "$(grep -m1 'skipped' "$PART_LOG")" ;;
    *) result FAILED "exit $rc; ${summary:-no summary}; $(grep -E '^========= (Invalid|Error|Race|Barrier|Leaked)' "$PART_LOG" | sort | uniq -c | head -3 | tr -s ' \n' ' ')" ;;
  esac
}
part_memcheck() { sanitizer_part memcheck "$MEMCHECK_FILTER" --leak-check full; }
# racecheck and synccheck look at ae's kernels only: their mangled names start _ZN2ae2cu.
part_racecheck() { sanitizer_part racecheck "$RACECHECK_FILTER" --kernel-name kns=_ZN2ae2cu; }
part_synccheck() { sanitizer_part synccheck "$RACECHECK_FILTER" --kernel-name kns=_ZN2ae2cu; }

part_nccl() {
  local d=$WORK/nccl train=(train --model dae --epochs 2 --device cuda -q)
  mkdir -p "$d"
  echo "== plain"
  ae_bin ae "${train[@]}" --out "$d/plain" || { result FAILED "plain run: exit $?: $(tail -1 "$PART_LOG")"; return; }
  echo "== AE_COMM=nccl, one rank"
  AE_COMM=nccl ae_bin ae "${train[@]}" --out "$d/nccl" ||
    { result FAILED "one-rank NCCL run: exit $?: $(tail -1 "$PART_LOG")"; return; }
  echo "== AE_COMM=nccl through AE_NCCL_ID_FILE, one rank"
  AE_COMM=nccl AE_NCCL_ID_FILE=$d/nccl.id AE_RANK=0 AE_WORLD_SIZE=1 ae_bin ae "${train[@]}" --out "$d/file" ||
    { result FAILED "id-file NCCL run: exit $?: $(tail -1 "$PART_LOG")"; return; }
  if ! cmp "$d/plain/latest.safetensors" "$d/nccl/latest.safetensors"; then
    result FAILED "the one-rank NCCL checkpoint differs from the plain GPU run's"
  elif ! cmp "$d/plain/latest.safetensors" "$d/file/latest.safetensors"; then
    result FAILED "the id-file NCCL checkpoint differs from the plain GPU run's"
  elif [ -e "$d/nccl.id" ]; then
    result FAILED "the NCCL id file was left behind after every rank joined"
  else
    result ok "one-rank NCCL checkpoints (MPI-less, id file) equal the plain GPU run's, byte for byte"
  fi
}

part_kernels() {
  ae_bin ae_bench_kernels
  local rc=$?
  if [ $rc = 0 ] && grep -q "skipped" "$PART_LOG"; then result "no device" "$(grep -m1 skipped "$PART_LOG")"
  elif [ $rc = 0 ]; then result ok "$(grep -c '^|' "$PART_LOG") table rows in kernels.log"
  else result FAILED "exit $rc: $(tail -1 "$PART_LOG")"
  fi
}

if [ "${1:-}" = --part ]; then
  PART=$2
  "part_$PART"
  exit 0
fi

# --- the plan -----------------------------------------------------------------------------------
case ${1:-} in
  --plan) check_plan; exit $? ;;
  "") ;;
  *) echo "usage: bash bench/gpu_check.sh [--plan]   (see the top of the file)"; exit 2 ;;
esac
if ! plan=$(check_plan); then
  echo "$plan"
  echo "gpu_check: refusing to start: the plan does not fit its time (PARTS, SCALE)"
  exit 2
fi
# Binaries and libraries bench/gpu_carry.sh gzip'd to fit the carry unpack in place, once.
for z in "$CARRY"/bin/*.gz "$CARRY"/lib/*.gz; do
  if [ -e "$z" ]; then gunzip -f "$z"; fi
done
chmod +x "$CARRY"/bin/* 2>/dev/null
if [ ! -x "$CARRY/bin/ae_tests_gpu" ]; then
  echo "gpu_check: $CARRY/bin is missing: run bench/gpu_carry.sh on the development machine and carry gpu_carry"
  exit 2
fi

# --- the run ------------------------------------------------------------------------------------
START=$(now)
END=$(calc "$START + ($TOTAL * $SCALE - $OVERHEAD) * $UNIT")  # when the last part must be stopped
export WORK
WORK=$(mktemp -d /tmp/ae_gpu_check.XXXXXX)
mkdir -p "$OUT"
export SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
: >"$OUT/gpu_tests.log"
: >"$OUT/sanitize.log"
: >"$OUT/steps.log"
rm -f "$OUT/ae_steps.json" "$OUT/peers.json" "$OUT/compare.md" "$OUT/sae_peers.json" "$OUT/sae_peers.md"
if [ -z "${SANITIZER:-}" ]; then
  SANITIZER=$(command -v compute-sanitizer)
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
           /opt/nvidia/compute-sanitizer/compute-sanitizer; do
    [ -n "$SANITIZER" ] || [ ! -x "$c" ] || SANITIZER=$c
  done
fi
export SANITIZER
say "== ae GPU check, $(date -u +%Y-%m-%dT%H:%MZ), $(head -1 "$CARRY/MANIFEST" 2>/dev/null); SCALE=$SCALE, parts: $PARTS"

rows=()
CURRENT=""
PART_PID=""
NO_DEVICE=0
elapsed() { awk "BEGIN { printf \"%.1f\", ($(now) - $1) / $UNIT }"; }
row() {  # row PART STATUS SECONDS DETAIL: kept for the table and written to summary.txt at once
  local line
  line=$(printf '| %-9s | %-9s | %5.1fs | %s' "$1" "$2" "$3" "$4")
  rows+=("$line")
  echo "$line" | tee -a "$SUMMARY"
}
print_summary() {
  {
    echo
    [ -s "$OUT/compare.md" ] && cat "$OUT/compare.md" && echo
    [ -s "$OUT/sae_peers.md" ] && cat "$OUT/sae_peers.md" && echo
    echo "| part      | status    | time   | detail"
    echo "|-----------|-----------|--------|-------"
    printf '%s\n' "${rows[@]}"
    echo "total $(elapsed "$START") s of $(show "$TOTAL * $SCALE") s planned (SCALE=$SCALE); logs in ${OUT}: $(cd "$OUT" && ls | tr '\n' ' ')"
  } | tee -a "$SUMMARY"
}
# Stopped from outside (the device call's limit, Ctrl-C): the part is stopped and the summary
# printed with what has run.
on_signal() {
  trap - TERM INT HUP
  [ -z "$PART_PID" ] || stop_group "$PART_PID"
  [ -z "$CURRENT" ] || row "$CURRENT" STOPPED "$(elapsed "$PART_START")" "the check was stopped ($1) during this part"
  print_summary
  rm -rf "$WORK"
  exit 2
}
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGINT' INT
trap 'on_signal SIGHUP' HUP

# stop_group PID: the process group timeout(1) made for a part (its id is timeout's pid), once
# the part has ended or been stopped: SIGTERM, then SIGKILL after GRACE to whatever is left (a
# process of the part that outlived it, or that ignores SIGTERM). timeout's own SIGKILL reaches
# only a group whose leader it still waits for.
stop_group() {
  local pid=$1 until
  kill -0 -- "-$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null
  until=$(calc "$(now) + $GRACE * $UNIT")
  while kill -0 -- "-$pid" 2>/dev/null && is "$(now) < $until"; do sleep 0.05; done
  kill -KILL -- "-$pid" 2>/dev/null
  return 0
}

# run_limited SECONDS LOG COMMAND...: COMMAND under timeout(1) (SIGTERM to its process group at
# SECONDS, SIGKILL GRACE later), polled so that signals reach this script meanwhile; left behind
# when it is still there ABANDON after the SIGKILL, and its process group stopped (stop_group)
# once it has ended. Returns its exit status (124 or 137 when stopped, 124 when left behind).
run_limited() {
  local limit=$1 log=$2 give_up
  shift 2
  timeout -k "$(calc "$GRACE * $UNIT")" "$limit" "$@" >>"$log" 2>&1 &
  PART_PID=$!
  give_up=$(calc "$(now) + $limit + ($GRACE + $ABANDON) * $UNIT")
  while kill -0 "$PART_PID" 2>/dev/null; do
    if is "$(now) >= $give_up"; then
      echo "gpu_check: still running $(show "$limit + ($GRACE + $ABANDON) * $UNIT") s after it started; left behind" >>"$log"
      kill -KILL -- "-$PART_PID" 2>/dev/null
      PART_PID=""
      return 124
    fi
    sleep 0.05
  done
  wait "$PART_PID"
  local rc=$?
  stop_group "$PART_PID"
  PART_PID=""
  return $rc
}

run_part() {
  local name=$1 est budget limit left log=$WORK/$1.log rc status detail last
  read -r est budget < <(plan_of "$name")
  if [ $NO_DEVICE = 1 ]; then row "$name" "no device" 0 "the suite found no usable CUDA device"; return; fi
  # Its budget, or what is left before the end less the time to stop it.
  limit=$(calc "$budget * $SCALE")
  left=$(calc "($END - $(now)) / $UNIT - $GRACE - $ABANDON")
  if is "$left < $limit"; then limit=$left; fi
  if is "$limit < 1"; then row "$name" skipped 0 "no time left of the $(show "$TOTAL * $SCALE") s"; return; fi
  CURRENT=$name
  PART_START=$(now)
  : >"$log"
  run_limited "$(calc "$limit * $UNIT")" "$log" env PART="$name" PART_LOG="$log" PART_LIMIT="$limit" \
    bash "$SELF" --part "$name"
  rc=$?
  CURRENT=""
  if [ -f "$WORK/$name.result" ]; then
    IFS=$'\t' read -r status detail <"$WORK/$name.result"
  elif [ $rc = 124 ] || [ $rc = 137 ]; then
    last=$(grep -E '^\[ RUN|^== ' "$log" | tail -1)
    status=TIMEOUT
    detail="stopped at its $(show "$limit") s budget (estimate $est s)${last:+; last: $last}"
  else
    status=FAILED
    detail="exit $rc: $(tail -1 "$log")"
  fi
  case $name in
    device) ;;
    suite | huge | nccl) { echo "===== $name, exit $rc"; cat "$log"; } >>"$OUT/gpu_tests.log" ;;
    memcheck | racecheck | synccheck) { echo "===== $name, exit $rc"; cat "$log"; } >>"$OUT/sanitize.log" ;;
    steps) cat "$log" >>"$OUT/steps.log" ;;
    saepeers) cat "$log" >"$OUT/sae_peers.log" ;;
    kernels) cat "$log" >"$OUT/kernels.log" ;;
  esac
  row "$name" "$status" "$(elapsed "$PART_START")" "$detail"
  # The suite says why there is no device (the runtime's error) and the parts after it skip.
  if [ "$status" = "no device" ] && [ "$name" = suite ]; then NO_DEVICE=1; fi
}

for p in $PARTS; do run_part "$p"; done
print_summary
rm -rf "$WORK"
! printf '%s\n' "${rows[@]}" | grep -vqE '^\| [a-z]+ +\| ok +\|'
