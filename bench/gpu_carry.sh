#!/usr/bin/env bash
# Builds, HERE (a machine with nvcc; no GPU needed), every binary the GPU checks run, for sm_90,
# and gathers them, stripped, into the git-ignored folder gpu_carry/, which the device call
# carries to the lent GPU machine (see bench/gpu_check.sh and the README):
#   gpu_carry/bin/ae_tests_gpu      the GPU-vs-CPU test suite
#   gpu_carry/bin/ae_bench_kernels  the kernel benchmark
#   gpu_carry/bin/ae_bench_steps    the training-step benchmark (and the PyTorch peers' files)
#   gpu_carry/bin/ae_bench_sae_step a sparse autoencoder's step against its encoder GEMM
#   gpu_carry/bin/ae                the command line
#   gpu_carry/lib/                  the shared libraries they need that are not the C/C++
#                                   runtime (libpng, zlib): the GPU machine has no -dev packages
#                                   and perhaps not these either
#   gpu_carry/wheels/               the Python packages the GPU machine lacks for the sparsify
#                                   comparison (gpu_check.sh's saepeers part), from PyPI: none,
#                                   with a warning, when pip cannot download them
#   gpu_carry/MANIFEST              commit, compiler, architecture, sizes, the carry's total
# The CUDA runtime is linked in statically; cuBLAS is not carried (about 700 MB): the binaries
# open libcublas.so.13 on the GPU machine from its CUDA folder or PyTorch's nvidia wheels
# (kernels/cuda/cublas_lib.h), or from AE_CUBLAS.
#
# It reuses the release build (build/release, the README's build: CI has built it already, so
# this only links what is missing) unless BUILD names another CUDA build folder. With --check it
# then runs each binary once here and requires its no-device path: the test binary exits 77
# ("skipped"), the benchmarks say so and exit 0, `ae info` exits 0; and installs the wheels into
# an empty folder as the GPU machine will (pip --no-index --no-deps --target, for Python 3.12),
# then imports sparsify from it with $PYTHON (python3) when that interpreter has torch,
# transformers and accelerate. pip runs as $PIP_PYTHON -m pip (python3). Exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build/release}
CARRY=$ROOT/gpu_carry
check=0
[ "${1:-}" = "--check" ] && check=1

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake --preset release >/dev/null
fi
# The architectures nvcc compiles for, as the build's own rules say.
arch=$(grep -o -- '--generate-code=arch=[^ ]*' "$BUILD/build.ninja" 2>/dev/null | sort -u | tr '\n' ' ')
if [ -z "$arch" ]; then
  echo "gpu_carry: $BUILD has no CUDA backend (nvcc was not found when it was configured)" >&2
  exit 1
fi
case $arch in
  *sm_90*) ;;
  *) echo "gpu_carry: $BUILD compiles CUDA for $arch, not sm_90 (CMAKE_CUDA_ARCHITECTURES=90)" >&2
     exit 1 ;;
esac

# eai-sparsify and what it imports that the GPU machine's python3 (3.12, torch, transformers,
# accelerate, huggingface-hub 1.x, safetensors, einops, numpy, pandas, pyarrow, xxhash, fsspec,
# tqdm, pyyaml) lacks: sparsify 1.3.3's Requires-Dist, datasets' (its trainer imports datasets;
# datasets 5.x wants huggingface-hub >= 1.31) and theirs. All pure Python but multiprocess
# (py312); about 1.1 MB.
wheels=(eai-sparsify==1.3.3 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 natsort==8.4.0
        schedulefree==1.4.1 simple-parsing==0.1.9 docstring-parser==0.18.0)
platform=(--python-version 3.12 --implementation cp --only-binary=:all: --platform manylinux_2_28_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

targets=(ae_tests_gpu ae_bench_kernels ae_bench_steps ae_bench_sae_step ae_cli)
t0=$SECONDS
cmake --build "$BUILD" --target "${targets[@]}" >/dev/null
bins=("$BUILD/tests/ae_tests_gpu" "$BUILD/bench/ae_bench_kernels" "$BUILD/bench/ae_bench_steps"
      "$BUILD/bench/ae_bench_sae_step" "$BUILD/tools/ae")

rm -rf "$CARRY"
mkdir -p "$CARRY/bin" "$CARRY/lib"
for b in "${bins[@]}"; do
  strip --strip-unneeded -o "$CARRY/bin/$(basename "$b")" "$b"
done
# Shared libraries beyond glibc and the GCC runtime, which every Linux has (the binaries are
# built on an older glibc than the GPU machine's, so they run there).
for lib in $(ldd "${bins[@]}" | awk '/=> \//{print $3}' | sort -u); do
  case $(basename "$lib") in
    libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | libstdc++.so* | libgcc_s.so* | ld-linux*) ;;
    libcuda.so* | libcudart.so* | libcublas*) echo "gpu_carry: $lib is linked: CUDA libraries must not be" >&2; exit 1 ;;
    *) cp -L "$lib" "$CARRY/lib/" ;;
  esac
done

