// Known-answer data for sparse autoencoders: activation vectors built from a known dictionary of
// feature directions in superposition, the toy model of Elhage et al. (2022, "Toy Models of
// Superposition") with the recovery set-up of Sharkey, Braun and Millidge (2022, "Taking features
// out of superposition with sparse autoencoders"): a sparse autoencoder trained on x should learn
// decoder rows close to the dictionary's (analysis/dictionary.h scores it).
//
// The model, row by row (everything drawn from ae::Generator(seed), Philox, on the CPU: the same
// config gives the same data bit for bit):
//   - dictionary: F directions in R^d, each a standard normal vector scaled to unit norm (uniform
//     on the sphere); F may exceed d.
//   - firing probability: p_i = min(1, c / (i + 1)^s), Zipf's law over the feature index i with
//     exponent s (zipf_exponent), c chosen so that Σ p_i = mean_l0 (features capped at 1 fire in
//     every row).
//   - correlated firing (a Gaussian copula): features i and j share group i / group. Each row draws
//     one standard normal g per group and one e_i per feature; feature i fires when
//     z_i = sqrt(ρ) g + sqrt(1 - ρ) e_i exceeds Φ⁻¹(1 - p_i), so that P(fire) = p_i exactly and
//     the latents of two features in one group have correlation ρ (correlation), those of
//     different groups are independent.
//   - magnitude of a firing feature: a_i = max(1 + magnitude_noise · n_i, 0.05), n_i standard
//     normal (a Gaussian around 1, clamped to stay positive).
//   - x = Σ_i a_i f_i + noise_std · ε, ε a standard normal vector in R^d.
// 20000 rows of 512 features in 64 dimensions take a fraction of a second.
#pragma once
#include <cstdint>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace ae::testing {

struct SyntheticActivationsConfig {
  int64_t features = 512;      // F >= 1
  int64_t dims = 64;           // d >= 1
  int64_t rows = 20000;        // >= 1
  double mean_l0 = 8;          // expected active features per row, in (0, F]
  double zipf_exponent = 1.0;  // s >= 0 (0: every feature equally likely)
  double correlation = 0.3;    // ρ in [0, 1]: of the firing latents inside a group
  int64_t group = 4;           // features per group (1: independent firing)
  double magnitude_noise = 0.25;  // >= 0
  double noise_std = 0.0;         // >= 0
  uint64_t seed = 1;
};

// The true codes, sparse by rows (CSR): row r's active features are
// feature[row_start[r] .. row_start[r + 1]), ascending, with their magnitudes.
struct SparseCodes {
  std::vector<int64_t> row_start;  // (rows + 1)
  std::vector<int32_t> feature;    // (active)
  std::vector<float> magnitude;    // (active), > 0
};

struct SyntheticActivations {
  Tensor x;                                // (rows, dims) float32, CPU
  Tensor dictionary;                       // (features, dims) float32, CPU, unit rows
  SparseCodes codes;                       // x = codes · dictionary (+ noise)
  std::vector<double> firing_probability;  // (features) p_i, summing to mean_l0
  std::vector<double> firing_frequency;    // (features) share of rows where feature i fired
  double true_l0 = 0;                      // measured mean active features per row
};

// Throws an ae::Error (argument) naming the field for a config outside the ranges above.
SyntheticActivations make_synthetic_activations(const SyntheticActivationsConfig& config);

// n directions uniform on the unit sphere of R^d (standard normal rows scaled to unit norm in
// float64), drawn from gen: (n, d) float32, CPU. The dictionary of make_synthetic_activations.
Tensor random_directions(int64_t n, int64_t d, Generator& gen);

// The Zipf probabilities alone: p_i = min(1, c / (i + 1)^s) with Σ p_i = mean_l0.
std::vector<double> zipf_firing_probability(int64_t features, double mean_l0, double exponent);

}  // namespace ae::testing
