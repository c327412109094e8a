// The trainer: deterministic runs, shuffling, per-term loss reports, validation, early stopping
// with the best parameters restored, and the per-epoch callback.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/dataset.h"
#include "train/trainer.h"
#include "models/vae.h"
#include "tests/common/step_models.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using test::quick_trainer;

using ae::testing::shapes_rows;

// A denoising, sparse model: its training draws noise, so determinism covers the generator too.
AutoencoderConfig noisy_sparse() {
  AutoencoderConfig c;
  c.widths = {64, 24, 8};
  c.noise = {NoiseKind::masking, 0.2};
  c.penalty = CodePenalty::kl_sparsity;
  c.penalty_weight = 0.5;
  c.l2 = 1e-4;
  return c;
}

std::vector<std::vector<float>> trained_params(uint64_t model_seed, uint64_t shuffle_seed) {
  Autoencoder model(noisy_sparse(), model_seed, Device::cpu());
  TrainerConfig t = quick_trainer(3, 3e-3, shuffle_seed);
  t.clip_norm = 5;
  Trainer(t).fit(model, shapes_rows(500, 1), shapes_rows(100, 2));
  std::vector<std::vector<float>> out;
  for (const Parameter& p : model.parameters()) out.push_back(p.value.to_floats());
  return out;
}

TEST(ModelsTrainer, SameSeedsGiveBitIdenticalParameters) {
  auto a = trained_params(1, 1), b = trained_params(1, 1);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "parameter " << i;
  EXPECT_NE(trained_params(2, 1), a);  // another model seed
  EXPECT_NE(trained_params(1, 2), a);  // another batch order
}

