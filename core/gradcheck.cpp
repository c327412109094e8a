#include "core/gradcheck.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae {

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& o) {
  for (size_t i = 0; i < inputs.size(); ++i)
    AE_CHECK(inputs[i].dtype() == DType::f64 && !inputs[i].device().is_cuda() &&
                 inputs[i].is_leaf(),
             "gradcheck: input ", i, " is ", inputs[i].str(), "; needs a float64 CPU leaf");

  Tensor y0 = f(inputs);
  Tensor weight = Tensor::randn(y0.shape(), o.seed, 0, DType::f64, Device::cpu());
  auto objective = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), weight)); };

  for (const Tensor& x : inputs) Tensor(x).zero_grad();
  Tensor loss = objective(inputs);
  loss.backward();

  GradcheckResult result;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    std::vector<double> analytic =
        g.defined() ? g.to_vector() : std::vector<double>(x.numel(), 0.0);
    double* data = x.data_as<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double saved = data[j];
      data[j] = saved + o.eps;
      const double up = objective(inputs).item();
      data[j] = saved - o.eps;
      const double down = objective(inputs).item();
      data[j] = saved;
      const double numeric = (up - down) / (2 * o.eps);
      const double err = std::fabs(analytic[j] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (!(err <= o.atol + o.rtol * std::fabs(numeric)) && result.ok) {
        result.ok = false;
        result.message = cat("input ", i, " ", x.shape(), " element ", j, ": analytic ",
                             analytic[j], " vs numeric ", numeric, " (x = ", saved, ")");
      }
    }
  }
  return result;
}

}  // namespace ae
