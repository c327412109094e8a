// The stacked autoencoder: greedy layer-wise pretraining (Bengio et al. 2007), then end-to-end
// fine-tuning of the whole stack with the ordinary Trainer.
//
// Layer l is pretrained as a shallow autoencoder widths[l] -> widths[l+1] -> widths[l] on the
// codes of the layers below it (layer 0 on the data). Its encoder becomes encoder layer l of the
// deep model and its decoder becomes the mirrored decoder layer. Each shallow model keeps the
// deep model's activation for that layer, its tying, weight regularizers, code penalty and
// noise (so a stack of denoising, sparse or contractive layers is pretrained as such); the loss
// of layer l > 0 is cross-entropy when its input is a sigmoid code (in [0, 1]) and ½ squared
// error otherwise.
#pragma once
#include <vector>

#include "models/autoencoder.h"
#include "models/trainer.h"

namespace ae::models {

// The shallow autoencoder that pretrains encoder layer `layer` of `deep`.
AutoencoderConfig pretraining_config(const AutoencoderConfig& deep, int layer);

// Pretrains every layer of `deep` in turn (layer l from seed + l) and copies the results into
// it; returns one TrainResult per layer. `val` may be undefined.
std::vector<TrainResult> pretrain_greedy(Autoencoder& deep, const Tensor& train, const Tensor& val,
                                         const TrainerConfig& config, uint64_t seed);

}  // namespace ae::models
