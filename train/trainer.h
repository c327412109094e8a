// Mini-batch training of any Model: shuffled batches, an optimizer step per batch (optionally
// with gradient clipping), a learning-rate schedule over epochs, validation each epoch, early
// stopping, and a per-epoch report. The same seeds give bit-identical runs on the CPU, and a run
// resumed from its TrainingState (with the optimizer restored) continues as if never stopped;
// `ae train` is this Trainer with hooks that write the run folder.
//
// The step itself (TrainStep) runs in one of three modes; all three compute the same function,
// and on the CPU eager and fused give bit-identical parameters (without clipping; with it the
// global norm is summed in another order):
//   eager  the reference: per-parameter optimizer, the losses summed as tensors, clipping with
//          a host-side norm (one synchronisation per step when clipping);
//   fused  the flat optimizer (train/optim.h: one launch for zero_grad, one for the update),
//          the losses and the gradient norm summed into device accumulators, clipping on the
//          device: no host synchronisation between the reads of the totals (once an epoch);
//   graph  fused, with the whole step (forward, backward, clipping, update) captured once as a
//          CUDA graph and replayed for every batch of the captured size (other sizes, such as an
//          epoch's last partial batch, run fused). Where no graph can be captured (the CPU, anomaly
//          detection on, a VAE whose β changes with the step) it runs fused and says why in a
//          one-line note.
//
// Data parallelism (StepOptions::comm / TrainerConfig::comm, core/comm.h): each of the N ranks
// runs the step on its shard of the global batch (shard_rows: B rows cut into contiguous shards
// of about B / N). Its loss is the mean over its b rows, weighted by b / B before backward, so
// that the sum of the ranks' gradients, taken in place over the flat gradient buffer between
// backward and the update, is the gradient of the global batch's mean loss; clipping and the
// update follow on every rank alike, so the parameters stay identical without being broadcast.
// The model's noise is keyed by the row of the global batch (Generator::Shard in core/random.h),
// so a row receives the same corruption and VAE draws on any number of ranks. A rank whose
// shard is empty (a last partial batch of fewer rows than ranks) runs no kernels: it adds a
// zero gradient and takes its generator position from a rank that drew. With N ranks the step is
// fused: graph mode falls back to it with a note (MPI's host-side sum cannot be captured), and
// eager mode is refused. Everything else (losses, the optimizer, the batch order) is the
// single-process run's, which N ranks reproduce up to the float rounding of the sums. A
// penalty on the batch's mean activation (kl_sparsity) sees its shard's mean, not the batch's.
//
// What a replayed graph must not freeze is read on the device: the optimizer's learning rate and
// step count, and the noise of denoising and variational models, whose Philox offsets are moved
// by a device counter that each replay advances (Backend::set_rand_offset_counter), so the n-th
// replay draws exactly the noise the n-th fused step would.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/comm.h"
#include "models/autoencoder.h"
#include "train/optim.h"
#include "data/rows.h"
#include "train/schedule.h"

namespace ae::models {

enum class StepMode : uint8_t { eager, fused, graph };
const char* step_mode_name(StepMode m);
StepMode parse_step_mode(const std::string& name);  // "eager", "fused" or "graph"

struct StepOptions {
  StepMode mode = StepMode::fused;
  double clip_norm = 0;  // max global gradient norm; 0 leaves gradients alone
  // Graph mode without capturing, on any backend (the CPU cannot capture; on CUDA it checks the
  // replay logic apart from the capture): emulate the graph. Each "replay" runs the captured step
  // again with every host-side value frozen at the
  // capture (the generator's offsets, the step count the model sees), reading the learning rate,
  // the optimizer's step count and the noise offsets from the device counters, exactly as a
  // replayed graph does. For testing that a model and the step are replay-safe.
  bool emulate_graph = false;
  // Data-parallel over the ranks of this communicator (see above); null or the single-process
  // one: this process alone. MPI or NCCL with one rank run the data-parallel step, which gives
  // the plain step's bits (the check of that path on one GPU). Not owned; it must outlive the step.
  Communicator* comm = nullptr;
};

// Where a rank's rows lie in a data-parallel step's global batch (the default: x is the batch).
struct BatchShard {
  int64_t global_rows = 0;  // B, the global batch's rows; 0 when x is the whole batch
  int64_t first_row = 0;    // the global position of x's first row (shard_rows(B, rank, N).begin)
};

// What the steps since the last take_totals() added up to.
struct StepTotals {
  LossValues mean;        // the loss terms averaged over the samples
  double grad_norm = 0;   // the mean pre-clipping gradient norm per step (0 unless clipping)
  int64_t samples = 0;
  int64_t steps = 0;
};

// One optimizer step per batch of a model, in the mode StepOptions says. Between run() calls the
// parameters may be read and overwritten in place (copy_), but not rebound.
class TrainStep {
 public:
  TrainStep(Model& model, const OptimizerConfig& optimizer, StepOptions options = {});
  ~TrainStep();
  TrainStep(const TrainStep&) = delete;
  TrainStep& operator=(const TrainStep&) = delete;

