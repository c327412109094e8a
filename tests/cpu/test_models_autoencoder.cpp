// Layers and the autoencoder's structure: activations by name, seeded initialisation with the
// variances Glorot and He prescribe, parameter names and counts, tied weights (gradchecked over
// the whole model), and the loss matched to the input type with the batch_mean reduction.
#include <cmath>
#include <set>

#include "models/autoencoder.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using ae::testing::error_of;

TEST(ModelsLayers, ActivationNamesRoundTrip) {
  for (Activation a : {Activation::identity, Activation::sigmoid, Activation::tanh,
                       Activation::relu, Activation::leaky_relu, Activation::softplus})
    EXPECT_EQ(parse_activation(activation_name(a)), a);
  EXPECT_NE(error_of([] { parse_activation("swish"); }).find("swish"), std::string::npos);
  EXPECT_EQ(parse_data_kind("real"), DataKind::real);
  EXPECT_EQ(parse_code_penalty("contractive"), CodePenalty::contractive);
}

TEST(ModelsLayers, ActivationsComputeTheirFunctions) {
  Tensor x = Tensor::from_host(std::vector<double>{-2.0, -0.5, 0.0, 1.5}, Shape{4}, Device::cpu());
  auto at = [&](Activation a) { return apply(a, x).to_vector(); };
  for (size_t i = 0; i < 4; ++i) {
    double v = x.to_vector()[i];
    EXPECT_DOUBLE_EQ(at(Activation::identity)[i], v);
    EXPECT_NEAR(at(Activation::sigmoid)[i], 1 / (1 + std::exp(-v)), 1e-15);
    EXPECT_NEAR(at(Activation::tanh)[i], std::tanh(v), 1e-15);
    EXPECT_DOUBLE_EQ(at(Activation::relu)[i], v > 0 ? v : 0);
    EXPECT_DOUBLE_EQ(at(Activation::leaky_relu)[i], v > 0 ? v : kLeakySlope * v);
    EXPECT_NEAR(at(Activation::softplus)[i], std::log1p(std::exp(v)), 1e-15);
  }
}

// Sample mean and variance of a tensor's elements.
std::pair<double, double> moments(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, s / static_cast<double>(v.size() - 1)};
}

TEST(ModelsLayers, XavierAndHeInitialisationHaveTheirVariance) {
  Generator gen(3);
  const int64_t in = 400, out = 300;  // 120000 draws: the variance is known to about 0.5%
  Linear xavier = Linear::create(in, out, Init::xavier_uniform, gen, Device::cpu());
  auto [xm, xv] = moments(xavier.weight);
  const double bound = std::sqrt(6.0 / (in + out));
  EXPECT_NEAR(xm, 0, 0.01 * bound);
  EXPECT_NEAR(xv / (2.0 / (in + out)), 1, 0.02);  // U(-a, a) has variance a²/3 = 2 / (in + out)
  for (double w : xavier.weight.to_vector()) ASSERT_LE(std::fabs(w), bound);

  Linear he = Linear::create(in, out, Init::he_normal, gen, Device::cpu());
  auto [hm, hv] = moments(he.weight);
  EXPECT_NEAR(hm, 0, 0.01 * std::sqrt(2.0 / in));
  EXPECT_NEAR(hv / (2.0 / in), 1, 0.02);
  for (double b : he.bias.to_vector()) ASSERT_EQ(b, 0);
  EXPECT_EQ(init_for(Activation::relu), Init::he_normal);
  EXPECT_EQ(init_for(Activation::tanh), Init::xavier_uniform);
}

TEST(ModelsLayers, InitialisationIsSeeded) {
  AutoencoderConfig c;
  c.widths = {20, 8, 3};
  Autoencoder a(c, 11, Device::cpu()), b(c, 11), other(c, 12);
  auto pa = a.parameters(), pb = b.parameters(), po = other.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(pa[i].value.to_vector(), pb[i].value.to_vector()) << pa[i].name;
  EXPECT_NE(pa[0].value.to_vector(), po[0].value.to_vector());
}

TEST(ModelsAutoencoder, ParameterNamesAndCounts) {
  AutoencoderConfig c;
  c.widths = {784, 512, 256, 32};
  Autoencoder untied(c, 1, Device::cpu());
  std::vector<std::string> names;
  for (const Parameter& p : untied.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                       "encoder.2.weight", "encoder.2.bias", "decoder.0.weight", "decoder.0.bias",
                       "decoder.1.weight", "decoder.1.bias", "decoder.2.weight", "decoder.2.bias"}));
  const int64_t weights = 784 * 512 + 512 * 256 + 256 * 32;
  EXPECT_EQ(parameter_count(untied.parameters()), 2 * weights + (512 + 256 + 32) + (256 + 512 + 784));
  EXPECT_EQ(untied.parameters()[6].value.shape(), (Shape{256, 32}));   // decoder.0: code -> 256
  EXPECT_EQ(untied.parameters()[11].value.shape(), (Shape{784}));      // decoder.2.bias

  c.tied = true;
  Autoencoder tied(c, 1, Device::cpu());
  std::set<std::string> tied_names;
  for (const Parameter& p : tied.parameters()) tied_names.insert(p.name);
  EXPECT_FALSE(tied_names.count("decoder.0.weight"));
  EXPECT_TRUE(tied_names.count("decoder.1.bias"));
  EXPECT_EQ(parameter_count(tied.parameters()), weights + (512 + 256 + 32) + (256 + 512 + 784));
}

