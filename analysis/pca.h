// Exact principal component analysis on the CPU in float64: the baseline every linear
// autoencoder is measured against. A linear encoder and decoder trained with squared error on
// centred data span the same subspace as the top-k principal components, and their
// reconstruction error cannot go below PCA's.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ae::models {

// Eigen-decomposition of a real symmetric matrix.
struct SymmetricEigen {
  int64_t n = 0;
  std::vector<double> values;   // (n) in decreasing order
  std::vector<double> vectors;  // (n, n) row i: the unit eigenvector of values[i]
};

// Householder reduction to tridiagonal form, then implicit QL with Wilkinson shifts (Golub &
// Van Loan, 8.3). a: (n, n) row-major, symmetric up to rounding (|a_ij - a_ji| <= 1e-10 max|a|).
// O(n^3): 784 x 784 in well under a second. Throws if a value is not finite or QL fails to
// converge.
SymmetricEigen symmetric_eigen(const std::vector<double>& a, int64_t n);

struct Pca {
  Tensor mean;        // (features) float64, CPU
  Tensor components;  // (k, features) float64, CPU: orthonormal rows, by decreasing variance
  std::vector<double> explained_variance;  // (k) variance along each component
  double total_variance = 0;               // trace of the covariance: every component summed
  int64_t samples = 0;

  // Fits the top k components of x (m, features), any dtype or device. The covariance is
  // (1/m) Σ (x - mean)(x - mean)ᵀ (population, not m - 1), so that on the fitted data
  // reconstruction_error(x) = total_variance - Σ explained_variance. When features > samples
  // the m x m Gram matrix is decomposed instead. k <= min(features, m).
  static Pca fit(const Tensor& x, int64_t k);

  int64_t k() const { return components.defined() ? components.size(0) : 0; }
  int64_t features() const { return mean.defined() ? mean.size(0) : 0; }
  std::vector<double> explained_variance_ratio() const;  // (k) share of total_variance
  // The same fit keeping only the first k components (what fitting with k would give).
  Pca truncated(int64_t k) const;

  // These run on x's device in x's dtype.
  Tensor transform(const Tensor& x) const;              // (n, features) -> codes (n, k)
  Tensor inverse_transform(const Tensor& codes) const;  // (n, k) -> (n, features)
  Tensor reconstruct(const Tensor& x) const;            // inverse_transform(transform(x))
  // Σ over features of the squared error, averaged over samples (the batch_mean reduction of
  // the models), computed in float64 on the host.
  double reconstruction_error(const Tensor& x) const;
};

// Principal angles, in degrees and increasing, between the subspaces spanned by the rows of
// a (ka, n) and b (kb, n); min(ka, kb) of them. The rows need not be orthonormal (they are
// orthonormalised first) but must be independent. Small angles come from sines (the part of
// one basis outside the other) and large ones from cosines, so both ends are accurate to about
// 1e-14 rad.
std::vector<double> principal_angles(const Tensor& a, const Tensor& b);
// The largest of them.
double max_principal_angle(const Tensor& a, const Tensor& b);

// Rows of a (k, n) made orthonormal by modified Gram-Schmidt, run twice for accuracy. Throws
// when a row is (numerically) in the span of the previous ones.
std::vector<double> orthonormal_rows(const std::vector<double>& a, int64_t k, int64_t n);

}  // namespace ae::models
