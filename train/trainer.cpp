#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "data/dataset.h"
#include "models/vae.h"

namespace ae::models {

namespace {

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
  // The sums over every rank of comm, averaged over every rank's samples.
  LossValues mean_over(Communicator& comm) const {
    double s[5] = {0, 0, 0, 0, static_cast<double>(count)};
    if (count > 0) {
      const LossValues v = read(Losses{total, reconstruction, penalty, kl});
      s[0] = v.total, s[1] = v.reconstruction, s[2] = v.penalty, s[3] = v.kl;
    }
    comm.all_reduce_sum(s, 5, DType::f64, Device::cpu());
    if (s[4] == 0) return {};
    return {s[0] / s[4], s[1] / s[4], s[2] / s[4], s[3] / s[4]};
  }
};

// The communicator of a data-parallel run, else null. The single-process communicator is the
// plain run; MPI or NCCL with one rank take the data-parallel path (sharding, keyed noise, the
// gradient sum), which must then give the plain run's bits: how one GPU checks the NCCL path.
Communicator* parallel(Communicator* comm) {
  return comm != nullptr && (comm->size() > 1 || comm->kind() != CommKind::single) ? comm : nullptr;
}

void check_data(const char* what, const Tensor& x) {
  AE_CHECK(x.ndim() == 2 && x.size(0) > 0, "Trainer: ", what, " data must be (samples, features), got ",
           x.shape());
}

}  // namespace

LossValues evaluate(Model& model, const Tensor& x, int64_t batch_size, Communicator* comm) {
  check_data("evaluation", x);
  InMemoryRows rows(x.to(model.dtype()), model.device(), RowOrder{OrderKind::sequential});
  return evaluate(model, rows, batch_size, comm);
}

LossValues evaluate(Model& model, RowSource& rows, int64_t batch_size, Communicator* comm) {
  AE_CHECK(batch_size > 0, "evaluate: batch_size must be positive, got ", batch_size);
  batch_size = std::min(batch_size, rows.max_read());  // a streamed file's windows may hold fewer
  comm = parallel(comm);
  const int64_t rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  NoGradGuard no_grad;
  LossSums sums;
  const int64_t n = rows.size();
  rows.seek_epoch(0);
  for (int64_t start = 0, index = 0; start < n; start += batch_size, ++index) {
    if (index % ranks != rank) continue;  // batch `index` is rank index % N's
    int64_t stop = std::min(n, start + batch_size);
    sums.add(model.loss(rows.read(start, stop), LossContext{false, 0}), stop - start);
  }
  return comm ? sums.mean_over(*comm) : sums.mean();
}

// --- modes ------------------------------------------------------------------

const char* step_mode_name(StepMode m) {
  switch (m) {
    case StepMode::eager: return "eager";
    case StepMode::fused: return "fused";
    case StepMode::graph: return "graph";
  }
  fail(cat("step_mode_name: unknown mode ", static_cast<int>(m)));
}

StepMode parse_step_mode(const std::string& name) {
  for (StepMode m : {StepMode::eager, StepMode::fused, StepMode::graph})
    if (name == step_mode_name(m)) return m;
  fail(cat("'", name, "' is not one of eager, fused, graph"));
}

// --- TrainStep -----------------------------------------------------------------------------

namespace {

OptimizerConfig with_layout(OptimizerConfig c, StepMode mode) {
  c.flat = mode != StepMode::eager;
  return c;
}

std::vector<Tensor> values_of(const Model& model) {
  std::vector<Tensor> params;
  for (const Parameter& p : model.parameters()) params.push_back(p.value);
  return params;
}

// Resets the Philox offset counter of a device however the scope is left.
class RandCounterScope {
 public:
  RandCounterScope(Device d, const Tensor& counter) : device_(d) {
    backend(d).set_rand_offset_counter(d.index, static_cast<const uint64_t*>(counter.data()));
  }
  ~RandCounterScope() { backend(device_).set_rand_offset_counter(device_.index, nullptr); }
  RandCounterScope(const RandCounterScope&) = delete;
  RandCounterScope& operator=(const RandCounterScope&) = delete;

 private:
  Device device_;
};

}  // namespace

