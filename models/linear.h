// The fully connected layer y = x Wᵀ + b, its seeded initialisation, and named parameters.
//
// Layout: a weight is stored (out, in), row-major, like the rows of W in h = g(W x + b); a batch
// is (batch, features). Initial values come from an ae::Generator (Philox), so a model built
// from the same seed has the same parameters on the CPU and on a CUDA device.
#pragma once
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "models/activation.h"

namespace ae::models {

// A trainable tensor and the name a checkpoint stores it under ("encoder.0.weight").
struct Parameter {
  std::string name;
  Tensor value;
  bool is_weight = true;  // false for biases: regularizers skip them unless asked
};

int64_t parameter_count(const std::vector<Parameter>& params);

// Weight initialisation. Biases always start at zero.
//   xavier_uniform: U(-a, a), a = sqrt(6 / (in + out)) (Glorot and Bengio 2010, gain 1)
//   he_normal:      N(0, 2 / in) (He et al. 2015; leaky_relu's 0.01 slope changes this by 0.005%)
enum class Init : uint8_t { xavier_uniform, he_normal };
// Xavier for identity, sigmoid and tanh; He for the relu family (relu, leaky_relu, softplus).
Init init_for(Activation act);

struct Linear {
  Tensor weight;  // (out, in)
  Tensor bias;    // (out)

  static Linear create(int64_t in, int64_t out, Init init, Generator& gen, Device device,
                       DType dt = DType::f32);

  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }
  // act(x Wᵀ + b): x (batch, in) -> (batch, out), one GEMM and one fused epilogue.
  Tensor forward(const Tensor& x, Activation act = Activation::identity) const;
};

// act(x Wᵀ + b) with W (out, in), or, when `transposed`, act(x W + b): the tied decoder reading
// an encoder weight (out, in) as its own (in, out) through the GEMM's transpose flag, without a
// copy, so W's gradient sums both uses.
//   x (batch, in) -> (batch, out), or x (batch, out) -> (batch, in) when transposed.
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act,
                      bool transposed = false);

// Fresh weight tensors drawn from `gen`, as `init` says, marked as requiring gradients.
Tensor init_weight(int64_t in, int64_t out, Init init, Generator& gen, Device device, DType dt);
Tensor zero_bias(int64_t n, Device device, DType dt);

}  // namespace ae::models
