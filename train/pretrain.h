// Greedy layer-wise pretraining of a stacked autoencoder (Bengio et al. 2007): each encoder
// layer is trained as the shallow autoencoder of models/stacked.h on the codes of the layers
// below it, then copied into the deep model.
#pragma once
#include <vector>

#include "models/stacked.h"
#include "train/trainer.h"

namespace ae::models {

// Pretrains every layer of `deep` in turn (layer l from seed + l) and copies the results into
// it; returns one TrainResult per layer. `val` may be undefined.
std::vector<TrainResult> pretrain_greedy(Autoencoder& deep, const Tensor& train, const Tensor& val,
                                         const TrainerConfig& config, uint64_t seed);

}  // namespace ae::models
