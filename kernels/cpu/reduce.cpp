#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/loops.h"

namespace ae::cpu {

namespace {

// Columns [i0, i1) of y[i] = scale * sum_j x[j, i] for one (n, inner) slab, in float64, summed
// over j in order whatever the split.
template <class T>
AE_CPU_CLONES void column_sums(const T* x, T* y, int64_t n, int64_t inner, int64_t i0, int64_t i1,
                               double scale) {
  double acc[256];
  for (int64_t s0 = i0; s0 < i1; s0 += 256) {
    const int64_t s1 = std::min<int64_t>(i1, s0 + 256);
    std::fill(acc, acc + (s1 - s0), 0.0);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = s0; i < s1; ++i) acc[i - s0] += static_cast<double>(x[j * inner + i]);
    for (int64_t i = s0; i < s1; ++i) y[i] = static_cast<T>(scale * acc[i - s0]);
  }
}

// y = scale * sum of x[0, n), in float64, in order (a row-wise walk keeps reads contiguous).
template <class T>
AE_CPU_CLONES double total(const T* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}

}  // namespace

// Sums accumulate in float64 for both element types: the reference should be the exact sum,
// rounded once.
void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                double scale, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    for (int64_t o = 0; o < outer; ++o) {
      const T* slab = xs + o * n * inner;
      if (inner == 1) {
        ys[o] = static_cast<T>(scale * total(slab, n));
        continue;
      }
      parallel_for(inner, std::max<int64_t>(16, kParallelGrain / std::max<int64_t>(n, 1)),
                   [&](int64_t i0, int64_t i1) {
                     column_sums(slab, ys + o * inner, n, inner, i0, i1, scale);
                   });
    }
  });
}

void expand(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
            double scale, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < inner; ++i)
          ys[(o * n + j) * inner + i] = static_cast<T>(scale * static_cast<double>(xs[o * inner + i]));
  });
}

}  // namespace ae::cpu
