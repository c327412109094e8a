// The variational autoencoder: the closed-form KL against a Monte Carlo estimate, the whole
// negative ELBO gradchecked, training lowering it on MNIST digits, prior samples, and the β
// schedules.
#include <cmath>
#include <numbers>

#include "core/autograd.h"
#include "models/penalties.h"
#include "models/vae.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using test::measured;
using test::mnist_rows;
using test::quick_trainer;

// log N(z; μ, σ²) summed over dimensions, for one z.
double log_normal(const std::vector<double>& z, const std::vector<double>& mu,
                  const std::vector<double>& logvar) {
  double s = 0;
  for (size_t k = 0; k < z.size(); ++k) {
    double d = z[k] - mu[k];
    s += -0.5 * (std::log(2 * std::numbers::pi) + logvar[k] + d * d / std::exp(logvar[k]));
  }
  return s;
}

// KL(q ‖ p) = E_q[log q(z) − log p(z)] from n draws z = μ1 + σ1 ε: the mean and its standard
// error.
std::pair<double, double> monte_carlo_kl(const std::vector<double>& mu1, const std::vector<double>& lv1,
                                         const std::vector<double>& mu2, const std::vector<double>& lv2,
                                         int64_t n) {
  const size_t k = mu1.size();
  std::vector<double> eps = Tensor::randn(Shape{n, static_cast<int64_t>(k)}, 42, 0, DType::f64, Device::cpu()).to_vector();
  double sum = 0, sum_sq = 0;
  std::vector<double> z(k);
  for (int64_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < k; ++j) z[j] = mu1[j] + std::exp(0.5 * lv1[j]) * eps[i * k + j];
    double term = log_normal(z, mu1, lv1) - log_normal(z, mu2, lv2);
    sum += term;
    sum_sq += term * term;
  }
  double mean = sum / n;
  double var = (sum_sq / n - mean * mean) * n / (n - 1);
  return {mean, std::sqrt(var / n)};
}

Tensor row(const std::vector<double>& v) {
  return Tensor::from_host(v, Shape{1, static_cast<int64_t>(v.size())}, Device::cpu());
}

TEST(ModelsVae, ClosedFormKlMatchesMonteCarlo) {
  const std::vector<double> mu1{0.3, -1.2, 0.8}, lv1{-0.5, 0.4, -1.5};
  const std::vector<double> zero(3, 0.0), mu2{-0.4, 0.1, 1.0}, lv2{0.3, -0.2, 0.5};
  const int64_t n = 200000;
  {
    auto [mc, se] = monte_carlo_kl(mu1, lv1, zero, zero, n);
    double closed = gaussian_kl(row(mu1), row(lv1)).item();
    measured(cat("KL(q || N(0, I)): closed form ", closed, ", Monte Carlo ", mc, " +- ", se));
    EXPECT_LT(std::fabs(closed - mc), 4 * se);
  }
  {
    auto [mc, se] = monte_carlo_kl(mu1, lv1, mu2, lv2, n);
    double closed = kl_diagonal_gaussians(row(mu1), row(lv1), row(mu2), row(lv2)).item();
    measured(cat("KL(q1 || q2): closed form ", closed, ", Monte Carlo ", mc, " +- ", se));
    EXPECT_LT(std::fabs(closed - mc), 4 * se);
  }
}

VaeConfig small_config() {
  VaeConfig c;
  c.widths = {6, 5};
  c.latent = 3;
  c.hidden = Activation::tanh;
  c.dtype = DType::f64;
  return c;
}

TEST(ModelsVae, NegativeElboGradcheck) {
  for (DataKind kind : {DataKind::binary, DataKind::real}) {
    VaeConfig c = small_config();
    c.data = kind;
    c.beta.value = 0.7;
    Vae vae(c, 4, Device::cpu());
    Tensor x = Tensor::rand(Shape{4, 6}, 5, 0, DType::f64, Device::cpu());
    std::vector<Tensor> params;
    for (const Parameter& p : vae.parameters()) params.push_back(p.value);
    EXPECT_EQ(params.size(), 2u * (1 + 2 + 2));  // trunk, two heads, two decoder layers
    // Evaluation mode draws ε from a fixed stream, so every call sees the same noise.
    ae::testing::expect_gradcheck(
        [&](const std::vector<Tensor>&) { return vae.loss(x, {false, 0}).total; }, params);
  }
}

TEST(ModelsVae, LossTermsAreTheElbo) {
  VaeConfig c = small_config();
  c.beta.value = 0.25;
  Vae vae(c, 6, Device::cpu());
  Tensor x = Tensor::rand(Shape{5, 6}, 7, 0, DType::f64, Device::cpu());
  Losses l = vae.loss(x, {false, 0});
  Posterior q = vae.encode(x);
  EXPECT_NEAR(l.kl.item(), gaussian_kl(q.mu, q.logvar).item(), 1e-12);
  EXPECT_NEAR(l.total.item(), l.reconstruction.item() + 0.25 * l.kl.item(), 1e-12);
  // Evaluation is repeatable; training draws fresh noise from the model's generator.
  EXPECT_EQ(vae.loss(x, {false, 0}).total.item(), l.total.item());
  uint64_t offset = vae.generator().offset();
  vae.loss(x, {true, 0});
  EXPECT_EQ(vae.generator().offset(), offset + 16);  // 15 normals, rounded to whole Philox blocks
}

