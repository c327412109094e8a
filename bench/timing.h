// Wall-clock timing for the CPU benchmarks: two calls timed in alternating groups.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>
#include <vector>

namespace ae::bench {

// Median microseconds of one call of each of a and b, over `samples` groups of back-to-back calls
// of about group_ms each, the groups of a and b alternating (so that both see the same load on
// a shared machine), after a warm-up of `warmup` calls of each. A call that queues device work
// must wait for it (synchronize) before it returns.
inline std::pair<double, double> median_us(const std::function<void()>& a,
                                           const std::function<void()>& b, int samples,
                                           double group_ms, int warmup) {
  using clock = std::chrono::steady_clock;
  auto group_us = [](const std::function<void()>& call, int count) {
    const auto t0 = clock::now();
    for (int i = 0; i < count; ++i) call();
    return std::chrono::duration<double, std::micro>(clock::now() - t0).count();
  };
  auto group_size = [&](const std::function<void()>& call) {
    group_us(call, warmup);
    const double one = std::max(group_us(call, 3) / 3, 1.0);
    return std::clamp(static_cast<int>(group_ms * 1e3 / one) + 1, 2, 10000);
  };
  const int na = group_size(a), nb = group_size(b);
  std::vector<double> ta, tb;
  for (int s = 0; s < samples; ++s) {
    ta.push_back(group_us(a, na) / na);
    tb.push_back(group_us(b, nb) / nb);
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

}  // namespace ae::bench
