// Sparse autoencoders (SAEs) for the activations of other models: one hidden layer of many
// latents, few of them active per input, trained to reconstruct the input from a sparse code.
// The seeds' L1 sparse autoencoder, grown to the scale of interpretability research.
//
//   pre = (x − b_dec) W_encᵀ + b_enc        W_enc (latents, inputs), b_enc (latents)
//   z   = σ(pre)                             sparse: the SaeKind below
//   x̂   = z W_dec + b_dec                    W_dec (latents, inputs): row i is latent i's direction
//
// Kinds (σ, and the sparsity term of the loss):
//   topk       TopK(ReLU(pre)), k per row (Gao et al. 2024, "Scaling and evaluating sparse
//              autoencoders"), + the AuxK loss on dead latents
//   batch_topk the k · rows largest ReLU(pre) of the batch (Bussmann et al. 2024, "BatchTopK
//              sparse autoencoders"), + AuxK; at inference pre ≥ θ, θ a moving average of the
//              batches' smallest selected activation
//   jumprelu   pre · H(pre − θ_i), a learned threshold per latent (Rajamanoharan et al. 2024,
//              "Jumping ahead"), + λ L0 through straight-through estimators of bandwidth ε
//   relu_l1    ReLU(pre), dense, + λ Σ_i z_i ‖W_dec,i‖₂ (Anthropic, "Circuits updates", April
//              2024): the seeds' L1 sparse autoencoder with the penalty made blind to the
//              decoder's scale
//
// The loss is the papers' ‖x − x̂‖² (summed over the inputs, averaged over the batch) plus the
// kind's term, so λ and α mean what they mean there. The code is computed sparsely (core/ops.h,
// "sparse codes") for the three selecting kinds: a training step costs the encoder's dense GEMM
// plus O(rows · k · inputs).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ops.h"
#include "models/autoencoder.h"

namespace ae::models {

enum class SaeKind : uint8_t { topk, batch_topk, jumprelu, relu_l1 };
const char* sae_kind_name(SaeKind k);  // "topk", "batchtopk", "jumprelu", "relu-l1"
SaeKind parse_sae_kind(const std::string& name);
bool is_sae_kind(const std::string& name);

struct SaeConfig {
  SaeKind kind = SaeKind::topk;
  int64_t inputs = 768;     // d
  int64_t latents = 16384;  // n
  int64_t k = 32;           // topk: active latents per row; batch_topk: their mean over a batch

  // Dead latents and the auxiliary loss of Gao et al. (appendix A.2), topk and batch_topk: a
  // latent that has not fired for dead_after samples is dead; the auxiliary code is the k_aux
  // largest pre-activations of the dead latents, and it is trained to reconstruct the main
  // code's residual e = x − x̂ (detached). Gao et al. add α ‖e − ê‖² / ‖e − ē‖² to the
  // reconstruction normalised by ‖x − x̄‖²; in the reconstruction's own units (used here) that
  // is α ‖e − ê‖² / ‖e − ē‖² · ‖x − x̄‖² / rows, over the batch. ê is decoded without b_dec.
  double auxk_alpha = 1.0 / 32;
  int64_t auxk_k = 0;              // 0: inputs / 2
  int64_t dead_after = 10000000;   // samples (Gao et al.: 10M tokens)

  double l1 = 5;                   // relu_l1: λ
  double l0 = 1;                   // jumprelu: λ of the L0 term
  double bandwidth = 0.001;        // jumprelu: ε of the rectangle kernel
  double initial_threshold = 0.001;  // jumprelu: θ at the start (every latent)
  double threshold_momentum = 0.99;  // batch_topk: of θ's moving average