TEST(ModelsVae, LogvarIsSoftClampedAndKeepsAGradient) {
  VaeConfig c = small_config();
  Vae vae(c, 8, Device::cpu());
  // Inputs of 1e6 drive the heads far out: log σ² stays inside the range, and the KL still
  // sends every log-variance head a gradient (a hard clamp sent exactly 0 there).
  Tensor x = Tensor::full(Shape{2, 6}, 1e6, DType::f64, Device::cpu());
  Posterior q = vae.encode(x);
  for (double v : q.logvar.to_vector()) {
    EXPECT_GT(v, kLogvarMin);
    EXPECT_LT(v, kLogvarMax);
  }
  const Tensor kl = reparameterize(q.mu, q.logvar, 1, 0).kl;
  kl.backward();
  for (const Parameter& p : vae.parameters())
    if (p.name == "logvar.bias")
      for (double g : p.value.grad().to_vector()) EXPECT_NE(g, 0) << p.name;
  // Inside [kLogvarMin + kLogvarMargin, kLogvarMax - kLogvarMargin] the soft clamp is the
  // identity.
  Tensor inside = Tensor::from_host(std::vector<double>{-25, -3, 0, 7.5, 15}, {5}, Device::cpu());
  EXPECT_EQ(soft_clamp(inside, kLogvarMin, kLogvarMax, kLogvarMargin).to_vector(),
            inside.to_vector());
}

TEST(ModelsVae, TrainingLowersTheNegativeElboOnDigits) {
  AE_SKIP_WITHOUT_MNIST();
  VaeConfig c;
  c.widths = {784, 256};
  c.latent = 16;
  Vae vae(c, 1, Device::cpu());
  Tensor train = mnist_rows(0, 2000), held_out = mnist_rows(8000, 1000);
  LossValues before = evaluate(vae, held_out);
  TrainResult r = Trainer(quick_trainer(8, 1e-3)).fit(vae, train, held_out);
  LossValues after = r.history.back().val;
  measured(cat("held-out negative ELBO ", before.total, " -> ", after.total, " (reconstruction ",
               after.reconstruction, ", KL ", after.kl, ")"));
  EXPECT_LT(after.total, 0.5 * before.total);
  for (size_t e = 1; e < r.history.size(); ++e)
    EXPECT_LT(r.history[e].train.total, r.history[e - 1].train.total) << "epoch " << e;
  EXPECT_GT(after.kl, 1);  // the code carries information

  Generator gen(9);
  Tensor samples = vae.sample(64, gen);
  EXPECT_EQ(samples.shape(), (Shape{64, 784}));
  for (double v : samples.to_vector()) ASSERT_TRUE(v > 0 && v < 1);  // Bernoulli means
  Generator same(9);
  EXPECT_EQ(vae.sample(64, same).to_vector(), samples.to_vector());
}

TEST(ModelsVae, RealDataSamplesAreFinite) {
  VaeConfig c = small_config();
  c.data = DataKind::real;
  Vae vae(c, 10, Device::cpu());
  Generator gen(11);
  Tensor s = vae.sample(5, gen);
  EXPECT_EQ(s.shape(), (Shape{5, 6}));
  for (double v : s.to_vector()) EXPECT_TRUE(std::isfinite(v));
}

TEST(ModelsVae, BetaSchedules) {
  BetaSchedule constant;
  constant.value = 0.5;
  EXPECT_EQ(constant.at(0), 0.5);
  EXPECT_EQ(constant.at(12345), 0.5);

  BetaSchedule warmup{BetaScheduleKind::warmup, 2.0, 100};
  EXPECT_EQ(warmup.at(0), 0);
  EXPECT_DOUBLE_EQ(warmup.at(25), 0.5);
  EXPECT_DOUBLE_EQ(warmup.at(50), 1.0);
  EXPECT_EQ(warmup.at(100), 2.0);
  EXPECT_EQ(warmup.at(1000), 2.0);

  BetaSchedule cyclical{BetaScheduleKind::cyclical, 1.0, 0, 200, 0.5};
  EXPECT_EQ(cyclical.at(0), 0);
  EXPECT_DOUBLE_EQ(cyclical.at(50), 0.5);
  EXPECT_EQ(cyclical.at(100), 1.0);   // the rise takes the first half of a cycle
  EXPECT_EQ(cyclical.at(199), 1.0);
  EXPECT_EQ(cyclical.at(200), 0);     // the next cycle starts again from 0
  EXPECT_DOUBLE_EQ(cyclical.at(250), 0.5);
  EXPECT_EQ(parse_beta_schedule("cyclical"), BetaScheduleKind::cyclical);
}

TEST(ModelsVae, BetaFollowsTheTrainingStep) {
  VaeConfig c = small_config();
  c.beta = {BetaScheduleKind::warmup, 1.0, 10};
  Vae vae(c, 12, Device::cpu());
  Tensor x = Tensor::rand(Shape{3, 6}, 13, 0, DType::f64, Device::cpu());
  Losses at0 = vae.loss(x, {false, 0}), at5 = vae.loss(x, {false, 5});
  EXPECT_DOUBLE_EQ(at0.total.item(), at0.reconstruction.item());
  EXPECT_NEAR(at5.total.item(), at5.reconstruction.item() + 0.5 * at5.kl.item(), 1e-12);
}

}  // namespace
}  // namespace ae::models
