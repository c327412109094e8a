#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace ae::cpu {

// Sums accumulate in float64 for both element types: the reference should be the exact sum,
// rounded once.
void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                double scale, Stream) {
  dispatch(dt, [&](auto* tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    std::vector<double> acc(static_cast<size_t>(inner));  // row-wise walk keeps reads contiguous
    for (int64_t o = 0; o < outer; ++o) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < inner; ++i) acc[i] += static_cast<double>(xs[(o * n + j) * inner + i]);
      for (int64_t i = 0; i < inner; ++i) ys[o * inner + i] = static_cast<T>(scale * acc[i]);
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
