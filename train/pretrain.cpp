#include "train/pretrain.h"

#include "core/autograd.h"

namespace ae::models {

std::vector<TrainResult> pretrain_greedy(Autoencoder& deep, const Tensor& train, const Tensor& val,
                                         const TrainerConfig& config, uint64_t seed) {
  std::vector<TrainResult> results;
  Tensor x_train = train.to(deep.device()).to(deep.dtype());
  Tensor x_val = val.defined() ? val.to(deep.device()).to(deep.dtype()) : Tensor();
  const int L = deep.layers();
  for (int l = 0; l < L; ++l) {
    Autoencoder shallow(pretraining_config(deep.config(), l), seed + static_cast<uint64_t>(l),
                        deep.device());
    results.push_back(Trainer(config).fit(shallow, x_train, x_val));

    NoGradGuard no_grad;
    Linear& enc = deep.encoder()[l];
    Linear& dec = deep.decoder()[L - 1 - l];  // widths[l+1] -> widths[l]
    enc.weight.copy_(shallow.encoder()[0].weight);
    enc.bias.copy_(shallow.encoder()[0].bias);
    if (dec.weight.defined()) dec.weight.copy_(shallow.decoder()[0].weight);
    dec.bias.copy_(shallow.decoder()[0].bias);
    // The next layer learns to reconstruct this layer's codes.
    x_train = shallow.encode(x_train);
    if (x_val.defined()) x_val = shallow.encode(x_val);
  }
  return results;
}

}  // namespace ae::models
