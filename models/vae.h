// The variational autoencoder (Kingma and Welling 2014): an encoder trunk with two heads, μ and
// log σ², the reparameterised draw z = μ + σ ⊙ ε, a decoder matched to the data kind, and the
// negative ELBO as its loss:
//   reconstruction −log p(x | z) (Bernoulli or unit Gaussian, one draw of z per sample)
//   + β · KL(q(z|x) ‖ N(0, I)) in closed form, −½ Σ (1 + log σ² − μ² − σ²),
// both summed over features and averaged over the batch (models/autoencoder.h).
#pragma once
#include <vector>

#include "models/autoencoder.h"
#include "models/beta_schedule.h"

namespace ae::models {

// log σ² is soft-clamped into (kLogvarMin, kLogvarMax) before use (ae::soft_clamp: the identity
// on [kLogvarMin + kLogvarMargin, kLogvarMax - kLogvarMargin]), so σ² = e^{log σ²} neither
// overflows nor collapses to 0 early in training, while a head that ran far outside (as on
// unscaled data, where a hard clamp left it stuck at e^20 with no gradient) still gets a
// gradient back into range.
inline constexpr double kLogvarMin = -30, kLogvarMax = 20, kLogvarMargin = 5;

struct VaeConfig {
  // The encoder trunk, from the input, e.g. {784, 512, 256}; the heads map its last width to
  // the latent; the decoder mirrors the trunk from the latent back to the input.
  std::vector<int64_t> widths{784, 512, 256};
  int64_t latent = 32;
  Activation hidden = Activation::relu;
  DataKind data = DataKind::binary;
  BetaSchedule beta;  // over optimizer steps; constant 1 is the plain ELBO
  DType dtype = DType::f32;
};

struct Posterior {
  Tensor mu;      // (batch, latent)
  Tensor logvar;  // (batch, latent), soft-clamped into (kLogvarMin, kLogvarMax)
};

class Vae : public Model {
 public:
  Vae(VaeConfig config, uint64_t seed, Device device = Device::cpu());

  const VaeConfig& config() const { return config_; }

  Posterior encode(const Tensor& x) const;  // x (batch, widths[0])
  Tensor decode_logits(const Tensor& z) const;  // (batch, widths[0]) pre-activation
  Tensor decode(const Tensor& z) const;         // in data space

  // z = μ + e^{½ log σ²} ⊙ ε and the KL in one fused op (ae::reparameterize), ε ~ N(0, I) the
  // Philox normals of a window of a generator. In training that is the model's generator. In
  // evaluation it is a fixed stream (a generator of its own, restarted each call), so validation
  // losses are comparable across epochs and evaluating never shifts the training noise.
  Losses loss(const Tensor& x, const LossContext& context) override;
  Tensor reconstruct(const Tensor& x) override;  // decodes μ
  Tensor code(const Tensor& x) const override { return encode(x).mu; }
  // n draws of z ~ N(0, I) from `gen`, decoded: (n, widths[0]) in data space.
  Tensor sample(int64_t n, Generator& gen) const;

  // encoder.{i}.*, mu.*, logvar.*, decoder.{i}.* (weight and bias each).
  std::vector<Parameter> parameters() const override;
  Generator& generator() override { return gen_; }
  Device device() const override { return device_; }
  DType dtype() const override { return config_.dtype; }

 private:
  VaeConfig config_;
  Device device_;
  uint64_t seed_;
  Generator gen_;
  std::vector<Linear> encoder_;  // the trunk: widths[i] -> widths[i+1]
  Linear mu_, logvar_;           // widths.back() -> latent
  std::vector<Linear> decoder_;  // latent -> widths.back() -> ... -> widths[0]
};

}  // namespace ae::models
