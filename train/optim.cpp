#include "train/optim.h"

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
  fail(cat("'", name, "' is not one of sgd, adam, adamw"));
}

namespace {

// Slots start on 256-byte boundaries: every parameter view is aligned for packed kernel loads and
// for cuBLAS, whatever the sizes before it.
constexpr size_t kSlotAlign = 256;

CopyKind same_device_copy(Device d) {
  return d.is_cuda() ? CopyKind::device_to_device : CopyKind::host_to_device;
}

// A tensor of `shape` over flat's storage, `offset` elements in.
std::shared_ptr<TensorImpl> view_of(const Tensor& flat, int64_t offset, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = flat.impl()->storage;
  impl->offset = flat.impl()->offset + static_cast<size_t>(offset) * dtype_size(flat.dtype());
  impl->shape = shape;
  impl->dtype = flat.dtype();
  return impl;
}

// Copies src's elements into the view `slot` (same shape, dtype and device).
void copy_into_slot(const Tensor& src, const std::shared_ptr<TensorImpl>& slot, const char* what) {
  Tensor dst(slot);
  AE_CHECK(src.shape() == dst.shape() && src.dtype() == dst.dtype() && src.device() == dst.device(),
           "Optimizer: ", what, " ", src.str(), " for a slot of ", dst.str());
  backend(dst.device()).copy(dst.data(), src.data(), dst.nbytes(), same_device_copy(dst.device()),
                             stream(dst.device()));
}

}  // namespace

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
  if (!config_.flat) return;

  AE_CHECK(!params_.empty(), "Optimizer: the flat layout needs at least one parameter");
  dtype_ = params_[0].dtype();
  device_ = params_[0].device();
  const int64_t align = static_cast<int64_t>(kSlotAlign / dtype_size(dtype_));
  int64_t total = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    AE_CHECK(p.dtype() == dtype_ && p.device() == device_, "Optimizer: the flat layout needs one ",
             "dtype and device, got ", params_[0].str(), " and ", p.str());
    for (size_t j = 0; j < i; ++j)
      AE_CHECK(params_[j].impl() != p.impl(), "Optimizer: parameter ", i, " (", p.str(),
               ") is listed twice");
    offsets_.push_back(total);
    total += (p.numel() + align - 1) / align * align;
  }
  NoGradGuard no_grad;
  values_ = Tensor::zeros(Shape{total}, dtype_, device_);
  grads_ = Tensor::zeros(Shape{total}, dtype_, device_);
  const bool adam = config_.kind != OptimizerKind::sgd;
  if (adam || config_.momentum > 0) m_ = Tensor::zeros(Shape{total}, dtype_, device_);
  if (adam) v_ = Tensor::zeros(Shape{total}, dtype_, device_);
  for (size_t i = 0; i < params_.size(); ++i) {
    TensorImpl& p = *params_[i].impl();
    // The values move into their slot, and the parameter's own impl is rebound to it, so every
    // handle to the parameter (the model's layers) now reads and writes the slot.
    std::shared_ptr<TensorImpl> value = view_of(values_, offsets_[i], p.shape);
    copy_into_slot(params_[i], value, "parameter");
    p.storage = value->storage;
    p.offset = value->offset;
    grad_views_.push_back(view_of(grads_, offsets_[i], p.shape));
    if (p.grad) copy_into_slot(Tensor(p.grad), grad_views_[i], "gradient");
    p.grad = grad_views_[i];
    if (m_.defined()) {
      m_views_.push_back(view_of(m_, offsets_[i], p.shape));
      state_[i].m = Tensor(m_views_[i]);
    }
    if (v_.defined()) {
      v_views_.push_back(view_of(v_, offsets_[i], p.shape));
      state_[i].v = Tensor(v_views_[i]);
    }
  }
  lr_on_device_ = Tensor::full(Shape{1}, config_.lr, DType::f64, device_);
  step_on_device_ = Tensor::zeros(Shape{1}, DType::f64, device_);  // all bits 0: uint64 0
  // Last, once nothing can throw: a failed constructor runs no destructor to unregister.
  register_grad_storage(grads_.impl()->storage.get());
}

Optimizer::~Optimizer() {
  if (!config_.flat) return;
  unregister_grad_storage(grads_.impl()->storage.get());
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].impl()->grad == grad_views_[i]) params_[i].impl()->grad.reset();
}

void Optimizer::set_lr(double lr) {
  AE_CHECK(lr >= 0, "Optimizer: lr must be >= 0, got ", lr);
  config_.lr = lr;
  if (config_.flat)
    backend(device_).fill(DType::f64, lr_on_device_.data(), 1, lr, stream(device_));
}

