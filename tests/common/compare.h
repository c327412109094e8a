// Comparing a result with its reference by relative error, the one way every GPU-vs-CPU test
// does it: rel = ||got - want||_2 / ||want||_2 over all elements. A NaN or infinity on either
// side never passes, so an output element that was poisoned with NaN and never written fails.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ae::testing {

struct Comparison {
  int64_t size = 0;        // elements of want
  int64_t got_size = 0;    // elements of got: a mismatch fails
  double rel_error = 0;   // +inf when the sizes differ, or want is all zeros and got is not
  int64_t worst = -1;     // index of the largest |got - want| among finite pairs
  int64_t nonfinite = 0;  // indices where got or want is NaN or infinite
  // The worst pairs (largest |got - want| first) and the first non-finite ones, for the report.
  struct Pair {
    int64_t index;
    double got, want;
  };
  std::vector<Pair> worst_pairs;
  std::vector<Pair> nonfinite_pairs;

  bool within(double tol) const {
    return got_size == size && nonfinite == 0 && rel_error <= tol;
  }
  // "relative error 3.1e-04 (tol 1e-05) over 1000 elements; worst [17] got 0.1234 want 0.1240, ..."
  std::string report(double tol) const;
};

Comparison compare(std::span<const double> got, std::span<const double> want);
Comparison compare(std::span<const float> got, std::span<const float> want);

// For EXPECT_TRUE / ASSERT_TRUE: success when compare(got, want).within(tol); the failure
// message names `what` and carries the report.
::testing::AssertionResult relative_error_within(std::span<const double> got,
                                                 std::span<const double> want, double tol,
                                                 const std::string& what = "");
::testing::AssertionResult relative_error_within(std::span<const float> got,
                                                 std::span<const float> want, double tol,
                                                 const std::string& what = "");

}  // namespace ae::testing
