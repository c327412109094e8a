// Known-answer data for sparse autoencoders (tests/common/synthetic_activations.h) and the
// recovery metric they are scored with (analysis/dictionary.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "analysis/dictionary.h"
#include "analysis/pca.h"
#include "core/error.h"
#include "tests/common/synthetic_activations.h"
#include "tests/common/testing.h"

namespace ae::models {
namespace {

using ::ae::testing::error_of;
using ::ae::testing::make_synthetic_activations;
using ::ae::testing::random_directions;
using ::ae::testing::SyntheticActivations;
using ::ae::testing::SyntheticActivationsConfig;
const Device kCpu = Device::cpu();

// Rows x features: whether each feature fired in each row.
std::vector<uint8_t> firing_matrix(const SyntheticActivations& s, int64_t features) {
  const int64_t rows = static_cast<int64_t>(s.codes.row_start.size()) - 1;
  std::vector<uint8_t> m(static_cast<size_t>(rows * features), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = s.codes.row_start[r]; k < s.codes.row_start[r + 1]; ++k)
      m[r * features + s.codes.feature[k]] = 1;
  return m;
}

// Pearson correlation of the firing indicators of features i and j.
double firing_correlation(const std::vector<uint8_t>& m, int64_t rows, int64_t features,
                          int64_t i, int64_t j) {
  double si = 0, sj = 0, sij = 0;
  for (int64_t r = 0; r < rows; ++r) {
    si += m[r * features + i];
    sj += m[r * features + j];
    sij += m[r * features + i] * m[r * features + j];
  }
  const double n = static_cast<double>(rows), pi = si / n, pj = sj / n;
  const double var = pi * (1 - pi) * pj * (1 - pj);
  return var > 0 ? (sij / n - pi * pj) / std::sqrt(var) : 0.0;
}

// Least-squares slope of y on x.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (size_t k = 0; k < x.size(); ++k) {
    sxy += (x[k] - mx) * (y[k] - my);
    sxx += (x[k] - mx) * (x[k] - mx);
  }
  return sxy / sxx;
}

TEST(SyntheticActivations, SameSeedSameDataOtherSeedOtherData) {
  SyntheticActivationsConfig c;
  c.rows = 3000;
  c.noise_std = 0.01;
  const SyntheticActivations a = make_synthetic_activations(c), b = make_synthetic_activations(c);
  EXPECT_EQ(a.x.to_floats(), b.x.to_floats());
  EXPECT_EQ(a.dictionary.to_floats(), b.dictionary.to_floats());
  EXPECT_EQ(a.codes.feature, b.codes.feature);
  EXPECT_EQ(a.codes.magnitude, b.codes.magnitude);
  c.seed = 2;
  const SyntheticActivations other = make_synthetic_activations(c);
  EXPECT_NE(a.x.to_floats(), other.x.to_floats());
  EXPECT_NE(a.dictionary.to_floats(), other.dictionary.to_floats());
  EXPECT_NE(a.codes.feature, other.codes.feature);
}

TEST(SyntheticActivations, RowsAreTheCodesTimesTheUnitDictionary) {
  SyntheticActivationsConfig c;
  c.rows = 2000;
  const SyntheticActivations s = make_synthetic_activations(c);
  ASSERT_EQ(s.x.shape(), Shape({2000, 64}));
  ASSERT_EQ(s.dictionary.shape(), Shape({512, 64}));
  EXPECT_EQ(s.x.dtype(), DType::f32);
  const std::vector<float> x = s.x.to_floats(), dict = s.dictionary.to_floats();
  for (int64_t i = 0; i < 512; ++i) {
    double norm = 0;
    for (int64_t j = 0; j < 64; ++j) norm += double{dict[i * 64 + j]} * dict[i * 64 + j];
    ASSERT_NEAR(std::sqrt(norm), 1.0, 64 * FLT_EPSILON) << "row " << i;
  }
  double worst = 0;
  for (int64_t r = 0; r < 2000; ++r) {
    ASSERT_LT(s.codes.row_start[r], s.codes.row_start[r + 1]);  // feature 0 fires every row
    for (int64_t j = 0; j < 64; ++j) {
      double want = 0;
      for (int64_t k = s.codes.row_start[r]; k < s.codes.row_start[r + 1]; ++k) {
        ASSERT_GT(s.codes.magnitude[k], 0.0f);
        want += double{s.codes.magnitude[k]} * dict[s.codes.feature[k] * 64 + j];
      }
      worst = std::max(worst, std::abs(x[r * 64 + j] - want));
    }
  }
  EXPECT_LT(worst, 1e-5);  // the float32 rounding of sums of a few dozen terms of size ~1
  // With noise, what is left is isotropic noise of that standard deviation.
  c.noise_std = 0.05;
  const std::vector<float> noisy = make_synthetic_activations(c).x.to_floats();
  double ss = 0;
  for (size_t k = 0; k < x.size(); ++k) ss += (noisy[k] - x[k]) * double{noisy[k] - x[k]};
  EXPECT_NEAR(std::sqrt(ss / static_cast<double>(x.size())), 0.05, 0.05 * 0.02);
}

