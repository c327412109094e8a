#include "models/optim.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

const char* optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
  }
  fail(cat("optimizer_name: unknown optimizer ", static_cast<int>(k)));
}

OptimizerKind parse_optimizer(const std::string& name) {
  for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::adam, OptimizerKind::adamw})
    if (name == optimizer_name(k)) return k;
  fail(cat("parse_optimizer: unknown optimizer '", name, "' (sgd, adam, adamw)"));
}

Optimizer::Optimizer(std::vector<Tensor> params, OptimizerConfig config)
    : params_(std::move(params)), config_(config), state_(params_.size()) {
  AE_CHECK(config_.lr >= 0, "Optimizer: lr must be >= 0, got ", config_.lr);
  AE_CHECK(config_.momentum >= 0 && config_.weight_decay >= 0,
           "Optimizer: momentum and weight_decay must be >= 0, got ", config_.momentum, " and ",
           config_.weight_decay);
  AE_CHECK(!config_.nesterov || config_.momentum > 0, "Optimizer: nesterov needs momentum > 0");
  for (const Tensor& p : params_)
    AE_CHECK(p.defined() && p.is_leaf() && p.requires_grad(),
             "Optimizer: parameters must be leaves that require grad, got ", p.str());
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++steps_;
  const OptimizerConfig& c = config_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    AE_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(),
             "Optimizer: gradient ", g.str(), " for parameter ", p.str());
    State& s = state_[i];
    const Backend& be = backend(p.device());
    if (c.kind == OptimizerKind::sgd) {
      if (c.momentum > 0 && !s.m.defined()) s.m = Tensor::zeros(p.shape(), p.dtype(), p.device());
      SgdParams sp{c.lr, c.momentum, c.weight_decay, c.nesterov};
      be.sgd_update(p.dtype(), p.data(), g.data(), s.m.defined() ? s.m.data() : nullptr,
                    p.numel(), sp, stream(p.device()));
    } else {
      if (!s.m.defined()) {
        s.m = Tensor::zeros(p.shape(), p.dtype(), p.device());
        s.v = Tensor::zeros(p.shape(), p.dtype(), p.device());
      }
      AdamParams ap;
      ap.lr = c.lr;
      ap.beta1 = c.beta1;
      ap.beta2 = c.beta2;
      ap.eps = c.eps;
      ap.weight_decay = c.weight_decay;
      ap.decoupled = c.kind == OptimizerKind::adamw;
      ap.bias_correction1 = 1 - std::pow(c.beta1, static_cast<double>(steps_));
      ap.bias_correction2 = 1 - std::pow(c.beta2, static_cast<double>(steps_));
      be.adam_update(p.dtype(), p.data(), g.data(), s.m.data(), s.v.data(), p.numel(), ap,
                     stream(p.device()));
    }
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

double grad_norm(const std::vector<Tensor>& params) {
  NoGradGuard no_grad;
  Tensor total;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor s = sum(square(g));
    total = total.defined() ? total + s.to(total.device()) : s;
  }
  return total.defined() ? std::sqrt(total.item()) : 0.0;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  AE_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got ", max_norm);
  double norm = grad_norm(params);
  double scale = max_norm / (norm + 1e-6);
  if (scale >= 1) return norm;
  NoGradGuard no_grad;
  // Rebind each gradient instead of scaling it in place: autograd may hand one tensor to several
  // inputs (the two operands of an add), so gradients can share storage.
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) p.impl()->grad = (g * scale).impl_ptr();
  }
  return norm;
}

}  // namespace ae::models
