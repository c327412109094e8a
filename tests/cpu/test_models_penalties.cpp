// Every penalty against its formula and against central differences (float64), and the
// contractive closed form against the explicit Jacobian computed row by row with autograd.
#include <cmath>

#include "core/autograd.h"
#include "models/autoencoder.h"
#include "models/penalties.h"
#include "tests/common/testing.h"

namespace ae::models {
namespace {

using ae::testing::away_from_zero;
using ae::testing::expect_gradcheck;
using ae::testing::leaf;
using ae::testing::probability;

std::vector<Parameter> two_params(uint64_t seed) {
  return {{"w", leaf({3, 4}, seed, away_from_zero), true},
          {"b", leaf({3}, seed + 1, away_from_zero), false}};
}

double host_sum(const Tensor& t, double (*f)(double)) {
  double s = 0;
  for (double v : t.to_vector()) s += f(v);
  return s;
}

TEST(ModelsPenalties, WeightRegularizersMatchTheirFormulas) {
  std::vector<Parameter> p = two_params(10);
  auto sq = [](double v) { return v * v; };
  auto ab = [](double v) { return std::fabs(v); };
  double w2 = host_sum(p[0].value, sq), b2 = host_sum(p[1].value, sq);
  double w1 = host_sum(p[0].value, ab), b1 = host_sum(p[1].value, ab);
  EXPECT_NEAR(l2_penalty(p, 0.3).item(), 0.3 * w2, 1e-12);  // weights only by default
  EXPECT_NEAR(l2_penalty(p, 0.3, true).item(), 0.3 * (w2 + b2), 1e-12);
  EXPECT_NEAR(l1_penalty(p, 0.3).item(), 0.3 * w1, 1e-12);
  EXPECT_NEAR(l1_penalty(p, 0.3, true).item(), 0.3 * (w1 + b1), 1e-12);
}

TEST(ModelsPenalties, WeightRegularizersGradcheck) {
  std::vector<Parameter> p = two_params(20);
  std::vector<Tensor> values{p[0].value, p[1].value};
  auto as_params = [](const std::vector<Tensor>& in) {
    return std::vector<Parameter>{{"w", in[0], true}, {"b", in[1], false}};
  };
  for (bool biases : {false, true}) {
    expect_gradcheck([&](const std::vector<Tensor>& in) { return l2_penalty(as_params(in), 0.7, biases); }, values);
    expect_gradcheck([&](const std::vector<Tensor>& in) { return l1_penalty(as_params(in), 0.7, biases); }, values);
  }
}

TEST(ModelsPenalties, CodeL1MatchesItsFormulaAndGradcheck) {
  Tensor h = leaf({5, 4}, 30, away_from_zero);
  EXPECT_NEAR(l1_code_penalty(h, 0.2).item(), 0.2 * host_sum(h, [](double v) { return std::fabs(v); }) / 5, 1e-12);
  expect_gradcheck([](const std::vector<Tensor>& in) { return l1_code_penalty(in[0], 0.2); }, {h});
}

TEST(ModelsPenalties, KlSparsityMatchesItsFormulaAndGradcheck) {
  Tensor h = leaf({8, 5}, 40, probability);
  const double rho = 0.05, beta = 3;
  std::vector<double> v = h.to_vector();
  double expected = 0;
  for (int j = 0; j < 5; ++j) {
    double q = 0;
    for (int i = 0; i < 8; ++i) q += v[i * 5 + j] / 8;
    expected += rho * std::log(rho / q) + (1 - rho) * std::log((1 - rho) / (1 - q));
  }
  EXPECT_NEAR(kl_sparsity_penalty(h, rho, beta).item(), beta * expected, 1e-12);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return kl_sparsity_penalty(in[0], rho, beta); }, {h});
  // A dead unit (ρ̂ = 0) stays finite thanks to the clamp.
  Tensor dead = Tensor::zeros(Shape{4, 3}, DType::f64, Device::cpu());
  EXPECT_TRUE(std::isfinite(kl_sparsity_penalty(dead, rho, 1).item()));
}

// The explicit ‖J_x(h)‖²_F averaged over the batch: one backward per code unit k. Each sample's
// code depends on its own input only, so the gradient of Σ_i h_ik is row i of J for every i.
double explicit_jacobian_norm(const std::function<Tensor(const Tensor&)>& encode, const Tensor& x0) {
  Tensor x = x0.clone();
  x.requires_grad_();
  Tensor h = encode(x);
  const int64_t batch = h.size(0), units = h.size(1);
  double total = 0;
  for (int64_t k = 0; k < units; ++k) {
    std::vector<double> e(static_cast<size_t>(units), 0.0);
    e[k] = 1;
    x.zero_grad();
    Tensor hk = sum(h * Tensor::from_host(e, Shape{units}, Device::cpu()));
    hk.backward();
    for (double d : x.grad().to_vector()) total += d * d;
    h = encode(x);  // a fresh graph for the next unit
  }
  return total / static_cast<double>(batch);
}