TrainStep::TrainStep(Model& model, const OptimizerConfig& optimizer, StepOptions options)
    : model_(model),
      optimizer_(values_of(model), with_layout(optimizer, options.mode)),
      options_(options),
      mode_(options.mode) {
  AE_CHECK(options_.clip_norm >= 0, "TrainStep: clip_norm must be >= 0, got ", options_.clip_norm);
  options_.comm = parallel(options_.comm);
  ranks_ = options_.comm ? options_.comm->size() : 1;
  AE_CHECK(!options_.comm || mode_ != StepMode::eager, "eager steps run in one process only; "
           "with the ", comm_kind_name(options_.comm ? options_.comm->kind() : CommKind::single),
           " communicator (", ranks_, " ranks) use the fused step mode (--step-mode fused), which "
           "sums the flat gradient buffer over the ranks");
  if (mode_ == StepMode::eager) return;
  sums_ = Tensor::zeros(Shape{5}, DType::f64, model_.device());
  zero_ = Tensor::zeros(Shape{}, model_.dtype(), model_.device());
  if (mode_ != StepMode::graph) return;
  if (options_.comm) {
    fall_back(cat("the gradient sum over ", ranks_, " ranks (",
                  comm_kind_name(options_.comm->kind()), ") cannot be captured"));
    return;
  }
  // What a graph would freeze although it changes from step to step, and is not read on the device.
  if (anomaly_detection())
    fall_back("anomaly detection reads every value back to the host");
  else if (const std::string why = model_.graph_obstacle(); !why.empty())
    fall_back(why);
  else if (const auto* vae = dynamic_cast<const Vae*>(&model_);
           vae && vae->config().beta.kind != BetaScheduleKind::constant)
    fall_back(cat("the VAE's beta schedule (", beta_schedule_name(vae->config().beta.kind),
                  ") changes with the step"));
}

TrainStep::~TrainStep() {
  if (graph_ == nullptr) return;
  try {
    synchronize(model_.device());  // no replay may still be running
    backend(model_.device()).graph_destroy(graph_);
  } catch (const std::exception& e) {  // a destructor reports, it does not throw
    std::fprintf(stderr, "ae: destroying the training step's graph failed: %s\n", e.what());
  }
}

void TrainStep::fall_back(const std::string& why) {
  mode_ = StepMode::fused;
  note_ = cat("graph mode unavailable: ", why, "; running fused steps");
}

void TrainStep::run(const Tensor& x, BatchShard shard) {
  if (options_.comm) return parallel_step(x, shard);
  AE_CHECK(shard.global_rows == 0 || (shard.first_row == 0 && x.defined() &&
                                      shard.global_rows == x.size(0)),
           "TrainStep: a shard of a global batch of ", shard.global_rows, " rows needs a ",
           "data-parallel communicator (MPI or NCCL)");
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0, "TrainStep: the batch must be ",
           "(batch, features), got ", x.defined() ? x.shape().str() : "undefined");
  AE_CHECK(x.device() == model_.device() && x.dtype() == model_.dtype(), "TrainStep: batch ",
           x.str(), " for a model in ", dtype_name(model_.dtype()), " on ", model_.device().str());
  if (mode_ == StepMode::eager) return eager_step(x);
  if (mode_ == StepMode::fused) return uncaptured_step(x);
  // One fused step first: it creates what the step creates lazily (the cuBLAS handle and its
  // workspace, the clip bound, the pool's blocks), which must not be allocated inside a capture.
  // Its batch size is the one captured.
  if (!input_.defined()) {
    input_ = Tensor::empty(x.shape(), x.dtype(), x.device());
    return uncaptured_step(x);
  }
  if (x.shape() != input_.shape()) return uncaptured_step(x);  // such as an epoch's last batch
  backend(x.device()).copy(input_.data(), x.data(), x.nbytes(),
                           x.device().is_cuda() ? CopyKind::device_to_device
                                                : CopyKind::host_to_device,
                           stream(x.device()));
  if (!captured_) capture();
  if (captured_) replay();
  else uncaptured_step(input_);  // the capture failed and fell back
}

