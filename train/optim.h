// Optimizers over a model's parameters, in PyTorch's conventions (kernels/types.h states the
// update formulas). Each step runs the backend's fused update in place on every parameter's
// storage; the moments are tensors on the parameter's device.
//
// Two layouts. Per parameter (the default): one update launch per parameter, the moments
// allocated at its first update. Flat (OptimizerConfig::flat): the parameters, their gradients
// and the moments each live in one buffer, every parameter a view of its slot (slots start on
// 256-byte boundaries, the padding stays zero), and backward() adds the gradients straight into
// their slots (core/autograd.h, register_grad_storage). zero_grad() is then one fill and step()
// one launch over everything, with the learning rate and the step count read on the device, so a
// step can be captured into a CUDA graph and replayed. The values are the same: on the CPU the
// two layouts give bit-identical parameters.
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
  // One flat buffer each for parameters, gradients and moments (above). Every parameter is then
  // updated at every step, with a zero gradient where backward did not reach it (as PyTorch does
  // with zeroed gradients); the per-parameter layout skips such parameters.
  bool flat = false;
};

class Optimizer {
 public:
  // The moments of Adam (m, v) or SGD's velocity (in m); undefined until the first step.
  struct State {
    Tensor m;  // same shape as the parameter
    Tensor v;
  };

  // Flat: moves the parameters into the flat buffer (each Tensor handle keeps working: its
  // storage becomes the buffer) and gives each a gradient view that backward() adds into.
  Optimizer(std::vector<Tensor> params, OptimizerConfig config);
  // Flat: detaches the gradient views (the parameters stay views of the value buffer).
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update. Per parameter: every parameter that has a gradient; parameters without one are
  // left as they are (their moments do not move either). Flat: every parameter, in one launch.
  void step();
  // Per parameter: drops the gradients. Flat: fills the gradient buffer with zeros (one launch).
  void zero_grad();

  double lr() const { return config_.lr; }
  void set_lr(double lr);  // flat: also written to the device, ordered on its stream
  int64_t steps() const { return steps_; }  // Adam's t: bias corrections use steps() after ++
  const OptimizerConfig& config() const { return config_; }
  const std::vector<Tensor>& params() const { return params_; }
  // One per parameter (checkpointing). Flat: views of the moment buffers; a State replaced by
  // new tensors (a restored checkpoint) is copied into the buffers at the next step.
  std::vector<State>& state() { return state_; }
  void set_steps(int64_t t);  // flat: also the device's count

  // --- the flat layout --------------------------------------------------------------------------
  bool flat() const { return config_.flat; }
  // (n) all parameters' values / gradients, slot after slot; undefined unless flat.
  const Tensor& flat_values() const { return values_; }
  const Tensor& flat_grads() const { return grads_; }
  // Clips the gradients to a global L2 norm of max_norm, as clip_grad_norm does, on the device:
  // scales them by min(1, max_norm / (norm + 1e-6)) in place and returns the norm before
  // clipping as a device scalar, with no synchronisation. Flat only.
  Tensor clip_grad_norm_on_device(double max_norm);
  // Sets the host's step count only, leaving the device's: the bookkeeping of a step that a
  // replayed graph ran (the device counted it) or of a graph emulation.
  void set_host_steps(int64_t t) { steps_ = t; }

 private:
  void step_per_parameter();
  void step_flat();
  // Puts back any flat invariant that code outside the optimizer broke (a parameter, gradient
  // or moment rebound to another tensor) by copying that tensor into its slot: the values stay
  // the caller's, the layout the optimizer's.
  void restore_flat_views();
  size_t slot_bytes(size_t i) const { return static_cast<size_t>(offsets_[i]) * dtype_size(dtype_); }

  std::vector<Tensor> params_;
  OptimizerConfig config_;
  std::vector<State> state_;
  int64_t steps_ = 0;

  // Flat layout only.
  DType dtype_ = DType::f32;
  Device device_;
  std::vector<int64_t> offsets_;  // slot i starts at element offsets_[i] of every flat buffer
  Tensor values_, grads_, m_, v_;  // (n) each; m_ and v_ as the kind needs them
  std::vector<std::shared_ptr<TensorImpl>> grad_views_, m_views_, v_views_;
  Tensor lr_on_device_;    // (1) float64
  Tensor step_on_device_;  // (1) 8 bytes holding a uint64 count (allocated as float64 zeros)
  Tensor max_norm_;        // () the clip bound of the last clip_grad_norm_on_device
  double max_norm_value_ = 0;
};

// The global L2 norm of the parameters' gradients (those that have one).
double grad_norm(const std::vector<Tensor>& params);
// Scales every gradient by min(1, max_norm / (norm + 1e-6)) (PyTorch's clip_grad_norm_) and
// returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace ae::models
