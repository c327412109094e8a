#include "run/online.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "run/diagnose.h"
#include "run/prepare.h"

namespace ae::run {
namespace {

models::StepOptions step_options(const models::TrainerConfig& t) {
  models::StepOptions o;
  o.mode = t.step_mode;
  o.clip_norm = t.clip_norm;
  return o;
}

}  // namespace

OnlineTraining::OnlineTraining(models::Model& model, const models::ModelSpec& spec,
                               const RunConfig& config)
    : OnlineTraining(model, spec, trainer_config(config)) {}

OnlineTraining::OnlineTraining(models::Model& model, const models::ModelSpec& spec,
                               const models::TrainerConfig& trainer)
    : model_(model),
      spec_(spec),
      step_(model, trainer.optimizer, step_options(trainer)),
      lr_(trainer.optimizer.lr),
      batch_size_(trainer.batch_size),
      warmup_steps_(trainer.lr_warmup_steps),
      since_(std::chrono::steady_clock::now()) {}

void OnlineTraining::fit(const Tensor& x, const std::function<void(int64_t)>& on_batch) {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0,
           "partial_fit: X must hold at least one row of (rows, features), got ",
           x.defined() ? x.str() : std::string("nothing"));
  AE_CHECK(x.device() == model_.device() && x.dtype() == model_.dtype(), "partial_fit: rows ",
           x.str(), ", but the model is on ", model_.device().str(), " in ",
           dtype_name(model_.dtype()));
  // Every value finite before any step: one non-finite row would turn every weight into NaN.
  try {
    models::value_range(x);
  } catch (const Error& e) {
    const std::string what = e.what(), prefix = "value_range: ";
    fail(cat("partial_fit: X ", what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what,
             "; nothing was trained on this call"));
  }
  const int64_t n = x.size(0);
  for (int64_t lo = 0; lo < n; lo += batch_size_) {
    const int64_t hi = std::min(n, lo + batch_size_);
    step_.set_lr(models::warmup_lr(lr_, step_.optimizer().steps(), warmup_steps_));
    step_.run(slice(x, lo, hi));
    rows_ += hi - lo;
    if (on_batch) on_batch(hi);
  }
}

OnlineTraining::Report OnlineTraining::take_report() {
  Report r;
  const models::StepTotals totals = step_.take_totals();
  r.rows = rows_;
  r.epoch.epoch = reports_++;
  r.epoch.train = totals.mean;
  r.epoch.lr = step_.optimizer().lr();
  r.epoch.steps = step_.optimizer().steps();
  const auto now = std::chrono::steady_clock::now();
  r.epoch.seconds = std::chrono::duration<double>(now - since_).count();
  since_ = now;
  rows_ = 0;
  r.sparsity = epoch_sparsity(model_, spec_, Tensor());
  AE_CHECK(totals.samples == 0 || std::isfinite(totals.mean.total), "partial_fit: training "
           "diverged: the mean loss over the last call's ", totals.samples, " rows is ",
           totals.mean.total, "; lower the learning rate (", r.epoch.lr, ")");
  return r;
}

}  // namespace ae::run
