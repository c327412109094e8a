// The fused ops: float64 gradchecks, and forward values equal to the unfused sequence of ops.
#include <cmath>

#include "kernels/backend.h"
#include "tests/common/testing.h"

namespace ae {
namespace {

using testing::expect_gradcheck;
using testing::leaf;
using testing::probability;

const UnaryOp kActivations[] = {UnaryOp::identity, UnaryOp::sigmoid, UnaryOp::tanh,
                                UnaryOp::relu, UnaryOp::leaky_relu, UnaryOp::softplus};

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

class FusedLinear : public ::testing::TestWithParam<UnaryOp> {};

TEST_P(FusedLinear, EqualsMatmulBiasActivationAndPassesGradcheck) {
  UnaryOp act = GetParam();
  UnaryParams p{act == UnaryOp::leaky_relu ? 0.1 : 0.0, 0};
  uint64_t seed = 2000;
  for (auto [rows, in, out] : {std::tuple{1, 1, 1}, {5, 3, 4}, {7, 6, 1}}) {
    for (bool trans_w : {true, false}) {
      Tensor x = leaf({rows, in}, seed++);
      Tensor w = leaf(trans_w ? Shape{out, in} : Shape{in, out}, seed++);
      Tensor b = leaf({out}, seed++);
      Tensor fused = linear(x, w, b, act, p, trans_w);
      Tensor plain = unary(act, add(matmul(x, w, false, trans_w), b), p);
      EXPECT_LT(max_abs_diff(fused, plain), 1e-14);
      // relu-family kinks: shift inputs so no pre-activation sits within the finite-difference step
      expect_gradcheck([&](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2], act, p, trans_w); },
                       {x, w, b}, {1e-6, 1e-5, 1e-4});
      expect_gradcheck([&](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor(), act, p, trans_w); },
                       {x, w}, {1e-6, 1e-5, 1e-4});
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, FusedLinear, ::testing::ValuesIn(kActivations),
                         [](const auto& info) { return std::string(op_name(info.param)); });

TEST(FusedKlSparsity, EqualsTheFormulaAndPassesGradcheck) {
  Tensor h = leaf({6, 5}, 2100, probability);
  const double rho = 0.05;
  // The unfused sequence: rho / q = pow(q, -1) * rho, 1 - q = affine(q, -1, 1).
  Tensor q = mean(h, 0), one_minus = affine(q, -1, 1);
  Tensor expected = sum(affine(log(pow(q, -1.0) * rho), rho, 0) +
                        affine(log(pow(one_minus, -1.0) * (1 - rho)), 1 - rho, 0));
  EXPECT_NEAR(kl_sparsity(h, rho).item(), expected.item(), 1e-12);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return kl_sparsity(in[0], rho); }, {h});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return kl_sparsity(in[0], 0.3); },
                   {leaf({1, 3}, 2101, probability)});
}

TEST(FusedKlSparsity, FiniteWhenUnitsAreDeadOrSaturated) {
  Tensor h = Tensor::from_host(std::vector<double>{0, 1, 0, 1}, {2, 2}, Device::cpu());
  EXPECT_TRUE(std::isfinite(kl_sparsity(h, 0.05).item()));
}

class FusedContractive : public ::testing::TestWithParam<UnaryOp> {};

TEST_P(FusedContractive, EqualsTheExplicitJacobianNormAndPassesGradcheck) {
  UnaryOp act = GetParam();
  UnaryParams p{act == UnaryOp::leaky_relu ? 0.1 : 0.0, 0};
  const int64_t rows = 4, in = 5, code = 3;
  Tensor x = leaf({rows, in}, 2200, {}, false);
  Tensor w = leaf({code, in}, 2201);
  Tensor b = leaf({code}, 2202);
  // The explicit Jacobian of each sample, row by row: d h_k / d x_j by backward of each h_k.
  double explicit_norm = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < code; ++k) {
      Tensor xr = Tensor::from_host(slice(x, r, r + 1).to_vector(), {1, in}, Device::cpu()).requires_grad_();
      Tensor h = linear(xr, w.detach(), b.detach(), act, p);
      std::vector<double> pick(code, 0.0);
      pick[k] = 1;
      h.backward(Tensor::from_host(pick, {1, code}, Device::cpu()));
      for (double g : xr.grad().to_vector()) explicit_norm += g * g;
    }
  }
  explicit_norm /= rows;
  Tensor h = linear(x, w, b, act, p);
  EXPECT_NEAR(contractive_penalty(h, w, act, p).item(), explicit_norm, 1e-10 * (1 + explicit_norm));
  // gradient through W both directly and through h
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return contractive_penalty(linear(x, in[0], in[1], act, p), in[0], act, p);
      },
      {w, b}, {1e-6, 1e-5, 1e-4});
}

INSTANTIATE_TEST_SUITE_P(Activations, FusedContractive, ::testing::ValuesIn(kActivations),
                         [](const auto& info) { return std::string(op_name(info.param)); });

