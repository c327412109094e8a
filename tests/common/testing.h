// Helpers for the CPU tests: seeded float64 leaves with inputs kept inside an op's domain.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/error.h"
#include "core/gradcheck.h"
#include "core/ops.h"

namespace ae::testing {

// A float64 CPU leaf of `shape`, standard normal from `seed`, each value passed through `map`.
Tensor leaf(const Shape& shape, uint64_t seed, const std::function<double(double)>& map = {},
            bool requires_grad = true);

// Maps keeping inputs away from kinks and outside domains, so central differences are valid.
double positive(double v);         // in [0.5, 2.5)
double away_from_zero(double v);   // |v| >= 0.2
double probability(double v);      // in (0.05, 0.95)

// EXPECT that gradcheck passes, printing the worst element otherwise.
void expect_gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& options = {});

// The message of the ae::Error that `f` throws ("" and a test failure if none is thrown).
std::string error_of(const std::function<void()>& f);

}  // namespace ae::testing
