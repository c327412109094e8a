#include "models/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <utility>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

namespace {

// A uniform draw from [0, n) without modulo bias: reject the top partial block of the range.
uint64_t bounded(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t r;
  do r = rng(); while (r >= limit);
  return r % n;
}

// Rows of host (N, D) in the order of idx, as a new tensor on `device`.
Tensor gather_rows(const Tensor& host, const std::vector<int64_t>& idx, Device device) {
  const int64_t n = host.size(0);
  const size_t row_bytes = host.nbytes() / static_cast<size_t>(n);
  Tensor out = Tensor::empty(host.shape(), host.dtype(), Device::cpu());
  const char* src = static_cast<const char*>(host.data());
  char* dst = static_cast<char*>(out.data());
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
  return out.to(device);
}

// Running sums of the loss terms, weighted by batch size, kept on the device until read.
struct LossSums {
  Tensor total, reconstruction, penalty, kl;
  int64_t count = 0;

  void add(const Losses& l, int64_t batch) {
    auto acc = [batch](Tensor& into, const Tensor& t) {
      Tensor w = t.detach() * static_cast<double>(batch);
      into = into.defined() ? into + w : w;
    };
    acc(total, l.total);
    acc(reconstruction, l.reconstruction);
    acc(penalty, l.penalty);
    acc(kl, l.kl);
    count += batch;
  }
  LossValues mean() const {
    if (count == 0) return {};
    LossValues v = read(Losses{total, reconstruction, penalty, kl});
    const double n = static_cast<double>(count);
    return {v.total / n, v.reconstruction / n, v.penalty / n, v.kl / n};
  }
};

void check_data(const char* what, const Tensor& x) {
  AE_CHECK(x.ndim() == 2 && x.size(0) > 0, "Trainer: ", what, " data must be (samples, features), got ",
           x.shape());
}

}  // namespace

std::vector<int64_t> shuffled_indices(int64_t n, std::mt19937_64& rng) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(idx[i], idx[bounded(rng, static_cast<uint64_t>(i) + 1)]);
  return idx;
}

LossValues evaluate(Model& model, const Tensor& x, int64_t batch_size) {
  check_data("evaluation", x);
  AE_CHECK(batch_size > 0, "evaluate: batch_size must be positive, got ", batch_size);
  NoGradGuard no_grad;
  Tensor data = x.to(model.device()).to(model.dtype());
  LossSums sums;
  const int64_t n = data.size(0);
  for (int64_t start = 0; start < n; start += batch_size) {
    int64_t stop = std::min(n, start + batch_size);
    sums.add(model.loss(slice(data, start, stop), LossContext{false, 0}), stop - start);
  }
  return sums.mean();
}

TrainResult Trainer::fit(Model& model, const Tensor& train, const Tensor& val) const {
  const TrainerConfig& c = config_;
  check_data("training", train);
  if (val.defined()) check_data("validation", val);
  AE_CHECK(c.epochs >= 0 && c.batch_size > 0, "Trainer: epochs must be >= 0 and batch_size > 0, ",
           "got ", c.epochs, " and ", c.batch_size);
  AE_CHECK(c.clip_norm >= 0 && c.patience >= 0, "Trainer: clip_norm and patience must be >= 0");

  std::vector<Tensor> params;
  for (const Parameter& p : model.parameters()) params.push_back(p.value);
  Optimizer optimizer(params, c.optimizer);
  std::mt19937_64 rng(c.shuffle_seed);
  Tensor host = train.to(Device::cpu()).to(model.dtype());
  const int64_t n = host.size(0);

  TrainResult result;
  std::vector<Tensor> best;  // the best epoch's parameters (restore_best with validation)
  int64_t since_best = 0;
  for (int64_t epoch = 0; epoch < c.epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    optimizer.set_lr(c.lr_schedule.at(c.optimizer.lr, epoch));
    Tensor data = gather_rows(host, shuffled_indices(n, rng), model.device());

    LossSums sums;
    double norm_sum = 0;
    int64_t batches = 0;
    for (int64_t b = 0; b < n; b += c.batch_size) {
      int64_t stop = std::min(n, b + c.batch_size);
      Losses l = model.loss(slice(data, b, stop), LossContext{true, optimizer.steps()});
      optimizer.zero_grad();
      l.total.backward();
      if (c.clip_norm > 0) norm_sum += clip_grad_norm(params, c.clip_norm);
      optimizer.step();
      sums.add(l, stop - b);
      ++batches;
    }

    EpochReport report;
    report.epoch = epoch;
    report.train = sums.mean();
    report.lr = optimizer.lr();
    report.grad_norm = c.clip_norm > 0 ? norm_sum / static_cast<double>(batches) : 0;
    report.steps = optimizer.steps();
    if (val.defined()) {
      report.val = evaluate(model, val);
      report.has_val = true;
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.history.push_back(report);
    if (c.on_epoch) c.on_epoch(report);

    const double monitored = report.has_val ? report.val.total : report.train.total;
    if (result.best_epoch < 0 || monitored < result.best_loss) {
      result.best_epoch = epoch;
      result.best_loss = monitored;
      since_best = 0;
      if (c.restore_best && val.defined()) {
        best.clear();
        for (const Tensor& p : params) best.push_back(p.clone());
      }
    } else if (c.patience > 0 && ++since_best >= c.patience) {
      result.stopped_early = true;
      break;
    }
  }
  optimizer.zero_grad();
  if (!best.empty()) {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  }
  return result;
}

}  // namespace ae::models
