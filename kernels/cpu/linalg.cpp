#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

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
    if (const char* env = std::getenv("AE_CPU_THREADS"); env && *env) {
      char* end = nullptr;
      const long n = std::strtol(env, &end, 10);
      AE_CHECK(*end == '\0' && n >= 1 && n <= 1024, "AE_CPU_THREADS=", env,
               ": expected a whole number of threads from 1 to 1024");
      return static_cast<int64_t>(n);
    }
    return usable_cores();
  }();
  return threads;
}

namespace {

// op(X) stored densely as (rows, cols): a transposed copy when `trans`, else X itself.
template <class T>
const T* dense(const T* x, bool trans, int64_t rows, int64_t cols, std::vector<T>& scratch) {
  if (!trans) return x;
  scratch.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) scratch[r * cols + c] = x[c * rows + r];
  return scratch.data();
}

// Rows [r0, r1) of C = alpha A B + beta C with A (m, k) and B (k, n) dense. The i-p-j order
// streams rows of B; each row of C is summed in the same order whatever the split, so the
// result does not depend on the number of threads.
template <class T>
void gemm_rows(int64_t r0, int64_t r1, int64_t n, int64_t k, T alpha, const T* a, const T* b,
               T beta, T* c) {
  std::vector<T> acc(static_cast<size_t>(n));
  for (int64_t i = r0; i < r1; ++i) {
    std::fill(acc.begin(), acc.end(), T(0));
    const T* ai = a + i * k;
    for (int64_t p = 0; p < k; ++p) {
      const T aip = ai[p];
      const T* bp = b + p * n;
      for (int64_t j = 0; j < n; ++j) acc[j] += aip * bp[j];
    }
    T* ci = c + i * n;
    for (int64_t j = 0; j < n; ++j) ci[j] = alpha * acc[j] + (beta == T(0) ? T(0) : beta * ci[j]);
  }
}

}  // namespace

void gemm(DType dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, const void* b, double beta, void* c, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    std::vector<T> sa, sb;
    const T* da = dense(static_cast<const T*>(a), trans_a, m, k, sa);
    const T* db = dense(static_cast<const T*>(b), trans_b, k, n, sb);
    T* dc = static_cast<T*>(c);
    // Split rows over the cores once the product is large enough to pay for the threads.
    int64_t threads = std::min<int64_t>(worker_threads(), m);
    if (m * n * k < (int64_t(1) << 20)) threads = 1;
    std::vector<std::thread> pool;
    int64_t per = threads ? (m + threads - 1) / threads : 0;
    for (int64_t t = 1; t < threads; ++t) {
      int64_t r0 = t * per, r1 = std::min(m, r0 + per);
      if (r0 < r1) pool.emplace_back(gemm_rows<T>, r0, r1, n, k, T(alpha), da, db, T(beta), dc);
    }
    gemm_rows<T>(0, std::min(m, per), n, k, T(alpha), da, db, T(beta), dc);
    for (auto& th : pool) th.join();
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
