// The five model kinds the training-step tests run (CPU and GPU suites alike), built small.
#pragma once
#include <memory>
#include <vector>

#include "models/autoencoder.h"
#include "models/data.h"
#include "models/vae.h"

namespace ae::testing {

// n synthetic 8x8 shapes (models/data.h) as (n, 64) rows: small, fast training data.
inline Tensor shapes_rows(int64_t n, uint64_t seed) {
  models::ShapesOptions o;
  o.samples = n;
  o.seed = seed;
  return models::make_shapes(o).x;
}

enum class StepKind { plain, denoising, sparse, contractive, vae };
inline constexpr StepKind kStepKinds[] = {StepKind::plain, StepKind::denoising, StepKind::sparse,
                                          StepKind::contractive, StepKind::vae};

inline const char* step_kind_name(StepKind k) {
  switch (k) {
    case StepKind::plain: return "plain";
    case StepKind::denoising: return "denoising";
    case StepKind::sparse: return "sparse";
    case StepKind::contractive: return "contractive";
    case StepKind::vae: return "vae";
  }
  return "?";
}

struct StepModelSizes {
  std::vector<int64_t> ae_widths;   // input, hidden..., code
  std::vector<int64_t> vae_widths;  // input, hidden...
  int64_t vae_latent = 0;
};

// Masking noise 0.3 for the denoiser, KL sparsity 0.5 and contractive 0.1 for the penalised ones.
inline std::unique_ptr<models::Model> make_step_model(StepKind kind, const StepModelSizes& sizes,
                                                      uint64_t seed, Device d) {
  using namespace models;
  if (kind == StepKind::vae) {
    VaeConfig c;
    c.widths = sizes.vae_widths;
    c.latent = sizes.vae_latent;
    return std::make_unique<Vae>(c, seed, d);
  }
  AutoencoderConfig c;
  c.widths = sizes.ae_widths;
  if (kind == StepKind::denoising) c.noise = {NoiseKind::masking, 0.3};
  if (kind == StepKind::sparse) {
    c.penalty = CodePenalty::kl_sparsity;
    c.penalty_weight = 0.5;
  }
  if (kind == StepKind::contractive) {
    c.penalty = CodePenalty::contractive;
    c.penalty_weight = 0.1;
  }
  return std::make_unique<Autoencoder>(c, seed, d);
}

// Every parameter's values, in parameter order, on the host.
inline std::vector<float> all_parameter_values(const models::Model& model) {
  std::vector<float> out;
  for (const models::Parameter& p : model.parameters()) {
    std::vector<float> v = p.value.to_floats();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace ae::testing
