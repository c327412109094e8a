// The anomaly scorer (analysis/anomaly.h): its two statistics against a direct computation, why
// the code's Mahalanobis distance is there (an anomaly far out along what the model learnt is
// reconstructed well), and its round trip through a checkpoint's tensors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "analysis/anomaly.h"
#include "core/autograd.h"
#include "core/random.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using ae::testing::error_of;

AutoencoderConfig linear(int64_t features, int64_t code) {
  AutoencoderConfig c;
  c.widths = {features, code};
  c.hidden = Activation::identity;
  c.code = Activation::identity;
  c.data = DataKind::real;
  c.dtype = DType::f64;
  return c;
}

// n rows of N(0, 1) noise (n, f), float64, from `seed`.
std::vector<double> gaussian_rows(int64_t n, int64_t f, uint64_t seed) {
  Generator gen(seed);
  return gen.randn(Shape{n, f}, DType::f64, Device::cpu()).to_vector();
}

TEST(AnomalyScorer, StatisticsAreTheWeightedErrorAndTheCodesMahalanobisDistance) {
  const int64_t n = 50, f = 4, k = 2;
  Autoencoder model(linear(f, k), 3);
  const Tensor train = Tensor::from_host(gaussian_rows(n, f, 11), Shape{n, f}, Device::cpu());
  const Tensor x = Tensor::from_host(gaussian_rows(7, f, 12), Shape{7, f}, Device::cpu());
  const AnomalyScorer s = AnomalyScorer::fit(model, train);

  // The same numbers, computed here from the model's reconstructions and codes (which the
  // scorer reads as float32, whatever the model's dtype).
  NoGradGuard no_grad;
  auto as_f32 = [](std::vector<double> v) {
    for (double& x : v) x = static_cast<float>(x);
    return v;
  };
  auto errors = [&](const Tensor& rows) {
    const std::vector<double> r = as_f32(model.reconstruct(rows).to_vector()), v = rows.to_vector();
    std::vector<double> e(v.size());
    for (size_t i = 0; i < v.size(); ++i) e[i] = r[i] - v[i];
    return e;
  };
  const std::vector<double> et = errors(train);
  std::vector<double> w(f, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) w[j] += et[i * f + j] * et[i * f + j] / n;
  const std::vector<double> h = as_f32(model.code(train).to_vector());
  double mu[2] = {0, 0}, c[2][2] = {{0, 0}, {0, 0}};
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a) mu[a] += h[i * k + a] / n;
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) c[a][b] += (h[i * k + a] - mu[a]) * (h[i * k + b] - mu[b]) / (n - 1);
  const double det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
  const double p[2][2] = {{c[1][1] / det, -c[0][1] / det}, {-c[1][0] / det, c[0][0] / det}};
  auto stats = [&](const Tensor& rows, std::vector<double>& q, std::vector<double>& t2) {
    const std::vector<double> e = errors(rows), code = as_f32(model.code(rows).to_vector());
    const int64_t m = rows.size(0);
    q.assign(m, 0);
    t2.assign(m, 0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < f; ++j) q[i] += e[i * f + j] * e[i * f + j] / w[j];
      const double d[2] = {code[i * k] - mu[0], code[i * k + 1] - mu[1]};
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) t2[i] += d[a] * p[a][b] * d[b];
    }
  };
  std::vector<double> q_train, t2_train, q, t2;
  stats(train, q_train, t2_train);
  stats(x, q, t2);
  double q_mean = 0, t2_mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    q_mean += q_train[i] / n;
    t2_mean += t2_train[i] / n;
  }
  EXPECT_NEAR(s.q_mean, q_mean, 1e-9 * q_mean);
  EXPECT_NEAR(s.t2_mean, t2_mean, 1e-9 * t2_mean);
  // With the sample covariance, the mean of T² over the rows it came from is exactly k (n−1)/n.
  EXPECT_NEAR(s.t2_mean, k * (n - 1.0) / n, 1e-9);
  const AnomalyScorer::Parts parts = s.parts(model, x);
  const std::vector<double> score = s.score(model, x);
  for (size_t i = 0; i < q.size(); ++i) {
    EXPECT_NEAR(parts.q[i], q[i], 1e-9 * q[i]);
    EXPECT_NEAR(parts.t2[i], t2[i], 1e-9 * (t2[i] + 1));
    EXPECT_NEAR(score[i], q[i] / q_mean + t2[i] / t2_mean, 1e-9 * score[i]);
  }
}