TEST(SyntheticActivations, MeanL0IsTheRequestedOne) {
  for (const double l0 : {8.0, 3.0, 20.0}) {
    SyntheticActivationsConfig c;
    c.mean_l0 = l0;
    const SyntheticActivations s = make_synthetic_activations(c);
    const double sum_p =
        std::accumulate(s.firing_probability.begin(), s.firing_probability.end(), 0.0);
    EXPECT_NEAR(sum_p, l0, 1e-9 * l0);
    EXPECT_LE(*std::max_element(s.firing_probability.begin(), s.firing_probability.end()), 1.0);
    EXPECT_NEAR(s.true_l0, l0, 0.05 * l0) << "requested mean_l0 " << l0;
    EXPECT_EQ(static_cast<int64_t>(s.codes.feature.size()), s.codes.row_start.back());
  }
}

TEST(SyntheticActivations, FiringFollowsZipf) {
  for (const double exponent : {0.5, 1.0, 1.5}) {
    SyntheticActivationsConfig c;
    c.zipf_exponent = exponent;
    const SyntheticActivations s = make_synthetic_activations(c);
    std::vector<double> log_rank, log_frequency;
    for (int64_t i = 0; i < c.features; ++i) {
      const double p = s.firing_probability[i], q = s.firing_frequency[i];
      // Each feature's marginal is p_i: within 5 binomial standard deviations.
      EXPECT_NEAR(q, p, 5 * std::sqrt(p * (1 - p) / c.rows) + 1.0 / c.rows) << "feature " << i;
      if (p < 1 && p * c.rows >= 20) {  // the uncapped features seen often enough
        log_rank.push_back(std::log(i + 1.0));
        log_frequency.push_back(std::log(q));
      }
    }
    ASSERT_GE(log_rank.size(), 100u);
    const double fitted = slope(log_rank, log_frequency);
    std::printf("[ measured ] Zipf exponent %.1f: rank-frequency slope %.4f over %zu features\n",
                exponent, fitted, log_rank.size());
    EXPECT_NEAR(fitted, -exponent, 0.05) << "exponent " << exponent;
  }
}

TEST(SyntheticActivations, FiringIsCorrelatedInsideGroupsOnly) {
  const auto mean_correlations = [](double rho) {
    SyntheticActivationsConfig c;
    c.correlation = rho;
    const SyntheticActivations s = make_synthetic_activations(c);
    const std::vector<uint8_t> m = firing_matrix(s, c.features);
    // Features 0 (always on) and 1 carry little information: from feature 4 on.
    double inside = 0, across = 0;
    int inside_n = 0, across_n = 0;
    for (int64_t i = 4; i + 4 < c.features; i += 4) {
      for (int64_t j = i + 1; j < i + 4; ++j, ++inside_n)
        inside += firing_correlation(m, c.rows, c.features, i, j);
      across += firing_correlation(m, c.rows, c.features, i + 3, i + 4);  // neighbour groups
      ++across_n;
    }
    std::printf("[ measured ] latent correlation %.1f: firing correlation %.4f inside groups, "
                "%.4f across\n", rho, inside / inside_n, across / across_n);
    return std::pair{inside / inside_n, across / across_n};
  };
  const auto [inside, across] = mean_correlations(0.3);
  EXPECT_GT(inside, 0.02);  // measured 0.041: rare features, so far below the latent 0.3
  EXPECT_NEAR(across, 0.0, 0.003);
  const auto [inside_strong, across_strong] = mean_correlations(0.8);
  EXPECT_GT(inside_strong, 2 * inside);
  EXPECT_NEAR(across_strong, 0.0, 0.003);
  const auto [inside_none, across_none] = mean_correlations(0.0);
  EXPECT_NEAR(inside_none, 0.0, 0.003);
  EXPECT_NEAR(across_none, 0.0, 0.003);
}

