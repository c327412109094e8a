#include <cblas.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "kernels/cpu/cpu.h"

namespace ae::cpu {

namespace {

template <class T>
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, T alpha, const T* a,
               int lda, const T* b, int ldb, T beta, T* c, int ldc) {
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

// A GEMM's parallel region costs more than its arithmetic saves when the GEMM is small: the
// pool's threads must be woken (each sleeps once its short spin is over), and on a machine whose
// cores other processes hold, the region waits at its end for a thread the scheduler has not run
// yet. A layer's three training GEMMs each do rows · in · out multiply-adds (batch rows, the
// layer's input and output widths). Measured with bench/bench_gemm_threads.cpp on 2 idle cores
// (docs/cpu-backend.md): from 8M multiply-adds the pool takes 0.52-0.63 of one thread's time,
// from 2M mostly less than one thread's; below 2M it saves at most a fifth (1M) and is often
// slower (a 21-to-256 layer, 0.3M-1.4M: up to 2x), while on busy cores the same 1M GEMMs on the
// pool made a small table's fit 4-18x slower. So a GEMM below kOneThreadBelow runs on the
// calling thread alone, and a model whose GEMMs are all that small (tens of features through
// ae's default 256-64 hidden layers at batch 64: at most 1M) trains without waking the pool
// (ae's own loops split only above 64k elements).
constexpr double kOneThreadBelow = 2e6;

int gemm_threads(int64_t m, int64_t n, int64_t k) {
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return work < kOneThreadBelow ? 1 : static_cast<int>(worker_threads());
}

// Row-major C = alpha op(A) op(B) + beta C through the BLAS, its transpose flags and leading
// dimensions reading A and B where they lie (no transposed copies). BLAS semantics match the
// entry's: beta = 0 ignores C's old contents (NaN included).
void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream) {
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  AE_CHECK(m >= 0 && n >= 0 && k >= 0 && m <= kMax && n <= kMax && k <= kMax,
           "cpu gemm: dimensions m ", m, ", n ", n, ", k ", k, " outside the BLAS's 32-bit range");
  if (m == 0 || n == 0) return;
  // OpenBLAS's OpenMP build runs a GEMM on as many threads as the calling thread's OpenMP
  // setting (omp_get_max_threads); openblas_set_num_threads sets it for this thread.
  const int threads = gemm_threads(m, n, k);
#if defined(_OPENMP)
  if (omp_get_max_threads() != threads) openblas_set_num_threads(threads);
#else
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
#endif
  // Leading dimensions of the stored (row-major) operands; the BLAS wants at least 1.
  const int lda = static_cast<int>(std::max<int64_t>(1, trans_a ? m : k));
  const int ldb = static_cast<int>(std::max<int64_t>(1, trans_b ? k : n));
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    blas_gemm<T>(ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), T(alpha),
                 static_cast<const T*>(a), lda, static_cast<const T*>(b), ldb, T(beta),
                 static_cast<T*>(c), static_cast<int>(n));
  });
}

void transpose(DType dt, const void* x, void* y, int64_t rows, int64_t cols, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) ys[c * rows + r] = xs[r * cols + c];
  });
}

}  // namespace ae::cpu
