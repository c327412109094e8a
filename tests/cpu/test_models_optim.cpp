// Optimizers against PyTorch's update rules, gradient clipping and learning-rate schedules.
//
// The expected values are two steps of torch.optim's documented algorithms (Adam, AdamW, SGD
// with momentum and Nesterov, each with weight decay 0.1, lr 0.1) from p = (1, −2, 0.5) with
// gradients g1 = (0.1, −0.2, 0.3) and g2 = (−0.05, 0.4, 0.3), evaluated in float64.
#include <cmath>
#include <numbers>

#include "core/autograd.h"
#include "train/optim.h"
#include "train/schedule.h"
#include "tests/common/testing.h"

namespace ae::models {
namespace {

const std::vector<double> kStart{1.0, -2.0, 0.5};
const std::vector<std::vector<double>> kGrads{{0.1, -0.2, 0.3}, {-0.05, 0.4, 0.3}};

Tensor vec(const std::vector<double>& v) {
  return Tensor::from_host(v, Shape{static_cast<int64_t>(v.size())}, Device::cpu());
}

// Two steps of `config`; each gradient is set by backward of Σ p ⊙ g.
std::vector<double> two_steps(OptimizerConfig config) {
  Tensor p = vec(kStart);
  p.requires_grad_();
  Optimizer opt({p}, config);
  for (const std::vector<double>& g : kGrads) {
    opt.zero_grad();
    sum(p * vec(g)).backward();
    opt.step();
  }
  return p.to_vector();
}

void expect_values(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << what << " [" << i << "]";
}

OptimizerConfig config(OptimizerKind kind, double momentum = 0, bool nesterov = false, double wd = 0.1) {
  OptimizerConfig c;
  c.kind = kind;
  c.lr = 0.1;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = wd;
  return c;
}

TEST(ModelsOptim, AdamMatchesPytorch) {
  expect_values(two_steps(config(OptimizerKind::adam, 0, false, 0)),
                {0.8733663094033909, -1.9366103565460369, 0.30000000666666715}, "adam");
  expect_values(two_steps(config(OptimizerKind::adam)),
                {0.8196959125824109, -1.87528316883678, 0.3000860515057856}, "adam, L2 0.1");
}

TEST(ModelsOptim, AdamwDecouplesWeightDecay) {
  expect_values(two_steps(config(OptimizerKind::adamw)),
                {0.8544663093033908, -1.897810356496037, 0.2910500066333338}, "adamw");
}

TEST(ModelsOptim, SgdMomentumAndNesterovMatchPytorch) {
  expect_values(two_steps(config(OptimizerKind::sgd)), {0.9752, -1.9804, 0.43035}, "sgd");
  expect_values(two_steps(config(OptimizerKind::sgd, 0.9)),
                {0.9571999999999999, -1.9444, 0.39885000000000004}, "sgd momentum");
  expect_values(two_steps(config(OptimizerKind::sgd, 0.9, true)), {0.937022, -1.931044, 0.3399135},
                "sgd nesterov");
}

TEST(ModelsOptim, ParametersWithoutGradientsStay) {
  Tensor a = vec(kStart), b = vec(kStart);
  a.requires_grad_();
  b.requires_grad_();
  Optimizer opt({a, b}, config(OptimizerKind::adam));
  sum(a * vec(kGrads[0])).backward();
  opt.step();
  EXPECT_NE(a.to_vector(), kStart);
  EXPECT_EQ(b.to_vector(), kStart);
  EXPECT_FALSE(opt.state()[1].m.defined());
}

TEST(ModelsOptim, RejectsBadSettings) {
  Tensor p = vec(kStart);
  p.requires_grad_();
  EXPECT_NE(ae::testing::error_of([&] { Optimizer({p}, config(OptimizerKind::sgd, 0, true)); }).find("nesterov"),
            std::string::npos);
  EXPECT_NE(ae::testing::error_of([&] { Optimizer({vec(kStart)}, config(OptimizerKind::sgd)); }).find("require grad"),
            std::string::npos);
  EXPECT_EQ(parse_optimizer("adamw"), OptimizerKind::adamw);
}

TEST(ModelsOptim, ClippingScalesToTheMaxNorm) {
  Tensor a = vec({0, 0}), b = vec({0});
  a.requires_grad_();
  b.requires_grad_();
  // Gradients (3, 4) and (12): global norm 13.
  auto set_grads = [&] {
    a.zero_grad();
    b.zero_grad();
    (sum(a * vec({3, 4})) + sum(b * vec({12}))).backward();
  };
  set_grads();
  EXPECT_DOUBLE_EQ(grad_norm({a, b}), 13);
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b}, 6.5), 13);  // returns the norm before clipping
  const double scale = 6.5 / (13 + 1e-6);
  EXPECT_NEAR(a.grad().to_vector()[0], 3 * scale, 1e-15);
  EXPECT_NEAR(a.grad().to_vector()[1], 4 * scale, 1e-15);
  EXPECT_NEAR(b.grad().to_vector()[0], 12 * scale, 1e-15);
  EXPECT_NEAR(grad_norm({a, b}), 6.5, 1e-6);
  // Under the limit nothing changes.
  set_grads();
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b}, 20), 13);
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{3, 4}));
}

TEST(ModelsOptim, ClippingLeavesSharedGradientsScaledOnce) {
  // The add's backward hands one tensor to both operands: scaling in place would scale twice.
  Tensor a = vec({0, 0}), b = vec({0, 0});
  a.requires_grad_();
  b.requires_grad_();
  sum((a + b) * vec({3, 4})).backward();
  clip_grad_norm({a, b}, 1);
  const double scale = 1 / (std::sqrt(50.0) + 1e-6);
  EXPECT_NEAR(a.grad().to_vector()[0], 3 * scale, 1e-15);
  EXPECT_NEAR(b.grad().to_vector()[1], 4 * scale, 1e-15);
}

TEST(ModelsOptim, LearningRateSchedules) {
  LrSchedule constant;
  EXPECT_EQ(constant.at(0.1, 50), 0.1);

  LrSchedule step{LrScheduleKind::step, 10, 0.5};
  EXPECT_EQ(step.at(0.1, 0), 0.1);
  EXPECT_EQ(step.at(0.1, 9), 0.1);
  EXPECT_DOUBLE_EQ(step.at(0.1, 10), 0.05);
  EXPECT_DOUBLE_EQ(step.at(0.1, 25), 0.025);

  LrSchedule cosine{LrScheduleKind::cosine, 0, 0, 100, 0.001};
  EXPECT_DOUBLE_EQ(cosine.at(0.1, 0), 0.1);
  EXPECT_DOUBLE_EQ(cosine.at(0.1, 50), 0.001 + 0.099 * 0.5);
  EXPECT_NEAR(cosine.at(0.1, 25), 0.001 + 0.099 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(cosine.at(0.1, 100), 0.001);
  EXPECT_DOUBLE_EQ(cosine.at(0.1, 150), 0.001);  // holds at the floor
  EXPECT_EQ(parse_lr_schedule("cosine"), LrScheduleKind::cosine);
}

}  // namespace
}  // namespace ae::models