TEST(SyntheticActivations, DataSpansTheDictionaryWhenItIsSmall) {
  SyntheticActivationsConfig c;
  c.features = 16;
  c.mean_l0 = 4;
  c.rows = 4000;
  const SyntheticActivations s = make_synthetic_activations(c);
  const Pca pca = Pca::fit(s.x, 16);
  // 16 components hold all the variance, and they span the 16 dictionary directions.
  const std::vector<double> ratio = pca.explained_variance_ratio();
  EXPECT_GT(std::accumulate(ratio.begin(), ratio.end(), 0.0), 1 - 1e-9);
  EXPECT_LT(max_principal_angle(pca.components, s.dictionary), 1e-3);  // degrees
}

TEST(SyntheticActivations, BadConfigsNameTheField) {
  SyntheticActivationsConfig c;
  c.mean_l0 = 600;
  EXPECT_NE(error_of([&] { make_synthetic_activations(c); }).find("mean_l0 600"),
            std::string::npos);
  c = {};
  c.correlation = 1.5;
  EXPECT_NE(error_of([&] { make_synthetic_activations(c); }).find("correlation 1.5"),
            std::string::npos);
  c = {};
  c.group = 0;
  EXPECT_NE(error_of([&] { make_synthetic_activations(c); }).find("group 0"), std::string::npos);
}

// --- the recovery metric --------------------------------------------------------------------

TEST(MaxCosineSimilarity, TruthAgainstItselfIsOne) {
  Generator gen(7);
  const Tensor truth = random_directions(512, 64, gen);
  // float32 GEMM: a unit row against itself is 1 within a few float32 roundings per term.
  EXPECT_NEAR(mean_max_cosine_similarity(truth, truth), 1.0, 64 * FLT_EPSILON);
  const Tensor truth64 = truth.to(DType::f64);
  EXPECT_NEAR(mean_max_cosine_similarity(truth64, truth64), 1.0, 1e-14);
  // Scaled rows are the same directions.
  EXPECT_NEAR(mean_max_cosine_similarity(mul(truth64, 3.5), truth64), 1.0, 1e-14);
}

TEST(MaxCosineSimilarity, PermutedRowsScoreOneAndFlippedRowsDoNot) {
  Generator gen(8);
  const Tensor truth = random_directions(300, 32, gen).to(DType::f64);
  const std::vector<double> t = truth.to_vector();
  std::vector<double> permuted(t.size()), flipped(t.size());
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 32; ++j) {
      permuted[((i * 7) % 300) * 32 + j] = t[i * 32 + j];  // 7 is prime to 300: a permutation
      flipped[i * 32 + j] = -t[i * 32 + j];
    }
  const Tensor learned = Tensor::from_host(permuted, {300, 32}, kCpu);
  EXPECT_NEAR(mean_max_cosine_similarity(learned, truth), 1.0, 1e-14);
  // The cosine is signed: a flipped row is not its feature.
  const std::vector<double> m =
      max_cosine_similarity(Tensor::from_host(flipped, {300, 32}, kCpu), truth);
  EXPECT_LT(*std::max_element(m.begin(), m.end()), 0.9);
}

TEST(MaxCosineSimilarity, RandomDictionaryScoresChance) {
  // For unit vectors uniform on the sphere of R^64, a cosine has density ∝ (1 - t²)^(61/2);
  // the expected maximum of 512 of them, integrated numerically, is 0.3706 (sqrt(2 ln 512 / 64)
  // = 0.44 overestimates it). The mean over 512 true features has a standard deviation of about
  // 0.002.
  Generator gen(9);
  const Tensor truth = random_directions(512, 64, gen), learned = random_directions(512, 64, gen);
  EXPECT_NEAR(mean_max_cosine_similarity(learned, truth), 0.3706, 0.01);
}