mkdir -p "$CARRY/wheels"
if ! timeout 300 "${PIP_PYTHON:-python3}" -m pip download -q --no-deps --retries 1 --timeout 20 "${platform[@]}" \
    -d "$CARRY/wheels" "${wheels[@]}"; then
  echo "gpu_carry: WARNING: pip could not download ${wheels[*]}: no wheels carried (gpu_check.sh's saepeers part runs ae alone)" >&2
  rm -rf "$CARRY/wheels"
fi

# Only ignored paths can be carried.
git check-ignore -q "$CARRY/bin" || { echo "gpu_carry: gpu_carry/ is not ignored by git" >&2; exit 1; }
{
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!gpu_carry' || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -m), $("${CMAKE_CUDA_COMPILER:-nvcc}" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/nvcc \1/p' || echo nvcc)"
  echo "CUDA code: $arch; cuBLAS opened at run time: libcublas.so.$(sed -n 's/^#define CUBLAS_VER_MAJOR *//p' "$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")/../include/cublas_api.h" 2>/dev/null)"
  (cd "$CARRY" && du -b bin/* lib/* | awk '{printf "%8.1f MB  %s\n", $1 / 1e6, $2}')
  if [ -d "$CARRY/wheels" ]; then
    echo "$(du -sb "$CARRY/wheels" | awk '{printf "%8.1f MB", $1 / 1e6}')  wheels/: $(cd "$CARRY/wheels" && ls | tr '\n' ' ')"
  else
    echo "     no wheels: pip could not download them"
  fi
} >"$CARRY/MANIFEST"
echo "gpu_carry: $(du -sh "$CARRY" | cut -f1) in gpu_carry/ ($((SECONDS - t0)) s; carry [\"gpu_carry\"])"
sed 's/^/  /' "$CARRY/MANIFEST"

if [ $check = 1 ]; then
  # The no-device path of each binary, run from the carried folder as the GPU machine will.
  export LD_LIBRARY_PATH=$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  failed=0
  expect() {  # expect EXIT_CODE NAME ARGS...
    local want=$1 name=$2 rc=0 out
    shift 2
    out=$(timeout 120 "$@" 2>&1) || rc=$?
    if [ "$rc" != "$want" ]; then
      echo "gpu_carry: $name exited $rc, expected $want:"; echo "$out" | tail -5; failed=1
    else
      echo "  $name: exit $rc: $(echo "$out" | grep -m1 -iE 'skipped|no usable|device' || echo "$out" | head -1)"
    fi
  }
  expect 77 ae_tests_gpu "$CARRY/bin/ae_tests_gpu"
  expect 0 ae_bench_kernels "$CARRY/bin/ae_bench_kernels" --quick
  expect 0 ae_bench_steps "$CARRY/bin/ae_bench_steps" --quick --out "$(mktemp -d)"
  expect 0 ae_bench_sae_step "$CARRY/bin/ae_bench_sae_step" --device cuda
  expect 0 "ae info" "$CARRY/bin/ae" info
  if [ -d "$CARRY/wheels" ]; then  # as gpu_check.sh installs them, for the GPU machine's Python
    site=$(mktemp -d)
    if ! PIP_ROOT_USER_ACTION=ignore "${PIP_PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" "${platform[@]}" "$CARRY"/wheels/*.whl; then
      echo "gpu_carry: the wheels do not install into an empty --target folder"; failed=1
    elif "${PYTHON:-python3}" -c "import torch, transformers, accelerate" 2>/dev/null; then
      if out=$(env PYTHONPATH="$site" "${PYTHON:-python3}" -c "import sparsify, schedulefree
assert sparsify.__file__.startswith('$site'), sparsify.__file__
print('sparsify', sparsify.__version__, 'imported from', sparsify.__file__)" 2>&1); then
        echo "  wheels: installed into an empty folder; $(echo "$out" | tail -1)"
      else
        echo "gpu_carry: sparsify does not import from the wheels:"; echo "$out" | tail -5; failed=1
      fi
    else
      echo "  wheels: installed into an empty folder; import not checked (${PYTHON:-python3} lacks torch, transformers or accelerate)"
    fi
    rm -rf "$site"
  fi
  [ $failed = 0 ] || exit 1
fi

# The carry holds 64 MiB in all: binaries and libraries over 8 MB travel gzip'd (OpenBLAS, which
# the CPU reference backend links: 37 MB, 11 MB gzip'd; each binary, 13-16 MB stripped with its
# sm_90 code, 4-5 MB gzip'd); bench/gpu_check.sh unpacks them first.
for f in "$CARRY"/bin/* "$CARRY"/lib/*; do
  if [ "$(stat -c %s "$f")" -gt 8000000 ]; then gzip -6 "$f"; fi
done
carried=$(du -sb "$CARRY" | cut -f1)
echo "$(awk "BEGIN { printf \"%8.1f MB\", $carried / 1e6 }")  carried in all, of the 64 MiB ($((64 * 1024 * 1024)) bytes) a device call carries" >>"$CARRY/MANIFEST"
echo "gpu_carry: $(du -sh "$CARRY" | cut -f1) in gpu_carry/ as carried"
if [ "$carried" -gt $((64 * 1024 * 1024)) ]; then
  echo "gpu_carry: $carried bytes exceed the 64 MiB a device call carries" >&2
  exit 1
fi
