#include "tests/common/testing.h"

#include <cmath>

namespace ae::testing {

Tensor leaf(const Shape& shape, uint64_t seed, const std::function<double(double)>& map,
            bool requires_grad) {
  std::vector<double> v = Tensor::randn(shape, seed, 0, DType::f64, Device::cpu()).to_vector();
  if (map)
    for (double& x : v) x = map(x);
  Tensor t = Tensor::from_host(v, shape, Device::cpu());
  if (requires_grad) t.requires_grad_();
  return t;
}

double positive(double v) { return 0.5 + 2.0 / (1.0 + std::exp(-v)); }
double away_from_zero(double v) { return v >= 0 ? v + 0.2 : v - 0.2; }
double probability(double v) { return 0.05 + 0.9 / (1.0 + std::exp(-v)); }

void expect_gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& options) {
  GradcheckResult r = gradcheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << r.message << " (max abs error " << r.max_abs_error << ")";
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ae::Error";
  return "";
}

}  // namespace ae::testing