TEST(ModelsPenalties, ContractiveClosedFormEqualsTheExplicitJacobian) {
  for (Activation act : {Activation::sigmoid, Activation::tanh, Activation::relu,
                         Activation::identity, Activation::leaky_relu, Activation::softplus}) {
    AutoencoderConfig c;
    c.widths = {7, 5};
    c.code = act;
    c.penalty = CodePenalty::contractive;
    c.penalty_weight = 1;
    c.dtype = DType::f64;
    Autoencoder ae(c, 50, Device::cpu());
    Tensor x = leaf({6, 7}, 51, {}, false);
    double jac = explicit_jacobian_norm([&](const Tensor& in) { return ae.encode(in); }, x);
    double closed = ae.penalty(ae.encode_layers(x)).item();
    EXPECT_NEAR(closed, jac, 1e-10 * jac) << activation_name(act);
    EXPECT_GT(jac, 0);
  }
}

// For a deeper encoder the penalty is per layer: each layer's Jacobian against its own input.
TEST(ModelsPenalties, DeepContractiveIsTheSumOfPerLayerJacobians) {
  AutoencoderConfig c;
  c.widths = {6, 5, 3};
  c.penalty = CodePenalty::contractive;
  c.penalty_weight = 0.5;
  c.dtype = DType::f64;
  Autoencoder ae(c, 60, Device::cpu());
  Tensor x = leaf({4, 6}, 61, {}, false);
  Tensor h1 = ae.encode_layers(x)[0].detach();
  double layer1 = explicit_jacobian_norm([&](const Tensor& in) { return ae.encoder()[0].forward(in, c.hidden); }, x);
  double layer2 = explicit_jacobian_norm([&](const Tensor& in) { return ae.encoder()[1].forward(in, c.code); }, h1);
  EXPECT_NEAR(ae.penalty(ae.encode_layers(x)).item(), 0.5 * (layer1 + layer2), 1e-10 * layer1);
}

TEST(ModelsPenalties, ContractiveGradcheck) {
  for (Activation act : {Activation::sigmoid, Activation::tanh, Activation::identity, Activation::softplus}) {
    Tensor h = act == Activation::sigmoid ? leaf({4, 3}, 70, probability)
                                          : leaf({4, 3}, 70, [](double v) { return 0.4 * v; });
    Tensor w = leaf({3, 5}, 71);
    expect_gradcheck([&](const std::vector<Tensor>& in) { return jacobian_penalty(in[0], in[1], act, 0.8); }, {h, w});
  }
  // Through a whole contractive model: the penalty reaches W twice (through h and directly).
  AutoencoderConfig c;
  c.widths = {5, 4};
  c.penalty = CodePenalty::contractive;
  c.penalty_weight = 0.3;
  c.l2 = 0.01;
  c.dtype = DType::f64;
  Autoencoder ae(c, 72, Device::cpu());
  Tensor x = Tensor::rand(Shape{3, 5}, 73, 0, DType::f64, Device::cpu());
  std::vector<Tensor> params;
  for (const Parameter& p : ae.parameters()) params.push_back(p.value);
  expect_gradcheck([&](const std::vector<Tensor>&) { return ae.loss(x, {}).total; }, params);
}

TEST(ModelsPenalties, SparseModelGradcheck) {
  for (CodePenalty pen : {CodePenalty::kl_sparsity, CodePenalty::l1}) {
    AutoencoderConfig c;
    c.widths = {5, 4};
    c.penalty = pen;
    c.penalty_weight = 0.5;
    c.l1 = 0.01;
    c.dtype = DType::f64;
    Autoencoder ae(c, 80, Device::cpu());
    Tensor x = Tensor::rand(Shape{6, 5}, 81, 0, DType::f64, Device::cpu());
    std::vector<Tensor> params;
    for (const Parameter& p : ae.parameters()) params.push_back(p.value);
    expect_gradcheck([&](const std::vector<Tensor>&) { return ae.loss(x, {}).total; }, params);
  }
}

TEST(ModelsPenalties, GaussianKlMatchesItsFormulaAndGradcheck) {
  Tensor mu = leaf({3, 4}, 90), logvar = leaf({3, 4}, 91, [](double v) { return 0.5 * v; });
  std::vector<double> m = mu.to_vector(), lv = logvar.to_vector();
  double expected = 0;
  for (size_t i = 0; i < m.size(); ++i) expected += -0.5 * (1 + lv[i] - m[i] * m[i] - std::exp(lv[i]));
  EXPECT_NEAR(gaussian_kl(mu, logvar).item(), expected / 3, 1e-12);
  expect_gradcheck([](const std::vector<Tensor>& in) { return gaussian_kl(in[0], in[1]); }, {mu, logvar});
  // Against N(0, I) the general formula reduces to the special one.
  Tensor zeros = Tensor::zeros(Shape{3, 4}, DType::f64, Device::cpu());
  EXPECT_NEAR(kl_diagonal_gaussians(mu, logvar, zeros, zeros).item(), expected / 3, 1e-12);
  Tensor mu2 = leaf({3, 4}, 92), logvar2 = leaf({3, 4}, 93, [](double v) { return 0.5 * v; });
  expect_gradcheck([](const std::vector<Tensor>& in) { return kl_diagonal_gaussians(in[0], in[1], in[2], in[3]); },
                   {mu, logvar, mu2, logvar2});
  // KL(q ‖ q) = 0.
  EXPECT_NEAR(kl_diagonal_gaussians(mu, logvar, mu, logvar).item(), 0, 1e-15);
}

}  // namespace
}  // namespace ae::models