// Rows near a line in 3-d; a linear autoencoder with a 1-d code learns the line. A point far out
// along the line is reconstructed as well as the normal rows, so the reconstruction error misses
// it; its code's distance does not. A point off the line is caught by the error.
TEST(AnomalyScorer, FindsWhatLiesFarAlongTheManifoldAndWhatLiesOffIt) {
  const int64_t n = 400, f = 3;
  const double u[3] = {0.6, 0.0, 0.8};
  std::vector<double> rows = gaussian_rows(n, f, 21);
  const std::vector<double> t = gaussian_rows(n, 1, 22);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) rows[i * f + j] = t[i] * u[j] + 0.05 * rows[i * f + j];
  const Tensor train = Tensor::from_host(rows, Shape{n, f}, Device::cpu());
  Autoencoder model(linear(f, 1), 5);
  Trainer(test::quick_trainer(60, 1e-2)).fit(model, train);

  const std::vector<double> far_along = {8 * u[0], 8 * u[1], 8 * u[2]};
  const std::vector<double> off = {0.4, 0.6, -0.3};  // 0.8 from the line
  std::vector<double> both = far_along;
  both.insert(both.end(), off.begin(), off.end());
  const Tensor anomalies = Tensor::from_host(both, Shape{2, f}, Device::cpu());

  const AnomalyScorer s = AnomalyScorer::fit(model, train);
  const std::vector<double> normal = s.score(model, train), found = s.score(model, anomalies);
  const double highest = *std::max_element(normal.begin(), normal.end());
  EXPECT_GT(found[0], highest);
  EXPECT_GT(found[1], highest);

  // The reconstruction error alone ranks the far point among the normal rows.
  const AnomalyScorer::Parts normal_parts = s.parts(model, train);
  const AnomalyScorer::Parts parts = s.parts(model, anomalies);
  std::vector<double> q = normal_parts.q;
  std::sort(q.begin(), q.end());
  EXPECT_LT(parts.q[0], q[static_cast<size_t>(0.99 * n)]);
  EXPECT_GT(parts.q[1], q.back());
  EXPECT_GT(parts.t2[0], 30 * s.t2_mean);
}

TEST(AnomalyScorer, RoundTripsThroughTensorsAndRefusesWhatIsMissing) {
  const int64_t n = 30, f = 5;
  Autoencoder model(linear(f, 2), 7);
  const Tensor train = Tensor::from_host(gaussian_rows(n, f, 31), Shape{n, f}, Device::cpu());
  const AnomalyScorer s = AnomalyScorer::fit(model, train);
  io::SafeTensorsFile file;
  file.tensors = s.to_safetensors();
  ASSERT_TRUE(AnomalyScorer::present(file));
  const AnomalyScorer back = AnomalyScorer::load(file);
  EXPECT_EQ(back.score(model, train), s.score(model, train));

  file.tensors.pop_back();  // score.means
  EXPECT_NE(error_of([&] { AnomalyScorer::load(file); }).find("'score.means'"), std::string::npos);
  EXPECT_FALSE(AnomalyScorer::present(io::SafeTensorsFile{}));
  // Rows of another width are refused with both widths named.
  const Tensor narrow = Tensor::from_host(gaussian_rows(2, 4, 32), Shape{2, 4}, Device::cpu());
  const std::string message = error_of([&] { s.score(model, narrow); });
  EXPECT_NE(message.find("(n, 5)"), std::string::npos) << message;
}

// One training row: no spread of the codes, so T² is 0 everywhere and the score is Q alone.
TEST(AnomalyScorer, OneTrainingRowScoresByTheErrorAlone) {
  Autoencoder model(linear(3, 2), 9);
  const Tensor one = Tensor::from_host(gaussian_rows(1, 3, 41), Shape{1, 3}, Device::cpu());
  const AnomalyScorer s = AnomalyScorer::fit(model, one);
  const Tensor x = Tensor::from_host(gaussian_rows(4, 3, 42), Shape{4, 3}, Device::cpu());
  const AnomalyScorer::Parts p = s.parts(model, x);
  const std::vector<double> score = s.score(model, x);
  for (size_t i = 0; i < score.size(); ++i) {
    EXPECT_EQ(p.t2[i], 0.0);
    EXPECT_DOUBLE_EQ(score[i], p.q[i] / s.q_mean + p.t2[i] / s.t2_mean);
  }
}

}  // namespace
}  // namespace ae::models
