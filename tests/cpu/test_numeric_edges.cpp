// Numeric faults at the edges of each op's domain: the losses, the sparsity penalty and the VAE's
// sampling stay finite, in value and gradient, where the textbook formula gives inf or NaN, in
// float32 and float64; and anomaly detection stops a training loop at the first NaN, naming the
// op that made it.
#include <gmock/gmock.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/vae.h"
#include "tests/common/testing.h"

namespace ae {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const Device kCpu = Device::cpu();

// A CPU leaf of dtype dt holding values.
Tensor leaf_of(const std::vector<double>& values, const Shape& shape, DType dt,
               bool requires_grad = true) {
  Tensor t = Tensor::from_host(values, shape, kCpu).to(dt);
  if (requires_grad) t.requires_grad_();
  return t;
}

// Names the first element that is not finite.
::testing::AssertionResult all_finite(const Tensor& t) {
  if (!t.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  const std::vector<double> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      return ::testing::AssertionFailure()
             << "element " << i << " of " << t.str() << " is " << v[i];
  return ::testing::AssertionSuccess();
}

int sign(double v) { return (v > 0) - (v < 0); }

class NumericEdges : public ::testing::TestWithParam<DType> {};

TEST_P(NumericEdges, BceAtProbabilityZeroAndOne) {
  const DType dt = GetParam();
  // Confidently right, confidently wrong, and a soft target, at p = 0 and p = 1.
  const std::vector<double> pv = {0, 0, 0, 1, 1, 1};
  const std::vector<double> tv = {0, 1, 0.5, 1, 0, 0.5};
  Tensor p = leaf_of(pv, {6}, dt);
  Tensor t = leaf_of(tv, {6}, dt, false);
  const double big = -std::log(kProbEps);  // the clamped -log(0): about 27.6
  const std::vector<double> expected = {0, big, big / 2, 0, big, big / 2};
  const std::vector<double> l = bce_loss(p, t, Reduction::none).to_vector();
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(l[i], expected[i], 1e-5 * big) << i;

  Tensor loss = bce_loss(p, t, Reduction::mean);
  EXPECT_TRUE(all_finite(loss));
  loss.backward();
  ASSERT_TRUE(all_finite(p.grad()));
  // Where the prediction is wrong, the gradient points from the target to p (descent moves p
  // towards t), however steep the clamp makes it.
  const std::vector<double> g = p.grad().to_vector();
  EXPECT_EQ(sign(g[1]), -1);
  EXPECT_EQ(sign(g[4]), 1);
}

TEST_P(NumericEdges, BceWithLogitsAtPlusMinus1000) {
  const DType dt = GetParam();
  const std::vector<double> zv = {1000, -1000, 1000, -1000, 1000, -1000};
  const std::vector<double> tv = {1, 0, 0, 1, 0.5, 0.5};
  Tensor z = leaf_of(zv, {6}, dt);
  Tensor t = leaf_of(tv, {6}, dt, false);
  // max(z, 0) - z t + log(1 + e^-|z|): exact at |z| = 1000, where log(sigmoid(z)) would be -inf.
  const std::vector<double> l = bce_with_logits_loss(z, t, Reduction::none).to_vector();
  const std::vector<double> expected = {0, 0, 1000, 1000, 500, 500};
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(l[i], expected[i], 1e-9) << i;

  Tensor loss = bce_with_logits_loss(z, t, Reduction::sum);
  EXPECT_NEAR(loss.item(), 3000, 1e-9);
  loss.backward();
  ASSERT_TRUE(all_finite(z.grad()));
  // d/dz = sigmoid(z) - t: saturated, never NaN.
  const std::vector<double> g = z.grad().to_vector();
  const std::vector<double> dz = {0, 0, 1, -1, 0.5, -0.5};
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], dz[i], 1e-7) << i;
}

