// gradcheck: compares the backward of any function of tensors with float64 central differences.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ae {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-5;
  uint64_t seed = 7;   // of the random upstream gradient
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // the worst element when not ok
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs must be float64 CPU leaves; those with requires_grad are checked. The output is reduced
// to a scalar with a random weight per element, so every element's gradient path is exercised.
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace ae
