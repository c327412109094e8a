#!/usr/bin/env bash
# Run HERE (the development machine), before the device call of bench/gpu_suite.sh: gathers what
# the GPU machine's image lacks into the ignored folder .deps/, which the call then carries:
#   .deps/googletest       GoogleTest sources (/usr/src/googletest), built there by tests/
#   .deps/include/nlohmann nlohmann-json headers, when installed here (found by CMakeLists.txt)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

if [ ! -f /usr/src/googletest/CMakeLists.txt ]; then
  echo "prepare_gpu_carry: /usr/src/googletest is missing (apt-get install googletest)" >&2
  exit 1
fi
mkdir -p .deps
rm -rf .deps/googletest
cp -r /usr/src/googletest .deps/googletest

if [ -d /usr/include/nlohmann ]; then
  mkdir -p .deps/include
  rm -rf .deps/include/nlohmann
  cp -r /usr/include/nlohmann .deps/include/nlohmann
fi

# Only ignored paths can be carried: make sure .deps/ is, whatever .gitignore says.
if ! git check-ignore -q .deps/googletest; then
  exclude="$(git rev-parse --git-path info/exclude)"
  mkdir -p "$(dirname "$exclude")"
  echo "/.deps/" >>"$exclude"
fi
git check-ignore -q .deps/googletest

echo "prepare_gpu_carry: .deps ready ($(du -sh .deps | cut -f1)); carry [\".deps\"] with the device call"
