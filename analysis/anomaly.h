// Anomaly scores of a trained autoencoder, and the batched passes that produce its
// reconstructions and codes.
//
// The score of a row adds two statistics, each divided by its mean over the training rows so
// that both weigh alike:
//   Q   how far the row lies off what the model learnt: the squared reconstruction error, each
//       feature's term divided by that feature's mean squared error over the training rows
//       (a feature the model always reconstructs loosely counts for less than one it
//       reconstructs closely);
//   T²  how far its code lies from the training rows' codes: the Mahalanobis distance
//       (h − μ)ᵀ Σ⁺ (h − μ) of the code h, with the codes' mean μ and the pseudo-inverse of their
//       covariance Σ (Hotelling's T²). An anomaly that the model reconstructs well, because it
//       lies along the learnt manifold but far out on it, is found here.
// These are the Q (squared prediction error) and T² statistics of PCA-based process monitoring
// (Jackson and Mudholkar 1979; MacGregor and Kourti 1995) with the autoencoder's reconstruction
// and code in place of PCA's; the mean reconstruction error alone is the score of Japkowicz et
// al. 1995 and of most autoencoder detectors. Measured on ADBench's sets in
// docs/anomaly-detection.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/safetensors.h"
#include "models/autoencoder.h"

namespace ae::models {

// The model's reconstruction of x (n, features), computed in batches on the model's device:
// (n, features) float32 on the host.
Tensor reconstruct_all(Model& model, const Tensor& x);
// The model's code of x (n, features) (Model::code), in batches: (n, code width) float32 on the
// host.
Tensor code_all(Model& model, const Tensor& x);

struct AnomalyScorer {
  std::vector<double> feature_error;   // (features) mean squared error per feature, floored
  std::vector<double> code_mean;       // (k) μ
  std::vector<double> code_precision;  // (k, k) row-major Σ⁺
  double q_mean = 1;                   // the mean of Q over the training rows
  double t2_mean = 1;                  // the mean of T² over the training rows

  // Fitted on the rows the model trained on, train (n, features) in the model's (normalised)
  // space, any device. A feature's mean squared error is floored at 1e-6 times the mean
  // over features (a feature reconstructed exactly, such as a constant one, does not divide by
  // zero); eigenvalues of Σ below 1e-9 times the largest are left out of Σ⁺. Errors name the
  // shapes.
  static AnomalyScorer fit(Model& model, const Tensor& train);

  int64_t features() const { return static_cast<int64_t>(feature_error.size()); }
  int64_t code_width() const { return static_cast<int64_t>(code_mean.size()); }

  struct Parts {
    std::vector<double> q, t2;  // (n) each, not yet divided by their training means
  };
  Parts parts(Model& model, const Tensor& x) const;
  // Q / q_mean + T² / t2_mean for each row of x (n, features): (n) on the host; higher is more
  // anomalous. x must have the fitted number of features.
  std::vector<double> score(Model& model, const Tensor& x) const;

  // Stored beside a model's parameters as F64 tensors <prefix>feature_error, <prefix>code_mean,
  // <prefix>code_precision and <prefix>means (q_mean, t2_mean).
  std::vector<io::SafeTensor> to_safetensors(const std::string& prefix = "score.") const;
  // Whether `file` holds a scorer under `prefix`.
  static bool present(const io::SafeTensorsFile& file, const std::string& prefix = "score.");
  // Reads what to_safetensors wrote; errors name the missing or misshaped entry.
  static AnomalyScorer load(const io::SafeTensorsFile& file, const std::string& prefix = "score.");

 private:
  // Q and T² from rows x, their reconstructions and codes, row-major on the host.
  Parts statistics(const std::vector<double>& x, const std::vector<double>& reconstruction,
                   const std::vector<double>& codes) const;
};

}  // namespace ae::models
