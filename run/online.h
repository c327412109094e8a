// Training on rows that arrive a batch at a time, with no data set and no epochs: Python's
// SparseAutoencoder.partial_fit, fed activations taken from another model as it runs.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

#include "run/config.h"
#include "run/run_folder.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace ae::run {

// The rows of each fit() are walked in order, one optimizer step per config.train.batch_size rows
// (a last chunk of fewer rows is one step too); the optimizer's state (Adam's moments, its step
// count) carries over from call to call. The learning rate warms up linearly over
// config.train.lr_warmup steps, counted over all calls, then stays at config.train.lr: with no
// epochs there is nothing for config.train.lr_schedule to follow. Clipping and the step mode are
// the configuration's.
class OnlineTraining {
 public:
  OnlineTraining(models::Model& model, const models::ModelSpec& spec, const RunConfig& config);

  // Steps over x (rows, features), in the model's (normalised) space, on its device and in its
  // dtype, rows > 0; on_batch(rows done) after each step.
  void fit(const Tensor& x, const std::function<void(int64_t)>& on_batch = {});

  // What the steps since the last take_report() added up to, as an epoch of `ae train` reports
  // it: `epoch` holds the loss terms averaged over the rows, the learning rate of the last step,
  // the steps so far and the seconds since the last report (its epoch counts the reports, from
  // 0); `sparsity` the code's figures over those steps (epoch_sparsity: a sparse autoencoder's
  // own counts, its dead latents by samples since firing over all calls). An error when the mean
  // loss is not finite.
  struct Report {
    models::EpochReport epoch;
    Sparsity sparsity;
    int64_t rows = 0;
  };
  Report take_report();

  int64_t steps() { return step_.optimizer().steps(); }

 private:
  OnlineTraining(models::Model& model, const models::ModelSpec& spec,
                 const models::TrainerConfig& trainer);

  models::Model& model_;
  const models::ModelSpec& spec_;
  models::TrainStep step_;
  double lr_ = 0;
  int64_t batch_size_ = 0, warmup_steps_ = 0;
  int64_t reports_ = 0, rows_ = 0;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace ae::run
