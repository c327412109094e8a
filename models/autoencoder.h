// The autoencoder family's shared vocabulary (data kinds, losses, the Model interface) and the
// deterministic autoencoder: undercomplete or overcomplete, optionally tied, regularized,
// sparse, contractive or denoising, all chosen by AutoencoderConfig.
//
// ONE reduction for every loss of the family: each per-sample term is summed over the features
// of a sample and averaged over the batch (Reduction::batch_mean). Reconstruction, the L1 and
// contractive code penalties and the VAE's KL all follow it, so their weights (λ, β) mean the
// same thing in every model. Two terms are not per sample and are added once per batch: the KL
// sparsity penalty (a function of the batch's mean activations) and the weight regularizers.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "core/tensor.h"
#include "models/activation.h"
#include "models/linear.h"
#include "models/noise.h"

namespace ae::models {

// The input type fixes the output layer and the loss, −log p(x | output):
//   binary  data in [0, 1]: sigmoid output, Bernoulli cross-entropy, computed from the logits
//           (bce_with_logits) for stability;
//   real    real-valued data: identity output, ½ Σ (x̂ − x)², a unit Gaussian's −log p up to a
//           constant.
enum class DataKind : uint8_t { binary, real };
const char* data_kind_name(DataKind k);
DataKind parse_data_kind(const std::string& name);  // "binary" or "real"

// The reconstruction loss from the output layer's pre-activation `logits` (batch, features).
Tensor reconstruction_loss(DataKind kind, const Tensor& logits, const Tensor& x);
// The output layer's activation: sigmoid for binary, identity for real.
Tensor output_activation(DataKind kind, const Tensor& logits);

// The terms of one loss evaluation. `total` is the objective, in the graph; the others are
// detached scalars for reporting (zero when the model has no such term), so reading them needs
// no synchronisation until someone asks.
struct Losses {
  Tensor total;           // () reconstruction + penalty + β kl
  Tensor reconstruction;  // ()
  Tensor penalty;         // () weight regularizers + code penalty
  Tensor kl;              // () KL(q(z|x) ‖ p(z)), before the β weight (variational only)
};

// The same terms read on the host.
struct LossValues {
  double total = 0, reconstruction = 0, penalty = 0, kl = 0;
};
LossValues read(const Losses& losses);

struct LossContext {
  bool training = false;  // corruption and other training-only behaviour on
  int64_t step = 0;       // optimizer steps taken so far (drives the VAE's β schedule)
};

// What the trainer needs of a model.
class Model {
 public:
  virtual ~Model() = default;
  // x (batch, features) on the model's device.
  virtual Losses loss(const Tensor& x, const LossContext& context) = 0;
  // The reconstruction in data space (no corruption, the code's mean for the VAE).
  virtual Tensor reconstruct(const Tensor& x) = 0;
  // The code of x (batch, features) -> (batch, code width): the encoder's output, the VAE's
  // posterior mean μ (no corruption, no sampling).
  virtual Tensor code(const Tensor& x) const = 0;
  virtual std::vector<Parameter> parameters() const = 0;
  virtual Generator& generator() = 0;  // the model's noise stream (saved with checkpoints)
  virtual Device device() const = 0;
  virtual DType dtype() const = 0;
  // Why a training step of this model cannot be replayed as a CUDA graph (it reads values back
  // to the host), or "" when it can.
  virtual std::string graph_obstacle() const { return ""; }
  // State that is not trained but is saved with a checkpoint and restored from it (a moving
  // threshold, firing counters), by name. The tensors may be copies: set_buffer writes back.
  virtual std::vector<Parameter> buffers() const { return {}; }
  virtual void set_buffer(const std::string& name, const Tensor&) {
    throw Error(cat("the model has no buffer '", name, "'"));
  }
  // Called by the trainer between backward and the update, with the gradients final (summed over
  // the ranks, before clipping), and after the update: for constraints on the parameters.
  virtual void before_update() {}
  virtual void after_update() {}
};

// A penalty on the code, or on the encoder's Jacobian.
//   l1           λ ‖h‖₁                                 (weight = λ)
//   kl_sparsity  β Σ_j KL(ρ ‖ ρ̂_j), sigmoid code only  (weight = β, sparsity_target = ρ)
//   contractive  λ ‖J_x(h)‖²_F in closed form          (weight = λ). For a deeper encoder it is
//                applied per layer (stacked contractive): Σ_l λ ‖J_{h_{l−1}}(h_l)‖²_F, each layer
//                against its own input, which equals ‖J_x(h)‖²_F only for one layer.
enum class CodePenalty : uint8_t { none, l1, kl_sparsity, contractive };
const char* code_penalty_name(CodePenalty p);
CodePenalty parse_code_penalty(const std::string& name);

struct AutoencoderConfig {
  // Widths from the input to the code, e.g. {784, 512, 256, 32}; the decoder mirrors them.
  // A code wider than the input (overcomplete) is allowed; regularize it.
  std::vector<int64_t> widths{784, 256, 32};
  Activation hidden = Activation::sigmoid;  // every encoder and decoder layer but the two below
  Activation code = Activation::sigmoid;    // the last encoder layer
  DataKind data = DataKind::binary;         // fixes the output activation and the loss
  bool tied = false;  // decoder layer i reads encoder layer L−1−i's weight transposed