TEST_P(NumericEdges, KlSparsityWithDeadAndSaturatedUnits) {
  const DType dt = GetParam();
  // Columns: dead (all 0), saturated (all 1), nearly dead, nearly saturated. (4 rows, 4 units)
  const double tiny = dt == DType::f32 ? 1e-30 : 1e-300;
  const double almost = dt == DType::f32 ? 1 - 1e-7 : 1 - 1e-15;
  std::vector<double> hv;
  for (int r = 0; r < 4; ++r) hv.insert(hv.end(), {0.0, 1.0, tiny, almost});
  for (double rho : {0.05, 1e-6, 1 - 1e-6}) {
    SCOPED_TRACE("rho " + std::to_string(rho));
    Tensor h = leaf_of(hv, {4, 4}, dt);
    Tensor kl = kl_sparsity(h, rho);
    ASSERT_TRUE(all_finite(kl));
    EXPECT_GE(kl.item(), 0);
    kl.backward();
    ASSERT_TRUE(all_finite(h.grad()));
    // The gradient pulls each unit's mean activation towards rho: up for a dead unit, down for a
    // saturated one (unless rho itself sits at that edge).
    const std::vector<double> g = h.grad().to_vector();
    if (rho > kRhoEps * 2) EXPECT_EQ(sign(g[0]), -1);
    if (rho < 1 - kRhoEps * 2) EXPECT_EQ(sign(g[1]), 1);
  }
}

TEST_P(NumericEdges, ReparameterizeOverTheClampedLogVarianceRange) {
  const DType dt = GetParam();
  // The ends of the range the VAE clamps log σ² into, and values inside it.
  const std::vector<double> lv = {models::kLogvarMin, models::kLogvarMax, -10, 0,
                                  models::kLogvarMax, models::kLogvarMin, 5, -29.5};
  const std::vector<double> mv = {0, 0, 1, -1, 3, -3, 0.5, 100};
  Tensor mu = leaf_of(mv, {2, 4}, dt);
  Tensor logvar = leaf_of(lv, {2, 4}, dt);
  Reparameterized r = reparameterize(mu, logvar, 11, 0);
  ASSERT_TRUE(all_finite(r.z));
  ASSERT_TRUE(all_finite(r.kl));
  // z = mu + e^{logvar/2} eps with the same Philox normals on every device.
  const std::vector<double> eps = Tensor::randn({2, 4}, 11, 0, DType::f64, kCpu).to_vector();
  const std::vector<double> z = r.z.to_vector();
  const double rtol = dt == DType::f32 ? 1e-5 : 1e-12;
  for (size_t i = 0; i < z.size(); ++i) {
    const double want = mv[i] + std::exp(lv[i] / 2) * eps[i];
    EXPECT_NEAR(z[i], want, rtol * (1 + std::fabs(want))) << i;
  }
  (sum(square(r.z)) + r.kl).backward();
  EXPECT_TRUE(all_finite(mu.grad()));
  EXPECT_TRUE(all_finite(logvar.grad()));
}

TEST_P(NumericEdges, LogVarianceOutsideTheRangeIsSoftClampedBeforeSampling) {
  // What the VAE does with an encoder head gone to ±50 or ±1e6 (unscaled data): soft-clamp, then
  // sample. Finite, inside the range, and the gradient still reaches the head and points back into
  // range (descent raises the low ones and lowers the high ones), where a hard clamp passed 0.
  const DType dt = GetParam();
  Tensor mu = leaf_of({0, 0, 0, 0}, {1, 4}, dt);
  Tensor raw = leaf_of({-50, 50, -1e6, 1e6}, {1, 4}, dt);
  Tensor logvar = soft_clamp(raw, models::kLogvarMin, models::kLogvarMax, models::kLogvarMargin);
  for (double v : logvar.to_vector()) {
    EXPECT_GT(v, models::kLogvarMin);
    EXPECT_LT(v, models::kLogvarMax);
  }
  Reparameterized r = reparameterize(mu, logvar, 3, 0);
  ASSERT_TRUE(all_finite(r.z));
  ASSERT_TRUE(all_finite(r.kl));
  (sum(r.z) + r.kl).backward();
  const std::vector<double> g = raw.grad().to_vector();
  ASSERT_TRUE(all_finite(raw.grad()));
  EXPECT_LT(g[0], 0);
  EXPECT_GT(g[1], 0);
  EXPECT_LT(g[2], 0);
  EXPECT_GT(g[3], 0);
  EXPECT_TRUE(all_finite(mu.grad()));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, NumericEdges, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) {
                           return std::string(info.param == DType::f32 ? "f32" : "f64");
                         });

