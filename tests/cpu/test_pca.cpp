// PCA: the symmetric eigensolver, the fit, principal angles, and the link between PCA and a
// linear autoencoder trained with squared error on centred inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <numbers>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/autoencoder.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "train/optim.h"
#include "analysis/pca.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using ::ae::testing::error_of;
const Device kCpu = Device::cpu();

std::vector<double> normal(int64_t n, uint64_t seed) {
  return Tensor::randn({n}, seed, 0, DType::f64, kCpu).to_vector();
}

// A random symmetric n x n matrix with N(0, 1) entries off the diagonal.
std::vector<double> random_symmetric(int64_t n, uint64_t seed) {
  std::vector<double> r = normal(n * n, seed), a(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[i * n + j] = (r[i * n + j] + r[j * n + i]) / std::sqrt(2.0);
  return a;
}

// Q diag(values) Qᵀ with Q a random orthogonal matrix.
std::vector<double> with_eigenvalues(const std::vector<double>& values, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<double> q = orthonormal_rows(normal(n * n, seed), n, n), a(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t t = 0; t < n; ++t) a[i * n + j] += q[t * n + i] * values[t] * q[t * n + j];
  return a;
}

// max |A v - λ v| over every pair and max |VᵀV - I|, relative to max |λ|.
struct EigenCheck {
  double residual = 0, orthogonality = 0;
};
EigenCheck check_eigen(const std::vector<double>& a, const SymmetricEigen& e) {
  const int64_t n = e.n;
  double scale = 1;
  for (double v : e.values) scale = std::max(scale, std::abs(v));
  EigenCheck c;
  for (int64_t i = 0; i < n; ++i) {
    const double* v = &e.vectors[i * n];
    for (int64_t r = 0; r < n; ++r) {
      double av = 0;
      for (int64_t t = 0; t < n; ++t) av += a[r * n + t] * v[t];
      c.residual = std::max(c.residual, std::abs(av - e.values[i] * v[r]) / scale);
    }
    for (int64_t j = 0; j < n; ++j) {
      double d = 0;
      for (int64_t t = 0; t < n; ++t) d += v[t] * e.vectors[j * n + t];
      c.orthogonality = std::max(c.orthogonality, std::abs(d - (i == j ? 1.0 : 0.0)));
    }
  }
  return c;
}

// --- the eigensolver ------------------------------------------------------------------------

TEST(PcaEigen, RandomSymmetricMatrices) {
  for (int64_t n : {1, 2, 3, 10, 57, 150}) {
    std::vector<double> a = random_symmetric(n, 100 + n);
    SymmetricEigen e = symmetric_eigen(a, n);
    EigenCheck c = check_eigen(a, e);
    EXPECT_LT(c.residual, 1e-12) << "n = " << n;  // A v = λ v far below the 1e-9 asked for
    EXPECT_LT(c.orthogonality, 1e-12) << "n = " << n;
    EXPECT_TRUE(std::is_sorted(e.values.rbegin(), e.values.rend())) << "n = " << n;
    double trace = 0, sum = 0;
    for (int64_t i = 0; i < n; ++i) trace += a[i * n + i], sum += e.values[i];
    EXPECT_NEAR(trace, sum, 1e-10 * n) << "n = " << n;
  }
}

TEST(PcaEigen, KnownEigenvaluesIncludingRepeatedZeroAndNegative) {
  const std::vector<double> values{7.5, 3, 3, 3, 1e-3, 0, 0, -2, -2, -9};
  std::vector<double> a = with_eigenvalues(values, 3);
  SymmetricEigen e = symmetric_eigen(a, 10);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_NEAR(e.values[i], values[i], 1e-13) << i;
  EigenCheck c = check_eigen(a, e);
  EXPECT_LT(c.residual, 1e-13);
  EXPECT_LT(c.orthogonality, 1e-13);
}

TEST(PcaEigen, DiagonalZeroAndPartlyConstantMatrices) {
  // Already diagonal: the values come back sorted with unit vectors (the canonical sign: +).
  SymmetricEigen d = symmetric_eigen({1, 0, 0, 0, -4, 0, 0, 0, 2.5}, 3);
  EXPECT_EQ(d.values, (std::vector<double>{2.5, 1, -4}));
  EXPECT_EQ(d.vectors, (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  SymmetricEigen z = symmetric_eigen(std::vector<double>(16, 0.0), 4);
  EXPECT_EQ(z.values, std::vector<double>(4, 0.0));
  // The covariance of data whose odd features are constant: zero rows and columns between the
  // others, as with the border pixels of MNIST.
  const int64_t n = 80;
  std::vector<double> x = normal(40 * n, 5), cov(n * n, 0.0);
  for (int64_t s = 0; s < 40; ++s)
    for (int64_t j = 1; j < n; j += 2) x[s * n + j] = 0;
  for (int64_t s = 0; s < 40; ++s)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) cov[i * n + j] += x[s * n + i] * x[s * n + j] / 40;
  SymmetricEigen e = symmetric_eigen(cov, n);
  EigenCheck c = check_eigen(cov, e);
  EXPECT_LT(c.residual, 1e-12);
  EXPECT_LT(c.orthogonality, 1e-12);
  for (int64_t i = 40; i < n; ++i) EXPECT_NEAR(e.values[i], 0, 1e-13) << i;
}

TEST(PcaEigen, BadInputsAreErrors) {
  EXPECT_NE(error_of([] { symmetric_eigen({1, 2, 3}, 2); }).find("3 values for a 2x2"),
            std::string::npos);
  EXPECT_NE(error_of([] { symmetric_eigen({1, 2, 2.5, 1}, 2); }).find("a[0][1] = 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { symmetric_eigen({1, NAN, NAN, 1}, 2); }).find("not a finite"),
            std::string::npos);
}

// --- principal angles -----------------------------------------------------------------------

TEST(PcaAngles, KnownAnglesFromTinyToRight) {
  auto line = [](double rad) {
    return Tensor::from_host(std::vector<double>{std::cos(rad), std::sin(rad), 0}, {1, 3}, kCpu);
  };
  const Tensor e1 = line(0);
  for (double rad : {1e-12, 1e-7, 0.3, 1.2, std::numbers::pi / 2}) {
    const double deg = rad * 180 / std::numbers::pi;
    EXPECT_NEAR(max_principal_angle(e1, line(rad)), deg, 1e-12 * (1 + deg)) << rad;
  }
  // Two planes in R^4 at 10° and 60°, each given by a skewed, scaled spanning set.
  const double a = 10 * std::numbers::pi / 180, b = 60 * std::numbers::pi / 180;
  Tensor p = Tensor::from_host(std::vector<double>{1, 0, 0, 0, 3, 2, 0, 0}, {2, 4}, kCpu);
  Tensor q = Tensor::from_host(
      std::vector<double>{std::cos(a), 0, std::sin(a), 0, std::cos(a), 5 * std::cos(b),
                          std::sin(a), 5 * std::sin(b)},
      {2, 4}, kCpu);
  std::vector<double> angles = principal_angles(p, q);
  ASSERT_EQ(angles.size(), 2u);
  EXPECT_NEAR(angles[0], 10, 1e-10);
  EXPECT_NEAR(angles[1], 60, 1e-10);
  EXPECT_NEAR(max_principal_angle(q, p), 60, 1e-10);  // symmetric
  // A line inside a plane: one angle, zero.
  Tensor in_plane = Tensor::from_host(std::vector<double>{0.6, -0.8, 0, 0}, {1, 4}, kCpu);
  EXPECT_NEAR(max_principal_angle(p, in_plane), 0, 1e-12);
}

TEST(PcaAngles, DependentRowsAndMismatchedSpacesAreErrors) {
  Tensor p = Tensor::from_host(std::vector<double>{1, 2, 3, 2, 4, 6}, {2, 3}, kCpu);
  Tensor q = Tensor::from_host(std::vector<double>{1, 0, 0, 0, 1, 0}, {2, 3}, kCpu);
  EXPECT_NE(error_of([&] { principal_angles(p, q); }).find("in the span"), std::string::npos);
  Tensor r = Tensor::from_host(std::vector<double>{1, 0}, {1, 2}, kCpu);
  EXPECT_NE(error_of([&] { principal_angles(q, r); }).find("different dimension"),
            std::string::npos);
}

// --- the fit --------------------------------------------------------------------------------

// m samples of rank-r data in n dimensions: codes (m, r) with decreasing scales times a random
// basis (r, n), plus an offset. Returns the data; `basis` receives the basis.
Tensor low_rank(int64_t m, int64_t n, int64_t r, uint64_t seed, std::vector<double>& basis) {
  basis = normal(r * n, seed);
  std::vector<double> codes = normal(m * r, seed + 1), x(m * n), offset = normal(n, seed + 2);
  for (int64_t s = 0; s < m; ++s)
    for (int64_t j = 0; j < n; ++j) {
      double v = 5 * offset[j];
      for (int64_t t = 0; t < r; ++t) v += codes[s * r + t] * (r - t) * basis[t * n + j];
      x[s * n + j] = v;
    }
  return Tensor::from_host(x, {m, n}, kCpu);
}

TEST(PcaFit, RecoversALowRankSubspaceExactly) {
  // Covariance path (features <= samples) and Gram path (features > samples).
  for (auto [m, n] : {std::pair<int64_t, int64_t>{300, 40}, {25, 90}}) {
    std::vector<double> basis;
    Tensor x = low_rank(m, n, 3, 7, basis);
    Pca pca = Pca::fit(x, 3);
    const Tensor truth = Tensor::from_host(basis, {3, n}, kCpu);
    const double angle = max_principal_angle(pca.components, truth);
    EXPECT_LT(angle, 1e-6) << m << "x" << n;
    EXPECT_NEAR(pca.reconstruction_error(x), 0, 1e-18 * pca.total_variance + 1e-12);
    double explained = 0;
    for (double v : pca.explained_variance) explained += v;
    EXPECT_NEAR(explained, pca.total_variance, 1e-10 * pca.total_variance);
    std::cout << m << "x" << n << " rank 3: largest angle to the true subspace " << angle
              << " degrees\n";
    // Asking for more components than the rank gives orthonormal rows all the same.
    Pca more = Pca::fit(x, 5);
    std::vector<double> c = more.components.to_vector();
    std::vector<double> gram(25, 0.0);
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j)
        for (int64_t t = 0; t < n; ++t) gram[i * 5 + j] += c[i * n + t] * c[j * n + t];
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) EXPECT_NEAR(gram[i * 5 + j], i == j, 1e-12);
    EXPECT_NEAR(more.explained_variance[4], 0, 1e-10 * pca.total_variance);
  }
}

TEST(PcaFit, ZeroVarianceComponentsStillFormAnOrthonormalBasis) {
  // 6 samples of rank-1 data in 7 dimensions, all 6 components asked for: five of them have no
  // variance and are completed to an orthonormal set.
  std::vector<double> basis;
  Tensor x = low_rank(6, 7, 1, 41, basis);
  Pca pca = Pca::fit(x, 6);
  EXPECT_LT(max_principal_angle(slice(pca.components, 0, 1),
                                Tensor::from_host(basis, {1, 7}, kCpu)),
            1e-6);
  std::vector<double> c = pca.components.to_vector();
  for (int64_t i = 0; i < 6; ++i) {
    if (i > 0) EXPECT_EQ(pca.explained_variance[i], 0) << i;
    for (int64_t j = 0; j < 6; ++j) {
      double d = 0;
      for (int64_t t = 0; t < 7; ++t) d += c[i * 7 + t] * c[j * 7 + t];
      EXPECT_NEAR(d, i == j, 1e-12) << i << "," << j;
    }
  }
}

TEST(PcaFit, GramPathAgreesWithTheCovarianceEigenvectors) {
  const int64_t m = 30, n = 50, k = 6;
  std::vector<double> xv = normal(m * n, 21);
  for (int64_t s = 0; s < m; ++s)
    for (int64_t j = 0; j < n; ++j) xv[s * n + j] *= 1 + j % 7;  // unequal variances
  Tensor x = Tensor::from_host(xv, {m, n}, kCpu);
  Pca pca = Pca::fit(x, k);  // 50 features > 30 samples: the Gram path
  // The covariance by hand, and its eigenvectors.
  std::vector<double> mean(n, 0.0), cov(n * n, 0.0);
  for (int64_t s = 0; s < m; ++s)
    for (int64_t j = 0; j < n; ++j) mean[j] += xv[s * n + j] / m;
  for (int64_t s = 0; s < m; ++s)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        cov[i * n + j] += (xv[s * n + i] - mean[i]) * (xv[s * n + j] - mean[j]) / m;
  SymmetricEigen e = symmetric_eigen(cov, n);
  for (int64_t i = 0; i < k; ++i) {
    EXPECT_NEAR(pca.explained_variance[i], e.values[i], 1e-10 * e.values[0]) << i;
    // Each component is the eigenvector up to sign.
    Tensor ci = slice(pca.components, i, i + 1);
    Tensor vi = Tensor::from_host(std::vector<double>(&e.vectors[i * n], &e.vectors[(i + 1) * n]),
                                  {1, n}, kCpu);
    EXPECT_LT(max_principal_angle(ci, vi), 1e-6) << i;
  }
}

TEST(PcaFit, CodesAreUncorrelatedWithTheExplainedVariances) {
  std::vector<double> basis;
  Tensor x = low_rank(400, 12, 12, 31, basis);
  Pca pca = Pca::fit(x, 4);
  std::vector<double> z = pca.transform(x).to_vector();
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t b = 0; b < 4; ++b) {
      double c = 0;
      for (int64_t s = 0; s < 400; ++s) c += z[s * 4 + a] * z[s * 4 + b] / 400;
      EXPECT_NEAR(c, a == b ? pca.explained_variance[a] : 0, 1e-9 * pca.total_variance);
    }
  // Float32 input on any device goes through the same maps.
  Tensor r32 = pca.reconstruct(x.to(DType::f32));
  EXPECT_EQ(r32.dtype(), DType::f32);
  EXPECT_NEAR(pca.reconstruction_error(x), pca.total_variance - [&] {
    double s = 0;
    for (double v : pca.explained_variance) s += v;
    return s;
  }(), 1e-9 * pca.total_variance);
}