  double l2 = 0;                   // λ ‖W‖²
  double l1 = 0;                   // λ ‖W‖₁
  bool regularize_biases = false;  // include biases in the two above

  CodePenalty penalty = CodePenalty::none;
  double penalty_weight = 0;       // λ, or β for kl_sparsity
  double sparsity_target = 0.05;   // ρ

  NoiseConfig noise;               // denoising: corruption in training only
  DType dtype = DType::f32;
};

class Autoencoder : public Model {
 public:
  // Parameters drawn from Generator(seed) in order (encoder layers, then decoder layers); the
  // same generator then supplies the corruption noise.
  Autoencoder(AutoencoderConfig config, uint64_t seed, Device device = Device::cpu());

  const AutoencoderConfig& config() const { return config_; }
  int layers() const { return static_cast<int>(encoder_.size()); }  // L, encoder depth

  // Each encoder layer's output h_1 .. h_L for x (batch, widths[0]); h_L is the code.
  std::vector<Tensor> encode_layers(const Tensor& x) const;
  Tensor encode(const Tensor& x) const;  // the code (batch, widths[L])
  // The output layer's pre-activation (batch, widths[0]) for a code h.
  Tensor decode_logits(const Tensor& h) const;
  Tensor decode(const Tensor& h) const;  // in data space

  Losses loss(const Tensor& x, const LossContext& context) override;
  Tensor reconstruct(const Tensor& x) override;
  Tensor code(const Tensor& x) const override { return encode(x); }
  // encoder.{i}.weight (widths[i+1], widths[i]), encoder.{i}.bias, then decoder.{i}.weight
  // (absent when tied) and decoder.{i}.bias, i counted from the code outwards.
  std::vector<Parameter> parameters() const override;
  Generator& generator() override { return gen_; }
  Device device() const override { return device_; }
  DType dtype() const override { return config_.dtype; }

  // The layers themselves (for greedy pretraining). A tied decoder layer has no weight.
  std::vector<Linear>& encoder() { return encoder_; }
  std::vector<Linear>& decoder() { return decoder_; }

  // The penalty term alone, from the encoder outputs of `encode_layers` (zero when none).
  Tensor penalty(const std::vector<Tensor>& hs) const;

 private:
  Activation encoder_activation(int i) const;
  const Tensor& decoder_weight(int i) const;

  AutoencoderConfig config_;
  Device device_;
  Generator gen_;
  std::vector<Linear> encoder_;  // layer i: widths[i] -> widths[i+1]
  std::vector<Linear> decoder_;  // layer i: widths[L-i] -> widths[L-i-1]
};

}  // namespace ae::models