void TrainStep::eager_step(const Tensor& x) {
  Losses l = model_.loss(x, LossContext{true, optimizer_.steps()});
  optimizer_.zero_grad();
  l.total.backward();
  model_.before_update();
  if (options_.clip_norm > 0)
    eager_norm_sum_ += clip_grad_norm(optimizer_.params(), options_.clip_norm);
  optimizer_.step();
  model_.after_update();
  NoGradGuard no_grad;
  const Tensor terms[4] = {l.total, l.reconstruction, l.penalty, l.kl};
  for (int i = 0; i < 4; ++i) {
    if (!terms[i].defined()) continue;
    Tensor w = terms[i].detach() * static_cast<double>(x.size(0));
    eager_sums_[i] = eager_sums_[i].defined() ? eager_sums_[i] + w : w;
  }
  samples_ += x.size(0);
  ++steps_;
}

void TrainStep::fused_step(const Tensor& x) {
  const Backend& be = backend(model_.device());
  const Stream s = stream(model_.device());
  optimizer_.zero_grad();
  {
    // Every tensor of the step dies in this scope: inside a capture, memory the step allocates
    // must be freed before the capture ends.
    Losses l = model_.loss(x, LossContext{true, optimizer_.steps()});
    l.total.backward();
    model_.before_update();
    const Tensor terms[4] = {l.total, l.reconstruction, l.penalty, l.kl};
    const void* values[4];
    for (int i = 0; i < 4; ++i) values[i] = terms[i].defined() ? terms[i].data() : zero_.data();
    auto sums = static_cast<double*>(sums_.data());
    be.accumulate_scalars(model_.dtype(), values, 4, static_cast<double>(x.size(0)), sums, s);
    if (options_.clip_norm > 0) {
      Tensor norm = optimizer_.clip_grad_norm_on_device(options_.clip_norm);
      const void* norm_value[1] = {norm.data()};
      be.accumulate_scalars(model_.dtype(), norm_value, 1, 1.0, sums + 4, s);
    }
  }
  optimizer_.step();
  model_.after_update();
}

void TrainStep::parallel_step(const Tensor& x, BatchShard shard) {
  Communicator& comm = *options_.comm;
  const int64_t rows = x.defined() ? x.size(0) : 0;
  const int64_t global_rows = shard.global_rows;
  const RowRange mine = shard_rows(std::max<int64_t>(global_rows, 0), comm.rank(), ranks_);
  AE_CHECK(global_rows > 0 && shard.first_row == mine.begin && rows == mine.size(),
           "TrainStep: rank ", comm.rank(), " of ", ranks_, " got rows [", shard.first_row, ", ",
           shard.first_row + rows, ") of a global batch of ", global_rows,
           " rows; its shard is rows [", mine.begin, ", ", mine.end, ") (shard_rows)");
  if (rows > 0)
    AE_CHECK(x.ndim() == 2 && x.device() == model_.device() && x.dtype() == model_.dtype(),
             "TrainStep: batch ", x.str(), " for a model in ", dtype_name(model_.dtype()), " on ",
             model_.device().str());
  const Device d = model_.device();
  const Backend& be = backend(d);
  const Stream s = stream(d);
  Generator& gen = model_.generator();
  optimizer_.zero_grad();
  if (rows > 0) {
    // The noise of this rank's rows is what those rows draw in a one-rank run of the batch.
    ShardScope keyed(gen, Generator::Shard{global_rows, shard.first_row, rows});
    Losses l = model_.loss(x, LossContext{true, optimizer_.steps()});
    // The batch's mean loss is the sum over the ranks of (b / B) times each shard's mean.
    (l.total * (static_cast<double>(rows) / static_cast<double>(global_rows))).backward();
    const Tensor terms[4] = {l.total, l.reconstruction, l.penalty, l.kl};
    const void* values[4];
    for (int i = 0; i < 4; ++i) values[i] = terms[i].defined() ? terms[i].data() : zero_.data();
    be.accumulate_scalars(model_.dtype(), values, 4, static_cast<double>(rows),
                          static_cast<double*>(sums_.data()), s);
  }
  // A rank without rows adds its zeroed gradient. The sum, like every rank's update, is the
  // same on every rank.
  const Tensor& grads = optimizer_.flat_grads();
  comm.all_reduce_sum(grads.data(), grads.numel(), grads.dtype(), d);
  model_.before_update();
  if (options_.clip_norm > 0) {
    Tensor norm = optimizer_.clip_grad_norm_on_device(options_.clip_norm);
    const void* norm_value[1] = {norm.data()};
    be.accumulate_scalars(model_.dtype(), norm_value, 1, 1.0, static_cast<double*>(sums_.data()) + 4, s);
  }
  optimizer_.step();
  model_.after_update();
  // A rank without rows drew nothing: it takes the position of the generator from the first rank
  // that drew (every rank knows which, from the batch's size alone).
  int root = -1;
  bool some_empty = false;
  for (int r = 0; r < ranks_; ++r) {
    const bool empty = shard_rows(global_rows, r, ranks_).size() == 0;
    some_empty = some_empty || empty;
    if (!empty && root < 0) root = r;
  }
  if (some_empty) {
    uint64_t offset = gen.offset();
    comm.broadcast(&offset, sizeof offset, root, Device::cpu());
    gen.set_offset(offset);
  }
  samples_ += rows;
  ++steps_;
}

