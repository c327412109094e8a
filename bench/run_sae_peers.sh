#!/usr/bin/env bash
# ae's sparse-autoencoder trainer against SAELens and EleutherAI's sparsify on the CPU, in one
# command: bench/peers/sae_peers.py (docs/sae.md, "Against SAELens and sparsify") in a virtual
# environment that holds the peers, made here from PyPI on the first call.
#
#   bash bench/run_sae_peers.sh                # medium, big16k, big64k (~16 min on 2 cores, ~20
#                                              # the first time, when it makes the data files)
#   bash bench/run_sae_peers.sh --small        # under a minute
#   bash bench/run_sae_peers.sh --sizes medium --reps 3
#
# PYTHON names an interpreter that already has the peers (torch, sae-lens, eai-sparsify) and
# skips the virtual environment; VENV places it (default build/sae_peers_venv). ae is $AE_CLI,
# else build/release/tools/ae, else build/cpu/tools/ae. The table goes to stdout, every
# measurement to build/sae_peers/result.json unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  VENV=${VENV:-build/sae_peers_venv}
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --extra-index-url https://download.pytorch.org/whl/cpu \
      torch sae-lens eai-sparsify numpy
  fi
  PYTHON=$VENV/bin/python
fi
out=(--out build/sae_peers/result.json)
for arg in "$@"; do [ "$arg" = --out ] && out=(); done
mkdir -p build/sae_peers
exec "$PYTHON" bench/peers/sae_peers.py --python "$PYTHON" "${out[@]}" "$@"
