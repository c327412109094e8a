#include "models/linear.h"

#include <cmath>

#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

int64_t parameter_count(const std::vector<Parameter>& params) {
  int64_t n = 0;
  for (const Parameter& p : params) n += p.value.numel();
  return n;
}

Init init_for(Activation act) {
  switch (act) {
    case Activation::identity:
    case Activation::sigmoid:
    case Activation::tanh: return Init::xavier_uniform;
    case Activation::relu:
    case Activation::leaky_relu:
    case Activation::softplus: return Init::he_normal;
  }
  fail("init_for: unknown activation");
}

Tensor init_weight(int64_t in, int64_t out, Init init, Generator& gen, Device device, DType dt) {
  AE_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in ", in, " out ", out);
  Shape shape{out, in};
  Tensor w;
  if (init == Init::xavier_uniform) {
    double a = std::sqrt(6.0 / static_cast<double>(in + out));
    w = affine(gen.rand(shape, dt, device), 2 * a, -a);  // (0, 1] -> (-a, a]
  } else {
    double std_dev = std::sqrt(2.0 / static_cast<double>(in));
    w = gen.randn(shape, dt, device) * std_dev;
  }
  w.requires_grad_();
  return w;
}

Tensor zero_bias(int64_t n, Device device, DType dt) {
  Tensor b = Tensor::zeros(Shape{n}, dt, device);
  b.requires_grad_();
  return b;
}

Linear Linear::create(int64_t in, int64_t out, Init init, Generator& gen, Device device,
                      DType dt) {
  return Linear{init_weight(in, out, init, gen, device, dt), zero_bias(out, device, dt)};
}

Tensor Linear::forward(const Tensor& x, Activation act) const {
  return linear_forward(x, weight, bias, act);
}

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act,
                      bool transposed) {
  return linear(x, weight, bias, unary_op(act), unary_params(act), !transposed);
}

}  // namespace ae::models
