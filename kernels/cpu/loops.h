// How the CPU backend's own loops run fast: each loop is a function compiled for AVX-512
// (x86-64-v4), AVX2 + FMA (x86-64-v3) and baseline x86-64, the loader picking one for the running
// CPU (GCC function multiversioning, AE_CPU_CLONES); and a loop over many elements splits into
// contiguous chunks over the process's one pool (OpenMP, the team OpenBLAS also runs on). Every
// element is computed by the same formula whatever the chunking and the clone (these files are
// compiled with -ffp-contract=off: no FMAs; tests/cpu/test_cpu_clones.cpp compares the clones'
// bits), so results do not depend on either; sums keep one fixed order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "kernels/cpu/cpu.h"

// clang (the asan preset) does not multiversion templates; sanitized builds need no clones.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define AE_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AE_CPU_CLONES
#endif

namespace ae::cpu {

// Elements per thread below which a loop runs on the calling thread alone: waking the team
// costs a few microseconds, about what 32k simple elementwise operations take.
inline constexpr int64_t kParallelGrain = int64_t(1) << 15;

// f(begin, end) over [0, n) in contiguous chunks, one per thread, on the process's pool when n is
// at least 2 * grain; f must not throw. Nested calls run on the calling thread.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
#if defined(_OPENMP)
  const int64_t threads = std::min<int64_t>(worker_threads(), n / std::max<int64_t>(grain, 1));
  if (threads > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
      if (begin < end) f(begin, end);
    }
    return;
  }
#endif
  f(0, n);
}

// f(std::integral_constant<Op, op>{}): the op as a compile-time constant, so that the formula's
// switch folds away and the loop around it vectorises.
#define AE_CPU_CASE(name) \
  case E::name: return f(std::integral_constant<E, E::name>{});
template <class F>
void with_op(UnaryOp op, F&& f) {
  using E = UnaryOp;
  switch (op) { AE_UNARY_OPS(AE_CPU_CASE) }
}
template <class F>
void with_op(BinaryOp op, F&& f) {
  using E = BinaryOp;
  switch (op) { AE_BINARY_OPS(AE_CPU_CASE) }
}
template <class F>
void with_op(LossOp op, F&& f) {
  using E = LossOp;
  switch (op) { AE_LOSS_OPS(AE_CPU_CASE) }
}
#undef AE_CPU_CASE

}  // namespace ae::cpu
