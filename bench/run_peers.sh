#!/usr/bin/env bash
# ae against PyTorch on the same GPU, the full table (every batch size, TF32, the Jacobian peer),
# in one call of the lent GPU machine (H100/H200 with Python and PyTorch). bench/gpu_check.sh runs
# a quick version of it (batch 256 and 4096) among every other GPU check; this is the long one:
#
#   1. here:            bash bench/gpu_carry.sh
#   2. the device call: run(command="bash bench/run_peers.sh", carry=["gpu_carry"], timeout_s=600)
#
# Runs the carried ae_bench_steps (ae's step table, and the peer files: initial weights, data,
# noise and ae's losses per model), runs the PyTorch peers on those files (the loss
# equivalence check, then eager, CUDA-graph, Jacobian and torch.compile timings, the compiled
# ones last), and prints the comparison table last. Everything stays within BUDGET_S seconds
# (default 560, under the device call's 600): peer timings that would start later are reported as
# skipped. QUICK=1 takes fewer timing samples; AE_STEPS_ARGS and PEER_ARGS add arguments to
# ae_bench_steps and bench_peers.py, e.g. a second call for the compiled peers alone:
#   run(command="PEER_ARGS='--modes compile' bash bench/run_peers.sh", carry=["gpu_carry"])
#
# Logs and results in $OUT (returned by the device call; build/peers_out without it):
# ae_steps.log, ae_steps.json, peers.log, peers.json, compare.md. Exit status 0 when everything
# ran and the losses agree within 2%.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
START=$(date +%s)
BUDGET_S=${BUDGET_S:-560}
OUT=${OUT:-$ROOT/build/peers_out}
CARRY=${CARRY:-$ROOT/gpu_carry}
DATA=$ROOT/build/peer_files  # the peer files stay on the machine (tens of MB)
mkdir -p "$OUT" "$DATA"
quick=()
[ "${QUICK:-0}" = 1 ] && quick=(--quick)

gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
torch_version=$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)
echo "== ae vs PyTorch: ${gpu:-no nvidia-smi}; PyTorch ${torch_version:-missing}; $(head -1 "$CARRY/MANIFEST" 2>/dev/null)"

if [ ! -x "$CARRY/bin/ae_bench_steps" ]; then
  echo "run_peers: $CARRY/bin/ae_bench_steps is missing: run bench/gpu_carry.sh here and carry gpu_carry"
  exit 2
fi

# --- ae -----------------------------------------------------------------------------------------
t0=$SECONDS
# shellcheck disable=SC2086  # AE_STEPS_ARGS is split into arguments on purpose
timeout 240 env LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$CARRY/bin/ae_bench_steps" "${quick[@]}" ${AE_STEPS_ARGS:-} --out "$DATA" \
  >"$OUT/ae_steps.log" 2>&1
ae_rc=$?
cp "$DATA/ae_steps.json" "$OUT/" 2>/dev/null
echo "ae_bench_steps: exit $ae_rc ($((SECONDS - t0))s)"
if [ $ae_rc -ne 0 ]; then
  tail -20 "$OUT/ae_steps.log"
  exit 1
fi

# --- the peers ------------------------------------------------------------------------------------
if [ -z "$torch_version" ]; then
  echo "peers: PyTorch is not importable by python3 here; ae's table:"
  grep -E '^\|' "$OUT/ae_steps.log"
  exit 1
fi
t0=$SECONDS
deadline=$((START + BUDGET_S - 15))
export TORCHINDUCTOR_CACHE_DIR=$ROOT/build/inductor_cache
# shellcheck disable=SC2086  # PEER_ARGS is split into arguments on purpose
timeout $((deadline - $(date +%s) + 10)) python3 bench/peers/bench_peers.py --dir "$DATA" \
  --out "$OUT/peers.json" --deadline "$deadline" "${quick[@]}" ${PEER_ARGS:-} >"$OUT/peers.log" 2>&1
peers_rc=$?
echo "peers: exit $peers_rc ($((SECONDS - t0))s); $(tail -1 "$OUT/peers.log")"

# --- the table, last ------------------------------------------------------------------------------
echo
if [ -f "$OUT/peers.json" ]; then
  python3 bench/peers/compare.py "$OUT/ae_steps.json" "$OUT/peers.json" | tee "$OUT/compare.md"
else
  echo "no peers.json; the end of peers.log:"
  tail -20 "$OUT/peers.log"
  grep -E '^\|' "$OUT/ae_steps.log"
fi
[ $peers_rc -eq 0 ]
