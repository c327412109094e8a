#include "models/autoencoder.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "models/penalties.h"

namespace ae::models {

// --- names ----------------------------------------------------------------------------------

const char* data_kind_name(DataKind k) { return k == DataKind::binary ? "binary" : "real"; }

DataKind parse_data_kind(const std::string& name) {
  if (name == "binary") return DataKind::binary;
  if (name == "real") return DataKind::real;
  fail(cat("'", name, "' is not one of binary, real"));
}

namespace {
struct NamedPenalty {
  CodePenalty penalty;
  const char* name;
};
constexpr NamedPenalty kPenalties[] = {{CodePenalty::none, "none"},
                                       {CodePenalty::l1, "l1"},
                                       {CodePenalty::kl_sparsity, "kl_sparsity"},
                                       {CodePenalty::contractive, "contractive"}};
}  // namespace

const char* code_penalty_name(CodePenalty p) {
  for (const NamedPenalty& n : kPenalties)
    if (n.penalty == p) return n.name;
  fail(cat("code_penalty_name: unknown penalty ", static_cast<int>(p)));
}

CodePenalty parse_code_penalty(const std::string& name) {
  for (const NamedPenalty& n : kPenalties)
    if (name == n.name) return n.penalty;
  fail(cat("'", name, "' is not one of none, l1, kl_sparsity, contractive"));
}

// --- losses ---------------------------------------------------------------------------------

Tensor reconstruction_loss(DataKind kind, const Tensor& logits, const Tensor& x) {
  Tensor target = x.detach();
  if (kind == DataKind::binary) return bce_with_logits_loss(logits, target, Reduction::batch_mean);
  return loss(LossOp::squared_error, logits, target, Reduction::batch_mean) * 0.5;
}

Tensor output_activation(DataKind kind, const Tensor& logits) {
  return kind == DataKind::binary ? sigmoid(logits) : logits;
}

LossValues read(const Losses& l) {
  auto value = [](const Tensor& t) { return t.defined() ? t.item() : 0.0; };
  return {value(l.total), value(l.reconstruction), value(l.penalty), value(l.kl)};
}

// --- the model ------------------------------------------------------------------------------

Autoencoder::Autoencoder(AutoencoderConfig config, uint64_t seed, Device device)
    : config_(std::move(config)), device_(device), gen_(seed) {
  const std::vector<int64_t>& w = config_.widths;
  AE_CHECK(w.size() >= 2, "Autoencoder: widths need the input and the code, got ", w.size(),
           " entries");
  for (int64_t v : w) AE_CHECK(v > 0, "Autoencoder: widths must be positive, got ", v);
  AE_CHECK(config_.penalty != CodePenalty::kl_sparsity || config_.code == Activation::sigmoid,
           "Autoencoder: kl_sparsity needs a sigmoid code (activations read as probabilities), "
           "got ", activation_name(config_.code));
  AE_CHECK(config_.penalty_weight >= 0 && config_.l1 >= 0 && config_.l2 >= 0,
           "Autoencoder: penalty weights must be >= 0 (penalty ", config_.penalty_weight, ", l1 ",
           config_.l1, ", l2 ", config_.l2, ")");

  const int L = static_cast<int>(w.size()) - 1;
  const DType dt = config_.dtype;
  for (int i = 0; i < L; ++i)
    encoder_.push_back(
        Linear::create(w[i], w[i + 1], init_for(encoder_activation(i)), gen_, device_, dt));
  for (int i = 0; i < L; ++i) {
    int64_t in = w[L - i], out = w[L - i - 1];
    if (config_.tied) {
      decoder_.push_back(Linear{Tensor(), zero_bias(out, device_, dt)});
    } else {
      Activation act = i + 1 < L ? config_.hidden : Activation::sigmoid;
      if (i + 1 == L && config_.data == DataKind::real) act = Activation::identity;
      decoder_.push_back(Linear::create(in, out, init_for(act), gen_, device_, dt));
    }
  }
}

Activation Autoencoder::encoder_activation(int i) const {
  return i + 1 == layers() ? config_.code : config_.hidden;
}

const Tensor& Autoencoder::decoder_weight(int i) const {
  return config_.tied ? encoder_[layers() - 1 - i].weight : decoder_[i].weight;
}

std::vector<Tensor> Autoencoder::encode_layers(const Tensor& x) const {
  AE_CHECK(x.ndim() == 2 && x.size(1) == config_.widths[0], "Autoencoder: input ", x.shape(),
           " does not match the input width ", config_.widths[0]);
  std::vector<Tensor> hs;
  Tensor h = x;
  for (int i = 0; i < layers(); ++i) {
    h = encoder_[i].forward(h, encoder_activation(i));
    hs.push_back(h);
  }
  return hs;
}

Tensor Autoencoder::encode(const Tensor& x) const { return encode_layers(x).back(); }

Tensor Autoencoder::decode_logits(const Tensor& code) const {
  Tensor h = code;
  for (int i = 0; i < layers(); ++i) {
    Activation act = i + 1 < layers() ? config_.hidden : Activation::identity;
    h = linear_forward(h, decoder_weight(i), decoder_[i].bias, act, config_.tied);
  }
  return h;
}

Tensor Autoencoder::decode(const Tensor& code) const {
  return output_activation(config_.data, decode_logits(code));
}

Tensor Autoencoder::penalty(const std::vector<Tensor>& hs) const {
  const double lambda = config_.penalty_weight;
  Tensor total = Tensor::zeros(Shape{}, config_.dtype, device_);
  if (config_.l2 > 0)
    total = total + l2_penalty(parameters(), config_.l2, config_.regularize_biases);
  if (config_.l1 > 0)
    total = total + l1_penalty(parameters(), config_.l1, config_.regularize_biases);
  if (lambda == 0) return total;
  switch (config_.penalty) {
    case CodePenalty::none: break;
    case CodePenalty::l1: total = total + l1_code_penalty(hs.back(), lambda); break;
    case CodePenalty::kl_sparsity:
      total = total + kl_sparsity_penalty(hs.back(), config_.sparsity_target, lambda);
      break;
    case CodePenalty::contractive:
      for (int i = 0; i < layers(); ++i)
        total = total + jacobian_penalty(hs[i], encoder_[i].weight, encoder_activation(i), lambda);
      break;
  }
  return total;
}

Losses Autoencoder::loss(const Tensor& x, const LossContext& context) {
  Tensor input = context.training ? corrupt(x, config_.noise, gen_) : x;
  std::vector<Tensor> hs = encode_layers(input);
  Tensor reconstruction = reconstruction_loss(config_.data, decode_logits(hs.back()), x);
  Tensor pen = penalty(hs);
  Losses out;
  out.total = reconstruction + pen;
  out.reconstruction = reconstruction.detach();
  out.penalty = pen.detach();
  out.kl = Tensor::zeros(Shape{}, config_.dtype, device_);
  return out;
}

Tensor Autoencoder::reconstruct(const Tensor& x) {
  NoGradGuard no_grad;
  return decode(encode(x));
}

std::vector<Parameter> Autoencoder::parameters() const {
  std::vector<Parameter> params;
  for (int i = 0; i < layers(); ++i) {
    params.push_back({cat("encoder.", i, ".weight"), encoder_[i].weight, true});
    params.push_back({cat("encoder.", i, ".bias"), encoder_[i].bias, false});
  }
  for (int i = 0; i < layers(); ++i) {
    if (!config_.tied) params.push_back({cat("decoder.", i, ".weight"), decoder_[i].weight, true});
    params.push_back({cat("decoder.", i, ".bias"), decoder_[i].bias, false});
  }
  return params;
}

}  // namespace ae::models
