// Mini-batch training of any Model: shuffled batches, an optimizer step per batch (optionally
// with gradient clipping), a learning-rate schedule over epochs, validation each epoch, early
// stopping, and a per-epoch report. The same seeds give bit-identical runs on the CPU.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "models/autoencoder.h"
#include "models/optim.h"
#include "models/schedule.h"

namespace ae::models {

struct EpochReport {
  int64_t epoch = 0;     // counted from 0
  LossValues train;      // averaged over the epoch's samples, as measured during the epoch
  LossValues val;        // the whole validation set after the epoch (when one is given)
  bool has_val = false;
  double lr = 0;         // the learning rate used during the epoch
  double grad_norm = 0;  // mean pre-clipping gradient norm over the epoch (0 unless clipping)
  int64_t steps = 0;     // optimizer steps taken so far
  double seconds = 0;    // wall time of the epoch, validation included
};

struct TrainerConfig {
  int64_t epochs = 10;
  int64_t batch_size = 128;  // the last batch of an epoch may be smaller
  OptimizerConfig optimizer;
  LrSchedule lr_schedule;    // evaluated at each epoch from optimizer.lr
  double clip_norm = 0;      // max global gradient norm; 0 leaves gradients alone
  int64_t patience = 0;      // stop after this many epochs without a lower validation loss; 0 never
  bool restore_best = true;  // with validation data, end with the best epoch's parameters
  uint64_t shuffle_seed = 0; // the batch order: a Fisher–Yates shuffle from std::mt19937_64
  std::function<void(const EpochReport&)> on_epoch;  // called after each epoch
};

struct TrainResult {
  std::vector<EpochReport> history;
  int64_t best_epoch = -1;  // the epoch with the lowest validation (else training) total loss
  double best_loss = 0;
  bool stopped_early = false;
};

class Trainer {
 public:
  explicit Trainer(TrainerConfig config) : config_(std::move(config)) {}
  const TrainerConfig& config() const { return config_; }

  // Trains `model` on the rows of `train` (N, features), on any device; `val` may be undefined.
  TrainResult fit(Model& model, const Tensor& train, const Tensor& val = {}) const;

 private:
  TrainerConfig config_;
};

// The model's losses over all rows of x, in evaluation mode (no corruption, no gradients),
// averaged over the samples.
LossValues evaluate(Model& model, const Tensor& x, int64_t batch_size = 1024);

// A uniformly random permutation of 0 .. n−1 (Fisher–Yates). Written out rather than
// std::shuffle so the order is the same with every standard library.
std::vector<int64_t> shuffled_indices(int64_t n, std::mt19937_64& rng);

}  // namespace ae::models