void TrainStep::uncaptured_step(const Tensor& x) {
  const uint64_t before = model_.generator().offset();
  fused_step(x);
  samples_ += x.size(0);
  ++steps_;
  // After a capture the replays find the generator's position in the counter: keep it there.
  if (captured_)
    backend(model_.device())
        .counter_add(static_cast<uint64_t*>(rand_counter_.data()),
                     model_.generator().offset() - before, stream(model_.device()));
}

void TrainStep::capture() {
  const Device d = model_.device();
  const Backend& be = backend(d);
  const Stream s = stream(d);
  Generator& gen = model_.generator();
  capture_offset_ = gen.offset();
  capture_steps_ = optimizer_.steps();
  // The counter holds how far the generator has moved since the capture: 0 now. Adding 0 also
  // loads the counter's kernel outside the capture (an SGD step has not run it yet).
  rand_counter_ = Tensor::zeros(Shape{1}, DType::f64, d);  // 8 zero bytes: uint64 0
  auto counter = static_cast<uint64_t*>(rand_counter_.data());
  be.counter_add(counter, 0, s);
  if (options_.emulate_graph) {
    captured_ = true;  // emulated: each replay runs the step again (see StepOptions)
    return;
  }
  if (!be.graph_begin(s)) return fall_back(cat("the ", be.name, " backend cannot capture graphs"));
  std::string failure;
  try {
    RandCounterScope counted(d, rand_counter_);
    fused_step(input_);
    draws_per_step_ = gen.offset() - capture_offset_;
    draws_known_ = true;
    be.counter_add(counter, draws_per_step_, s);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  void* graph = nullptr;
  try {
    graph = be.graph_end(s);  // ends the capture, also after a failure inside it
  } catch (const std::exception& e) {
    if (failure.empty()) failure = e.what();
  }
  // Capturing ran nothing: the host's view of the generator and the step count goes back to the
  // capture, and the first replay is the captured step.
  gen.set_offset(capture_offset_);
  optimizer_.set_host_steps(capture_steps_);
  if (!failure.empty()) {
    if (graph != nullptr) be.graph_destroy(graph);
    return fall_back(cat("capturing the step failed: ", failure));
  }
  graph_ = graph;
  captured_ = true;
}

void TrainStep::replay() {
  const Device d = model_.device();
  const Backend& be = backend(d);
  Generator& gen = model_.generator();
  if (graph_ != nullptr) {
    be.graph_launch(graph_, stream(d));
  } else {
    // Emulated: the captured step again, with the host-side values as the capture saw them.
    const uint64_t offset = gen.offset();
    const int64_t steps = optimizer_.steps();
    gen.set_offset(capture_offset_);
    optimizer_.set_host_steps(capture_steps_);
    {
      RandCounterScope counted(d, rand_counter_);
      fused_step(input_);
    }
    const uint64_t drawn = gen.offset() - capture_offset_;
    AE_CHECK(!draws_known_ || drawn == draws_per_step_, "TrainStep: the captured step drew ",
             draws_per_step_, " random numbers, its replay ", drawn,
             " (the model's draws must not depend on the step)");
    draws_per_step_ = drawn;
    draws_known_ = true;
    be.counter_add(static_cast<uint64_t*>(rand_counter_.data()), draws_per_step_, stream(d));
    gen.set_offset(offset);
    optimizer_.set_host_steps(steps);
  }
  // The replay ran one step: the host's view follows the device's.
  gen.set_offset(gen.offset() + draws_per_step_);
  optimizer_.set_host_steps(optimizer_.steps() + 1);
  samples_ += input_.size(0);
  ++steps_;
}

StepTotals TrainStep::totals() const {
  StepTotals t;
  t.samples = samples_;
  t.steps = steps_;
  if (samples_ == 0) return t;
  const double n = static_cast<double>(samples_);
  double sums[5] = {0, 0, 0, 0, 0};
  if (mode_ == StepMode::eager) {
    for (int i = 0; i < 4; ++i) sums[i] = eager_sums_[i].defined() ? eager_sums_[i].item() : 0;
    sums[4] = eager_norm_sum_;
  } else {
    std::vector<double> v = sums_.to_vector();
    std::copy(v.begin(), v.end(), sums);
  }
  t.mean = {sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n};
  t.grad_norm = options_.clip_norm > 0 ? sums[4] / static_cast<double>(steps_) : 0;
  return t;
}

StepTotals TrainStep::take_totals() {
  StepTotals t = totals();
  if (options_.comm) {
    // The loss sums and sample counts of every rank; the gradient norm, taken after the sum of
    // the gradients, is the same on every rank already.
    const std::vector<double> sums = sums_.to_vector();  // data-parallel: fused steps
    double s[5] = {sums[0], sums[1], sums[2], sums[3], static_cast<double>(samples_)};
    options_.comm->all_reduce_sum(s, 5, DType::f64, Device::cpu());
    t.samples = static_cast<int64_t>(s[4]);
    if (t.samples > 0) t.mean = {s[0] / s[4], s[1] / s[4], s[2] / s[4], s[3] / s[4]};
  }
  for (Tensor& sum : eager_sums_) sum = Tensor();
  eager_norm_sum_ = 0;
  if (sums_.defined())
    backend(sums_.device()).fill(DType::f64, sums_.data(), 5, 0.0, stream(sums_.device()));
  samples_ = 0;
  steps_ = 0;
  return t;
}

namespace {

// The index of the first NaN or infinity in t (any dtype or device), or -1 if all are finite.
// Any NaN or infinity makes the sum non-finite, so a finite sum clears t with one reduction on its
// device; only a non-finite sum (or one of finite values that overflows) reads t back to the host,
// where an epoch's check of a 100-million-parameter model on the GPU would otherwise copy them all.
int64_t first_non_finite(const Tensor& t) {
  {
    NoGradGuard no_grad;
    if (std::isfinite(sum(t).item())) return -1;
  }
  const std::vector<double> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace

TrainResult Trainer::fit(Model& model, const Tensor& train, const Tensor& val,
                         TrainingState start) const {
  check_data("training", train);
  if (val.defined()) check_data("validation", val);
  InMemoryRows train_rows(train.to(model.dtype()), model.device(),
                          RowOrder{OrderKind::shuffled, config_.shuffle_seed});
  if (!val.defined()) return fit(model, train_rows, nullptr, start);
  InMemoryRows val_rows(val.to(model.dtype()), model.device(), RowOrder{OrderKind::sequential});
  return fit(model, train_rows, &val_rows, start);
}

TrainResult Trainer::fit(Model& model, RowSource& train, RowSource* val,
                         TrainingState start) const {
  const TrainerConfig& c = config_;
  AE_CHECK(train.size() > 0 && (val == nullptr || val->size() > 0),
           "Trainer: the training and validation rows must not be empty");
  AE_CHECK(c.epochs >= 0 && c.batch_size > 0, "Trainer: epochs must be >= 0 and batch_size > 0, ",
           "got ", c.epochs, " and ", c.batch_size);
  AE_CHECK(c.clip_norm >= 0 && c.patience >= 0, "Trainer: clip_norm and patience must be >= 0");
  AE_CHECK(c.batch_size <= train.max_read() || c.batch_size >= train.size(), "Trainer: batches of ",
           c.batch_size, " rows do not fit in the source's reads of at most ", train.max_read(),
           " rows (a streamed file's windows: a larger buffer)");
  AE_CHECK(start.epoch >= 0, "Trainer: the start epoch must be >= 0, got ", start.epoch);

  Communicator* comm = parallel(c.comm);
  TrainStep step(model, c.optimizer, StepOptions{c.step_mode, c.clip_norm, false, comm});
  TrainResult result;
  result.state = start;
  TrainingState& state = result.state;
  result.note = step.note();
  if (!result.note.empty() && c.on_note) c.on_note(result.note);
  if (const auto* ae = dynamic_cast<const Autoencoder*>(&model);
      comm && ae && ae->config().penalty == CodePenalty::kl_sparsity && c.on_note)
    c.on_note(cat("the KL sparsity penalty takes the mean activation over each rank's shard of ",
                  "about ", c.batch_size / comm->size(), " rows, not over the batch of ",
                  c.batch_size, ": ", comm->size(), " ranks train a slightly different model ",
                  "than one"));
  if (c.on_start) c.on_start(step);
  std::vector<Tensor> params = step.optimizer().params();  // handles: they share the parameters

  std::vector<Tensor> best;  // the best epoch's parameters (restore_best with validation)
  for (int64_t epoch = start.epoch; epoch < c.epochs; ++epoch) {
    auto started = std::chrono::steady_clock::now();
    const double epoch_lr = c.lr_schedule.at(c.optimizer.lr, epoch);
    step.set_lr(epoch_lr);
    // Batch b is the positions [b * batch_size, (b + 1) * batch_size) of the epoch's order.
    train.seek_epoch(epoch);
    const int64_t n = train.size();
    int64_t samples = 0;
    for (int64_t lo = 0; lo < n; lo += c.batch_size) {
      const int64_t hi = std::min(n, lo + c.batch_size);
      if (c.lr_warmup_steps > 0)
        step.set_lr(warmup_lr(epoch_lr, step.optimizer().steps(), c.lr_warmup_steps));
      if (comm == nullptr) {
        step.run(train.read(lo, hi));
      } else {  // every rank walks the global batches and reads and trains on its shard of each
        const RowRange mine = shard_rows(hi - lo, comm->rank(), comm->size());
        step.run(mine.size() > 0 ? train.read(lo + mine.begin, lo + mine.end) : Tensor(),
                 BatchShard{hi - lo, mine.begin});
      }
      samples += hi - lo;
      if (c.on_batch) c.on_batch(samples, step);
    }
    // A capture that failed on the way says so once, like one that could not start.
    if (result.note != step.note()) {
      result.note = step.note();
      if (c.on_note) c.on_note(result.note);
    }

    const StepTotals totals = step.take_totals();
    EpochReport report;
    report.epoch = epoch;
    report.train = totals.mean;
    report.lr = step.optimizer().lr();
    report.grad_norm = totals.grad_norm;
    report.steps = step.optimizer().steps();
    const std::string advice =
        cat("; lower the learning rate (", report.lr, ") or clip the gradient norm",
            c.clip_norm > 0 ? cat(" harder (now ", c.clip_norm, ")") : std::string());
    AE_CHECK(std::isfinite(report.train.total), "training diverged in epoch ", epoch + 1,
             ": the mean training loss is ", report.train.total, advice);
    // The training loss is taken before each step: the last step can still leave non-finite
    // parameters, which no checkpoint may hold (loading one refuses them).
    for (const Parameter& p : model.parameters()) {
      const int64_t bad = first_non_finite(p.value);
      AE_CHECK(bad < 0, "training diverged in epoch ", epoch + 1, ": parameter '", p.name,
               "' holds a non-finite value at flat index ", bad, advice);
    }
    if (val != nullptr) {
      report.val = evaluate(model, *val, 1024, comm);
      report.has_val = true;
      // NaN compares false with everything: it must never become the best epoch.
      AE_CHECK(std::isfinite(report.val.total), "training diverged in epoch ", epoch + 1,
               ": the mean validation loss is ", report.val.total, advice);
    }
    const double monitored = report.has_val ? report.val.total : report.train.total;
    report.best = state.best_epoch < 0 || monitored < state.best_loss;
    state.epoch = epoch + 1;
    state.step = report.steps;
    if (report.best) {
      state.best_epoch = epoch;
      state.best_loss = monitored;
      if (c.restore_best && val != nullptr) {
        best.clear();
        for (const Tensor& p : params) best.push_back(p.clone());
      }
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.history.push_back(report);
    if (c.on_epoch) c.on_epoch(report, state, step);
    if (c.patience > 0 && epoch - state.best_epoch >= c.patience) {
      result.stopped_early = true;
      break;
    }
  }
  result.best_epoch = state.best_epoch;
  result.best_loss = state.best_loss;
  step.optimizer().zero_grad();
  if (!best.empty()) {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  }
  return result;
}

}  // namespace ae::models
