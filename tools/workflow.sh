#!/usr/bin/env bash
# Installs the Debian packages a workflow needs (tools/debian-packages.txt) when some are missing,
# then runs it: configure, build and run.
#   tools/workflow.sh demo   the main job: trains the example autoencoder
#   tools/workflow.sh test   builds everything and runs every test
#   tools/workflow.sh asan   the CPU tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   tools/workflow.sh interop [--install-only]
#                            the sparse autoencoders with SAELens, sparsify and PyTorch: installs
#                            them (python/requirements-interop.txt) into build/venv-interop, then
#                            runs tests/python/test_sae_interop.py and test_sae.py against the
#                            release build (tools/workflow.sh test makes it), each peer required
# Installing needs root or password-less sudo; without either it prints the apt-get command to
# run and exits 2. On a system without dpkg it says what to install and tries the build anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

workflow=${1:-}
if [[ $workflow == interop && ( $# -eq 1 || ${2:-} == --install-only ) ]]; then
  venv=$PWD/build/venv-interop
  mkdir -p build
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check -r python/requirements-interop.txt
  [[ ${2:-} == --install-only ]] && exit 0
  [[ -x build/release/tools/ae && -d build/release/python/ae ]] ||
    { echo "ae: no release build with the Python module: run tools/workflow.sh test first" >&2; exit 2; }
  cd build/release
  exec env PYTHONPATH=python AE_CLI=tools/ae AE_DEVICE=cpu AE_REQUIRE_PEERS=1 \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider ../../tests/python/test_sae_interop.py \
    ../../tests/python/test_sae.py
fi
if [[ $# -ne 1 || ! $workflow =~ ^(demo|test|asan)$ ]]; then
  echo "usage: tools/workflow.sh demo|test|asan|interop [--install-only]" >&2
  exit 2
fi

# The packages this workflow needs: untagged lines, and lines tagged with its name.
packages=()
while read -r package tags; do
  [[ -z $package || $package == \#* ]] && continue
  [[ -z $tags || " $tags " == *" $workflow "* ]] && packages+=("$package")
done <tools/debian-packages.txt

if ! command -v dpkg-query >/dev/null; then
  echo "ae: not a Debian system: install the equivalents of ${packages[*]} (CMake >= 3.25);" \
       "trying the build as it is" >&2
else
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
      sudo=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "ae: missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
      exit 2
    fi
    echo "ae: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# NVIDIA's installer puts nvcc outside PATH; with it found, the build includes the CUDA backend.
command -v nvcc >/dev/null || [[ ! -x /usr/local/cuda/bin/nvcc ]] || export PATH=/usr/local/cuda/bin:$PATH

# The test workflow also builds the Python module and runs its tests (ctest python.pytest): their
# packages (python/requirements-test.txt, from PyPI) go into a virtual environment under build/,
# leaving the system Python alone, and the configure step finds it there (CMake's FindPython
# prefers an active virtual environment). Without PyPI the C++ tests still run, and say so.
if [[ $workflow == test ]] && command -v python3 >/dev/null; then
  venv=$PWD/build/venv
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv" ||
    echo "ae: python3 -m venv failed (Debian: python3-venv); the Python tests are skipped" >&2
  if [[ -x $venv/bin/python ]] && "$venv/bin/python" -m pip install -q --disable-pip-version-check \
       -r python/requirements-test.txt; then
    export VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH
  else
    echo "ae: the Python test packages could not be installed (PyPI unreachable?); the Python" \
         "tests are skipped" >&2
  fi
fi

exec cmake --workflow --preset "$workflow"