  // One step on the batch x (batch, features), on the model's device and in its dtype. Returns
  // without waiting for the device (except in eager mode with clipping). With a communicator of
  // N > 1 ranks, x is this rank's shard of the global batch `shard` describes (undefined when the
  // shard is empty), every rank calls run() for every global batch, and the step waits for the
  // sum of the gradients over the ranks.
  void run(const Tensor& x, BatchShard shard = {});
  void set_lr(double lr) { optimizer_.set_lr(lr); }
  Optimizer& optimizer() { return optimizer_; }
  StepMode mode() const { return mode_; }  // the mode in use (graph may have fallen back)
  // Reads the totals since the last take_totals() (one synchronisation) and starts new ones. With
  // N ranks, summed over the ranks (a collective: every rank calls it).
  StepTotals take_totals();
  // Reads them and leaves them running (progress displays): this rank's shards only.
  StepTotals totals() const;
  int ranks() const { return ranks_; }  // the communicator's size, 1 without one
  bool graph_captured() const { return captured_; }
  const std::string& note() const { return note_; }  // why graph mode fell back; "" otherwise

 private:
  void eager_step(const Tensor& x);
  void fused_step(const Tensor& x);  // no synchronisation; capturable
  void uncaptured_step(const Tensor& x);
  void parallel_step(const Tensor& x, BatchShard shard);  // N > 1 ranks
  void fall_back(const std::string& why);
  void capture();
  void replay();

  Model& model_;
  Optimizer optimizer_;
  StepOptions options_;
  StepMode mode_;
  int ranks_ = 1;
  std::string note_;

  // eager mode: the loss terms summed as tensors, weighted by batch size; the clip norms on the host
  Tensor eager_sums_[4];
  double eager_norm_sum_ = 0;
  // fused and graph modes: (5) float64 on the device: the loss terms weighted by batch size, the
  // gradient norms
  Tensor sums_;
  Tensor zero_;  // () a zero for a loss term a model leaves undefined
  int64_t samples_ = 0, steps_ = 0;