TEST(ModelsAutoencoder, UndercompleteAndOvercompleteShapes) {
  for (std::vector<int64_t> widths : {std::vector<int64_t>{12, 4}, {12, 30}, {12, 20, 6}}) {
    AutoencoderConfig c;
    c.widths = widths;
    Autoencoder ae(c, 5, Device::cpu());
    Tensor x = Tensor::rand(Shape{7, 12}, 9, 0, DType::f32, Device::cpu());
    EXPECT_EQ(ae.encode(x).shape(), (Shape{7, widths.back()}));
    Tensor r = ae.reconstruct(x);
    EXPECT_EQ(r.shape(), x.shape());
    for (double v : r.to_vector()) ASSERT_TRUE(v > 0 && v < 1);  // sigmoid output for binary data
  }
  AutoencoderConfig bad;
  bad.widths = {12};
  EXPECT_NE(error_of([&] { Autoencoder(bad, 0, Device::cpu()); }).find("widths"), std::string::npos);
}

// The loss of one sample set, computed on the host from the model's own output: Bernoulli
// cross-entropy for binary data, ½ squared error for real data, summed over features and
// averaged over the batch.
TEST(ModelsAutoencoder, LossMatchesTheInputTypeWithBatchMeanReduction) {
  for (DataKind kind : {DataKind::binary, DataKind::real}) {
    AutoencoderConfig c;
    c.widths = {10, 4};
    c.data = kind;
    c.dtype = DType::f64;
    Autoencoder ae(c, 2, Device::cpu());
    Tensor x = Tensor::rand(Shape{6, 10}, 4, 0, DType::f64, Device::cpu());
    std::vector<double> xs = x.to_vector(), out = ae.reconstruct(x).to_vector();
    double expected = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      expected += kind == DataKind::binary
                      ? -(xs[i] * std::log(out[i]) + (1 - xs[i]) * std::log(1 - out[i]))
                      : 0.5 * (out[i] - xs[i]) * (out[i] - xs[i]);
    }
    expected /= 6;
    Losses l = ae.loss(x, {});
    EXPECT_NEAR(l.total.item(), expected, 1e-12 * expected) << data_kind_name(kind);
    EXPECT_DOUBLE_EQ(l.reconstruction.item(), l.total.item());
    EXPECT_EQ(l.penalty.item(), 0);
  }
}

// W appears in the encoder and, transposed, in the decoder: its gradient is the sum of two
// terms. Central differences over every parameter of a small tied model check that sum.
TEST(ModelsAutoencoder, TiedModelGradcheck) {
  for (auto [hidden, kind] : {std::pair{Activation::sigmoid, DataKind::binary},
                              std::pair{Activation::tanh, DataKind::real}}) {
    AutoencoderConfig c;
    c.widths = {6, 5, 3};
    c.hidden = hidden;
    c.code = hidden;
    c.data = kind;
    c.tied = true;
    c.dtype = DType::f64;
    Autoencoder ae(c, 8, Device::cpu());
    Tensor x = Tensor::rand(Shape{4, 6}, 10, 0, DType::f64, Device::cpu());
    std::vector<Tensor> params;
    for (const Parameter& p : ae.parameters()) params.push_back(p.value);
    EXPECT_EQ(params.size(), 6u);  // 2 encoder weights, 2 encoder biases, 2 decoder biases
    ae::testing::expect_gradcheck(
        [&](const std::vector<Tensor>&) { return ae.loss(x, {}).total; }, params);
  }
}

TEST(ModelsAutoencoder, TiedDecoderUsesTheEncoderWeightTransposed) {
  AutoencoderConfig c;
  c.widths = {5, 3};
  c.tied = true;
  c.data = DataKind::real;
  c.code = Activation::identity;
  c.dtype = DType::f64;
  Autoencoder ae(c, 4, Device::cpu());
  Tensor x = Tensor::rand(Shape{2, 5}, 1, 0, DType::f64, Device::cpu());
  const Tensor& w = ae.encoder()[0].weight;  // (3, 5)
  // With zero biases and identity activations, x̂ = x Wᵀ W.
  Tensor expected = matmul(matmul(x, w, false, true), w);
  std::vector<double> got = ae.reconstruct(x).to_vector(), want = expected.to_vector();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14);
}

}  // namespace
}  // namespace ae::models
