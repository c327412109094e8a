// What a trained model's code says about the training, in words: the checks `ae train` prints
// after training and the Python estimators raise as warnings, from this one piece of code.
//
//   collapse     most code units constant over the samples, or a reconstruction no better than
//                predicting the samples' mean: one warning naming the likely cause found in the
//                run's settings and data (a corruption that leaves no signal first of all);
//   dead units   a ReLU-type code in which a quarter or more of the units never fire;
//   sparsity     per epoch, for a sparse code, L0 and the dead and dense shares (metrics.csv,
//                Python's history_), from models::CodeFiring.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "analysis/firing.h"
#include "analysis/metrics.h"
#include "models/vae.h"
#include "run/config.h"
#include "run/prepare.h"
#include "run/run_folder.h"
#include "train/checkpoint.h"

namespace ae::run {

// The rows the code checks read: the first ones of a split, enough to tell a constant or dead unit
// while bounding the memory of encoding them.
inline constexpr int64_t kCheckedRows = 10000;

// A code is sparse when its activation is ReLU-type (relu, leaky_relu: threshold 0) or when a
// sigmoid code is under an l1 or kl_sparsity penalty (threshold 0.5, the middle of its range); a
// unit fires on a sample when its value exceeds the threshold. Other codes (identity, tanh,
// softplus; a VAE's latent) have no resting value: nullopt.
std::optional<double> firing_threshold(const models::ModelSpec& spec);

// How the code units of `model` fire over the first kCheckedRows rows of x (n, features), in
// evaluation mode (no corruption), encoded in batches.
models::CodeFiring measure_firing(models::Model& model, const models::ModelSpec& spec,
                                  const Tensor& x, double threshold);

// The per-epoch sparsity figures (run_folder.h) of the model's code over the first kCheckedRows
// training rows; not measured for a code that is not sparse.
Sparsity epoch_sparsity(models::Model& model, const models::ModelSpec& spec, const Tensor& train);

// The finished model's code over the validation split (the training split without one).
struct CodeDiagnosis {
  std::string split;  // "validation" or "training"
  int64_t samples = 0;
  models::CodeActivity activity;          // constant units
  std::optional<models::CodeFiring> firing;  // sparse codes only
  double error = 0;       // mean per-sample squared reconstruction error (model space)
  double mean_error = 0;  // the same for predicting the samples' mean: their total variance
  bool collapsed = false;  // most units constant, or error >= 0.98 mean_error
  int64_t dead = 0;        // units that never fired (sparse codes; 0 otherwise)
  std::string note;     // one line when nothing is wrong ("code: 3 of 64 code units constant ...")
  std::string warning;  // one line when something is, with its likely cause; "" otherwise
};
// nullopt with fewer than two samples (one says nothing about variation).
std::optional<CodeDiagnosis> diagnose_code(models::Model& model, const models::ModelSpec& spec,
                                           const RunConfig& config, const PreparedData& data);

// Whether the denoising corruption leaves no signal: masking, dropout or salt-and-pepper at a
// level >= 0.9, or Gaussian noise with σ >= 3 times the data's standard deviation (the root mean
// per-feature variance of x in the model's space). The cause in words, or "".
std::string destroying_noise(const RunConfig& config, const Tensor& x);

// For `ae sample`: whether the aggregate posterior of a VAE's codes over x (its first kCheckedRows
// rows) is far from the prior N(0, I), whose samples then do not look like the data. Per latent
// dimension j, the aggregate posterior has mean m_j = mean μ_j and variance v_j = Var(μ_j) +
// mean σ_j²; it is far when some v_j lies outside [0.5, 2] or some |m_j| exceeds 0.5. One line
// naming the figures, or "".
std::string prior_mismatch(models::Vae& vae, const Tensor& x);

}  // namespace ae::run
