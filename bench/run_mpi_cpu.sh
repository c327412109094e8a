#!/usr/bin/env bash
# Data-parallel training on the CPU: samples/s of `ae train` on MNIST with one process and with
# `mpirun -np 2`, the same global batch, alternating the configurations, one run each per
# repetition. What it compares, on the same cores:
#   1 rank x 1 thread    the baseline of one core
#   1 rank x 2 threads   ae's usual way to use two cores (OpenMP and OpenBLAS threads)
#   2 ranks x 1 thread   data parallelism over MPI (each rank half of every batch, the gradient
#                        sum over shared memory once per step)
# Each run's figure is the median over its epochs but the first (warm-up) of the samples/s the
# run's metrics.json records (the training rows over the epoch's wall time, validation included);
# the table gives the median and the best over the repetitions.
#
#   bash bench/run_mpi_cpu.sh [REPS]       (default 3; MNIST=DIR, LIMIT, EPOCHS, BATCH, MODEL)
#
# Needs a build with MPI (libopenmpi-dev): the configure step says "ae: MPI found".
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
MNIST=${MNIST:-../shared/data/mnist}
LIMIT=${LIMIT:-10000}
EPOCHS=${EPOCHS:-4}
BATCH=${BATCH:-256}
MODEL=${MODEL:-ae}
cmake --preset release >/dev/null
cmake --build build/release --target ae_cli >/dev/null
AE=$PWD/build/release/tools/ae
"$AE" info | grep -q "mpi built" || { echo "ae was built without MPI (libopenmpi-dev)" >&2; exit 2; }
MPIEXEC=${MPIEXEC:-mpiexec}
flags=(-np 2)
"$MPIEXEC" --version 2>/dev/null | grep -q "Open MPI" && flags+=(--oversubscribe)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 AE_DEVICE=cpu
out=build/release/mpi_bench
rm -rf "$out" && mkdir -p "$out"
args=(train --model "$MODEL" --data "$MNIST" --limit "$LIMIT" --epochs "$EPOCHS"
      --batch-size "$BATCH" --no-pictures -q)
echo "ae train --model $MODEL on MNIST ($LIMIT digits, 90% trained), batch $BATCH, $EPOCHS epochs;" \
     "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for rep in $(seq 1 "$REPS"); do
  AE_CPU_THREADS=1 "$AE" "${args[@]}" --out "$out/r1t1-$rep"
  AE_CPU_THREADS=2 "$AE" "${args[@]}" --out "$out/r1t2-$rep"
  AE_CPU_THREADS=1 "$MPIEXEC" "${flags[@]}" "$AE" "${args[@]}" --out "$out/r2t1-$rep"
done
python3 - "$out" "$REPS" <<'EOF'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
rows = [("1 rank x 1 thread", "r1t1"), ("1 rank x 2 threads", "r1t2"), ("2 ranks x 1 thread", "r2t1")]
base = None
print("| processes x threads | samples/s median (best) | vs 1 x 1 |")
print("|---|---:|---:|")
for name, key in rows:
    runs = []
    for rep in range(1, reps + 1):
        epochs = json.load(open(f"{out}/{key}-{rep}/metrics.json"))["epochs"]
        runs.append(statistics.median(e["samples_per_second"] for e in epochs[1:] or epochs))
    med = statistics.median(runs)
    base = base or med
    print(f"| {name} | {med:,.0f} ({max(runs):,.0f}) | {med / base:.2f} |")
print(f"load average at the end: {open('/proc/loadavg').read().split()[:3]}")
EOF
