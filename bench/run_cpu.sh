#!/usr/bin/env bash
# ae against PyTorch on the CPU in one command: builds the release preset's benchmark targets,
# then bench/peers/cpu_compare.py alternates ae and PyTorch over the five models at batch 64 and
# 256 (2 threads each unless THREADS says otherwise) and trains both on MNIST for the peak RSS.
#
#   bash bench/run_cpu.sh [extra cpu_compare.py flags, e.g. --reps 5 --models ae,vae]
#
# PyTorch is optional: without it only ae is measured. PYTHON names an interpreter that has it
# (pip install torch numpy). MNIST is read from ../shared/data/mnist when it is there (MNIST=DIR
# overrides). Results: the table on stdout, every measurement in build/release/cpu_compare/.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-python3}
MNIST=${MNIST:-../shared/data/mnist}
cmake --preset release >/dev/null
cmake --build build/release --target ae_bench_cpu_steps ae_peer_files ae_cli >/dev/null
mnist=()
[ -d "$MNIST" ] && mnist=(--mnist "$MNIST")
exec python3 bench/peers/cpu_compare.py --build build/release --out build/release/cpu_compare \
  --threads "$THREADS" --python "$PYTHON" "${mnist[@]}" "$@"
