// A sparse autoencoder in the formats of the interpretability tools, both ways: SAELens's
// (cfg.json + sae_weights.safetensors) and EleutherAI sparsify's (cfg.json + sae.safetensors).
//
// What each format computes, and what ae's kinds (models/sae.h) become in it:
//   SAELens   pre = (x − b_dec·[apply_b_dec_to_input]) W_enc + b_enc, W_enc (d_in, d_sae),
//             W_dec (d_sae, d_in), x̂ = z W_dec + b_dec, and z by architecture:
//               topk      TopK(pre) then ReLU           <- topk
//               jumprelu  ReLU(pre) · [pre > threshold]  <- jumprelu, and batchtopk with its
//                                                           inference threshold θ for every latent
//               standard  ReLU(pre)                      <- relu-l1
//   sparsify  z = TopK(ReLU((x − b_dec) encoder.weightᵀ + encoder.bias)), encoder.weight
//             (num_latents, d_in), x̂ = z W_dec + b_dec, W_dec (num_latents, d_in)  <- topk
//
// Both read the data as it is: ae's normaliser of the run, y = (x − shift) · scale per feature
// (mean_norm, the sparse autoencoders' default, is one scale for every feature), is folded into
// the weights on export, in float64:
//   W_enc[i, j] · scale_j,   W_dec[i, j] / scale_j,   b_dec_j / scale_j + shift_j,   b_enc, θ as they are,
// so that the exported SAE gives ae's codes, and ae's reconstructions in data space, on the
// unnormalised data (Gao et al. 2024 fold their √d scale the same way). The decoder's rows are
// then of norm 1/scale, not 1, where the run was normalised.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "train/checkpoint.h"
#include "data/normalize.h"

namespace ae::run {

enum class SaeFormat : uint8_t { saelens, sparsify };
const char* sae_format_name(SaeFormat f);  // "saelens", "sparsify"
// "saelens" or "sparsify"; anything else is an ae::Error naming --format.
SaeFormat parse_sae_format(const std::string& name);

// Writes `model` (a sparse autoencoder of `spec`) to the folder `dir` in `format`, its
// normaliser folded in as above: the weights first, then cfg.json, each file atomically. `dir` is
// made when missing; one that already holds cfg.json or the format's weights file is refused, as
// are a model that is not a sparse autoencoder, a kind the format lacks (sparsify: topk only)
// and a normaliser scale of 0. Errors are one line naming the run, `dir` or the value.
void export_sae(const models::ModelSpec& spec, models::Model& model,
                const std::optional<models::Normalizer>& norm, SaeFormat format,
                const std::string& dir);

// Whether `dir` is a folder of one of the two formats (cfg.json beside sae_weights.safetensors or
// sae.safetensors).
bool is_sae_folder(const std::string& dir);

// The kind of the SAE in such a folder, from its cfg.json alone (ae::Error as read_sae_folder's).
models::SaeKind sae_folder_kind(const std::string& dir);

// The SAE of such a folder as an ae checkpoint held in memory: ae's model spec (kind, inputs,
// latents, k; the decoder kept at unit norm in further training when its rows are), the weights
// under ae's parameter names in float32 (F32, F64, F16 and BF16 files are read), and the run
// metadata load_run needs (a table of d_in features, no normaliser). JumpReLU thresholds ≤ 0 act
// as ReLU in SAELens and become 1e-30 (ae keeps log θ). SAELens's apply_b_dec_to_input false and
// a TopK's rescale_acts_by_decoder_norm are folded into the weights (the same function); what ae
// cannot compute (another architecture, normalize_activations other than "none", reshaped
// activations, sparsify's groupmax, skip connection or transcoder, a tensor the architecture does
// not have) is an ae::Error naming the file, the field and its value.
models::Checkpoint read_sae_folder(const std::string& dir);

}  // namespace ae::run