TEST(FusedReparameterize, SamplesAndKlMatchTheFormulas) {
  Tensor mu = leaf({3, 4}, 2300), logvar = leaf({3, 4}, 2301);
  Reparameterized r = reparameterize(mu, logvar, 99, 8);
  Tensor eps = Tensor::randn({3, 4}, 99, 8, DType::f64, Device::cpu());
  EXPECT_LT(max_abs_diff(r.z, mu + exp(logvar * 0.5) * eps), 1e-14);
  Tensor kl = sum(affine(logvar - square(mu) - exp(logvar), 1, 1)) * (-0.5 / 3);
  EXPECT_NEAR(r.kl.item(), kl.item(), 1e-12);
  expect_gradcheck([](const std::vector<Tensor>& in) { return reparameterize(in[0], in[1], 99, 8).z; },
                   {mu, logvar});
  expect_gradcheck([](const std::vector<Tensor>& in) { return reparameterize(in[0], in[1], 99, 8).kl; },
                   {mu, logvar});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        Reparameterized r = reparameterize(in[0], in[1], 5, 0);
        return sum(square(r.z)) + r.kl * 0.7;  // both outputs feed one loss
      },
      {mu, logvar});
}

TEST(FusedErrors, NameTheOpAndShapes) {
  Tensor x = Tensor::zeros({2, 3}, DType::f32, Device::cpu());
  Tensor w = Tensor::zeros({4, 5}, DType::f32, Device::cpu());
  EXPECT_NE(testing::error_of([&] { linear(x, w, Tensor()); }).find("linear: x (2, 3) does not fit W (4, 5)"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { kl_sparsity(x, 1.5); }).find("rho must lie in (0, 1), got 1.5"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { linear(x, Tensor::zeros({4, 3}, DType::f32, Device::cpu()), Tensor(), UnaryOp::exp); }).find("exp is not an activation"), std::string::npos);
}

// The backend entries check their own arguments (kernels/fused_checks.h, shared with the CUDA
// table), so a direct call fails with the message the CUDA backend gives, before reading a
// pointer; the ops reject the same input first, naming the op and the shape.
TEST(FusedErrors, BackendEntriesRejectNonActivationsAndEmptyBatches) {
  const Backend& be = cpu_backend();
  const DType dt = DType::f32;
  const std::string not_an_activation =
      ": exp is not an activation (identity, sigmoid, tanh, relu, leaky_relu, softplus)";
  const UnaryOp exp_op = UnaryOp::exp;
  EXPECT_EQ(testing::error_of([&] { be.bias_act_forward(exp_op, dt, nullptr, nullptr, 2, 3, {}, nullptr); }),
            "bias_act_forward" + not_an_activation);
  EXPECT_EQ(testing::error_of([&] {
              be.bias_act_backward(exp_op, dt, nullptr, nullptr, nullptr, nullptr, 2, 3, {}, nullptr);
            }),
            "bias_act_backward" + not_an_activation);
  EXPECT_EQ(testing::error_of([&] {
              be.contractive_forward(exp_op, dt, nullptr, nullptr, 2, 3, 4, {}, nullptr, nullptr, nullptr);
            }),
            "contractive_forward" + not_an_activation);
  EXPECT_EQ(testing::error_of([&] {
              be.contractive_backward(exp_op, dt, nullptr, nullptr, nullptr, nullptr, 2, 3, 4, {},
                                      nullptr, nullptr, nullptr);
            }),
            "contractive_backward" + not_an_activation);

  // Every penalty is a mean over the batch: no rows, no value.
  EXPECT_EQ(testing::error_of([&] {
              be.kl_sparsity_forward(dt, nullptr, 0, 3, 0.05, nullptr, nullptr, nullptr);
            }),
            "kl_sparsity_forward: empty batch (rows=0)");
  EXPECT_EQ(testing::error_of([&] {
              be.contractive_forward(UnaryOp::sigmoid, dt, nullptr, nullptr, 0, 3, 4, {}, nullptr,
                                     nullptr, nullptr);
            }),
            "contractive_forward: empty batch (rows=0)");
  EXPECT_EQ(testing::error_of([&] {
              be.contractive_backward(UnaryOp::sigmoid, dt, nullptr, nullptr, nullptr, nullptr, 0, 3,
                                      4, {}, nullptr, nullptr, nullptr);
            }),
            "contractive_backward: empty batch (rows=0)");
  EXPECT_EQ(testing::error_of([&] {
              be.reparameterize_forward(dt, nullptr, nullptr, nullptr, nullptr, 0, 3, 1, 0, nullptr);
            }),
            "reparameterize_forward: empty batch (rows=0)");

  const Tensor empty = Tensor::zeros({0, 3}, dt, Device::cpu());
  EXPECT_EQ(testing::error_of([&] { kl_sparsity(empty, 0.05); }), "kl_sparsity: empty batch (0, 3)");
  EXPECT_EQ(testing::error_of([&] {
              contractive_penalty(empty, Tensor::zeros({3, 4}, dt, Device::cpu()), UnaryOp::sigmoid);
            }),
            "contractive_penalty: empty batch (0, 3)");
  EXPECT_EQ(testing::error_of([&] { reparameterize(empty, empty, 1, 0); }),
            "reparameterize: empty batch (0, 3)");
  EXPECT_EQ(testing::error_of([&] {
              contractive_penalty(Tensor::zeros({2, 3}, dt, Device::cpu()),
                                  Tensor::zeros({3, 4}, dt, Device::cpu()), exp_op);
            }),
            "contractive_penalty" + not_an_activation);
}

}  // namespace
}  // namespace ae