TEST(MaxCosineSimilarity, ReplacedRowsLowerTheScoreByTheirShare) {
  // True features: the first 32 axes of R^64. The learned dictionary has them all but k, whose
  // rows hold noise in the other 32 coordinates (orthogonal to every true feature): exactly
  // (32 - k) / 32.
  const std::vector<double> noise = Tensor::randn({32, 64}, 3, 0, DType::f64, kCpu).to_vector();
  std::vector<double> truth(32 * 64, 0.0);
  for (int64_t i = 0; i < 32; ++i) truth[i * 64 + i] = 1;
  for (const int64_t k : {1, 5, 12}) {
    std::vector<double> learned = truth;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t row = (i * 5 + 2) % 32;
      for (int64_t j = 0; j < 64; ++j) learned[row * 64 + j] = j >= 32 ? noise[i * 64 + j] : 0.0;
    }
    const Tensor l = Tensor::from_host(learned, {32, 64}, kCpu);
    const Tensor t = Tensor::from_host(truth, {32, 64}, kCpu);
    EXPECT_DOUBLE_EQ(mean_max_cosine_similarity(l, t), (32.0 - k) / 32.0) << k << " replaced";
    EXPECT_DOUBLE_EQ(mean_max_cosine_similarity(l.to(DType::f32), t.to(DType::f32)),
                     (32.0 - k) / 32.0);
  }
}

TEST(MaxCosineSimilarity, MatchesADirectLoopOverSeveralBlocks) {
  // 8192 true features: the learned rows go in blocks of 512, so 1200 rows take three.
  const int64_t f = 8192, n = 1200, d = 16;
  const std::vector<double> t = Tensor::randn({f, d}, 4, 0, DType::f64, kCpu).to_vector();
  std::vector<double> l = Tensor::randn({n, d}, 5, 0, DType::f64, kCpu).to_vector();
  for (int64_t j = 0; j < d; ++j) l[700 * d + j] = 0;  // a zero row
  const std::vector<double> got = max_cosine_similarity(Tensor::from_host(l, {n, d}, kCpu),
                                                        Tensor::from_host(t, {f, d}, kCpu));
  ASSERT_EQ(got.size(), static_cast<size_t>(f));
  double worst = 0;
  for (int64_t i = 0; i < f; i += 7) {
    double best = -1, tn = 0;
    for (int64_t k = 0; k < d; ++k) tn += t[i * d + k] * t[i * d + k];
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0, ln = 0;
      for (int64_t k = 0; k < d; ++k) {
        dot += t[i * d + k] * l[j * d + k];
        ln += l[j * d + k] * l[j * d + k];
      }
      best = std::max(best, ln > 0 ? dot / std::sqrt(tn * ln) : 0.0);
    }
    worst = std::max(worst, std::abs(got[i] - best));
  }
  EXPECT_LT(worst, 1e-12);
}

TEST(MaxCosineSimilarity, ZeroRowsGiveZeroNotNan) {
  std::vector<double> truth = {1, 0, 0, 0, 0, 0, 0, 1, 0};  // the middle row is zero
  const Tensor t = Tensor::from_host(truth, {3, 3}, kCpu);
  const Tensor zeros = Tensor::zeros({2, 3}, DType::f64, kCpu);
  EXPECT_EQ(max_cosine_similarity(zeros, t), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(max_cosine_similarity(t, t), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(mean_max_cosine_similarity(t.to(DType::f32), t.to(DType::f32)), 2.0 / 3.0);
}

TEST(MaxCosineSimilarity, BadShapesAreArgumentErrors) {
  const Tensor learned = Tensor::zeros({5, 3}, DType::f32, kCpu);
  const Tensor truth = Tensor::zeros({4, 2}, DType::f32, kCpu);
  try {
    mean_max_cosine_similarity(learned, truth);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::argument);
    const std::string m = e.what();
    EXPECT_NE(m.find("learned (5, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("truth (4, 2)"), std::string::npos) << m;
  }
  EXPECT_NE(error_of([&] {
              max_cosine_similarity(learned, Tensor::zeros({4, 3}, DType::f64, kCpu));
            }).find("share dtype"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              max_cosine_similarity(Tensor::zeros({0, 3}, DType::f32, kCpu), learned);
            }).find("at least one row"),
            std::string::npos);
}

}  // namespace
}  // namespace ae::models