std::vector<float> all_params(const Model& model) {
  std::vector<float> all;
  for (const Parameter& p : model.parameters()) {
    std::vector<float> v = p.value.to_floats();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// A run stopped after 2 of 5 epochs and resumed from its state, with the optimizer's moments
// put back through on_start, ends bit-identical to the run that was never stopped: the batch
// order of epoch e does not depend on the epochs before it.
TEST(ModelsTrainer, ResumingFromTheStateContinuesExactly) {
  const Tensor train = shapes_rows(300, 12), val = shapes_rows(60, 13);
  TrainerConfig t = quick_trainer(5, 3e-3, 7);
  Autoencoder straight(noisy_sparse(), 6, Device::cpu());
  const TrainResult whole = Trainer(t).fit(straight, train, val);

  Autoencoder resumed(noisy_sparse(), 6, Device::cpu());
  t.epochs = 2;
  t.restore_best = false;  // the stopped run keeps its last parameters, as a checkpoint does
  std::vector<Optimizer::State> moments;
  int64_t steps = 0;
  t.on_epoch = [&](const EpochReport&, const TrainingState&, TrainStep& step) {
    moments.clear();
    for (const Optimizer::State& s : step.optimizer().state())
      moments.push_back({s.m.clone(), s.v.clone()});
    steps = step.optimizer().steps();
  };
  const TrainResult first = Trainer(t).fit(resumed, train, val);
  EXPECT_EQ(first.state.epoch, 2);
  EXPECT_EQ(first.state.step, steps);

  t.epochs = 5;
  t.restore_best = true;
  t.on_epoch = nullptr;
  t.on_start = [&](TrainStep& step) {
    step.optimizer().state() = moments;
    step.optimizer().set_steps(steps);
  };
  const TrainResult second = Trainer(t).fit(resumed, train, val, first.state);
  ASSERT_EQ(second.history.size(), 3u);
  EXPECT_EQ(second.history.front().epoch, 2);
  EXPECT_EQ(second.state.epoch, 5);
  EXPECT_EQ(second.best_epoch, whole.best_epoch);
  EXPECT_EQ(second.best_loss, whole.best_loss);
  EXPECT_EQ(second.history.back().val.total, whole.history.back().val.total);
  EXPECT_EQ(all_params(resumed), all_params(straight));
}

TEST(ModelsTrainer, ReportsEachLossTermEveryEpoch) {
  Autoencoder model(noisy_sparse(), 3, Device::cpu());
  std::vector<int64_t> seen;
  TrainerConfig t = quick_trainer(4);
  t.lr_schedule = {LrScheduleKind::step, 2, 0.5};
  t.on_epoch = [&](const EpochReport& r, const TrainingState&, TrainStep&) {
    seen.push_back(r.epoch);
  };
  Tensor train = shapes_rows(600, 4), val = shapes_rows(200, 5);
  TrainResult r = Trainer(t).fit(model, train, val);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  ASSERT_EQ(r.history.size(), 4u);
  for (const EpochReport& e : r.history) {
    EXPECT_TRUE(e.has_val);
    EXPECT_GT(e.train.penalty, 0);
    EXPECT_EQ(e.train.kl, 0);
    EXPECT_NEAR(e.train.total, e.train.reconstruction + e.train.penalty, 1e-5 * e.train.total);
    EXPECT_NEAR(e.val.total, e.val.reconstruction + e.val.penalty, 1e-5 * e.val.total);
    EXPECT_EQ(e.steps, (e.epoch + 1) * 10);  // 600 samples in batches of 64
  }
  EXPECT_DOUBLE_EQ(r.history[1].lr, 3e-3);
  EXPECT_DOUBLE_EQ(r.history[2].lr, 1.5e-3);
  EXPECT_LT(r.history.back().val.reconstruction, r.history.front().val.reconstruction);
  // The model ends with the best epoch's parameters, whose validation loss was reported.
  EXPECT_NEAR(evaluate(model, val).total, r.history[r.best_epoch].val.total, 1e-6 * r.best_loss);
  EXPECT_EQ(r.best_loss, r.history[r.best_epoch].val.total);
}

TEST(ModelsTrainer, VaeReportsKl) {
  VaeConfig c;
  c.widths = {64, 32};
  c.latent = 4;
  Vae vae(c, 1, Device::cpu());
  TrainResult r = Trainer(quick_trainer(2)).fit(vae, shapes_rows(300, 6), shapes_rows(100, 7));
  for (const EpochReport& e : r.history) {
    EXPECT_GT(e.train.kl, 0);
    EXPECT_NEAR(e.train.total, e.train.reconstruction + e.train.kl, 1e-5 * e.train.total);
  }
}

// A learning rate far too large sends the loss to Inf/NaN: the run stops with one line that names
// the epoch and the learning rate, instead of training on garbage.
TEST(ModelsTrainer, DivergenceStopsTheRunWithAClearError) {
  Autoencoder model(noisy_sparse(), 7, Device::cpu());
  TrainerConfig t = quick_trainer(3, 1e30);
  t.optimizer.kind = OptimizerKind::sgd;
  const std::string e = ae::testing::error_of([&] { Trainer(t).fit(model, shapes_rows(200, 14)); });
  EXPECT_NE(e.find("training diverged in epoch 1"), std::string::npos) << e;
  EXPECT_NE(e.find("lower the learning rate (1e+30)"), std::string::npos) << e;
}

// The loss is taken before each step, so an epoch's only step can leave infinite parameters
// behind a finite loss: the end-of-epoch check finds them (one reduction on the device clears a
// finite parameter; a non-finite one is read back for the index) before any checkpoint holds them.
TEST(ModelsTrainer, NonFiniteParametersAfterTheLastStepAreDivergence) {
  Autoencoder model(noisy_sparse(), 7, Device::cpu());
  TrainerConfig t = quick_trainer(1, 1e300);
  t.optimizer.kind = OptimizerKind::sgd;
  t.batch_size = 200;  // one step
  const std::string e = ae::testing::error_of([&] { Trainer(t).fit(model, shapes_rows(200, 14)); });
  EXPECT_NE(e.find("training diverged in epoch 1: parameter '"), std::string::npos) << e;
  EXPECT_NE(e.find("' holds a non-finite value at flat index "), std::string::npos) << e;
}

// A non-finite validation loss ends the run at that epoch too, before on_epoch (where the command
// line writes its checkpoints) sees it: NaN compares false and would otherwise pass for the best.
// Validation rows scaled by 1e200 overflow the squared error while training stays finite.
TEST(ModelsTrainer, NonFiniteValidationLossIsDivergence) {
  Autoencoder model(noisy_sparse(), 7, Device::cpu());
  TrainerConfig t = quick_trainer(3);
  int epochs_seen = 0;
  t.on_epoch = [&](const EpochReport&, const TrainingState&, TrainStep&) { ++epochs_seen; };
  const Tensor val = shapes_rows(50, 15) * 1e200;
  const std::string e =
      ae::testing::error_of([&] { Trainer(t).fit(model, shapes_rows(200, 14), val); });
  EXPECT_NE(e.find("training diverged in epoch 1: the mean validation loss is "),
            std::string::npos) << e;
  EXPECT_EQ(epochs_seen, 0);
}

TEST(ModelsTrainer, EarlyStoppingWithoutProgress) {
  Autoencoder model(noisy_sparse(), 4, Device::cpu());
  TrainerConfig t = quick_trainer(10, 0);  // lr 0: the validation loss never improves
  t.patience = 2;
  TrainResult r = Trainer(t).fit(model, shapes_rows(200, 8), shapes_rows(100, 9));
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.best_epoch, 0);
  EXPECT_EQ(r.history.size(), 3u);  // epoch 0, then two without a lower loss
}

TEST(ModelsTrainer, RestoresTheBestEpochsParameters) {
  Autoencoder model(noisy_sparse(), 5, Device::cpu());
  std::vector<std::vector<float>> snapshots;  // the parameters after each epoch
  // 30 training shapes and a large step: the model overfits and the validation loss turns up.
  TrainerConfig t = quick_trainer(8, 0.05);
  t.on_epoch = [&](const EpochReport&, const TrainingState&, TrainStep&) {
    snapshots.push_back(all_params(model));
  };
  TrainResult r = Trainer(t).fit(model, shapes_rows(30, 10), shapes_rows(100, 11));
  const std::vector<float> final_params = all_params(model);
  ASSERT_GE(r.best_epoch, 0);
  ASSERT_LT(r.best_epoch, 7);  // so the last epoch's parameters were replaced
  EXPECT_EQ(final_params, snapshots[r.best_epoch]);
  double best = r.history[r.best_epoch].val.total;
  for (const EpochReport& e : r.history) EXPECT_GE(e.val.total, best);
}

TEST(ModelsTrainer, EvaluateAveragesOverSamples) {
  Autoencoder model(noisy_sparse(), 6, Device::cpu());
  Tensor x = shapes_rows(300, 12);
  // Without a batch-dependent term the average over batches of 64 equals one batch of all.
  AutoencoderConfig plain_config = noisy_sparse();
  plain_config.penalty = CodePenalty::none;
  Autoencoder plain(plain_config, 6, Device::cpu());
  EXPECT_NEAR(evaluate(plain, x, 64).total, read(plain.loss(x, {})).total, 1e-4);
  EXPECT_NE(ae::testing::error_of([&] { evaluate(model, Tensor::zeros(Shape{3}, DType::f32, Device::cpu())); }).find("samples"),
            std::string::npos);
}

}  // namespace
}  // namespace ae::models
