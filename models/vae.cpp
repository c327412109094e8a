#include "models/vae.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace ae::models {

namespace {
// The evaluation noise stream's seed: a fixed function of the model's seed, apart from it.
constexpr uint64_t kEvalStream = 0x9E3779B97F4A7C15ull;
}  // namespace

Vae::Vae(VaeConfig config, uint64_t seed, Device device)
    : config_(std::move(config)), device_(device), seed_(seed), gen_(seed) {
  const std::vector<int64_t>& w = config_.widths;
  AE_CHECK(!w.empty(), "Vae: widths need at least the input width");
  for (int64_t v : w) AE_CHECK(v > 0, "Vae: widths must be positive, got ", v);
  AE_CHECK(config_.latent > 0, "Vae: latent must be positive, got ", config_.latent);
  const DType dt = config_.dtype;
  const Init hidden_init = init_for(config_.hidden);
  for (size_t i = 0; i + 1 < w.size(); ++i)
    encoder_.push_back(Linear::create(w[i], w[i + 1], hidden_init, gen_, device_, dt));
  mu_ = Linear::create(w.back(), config_.latent, Init::xavier_uniform, gen_, device_, dt);
  logvar_ = Linear::create(w.back(), config_.latent, Init::xavier_uniform, gen_, device_, dt);
  int64_t in = config_.latent;
  for (size_t i = w.size(); i-- > 0;) {
    bool output = i == 0;
    Init init = output ? Init::xavier_uniform : hidden_init;
    decoder_.push_back(Linear::create(in, w[i], init, gen_, device_, dt));
    in = w[i];
  }
}

Posterior Vae::encode(const Tensor& x) const {
  AE_CHECK(x.ndim() == 2 && x.size(1) == config_.widths[0], "Vae: input ", x.shape(),
           " does not match the input width ", config_.widths[0]);
  Tensor h = x;
  for (const Linear& layer : encoder_) h = layer.forward(h, config_.hidden);
  return {mu_.forward(h), soft_clamp(logvar_.forward(h), kLogvarMin, kLogvarMax, kLogvarMargin)};
}

Tensor Vae::decode_logits(const Tensor& z) const {
  Tensor h = z;
  for (size_t i = 0; i < decoder_.size(); ++i) {
    h = decoder_[i].forward(h, i + 1 < decoder_.size() ? config_.hidden : Activation::identity);
  }
  return h;
}

Tensor Vae::decode(const Tensor& z) const {
  return output_activation(config_.data, decode_logits(z));
}

Losses Vae::loss(const Tensor& x, const LossContext& context) {
  Posterior q = encode(x);
  Generator eval_gen(seed_ ^ kEvalStream);
  Generator& gen = context.training ? gen_ : eval_gen;
  uint64_t offset = gen.advance(static_cast<uint64_t>(q.mu.numel()));
  Reparameterized r = reparameterize(q.mu, q.logvar, gen.seed(), offset);
  Tensor reconstruction = reconstruction_loss(config_.data, decode_logits(r.z), x);
  Losses out;
  out.total = reconstruction + r.kl * config_.beta.at(context.step);
  out.reconstruction = reconstruction.detach();
  out.penalty = Tensor::zeros(Shape{}, config_.dtype, device_);
  out.kl = r.kl.detach();
  return out;
}

Tensor Vae::reconstruct(const Tensor& x) {
  NoGradGuard no_grad;
  return decode(encode(x).mu);
}

Tensor Vae::sample(int64_t n, Generator& gen) const {
  AE_CHECK(n > 0, "Vae::sample: n must be positive, got ", n);
  NoGradGuard no_grad;
  return decode(gen.randn(Shape{n, config_.latent}, config_.dtype, device_));
}

std::vector<Parameter> Vae::parameters() const {
  std::vector<Parameter> params;
  auto add = [&](const std::string& prefix, const Linear& l) {
    params.push_back({prefix + ".weight", l.weight, true});
    params.push_back({prefix + ".bias", l.bias, false});
  };
  for (size_t i = 0; i < encoder_.size(); ++i) add(cat("encoder.", i), encoder_[i]);
  add("mu", mu_);
  add("logvar", logvar_);
  for (size_t i = 0; i < decoder_.size(); ++i) add(cat("decoder.", i), decoder_[i]);
  return params;
}

}  // namespace ae::models
