// Optimizers over a model's parameters, in PyTorch's conventions (kernels/types.h states the
// update formulas). Each step runs the backend's fused update in place on every parameter's
// storage; the moments are tensors on the parameter's device.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ae::models {

//   sgd    momentum and Nesterov optional; weight_decay adds wd·p to the gradient
//   adam   weight_decay adds wd·p to the gradient (L2)
//   adamw  weight_decay is decoupled: p −= lr·wd·p beside the Adam step (Loshchilov and Hutter)
enum class OptimizerKind : uint8_t { sgd, adam, adamw };
const char* optimizer_name(OptimizerKind k);
OptimizerKind parse_optimizer(const std::string& name);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  double lr = 1e-3;
  double momentum = 0;   // sgd
  bool nesterov = false; // sgd, needs momentum > 0
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  double weight_decay = 0;
};

class Optimizer {
 public:
  // The moments of Adam (m, v) or SGD's velocity (in m); undefined until the first step.
  struct State {
    Tensor m;  // same shape as the parameter
    Tensor v;
  };

  Optimizer(std::vector<Tensor> params, OptimizerConfig config);

  // One update of every parameter that has a gradient; parameters without one are left as
  // they are (their moments do not move either).
  void step();
  void zero_grad();

  double lr() const { return config_.lr; }
  void set_lr(double lr) { config_.lr = lr; }
  int64_t steps() const { return steps_; }  // Adam's t: bias corrections use steps() after ++
  const OptimizerConfig& config() const { return config_; }
  const std::vector<Tensor>& params() const { return params_; }
  std::vector<State>& state() { return state_; }  // one per parameter (checkpointing)
  void set_steps(int64_t t) { steps_ = t; }

 private:
  std::vector<Tensor> params_;
  OptimizerConfig config_;
  std::vector<State> state_;
  int64_t steps_ = 0;
};

// The global L2 norm of the parameters' gradients (those that have one).
double grad_norm(const std::vector<Tensor>& params);
// Scales every gradient by min(1, max_norm / (norm + 1e-6)) (PyTorch's clip_grad_norm_) and
// returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace ae::models
