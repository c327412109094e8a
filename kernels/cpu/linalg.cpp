#include <cblas.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <type_traits>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "kernels/cpu/cpu.h"

namespace ae::cpu {

namespace {

// The cores this process may really use: the affinity mask, capped by a cgroup CPU quota
// (containers often see every core of the host but are throttled to a few; one thread per
// visible core would then oversubscribe the quota many times over).
int64_t usable_cores() {
  int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) cores = std::min<int64_t>(cores, CPU_COUNT(&set));
  auto cap_by_quota = [&](double quota, double period) {
    if (quota > 0 && period > 0)
      cores = std::min<int64_t>(cores, std::max<int64_t>(1, static_cast<int64_t>(quota / period)));
  };
  // cgroup v2: cpu.max ("max 100000" or "<quota> <period>") of this process's group and of
  // every group above it; v1: the cpu controller's cfs quota and period.
  std::string group;
  for (std::ifstream self("/proc/self/cgroup"); std::getline(self, group);)
    if (group.rfind("0::", 0) == 0) break;
  std::string dir = "/sys/fs/cgroup" + (group.rfind("0::", 0) == 0 ? group.substr(3) : "");
  for (;;) {
    std::string quota;
    double period = 0;
    if (std::ifstream v2(dir + "/cpu.max"); v2 >> quota >> period && quota != "max")
      cap_by_quota(std::atof(quota.c_str()), period);
    const size_t slash = dir.find_last_of('/');
    if (dir == "/sys/fs/cgroup" || slash == std::string::npos || slash < 14) break;
    dir.resize(slash);
  }
  double q = 0, period = 0;
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (q1 >> q && p1 >> period) cap_by_quota(q, period);
  return cores;
}

}  // namespace

int64_t worker_threads() {
  static const int64_t threads = [] {
    int64_t n = usable_cores();
    if (const char* env = std::getenv("AE_CPU_THREADS"); env && *env) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      AE_CHECK(*end == '\0' && v >= 1 && v <= 1024, "AE_CPU_THREADS=", env,
               ": expected a whole number of threads from 1 to 1024");
      n = v;
    }
    // One pool for the process: OpenBLAS's OpenMP build runs its GEMMs on libgomp's team, the
    // same persistent threads ae's own loops use (parallel.h); both are sized here, once.
    openblas_set_num_threads(static_cast<int>(std::min<int64_t>(n, 1024)));
#if defined(_OPENMP)
    omp_set_num_threads(static_cast<int>(n));
#endif
    return n;
  }();
  return threads;
}

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

// Row-major C = alpha op(A) op(B) + beta C through the BLAS, its transpose flags and leading
// dimensions reading A and B where they lie (no transposed copies). BLAS semantics match the
// entry's: beta = 0 ignores C's old contents (NaN included).
void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream) {
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  AE_CHECK(m >= 0 && n >= 0 && k >= 0 && m <= kMax && n <= kMax && k <= kMax,
           "cpu gemm: dimensions m ", m, ", n ", n, ", k ", k, " outside the BLAS's 32-bit range");
  if (m == 0 || n == 0) return;
  worker_threads();  // sizes the pool before the first GEMM
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