// --- anomaly detection in a training loop ------------------------------------------------------

struct AnomalyDetection {
  explicit AnomalyDetection(bool on) { set_anomaly_detection(on); }
  ~AnomalyDetection() { set_anomaly_detection(false); }
};

// A tiny autoencoder trained with plain SGD: x (8, 4) -> h = sigmoid(x W1ᵀ + b1) (8, 3) ->
// g = log(h - shift) -> y = g W2ᵀ + b2 (8, 4), squared error to x. shift is 0 (log of a value in
// (0, 1): finite) except at step `bad_step`, where it is 2: a log of negative numbers mid-network.
struct TinyLoop {
  Tensor x = testing::leaf({8, 4}, 501, {}, false);
  std::vector<Tensor> params = {testing::leaf({3, 4}, 502), testing::leaf({3}, 503),
                                testing::leaf({4, 3}, 504), testing::leaf({4}, 505)};

  void step(bool bad) {
    Tensor h = linear(x, params[0], params[1], UnaryOp::sigmoid);
    Tensor g = log(affine(h, 1, bad ? -2.0 : 0.0));
    Tensor y = linear(g, params[2], params[3]);
    mse_loss(y, x).backward();
    NoGradGuard no_grad;
    for (Tensor& p : params) {
      p.copy_(p.detach() - p.grad() * 0.1);
      p.zero_grad();
    }
  }
  std::vector<std::vector<double>> values() const {
    std::vector<std::vector<double>> v;
    for (const Tensor& p : params) v.push_back(p.to_vector());
    return v;
  }
};

TEST(NumericEdges, AnomalyDetectionStopsTrainingAtTheFirstNaNAndNamesTheOp) {
  const int bad_step = 3;
  TinyLoop loop;
  AnomalyDetection on(true);
  int stopped_at = -1;
  std::string message;
  std::vector<std::vector<double>> before;
  for (int s = 0; s < 6 && stopped_at < 0; ++s) {
    before = loop.values();
    try {
      loop.step(s == bad_step);
    } catch (const ae::Error& e) {
      stopped_at = s;
      message = e.what();
    }
  }
  EXPECT_EQ(stopped_at, bad_step);
  // The op that made the NaN, not the linear layer or the loss it would have flowed into next.
  EXPECT_THAT(message, HasSubstr("anomaly: log produced nan in its output (element 0 of (8, 3))"));
  EXPECT_THAT(message, Not(HasSubstr("linear")));
  // Stopped in the forward pass: no update ran, the parameters are those of the last good step.
  EXPECT_EQ(loop.values(), before);
  for (const Tensor& p : loop.params) EXPECT_TRUE(all_finite(p));
}

TEST(NumericEdges, WithoutAnomalyDetectionTheSameNaNReachesTheParameters) {
  // The contrast that shows what the detection prevents: the loop runs on and the update writes
  // NaN into every parameter.
  TinyLoop loop;
  AnomalyDetection off(false);
  for (int s = 0; s < 6; ++s) EXPECT_NO_THROW(loop.step(s == 3));
  for (const Tensor& p : loop.params) EXPECT_FALSE(all_finite(p));
}

}  // namespace
}  // namespace ae
