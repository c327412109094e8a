// How well a learned dictionary recovers a known one: the mean max cosine similarity (MMCS) of
// Sharkey, Braun and Millidge (2022, "Taking features out of superposition with sparse
// autoencoders"), the score a sparse autoencoder's decoder gets against the true features of
// synthetic activations (tests/common/synthetic_activations.h).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ae::models {

// For each true feature (row i of truth, (F, d)), the largest cosine similarity between it and
// any row of learned ((n, d): a decoder whose rows are latent directions), in [-1, 1]. The cosine
// is signed: a learned row pointing the opposite way scores -1, not 1 (a latent with a
// non-negative code cannot stand for it). A zero row, of either matrix, has cosine 0 with
// everything. Both matrices share dtype and device, F, n >= 1; the products are GEMMs on that
// device over blocks of learned rows (the learned rows are normalised first; each true row's
// norm divides its maxima on the host). A different width d is an argument error naming both
// shapes; a value that is not finite is an error.
std::vector<double> max_cosine_similarity(const Tensor& learned, const Tensor& truth);  // (F)

// Their mean over the true features: 1 when every true feature has a learned row pointing its
// way; for n random directions in R^d, the expected largest of n random cosines: 0.371 for
// n = 512, d = 64 (sqrt(2 ln n / d) = 0.44 bounds it from above).
double mean_max_cosine_similarity(const Tensor& learned, const Tensor& truth);

}  // namespace ae::models
