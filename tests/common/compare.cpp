#include "tests/common/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace ae::testing {

namespace {

constexpr size_t kPairsShown = 5;

template <class T>
Comparison compare_impl(std::span<const T> got, std::span<const T> want) {
  Comparison c;
  c.size = static_cast<int64_t>(want.size());
  c.got_size = static_cast<int64_t>(got.size());
  if (got.size() != want.size()) {
    c.rel_error = std::numeric_limits<double>::infinity();
    return c;
  }
  double diff2 = 0, want2 = 0, worst_abs = -1;
  std::vector<Comparison::Pair> worst;  // kept short: the largest differences seen so far
  auto by_diff = [](const Comparison::Pair& a, const Comparison::Pair& b) {
    return std::fabs(a.got - a.want) > std::fabs(b.got - b.want);
  };
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = got[i], w = want[i];
    if (!std::isfinite(g) || !std::isfinite(w)) {
      if (c.nonfinite_pairs.size() < kPairsShown)
        c.nonfinite_pairs.push_back({static_cast<int64_t>(i), g, w});
      ++c.nonfinite;
      continue;
    }
    const double d = g - w;
    diff2 += d * d;
    want2 += w * w;
    const double ad = std::fabs(d);
    if (ad > worst_abs) {
      worst_abs = ad;
      c.worst = static_cast<int64_t>(i);
    }
    if (ad > 0 &&
        (worst.size() < kPairsShown || ad > std::fabs(worst.back().got - worst.back().want))) {
      worst.push_back({static_cast<int64_t>(i), g, w});
      std::sort(worst.begin(), worst.end(), by_diff);
      if (worst.size() > kPairsShown) worst.pop_back();
    }
  }
  c.worst_pairs = std::move(worst);
  if (want2 > 0) c.rel_error = std::sqrt(diff2) / std::sqrt(want2);
  else c.rel_error = diff2 > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  return c;
}

template <class T>
::testing::AssertionResult within_impl(std::span<const T> got, std::span<const T> want,
                                       double tol, const std::string& what) {
  Comparison c = compare(got, want);
  if (c.within(tol)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << (what.empty() ? "" : what + ": ") << c.report(tol);
}

}  // namespace

std::string Comparison::report(double tol) const {
  std::ostringstream out;
  out.precision(9);
  if (got_size != size) {
    out << "got " << got_size << " elements, want " << size;
    return out.str();
  }
  out << "relative error " << rel_error << " (tol " << tol << ") over " << size << " elements";
  if (!worst_pairs.empty()) {
    out << "; worst:";
    for (const Pair& p : worst_pairs)
      out << " [" << p.index << "] got " << p.got << " want " << p.want << ";";
  }
  if (nonfinite > 0) {
    out << (worst_pairs.empty() ? ";" : "") << " " << nonfinite << " non-finite:";
    for (const Pair& p : nonfinite_pairs)
      out << " [" << p.index << "] got " << p.got << " want " << p.want << ";";
  }
  return out.str();
}

Comparison compare(std::span<const double> got, std::span<const double> want) {
  return compare_impl(got, want);
}
Comparison compare(std::span<const float> got, std::span<const float> want) {
  return compare_impl(got, want);
}

::testing::AssertionResult relative_error_within(std::span<const double> got,
                                                 std::span<const double> want, double tol,
                                                 const std::string& what) {
  return within_impl(got, want, tol, what);
}
::testing::AssertionResult relative_error_within(std::span<const float> got,
                                                 std::span<const float> want, double tol,
                                                 const std::string& what) {
  return within_impl(got, want, tol, what);
}

}  // namespace ae::testing
