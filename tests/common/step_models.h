// The five model kinds the training-step tests run (CPU and GPU suites alike), built small.
#pragma once
#include <memory>
#include <vector>

#include "core/comm.h"
#include "models/autoencoder.h"
#include "data/dataset.h"
#include "train/trainer.h"
#include "models/vae.h"

namespace ae::testing {

// n synthetic 8x8 shapes (data/dataset.h) as (n, 64) rows: small, fast training data.
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

// `kind` (64-24-6, or a 64-24 VAE with an odd latent of 5, so that Box-Muller pairs straddle
// rows) trained with Adam for 3 epochs over 203 shapes rows in batches of 32 (the last of 11)
// on `d`, through `comm` (null: the plain step). Returns the parameters.
inline std::vector<float> train_step_model(StepKind kind, Device d, Communicator* comm) {
  std::unique_ptr<models::Model> model =
      make_step_model(kind, StepModelSizes{{64, 24, 6}, {64, 24}, 5}, 11, d);
  models::TrainerConfig t;
  t.epochs = 3;
  t.batch_size = 32;
  t.optimizer.lr = 3e-3;
  t.shuffle_seed = 4;
  t.restore_best = false;
  t.comm = comm;
  models::Trainer(t).fit(*model, shapes_rows(203, 9).to(d));
  return all_parameter_values(*model);
}

}  // namespace ae::testing