  // graph mode
  Tensor input_;                   // (batch, features) the captured step's input
  Tensor rand_counter_;            // (1) uint64 bits: the Philox offset counter of the replays
  void* graph_ = nullptr;
  bool captured_ = false;
  uint64_t capture_offset_ = 0;    // the generator's offset when the step was captured
  int64_t capture_steps_ = 0;      // the optimizer's step count then
  uint64_t draws_per_step_ = 0;    // how far one step moves the generator
  bool draws_known_ = false;
};

// Where a run stands between epochs; a checkpoint stores it so that a run can resume.
struct TrainingState {
  int64_t epoch = 0;       // epochs completed
  int64_t step = 0;        // optimizer steps taken
  int64_t best_epoch = -1; // the epoch with the lowest monitored loss, -1 before any
  double best_loss = std::numeric_limits<double>::infinity();
};

struct EpochReport {
  int64_t epoch = 0;     // counted from 0
  LossValues train;      // averaged over the epoch's samples, as measured during the epoch
  LossValues val;        // the whole validation set after the epoch (when one is given)
  bool has_val = false;
  bool best = false;     // the lowest monitored loss so far (validation, else training)
  double lr = 0;         // the learning rate used during the epoch
  double grad_norm = 0;  // mean pre-clipping gradient norm over the epoch (0 unless clipping)
  int64_t steps = 0;     // optimizer steps taken so far
  double seconds = 0;    // wall time of the epoch, validation included
};

struct TrainerConfig {
  int64_t epochs = 10;       // the run ends after this many epochs in all (a resumed run included)
  int64_t batch_size = 128;  // the last batch of an epoch may be smaller
  OptimizerConfig optimizer;
  LrSchedule lr_schedule;    // evaluated at each epoch from optimizer.lr
  // A linear warm-up over the first steps, times the schedule's rate: step t (from 0, counted
  // over the whole run, so a resumed run goes on where it was) runs at min(1, (t + 1) / W).
  int64_t lr_warmup_steps = 0;
  double clip_norm = 0;      // max global gradient norm; 0 leaves gradients alone
  int64_t patience = 0;      // stop after this many epochs without a lower validation loss; 0 never
  bool restore_best = true;  // with validation data, end with the best epoch's parameters
  // The batch order: epoch e walks permutation(n, shuffle_seed, e) (data/dataset.h), so a resumed
  // run sees the batches the uninterrupted one would have.
  uint64_t shuffle_seed = 0;
  StepMode step_mode = StepMode::fused;  // how each step runs (TrainStep above)
  // Once, with the step built, before the first epoch: a resumed run restores its optimizer here.
  std::function<void(TrainStep&)> on_start;
  // After each step, with the samples seen so far in the epoch (progress displays).
  std::function<void(int64_t samples, TrainStep&)> on_batch;
  // After each epoch and its validation, with the state already advanced past it.
  std::function<void(const EpochReport&, const TrainingState&, TrainStep&)> on_epoch;
  std::function<void(const std::string&)> on_note;  // called with the step's note, if any
  // Data-parallel over these ranks (TrainStep above): every rank calls fit() with the same data,
  // configuration and start, walks every global batch of batch_size rows and trains on its
  // shard; validation is shared out and summed over the ranks. Null: this process alone.
  Communicator* comm = nullptr;
};

struct TrainResult {
  std::vector<EpochReport> history;  // the epochs this call ran
  TrainingState state;               // where the run stands at the end
  int64_t best_epoch = -1;  // the epoch with the lowest validation (else training) total loss
  double best_loss = 0;
  bool stopped_early = false;
  std::string note;  // why graph mode fell back to fused, or ""
};

class Trainer {
 public:
  explicit Trainer(TrainerConfig config) : config_(std::move(config)) {}
  const TrainerConfig& config() const { return config_; }

  // Trains `model` on the rows of `train` (N, features), on any device; `val` may be undefined.
  // From `start` (a resumed run: the model and, through on_start, the optimizer restored to it)
  // up to config.epochs epochs in all. A non-finite training or validation loss, or a non-finite
  // parameter after an epoch, ends the run with an error ("training diverged in epoch N: ...")
  // before on_epoch sees that epoch.
  // The rows are walked in the shuffled order of config.shuffle_seed (data/rows.h).
  TrainResult fit(Model& model, const Tensor& train, const Tensor& val = {},
                  TrainingState start = {}) const;
  // The same from any source of rows on the model's device and in its dtype (an InMemoryRows
  // with another order, or a file streamed in blocks): epoch e reads the positions [0, n) of
  // the source's epoch e in batches of config.batch_size; `val` (may be null) is evaluated
  // after each epoch as evaluate() does.
  TrainResult fit(Model& model, RowSource& train, RowSource* val = nullptr,
                  TrainingState start = {}) const;

 private:
  TrainerConfig config_;
};

// The model's losses over all rows of x, in evaluation mode (no corruption, no gradients),
// averaged over the samples. With a communicator of N ranks (a collective: each calls it with
// the same rows), rank r evaluates the batches r, r + N, ... and the sums are added over the
// ranks; a batch's losses are the same on any rank (a VAE's evaluation draws are keyed by the
// batch), so the result is the one-rank result up to the rounding of the sums.
LossValues evaluate(Model& model, const Tensor& x, int64_t batch_size = 1024,
                    Communicator* comm = nullptr);
// The same over the positions [0, n) of a source's epoch 0, in batches of batch_size.
LossValues evaluate(Model& model, RowSource& rows, int64_t batch_size = 1024,
                    Communicator* comm = nullptr);

}  // namespace ae::models