  // Decoder rows kept at unit norm: the gradient's component along each row is removed before
  // the update and the rows renormalised after it (Bricken et al. 2023; Gao et al. 2024). On by
  // default for all but relu_l1, whose penalty weighs each latent by its row's norm instead.
  bool unit_norm_decoder = true;
  DType dtype = DType::f32;
};

// What the latents did over the samples seen since the last take_activity().
struct LatentActivity {
  int64_t samples = 0;
  std::vector<int64_t> fired;   // (latents) samples on which each latent was active
  double l0 = 0;                // mean active latents per sample
  int64_t dead = 0;             // latents past dead_after samples without firing (now)
  int64_t dense = 0;            // latents active on more than 10% of the samples
  // Explained variance 1 − FVU, FVU = Σ ‖x − x̂‖² / Σ ‖x − x̄‖², x̄ the mean of these samples
  // (variance around the mean, not around 0).
  double fvu = 0;
  double mse = 0;               // Σ ‖x − x̂‖² / samples
  double auxk = 0;              // mean AuxK loss (before α) over the steps that had dead latents
};

class SparseAutoencoder : public Model {
 public:
  // W_dec's rows drawn uniformly on the unit sphere (scaled to 0.1 for relu_l1, as in Anthropic's
  // recipe), W_enc = W_dec (pre = (x − b_dec) W_decᵀ: the encoder starts as the decoder's
  // transpose), biases 0, θ = initial_threshold.
  SparseAutoencoder(SaeConfig config, uint64_t seed, Device device = Device::cpu());

  const SaeConfig& config() const { return config_; }

  // b_dec from a sample of the training rows (rows, inputs): their geometric median (Weiszfeld's
  // iterations from the mean, as Bricken et al. 2023), or their mean when `median` is false.
  void init_decoder_bias(const Tensor& sample, bool median = true);

  // The sparse code of x (rows, inputs), in evaluation mode (batch_topk: the threshold θ).
  SparseCode encode(const Tensor& x) const;

  Losses loss(const Tensor& x, const LossContext& context) override;
  Tensor reconstruct(const Tensor& x) override;
  Tensor code(const Tensor& x) const override;  // dense (rows, latents)
  // A dense code z (rows, latents) decoded: z W_dec + b_dec (rows, inputs).
  Tensor decode(const Tensor& z) const;
  // encoder.weight, encoder.bias, decoder.weight, decoder.bias, and for jumprelu log_threshold
  // (latents).
  std::vector<Parameter> parameters() const override;
  Generator& generator() override { return gen_; }
  Device device() const override { return device_; }
  DType dtype() const override { return config_.dtype; }
  // latents.samples_since_fired (latents, float64 on the CPU), and for batch_topk threshold ()
  // and threshold_updates () (float64 on the CPU: the moving average's count).
  std::vector<Parameter> buffers() const override;
  void set_buffer(const std::string& name, const Tensor& value) override;
  std::string graph_obstacle() const override;
  void before_update() override;
  void after_update() override;

  // The statistics since the last call (training steps only), and starts new ones.
  LatentActivity take_activity();
  // Samples since each latent last fired (latents), what dead_after is compared with.
  const std::vector<int64_t>& samples_since_fired() const { return since_fired_; }
  void set_samples_since_fired(std::vector<int64_t> s);
  int64_t dead_latents() const;

 private:
  SparseSelection selection(bool training) const;
  // b_enc − W_enc b_dec (latents): pre = (x − b_dec) W_encᵀ + b_enc = x W_encᵀ + this, so the
  // encoder reads x itself and b_dec's gradient through it is one product with W_enc (latents ×
  // inputs), not a pass over the batch's selected rows.
  Tensor encoder_bias() const;
  // Adds a training batch's firing, rows and FVU sums; `reconstruction` is its loss term
  // Σ ‖x − x̂‖² / rows.
  void record(const SparseCode& z, const Tensor& x, const Tensor& reconstruction);

  SaeConfig config_;
  Device device_;
  Generator gen_;
  Tensor w_enc_, b_enc_, w_dec_, b_dec_;
  Tensor log_threshold_;  // jumprelu
  Tensor threshold_;      // batch_topk: () the inference threshold
  int64_t threshold_updates_ = 0;  // batch_topk: training batches θ has averaged
  Tensor pre_;  // the training steps' pre-activations, reused from step to step

  std::vector<int64_t> since_fired_;
  // Since take_activity(): per-latent firing counts, samples, and the sums of FVU.
  std::vector<int64_t> fired_;
  int64_t samples_ = 0, auxk_steps_ = 0;
  double active_ = 0, err_ = 0, x_sq_ = 0, auxk_ = 0;
  std::vector<double> x_sum_;
};

}  // namespace ae::models