TEST(PcaFit, BadArgumentsAreErrors) {
  Tensor x = Tensor::from_host(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2}, kCpu);
  EXPECT_NE(error_of([&] { Pca::fit(x, 3); }).find("at most 2"), std::string::npos);
  EXPECT_NE(error_of([&] { Pca::fit(x, 0); }).find("k = 0"), std::string::npos);
  Tensor bad = Tensor::from_host(std::vector<double>{1, 2, INFINITY, 4}, {2, 2}, kCpu);
  EXPECT_NE(error_of([&] { Pca::fit(bad, 1); }).find("row 1"), std::string::npos);
  Pca pca = Pca::fit(x, 1);
  EXPECT_NE(error_of([&] { pca.transform(Tensor::zeros({2, 3}, DType::f64, kCpu)); })
                .find("expected (n, 2)"),
            std::string::npos);
}

TEST(PcaFit, MnistVarianceOrderAndErrorDecreasingInK) {
  AE_SKIP_WITHOUT_MNIST();
  Dataset d = subset(load_mnist(AE_MNIST_DIR), 2000);
  const auto start = std::chrono::steady_clock::now();
  Pca pca = Pca::fit(d.x, 16);  // a 784 x 784 covariance
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> ratio = pca.explained_variance_ratio();
  EXPECT_TRUE(std::is_sorted(pca.explained_variance.rbegin(), pca.explained_variance.rend()));
  EXPECT_GT(ratio[0], 0.07);  // the first component of MNIST holds about a tenth
  EXPECT_LT(ratio[0], 0.13);
  double previous = pca.total_variance, explained = 0;
  for (int64_t k = 1; k <= 16; ++k) {
    const double err = pca.truncated(k).reconstruction_error(d.x);
    explained += pca.explained_variance[k - 1];
    EXPECT_LT(err, previous) << "k = " << k;
    EXPECT_NEAR(err, pca.total_variance - explained, 1e-9 * pca.total_variance) << "k = " << k;
    previous = err;
  }
  std::cout << "MNIST 2000 x 784: fit in " << seconds << " s; k = 16 explains "
            << explained / pca.total_variance << " of the variance, error " << previous << "\n";
}

