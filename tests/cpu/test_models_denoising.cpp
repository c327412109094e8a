// Denoising: each corruption does what it says (measured fractions and moments), draws from the
// model's Philox generator, is off at evaluation; and on MNIST digits a denoising autoencoder
// reconstructs held-out corrupted digits closer to the clean ones than a plain autoencoder of
// the same size trained on clean data.
#include <cmath>

#include "core/autograd.h"
#include "models/autoencoder.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using test::measured;
using test::mnist_rows;
using test::quick_trainer;

// Fractions of a corrupted constant tensor: 200k elements give fractions to about ±0.003 (4σ).
constexpr int64_t kRows = 400, kCols = 500;
const double kTol = 4 * std::sqrt(0.25 / (kRows * kCols));

double fraction(const std::vector<double>& v, double value) {
  int64_t n = 0;
  for (double x : v) n += x == value;
  return static_cast<double>(n) / static_cast<double>(v.size());
}

TEST(ModelsNoise, MaskingZeroesTheFraction) {
  Generator gen(1);
  Tensor x = Tensor::full(Shape{kRows, kCols}, 0.5, DType::f32, Device::cpu());
  std::vector<double> v = corrupt(x, {NoiseKind::masking, 0.3}, gen).to_vector();
  EXPECT_NEAR(fraction(v, 0), 0.3, kTol);
  EXPECT_NEAR(fraction(v, 0.5), 0.7, kTol);
}

TEST(ModelsNoise, SaltAndPepperSetsHalfToEachExtreme) {
  Generator gen(2);
  Tensor x = Tensor::full(Shape{kRows, kCols}, 0.5, DType::f32, Device::cpu());
  std::vector<double> v = corrupt(x, {NoiseKind::salt_and_pepper, 0.4, -1, 2}, gen).to_vector();
  EXPECT_NEAR(fraction(v, -1), 0.2, kTol);
  EXPECT_NEAR(fraction(v, 2), 0.2, kTol);
  EXPECT_NEAR(fraction(v, 0.5), 0.6, kTol);
}

TEST(ModelsNoise, DropoutKeepsTheMean) {
  Generator gen(3);
  Tensor x = Tensor::full(Shape{kRows, kCols}, 0.5, DType::f32, Device::cpu());
  std::vector<double> v = corrupt(x, {NoiseKind::dropout, 0.25}, gen).to_vector();
  EXPECT_NEAR(fraction(v, 0), 0.25, kTol);
  for (double e : v)  // survivors scaled by 1 / (1 − p)
    if (e != 0) ASSERT_NEAR(e, 0.5 / 0.75, 1e-7);
  double mean = 0;
  for (double e : v) mean += e / static_cast<double>(v.size());
  EXPECT_NEAR(mean, 0.5, 0.5 / 0.75 * kTol);
}

TEST(ModelsNoise, GaussianAddsNoiseOfSigma) {
  Generator gen(4);
  Tensor x = Tensor::full(Shape{kRows, kCols}, 0.5, DType::f32, Device::cpu());
  std::vector<double> v = corrupt(x, {NoiseKind::gaussian, 0.3}, gen).to_vector();
  double mean = 0, var = 0;
  for (double e : v) mean += e / static_cast<double>(v.size());
  for (double e : v) var += (e - mean) * (e - mean) / static_cast<double>(v.size() - 1);
  EXPECT_NEAR(mean, 0.5, 4 * 0.3 / std::sqrt(kRows * kCols));
  EXPECT_NEAR(std::sqrt(var), 0.3, 0.3 * 0.01);
}

TEST(ModelsNoise, DrawsFromTheGeneratorAndStopsAtEvaluation) {
  Tensor x = Tensor::rand(Shape{8, 10}, 5, 0, DType::f32, Device::cpu());
  NoiseConfig noise{NoiseKind::masking, 0.5};
  Generator a(7), b(7);
  EXPECT_EQ(corrupt(x, noise, a).to_vector(), corrupt(x, noise, b).to_vector());
  Generator other_seed(8);
  EXPECT_NE(corrupt(x, noise, a).to_vector(), corrupt(x, noise, other_seed).to_vector());
  EXPECT_EQ(corrupt(x, {}, a).to_vector(), x.to_vector());

  AutoencoderConfig c;
  c.widths = {10, 4};
  c.noise = noise;
  Autoencoder dae(c, 3, Device::cpu());
  AutoencoderConfig clean_config = c;
  clean_config.noise = {};
  Autoencoder plain(clean_config, 3, Device::cpu());  // the same parameters
  const uint64_t offset = dae.generator().offset();
  EXPECT_EQ(dae.loss(x, {false, 0}).total.item(), plain.loss(x, {false, 0}).total.item());
  EXPECT_EQ(dae.generator().offset(), offset);  // evaluation draws nothing
  EXPECT_NE(dae.loss(x, {true, 0}).total.item(), plain.loss(x, {true, 0}).total.item());
  EXPECT_GT(dae.generator().offset(), offset);
  EXPECT_NE(ae::testing::error_of([&] { Generator g; corrupt(x, {NoiseKind::dropout, 1}, g); }).find("dropout"),
            std::string::npos);
}

// 2000 training digits, 1000 held-out; 784 -> 256 -> 784, sigmoid, 15 epochs of Adam.
AutoencoderConfig digits_config(NoiseConfig noise) {
  AutoencoderConfig c;
  c.widths = {784, 256};
  c.noise = noise;
  return c;
}

Autoencoder& plain_model() {
  static Autoencoder model = [] {
    Autoencoder m(digits_config({}), 1, Device::cpu());
    Trainer(quick_trainer(15)).fit(m, mnist_rows(0, 2000));
    return m;
  }();
  return model;
}

class Denoising : public ::testing::TestWithParam<NoiseConfig> {};

TEST_P(Denoising, BeatsAPlainAutoencoderOnCorruptedHeldOutDigits) {
  AE_SKIP_WITHOUT_MNIST();
  const NoiseConfig noise = GetParam();
  Autoencoder dae(digits_config(noise), 1, Device::cpu());
  Trainer(quick_trainer(15)).fit(dae, mnist_rows(0, 2000));
  Autoencoder& plain = plain_model();

  Tensor clean = mnist_rows(8000, 1000);
  Generator held_out_noise(999);
  Tensor corrupted = corrupt(clean, noise, held_out_noise);
  double dae_error = test::batch_sse(dae.reconstruct(corrupted), clean);
  double plain_error = test::batch_sse(plain.reconstruct(corrupted), clean);
  double input_error = test::batch_sse(corrupted, clean);
  measured(cat(noise_name(noise.kind), " ", noise.level, ": squared error to the clean digit, DAE ",
               dae_error, " vs plain ", plain_error, " (corrupted input itself ", input_error, ")"));
  EXPECT_LT(dae_error, 0.95 * plain_error);
}

INSTANTIATE_TEST_SUITE_P(Models, Denoising,
                         ::testing::Values(NoiseConfig{NoiseKind::gaussian, 0.5},
                                           NoiseConfig{NoiseKind::salt_and_pepper, 0.3},
                                           NoiseConfig{NoiseKind::masking, 0.5},
                                           NoiseConfig{NoiseKind::dropout, 0.5}),
                         [](const auto& info) { return std::string(noise_name(info.param.kind)); });

}  // namespace
}  // namespace ae::models