void Optimizer::set_steps(int64_t t) {
  AE_CHECK(t >= 0, "Optimizer: the step count must be >= 0, got ", t);
  steps_ = t;
  if (config_.flat) {
    const uint64_t count = static_cast<uint64_t>(t);
    backend(device_).copy(step_on_device_.data(), &count, sizeof count, CopyKind::host_to_device,
                          stream(device_));
    synchronize(device_);  // `count` lives on this stack frame
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  if (config_.flat) step_flat();
  else step_per_parameter();
}

void Optimizer::step_per_parameter() {
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

void Optimizer::step_flat() {
  restore_flat_views();
  ++steps_;
  const OptimizerConfig& c = config_;
  const Backend& be = backend(device_);
  const Stream s = stream(device_);
  const auto lr = static_cast<const double*>(lr_on_device_.data());
  if (c.kind == OptimizerKind::sgd) {
    SgdParams sp{c.lr, c.momentum, c.weight_decay, c.nesterov};
    be.sgd_update_indirect(dtype_, values_.data(), grads_.data(), m_.defined() ? m_.data() : nullptr,
                           values_.numel(), sp, lr, s);
    return;
  }
  auto step = static_cast<uint64_t*>(step_on_device_.data());
  be.counter_add(step, 1, s);
  AdamParams ap;
  ap.beta1 = c.beta1;
  ap.beta2 = c.beta2;
  ap.eps = c.eps;
  ap.weight_decay = c.weight_decay;
  ap.decoupled = c.kind == OptimizerKind::adamw;
  be.adam_update_indirect(dtype_, values_.data(), grads_.data(), m_.data(), v_.data(),
                          values_.numel(), ap, lr, step, s);
}

void Optimizer::restore_flat_views() {
  const Backend& be = backend(device_);
  for (size_t i = 0; i < params_.size(); ++i) {
    TensorImpl& p = *params_[i].impl();
    const size_t offset = values_.impl()->offset + slot_bytes(i);
    if (p.storage != values_.impl()->storage || p.offset != offset) {
      copy_into_slot(params_[i], view_of(values_, offsets_[i], p.shape), "parameter");
      p.storage = values_.impl()->storage;
      p.offset = offset;
    }
    if (p.grad != grad_views_[i]) {
      if (p.grad) copy_into_slot(Tensor(p.grad), grad_views_[i], "gradient");
      else be.fill(dtype_, Tensor(grad_views_[i]).data(), p.shape.numel(), 0.0, stream(device_));
      p.grad = grad_views_[i];
    }
    auto restore_moment = [&](Tensor& moment, const std::shared_ptr<TensorImpl>& view) {
      if (moment.impl_ptr() == view) return;
      if (moment.defined()) copy_into_slot(moment, view, "optimizer state");
      else be.fill(dtype_, Tensor(view).data(), p.shape.numel(), 0.0, stream(device_));
      moment = Tensor(view);
    };
    if (m_.defined()) restore_moment(state_[i].m, m_views_[i]);
    if (v_.defined()) restore_moment(state_[i].v, v_views_[i]);
  }
}

void Optimizer::zero_grad() {
  if (!config_.flat) {
    for (Tensor& p : params_) p.zero_grad();
    return;
  }
  backend(device_).fill(dtype_, grads_.data(), grads_.numel(), 0.0, stream(device_));
  for (size_t i = 0; i < params_.size(); ++i) params_[i].impl()->grad = grad_views_[i];
}

Tensor Optimizer::clip_grad_norm_on_device(double max_norm) {
  AE_CHECK(config_.flat, "Optimizer: clip_grad_norm_on_device needs the flat layout");
  AE_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got ", max_norm);
  NoGradGuard no_grad;
  restore_flat_views();
  // The bound is a device scalar so that the coefficient is computed as the host formula does,
  // max_norm / (norm + 1e-6), rather than as a product with a rounded reciprocal.
  if (!max_norm_.defined() || max_norm_value_ != max_norm) {
    max_norm_ = Tensor::full(Shape{}, max_norm, dtype_, device_);
    max_norm_value_ = max_norm;
  }
  Tensor norm = sqrt(sum(square(grads_)));  // the zero padding adds nothing
  Tensor coef = clamp(max_norm_ / (norm + 1e-6), 0, 1);
  // grads (n, 1) *= coef (1): a row broadcast over one column, in place.
  backend(device_).binary_forward(BinaryOp::mul, dtype_, grads_.data(), coef.data(), grads_.data(),
                                  grads_.numel(), 1, Broadcast::row, stream(device_));
  return norm;
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