// --- the link between PCA and a linear autoencoder -------------------------------------------

// A linear encoder and decoder (no activations) trained with squared error on inputs centred
// and scaled by 1/sqrt(m) end up spanning the top-k principal subspace: the optimum of
// ‖X - X W_encᵀ W_decᵀ‖²_F is the rank-k truncation X U_k U_kᵀ (Eckart–Young), so the decoder's
// columns span U_k and the error equals the discarded variance.
TEST(PcaLink, LinearAutoencoderSpansThePrincipalSubspace) {
  AE_SKIP_WITHOUT_MNIST();
  const int64_t k = 8;
  Dataset digits = subset(load_mnist(AE_MNIST_DIR), 2000);
  Normalizer centre = fit_normalizer(digits.x, NormKind::pca);
  Dataset x = centre.apply(digits);
  Pca pca = Pca::fit(x.x, k);
  const double optimum = pca.reconstruction_error(x.x);

  AutoencoderConfig config;
  config.widths = {digits.features(), k};
  config.code = Activation::identity;
  config.data = DataKind::real;  // identity output, ½ Σ (x̂ - x)²: the same minimiser
  Autoencoder model(config, 1, kCpu);
  std::vector<Tensor> params;
  for (const Parameter& p : model.parameters()) params.push_back(p.value);
  OptimizerConfig oc;
  oc.lr = 1e-2;
  // The scaled inputs are small (gradients ~1e-5): keep Adam's eps from damping the steps.
  oc.eps = 1e-12;
  Optimizer opt(params, oc);
  // Mini-batches of 200; the learning rate holds for half the steps, then decays 100-fold.
  const int64_t steps = 2000;
  BatchIterator batches(x, 200, kCpu, 3);
  Batch b;
  for (int64_t s = 0; s < steps; ++s) {
    const double decay = s < steps / 2 ? 1.0 : std::pow(0.01, double(s - steps / 2) / (steps / 2));
    opt.set_lr(oc.lr * decay);
    if (!batches.next(b)) batches.next(b);
    Losses l = model.loss(b.x, {true, opt.steps()});
    l.total.backward();
    opt.step();
    opt.zero_grad();
  }

  NoGradGuard no_grad;
  const Tensor x64 = x.x.to(DType::f64);
  const double error =
      sum(square(sub(model.reconstruct(x.x).to(DType::f64), x64))).item() / x.size();
  // The decoder weight is (features, k): its columns are the rows of its transpose.
  const double angle = max_principal_angle(transpose(model.decoder()[0].weight), pca.components);
  std::cout << "linear autoencoder vs PCA, MNIST 2000 x 784, k = 8: largest principal angle "
            << angle << " degrees, error / PCA optimum " << error / optimum << "\n";
  EXPECT_LT(angle, 5.0);
  EXPECT_LT(error, 1.02 * optimum);
  EXPECT_GE(error, optimum * (1 - 1e-6));  // PCA is the optimum: nothing beats it
}

}  // namespace
}  // namespace ae::models
