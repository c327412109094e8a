// The stacked autoencoder: greedy layer-wise pretraining (Bengio et al. 2007; the loop is
// train/pretrain.h), then end-to-end fine-tuning of the whole stack with the ordinary Trainer.
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

namespace ae::models {

// The shallow autoencoder that pretrains encoder layer `layer` of `deep`.
AutoencoderConfig pretraining_config(const AutoencoderConfig& deep, int layer);

}  // namespace ae::models
