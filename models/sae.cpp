#include "models/sae.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"

namespace ae::models {

namespace {

struct KindName {
  SaeKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {{SaeKind::topk, "topk"},
                               {SaeKind::batch_topk, "batchtopk"},
                               {SaeKind::jumprelu, "jumprelu"},
                               {SaeKind::relu_l1, "relu-l1"}};

// Rows of x scaled to unit norm (zero rows stay zero), on the host, float64.
std::vector<double> unit_rows(std::vector<double> v, int64_t rows, int64_t cols, double scale) {
  for (int64_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (int64_t c = 0; c < cols; ++c) sq += v[r * cols + c] * v[r * cols + c];
    const double f = sq > 0 ? scale / std::sqrt(sq) : 0;
    for (int64_t c = 0; c < cols; ++c) v[r * cols + c] *= f;
  }
  return v;
}

Tensor on(const std::vector<double>& v, const Shape& shape, DType dt, Device d) {
  return Tensor::from_host(v, shape, Device::cpu()).to(dt).to(d);
}


}  // namespace

const char* sae_kind_name(SaeKind k) {
  for (const KindName& e : kKinds)
    if (e.kind == k) return e.name;
  return "?";
}

bool is_sae_kind(const std::string& name) {
  for (const KindName& e : kKinds)
    if (name == e.name) return true;
  return false;
}

SaeKind parse_sae_kind(const std::string& name) {
  for (const KindName& e : kKinds)
    if (name == e.name) return e.kind;
  throw Error(cat("unknown sparse autoencoder '", name, "' (topk, batchtopk, jumprelu, relu-l1)"));
}

SparseAutoencoder::SparseAutoencoder(SaeConfig config, uint64_t seed, Device device)
    : config_(std::move(config)), device_(device), gen_(seed) {
  const SaeConfig& c = config_;
  AE_CHECK(c.inputs >= 1 && c.latents >= 1, "sparse autoencoder: inputs (", c.inputs,
           ") and latents (", c.latents, ") must be at least 1");
  const bool selecting = c.kind == SaeKind::topk || c.kind == SaeKind::batch_topk;
  AE_CHECK(!selecting || (c.k >= 1 && c.k <= c.latents), "sparse autoencoder ",
           sae_kind_name(c.kind), ": k = ", c.k, " must lie in [1, ", c.latents, "] (the latents)");
  AE_CHECK(c.auxk_alpha >= 0 && c.auxk_k >= 0 && c.dead_after >= 1, "sparse autoencoder: AuxK ",
           "needs alpha >= 0 (got ", c.auxk_alpha, "), k_aux >= 0 (got ", c.auxk_k,
           ") and dead_after >= 1 sample (got ", c.dead_after, ")");
  AE_CHECK(c.l1 >= 0 && c.l0 >= 0, "sparse autoencoder: the sparsity coefficients must be >= 0, ",
           "got l1 ", c.l1, ", l0 ", c.l0);
  AE_CHECK(c.bandwidth > 0 && c.initial_threshold > 0, "sparse autoencoder jumprelu: the ",
           "bandwidth (", c.bandwidth, ") and the initial threshold (", c.initial_threshold,
           ") must be positive");
  AE_CHECK(c.threshold_momentum >= 0 && c.threshold_momentum < 1, "sparse autoencoder batchtopk: "
           "the threshold momentum must lie in [0, 1), got ", c.threshold_momentum);
  // The dictionary: rows uniform on the sphere (normal vectors scaled), drawn in float64 on the
  // host from the model's generator, so every device and dtype starts from the same directions.
  Tensor normals = gen_.randn(Shape{c.latents, c.inputs}, DType::f64, Device::cpu());
  const std::vector<double> dict = unit_rows(normals.to_vector(), c.latents, c.inputs,
                                             c.kind == SaeKind::relu_l1 ? 0.1 : 1.0);
  w_dec_ = on(dict, {c.latents, c.inputs}, c.dtype, device);
  w_enc_ = on(dict, {c.latents, c.inputs}, c.dtype, device);
  b_enc_ = Tensor::zeros({c.latents}, c.dtype, device);
  b_dec_ = Tensor::zeros({c.inputs}, c.dtype, device);
  for (Tensor* t : {&w_enc_, &b_enc_, &w_dec_, &b_dec_}) t->requires_grad_();
  if (c.kind == SaeKind::jumprelu) {
    log_threshold_ = Tensor::full({c.latents}, std::log(c.initial_threshold), c.dtype, device);
    log_threshold_.requires_grad_();
  }
  if (c.kind == SaeKind::batch_topk) threshold_ = Tensor::zeros({}, c.dtype, device);
  since_fired_.assign(static_cast<size_t>(c.latents), 0);
  fired_.assign(static_cast<size_t>(c.latents), 0);
  x_sum_.assign(static_cast<size_t>(c.inputs), 0.0);
}

void SparseAutoencoder::init_decoder_bias(const Tensor& sample, bool median) {
  AE_CHECK(sample.defined() && sample.ndim() == 2 && sample.size(1) == config_.inputs &&
               sample.size(0) > 0,
           "sparse autoencoder: the sample for b_dec must be (rows, ", config_.inputs, "), got ",
           sample.defined() ? sample.shape().str() : "none");
  const int64_t rows = sample.size(0), d = config_.inputs;
  const std::vector<double> x = sample.to_vector();
  std::vector<double> m(d, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j) m[j] += x[r * d + j] / static_cast<double>(rows);
  // Weiszfeld's iterations: m ← Σ w_r x_r / Σ w_r, w_r = 1 / ‖x_r − m‖, from the mean.
  for (int it = 0; median && it < 100; ++it) {
    std::vector<double> next(d, 0.0);
    double wsum = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double sq = 0;
      for (int64_t j = 0; j < d; ++j) sq += (x[r * d + j] - m[j]) * (x[r * d + j] - m[j]);
      const double w = 1 / std::max(std::sqrt(sq), 1e-12);
      wsum += w;
      for (int64_t j = 0; j < d; ++j) next[j] += w * x[r * d + j];
    }
    double moved = 0, scale = 0;
    for (int64_t j = 0; j < d; ++j) {
      next[j] /= wsum;
      moved += (next[j] - m[j]) * (next[j] - m[j]);
      scale += next[j] * next[j];
    }
    m = next;
    if (moved <= 1e-12 * std::max(scale, 1.0)) break;
  }
  b_dec_.copy_(on(m, {d}, config_.dtype, device_));
}

SparseSelection SparseAutoencoder::selection(bool training) const {
  using Kind = SparseSelection::Kind;
  switch (config_.kind) {
    case SaeKind::topk: return {Kind::topk, config_.k, {}, 0};
    case SaeKind::batch_topk:
      if (training) return {Kind::batch_topk, config_.k, {}, 0};
      return {Kind::threshold, 0, threshold_, 0};
    case SaeKind::jumprelu: return {Kind::jumprelu, 0, log_threshold_, config_.bandwidth};
    case SaeKind::relu_l1: break;
  }
  // Every positive pre-activation: the dense ReLU code, kept as slots.
  return {Kind::threshold, 0,
          Tensor::full({}, std::numeric_limits<double>::min(), config_.dtype, device_), 0};
}

Tensor SparseAutoencoder::encoder_bias() const {
  const Tensor w_b = matmul(w_enc_, reshape(b_dec_, {config_.inputs, 1}));
  return sub(b_enc_, reshape(w_b, {config_.latents}));
}

SparseCode SparseAutoencoder::encode(const Tensor& x) const {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == config_.inputs,
           "sparse autoencoder: input ", x.defined() ? x.shape().str() : "undefined",
           " for a model of ", config_.inputs, " inputs");
  const Tensor b = encoder_bias();
  return sparse_code(sparse_preactivation(x, w_enc_, b), x, w_enc_, b,
                     selection(false));
}

Losses SparseAutoencoder::loss(const Tensor& x, const LossContext& context) {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(1) == config_.inputs,
           "sparse autoencoder: input ", x.defined() ? x.shape().str() : "undefined",
           " for a model of ", config_.inputs, " inputs");
  const int64_t rows = x.size(0);
  Tensor x_hat, sparsity;
  SparseCode z;
  if (config_.kind == SaeKind::relu_l1) {
    // Dense: every latent may fire. λ Σ_i z_i ‖W_dec,i‖₂, averaged over the batch.
    const Tensor xc = sub(x, b_dec_);
    const Tensor h = linear(xc, w_enc_, b_enc_, UnaryOp::relu, {}, true);
    x_hat = add(matmul(h, w_dec_), b_dec_);
    const Tensor norms = sqrt(sum(square(w_dec_), 1));
    sparsity = mul(sum(matmul(h, reshape(norms, {config_.latents, 1}))), config_.l1 / rows);
    if (context.training) {
      NoGradGuard no_grad;
      const Tensor hd = h.detach();
      z = sparse_code(hd, xc.detach(), w_enc_.detach(), b_enc_.detach(), selection(false));
    }
  } else {
    const Tensor b = encoder_bias();
    const Tensor pre = sparse_preactivation(x, w_enc_, b, context.training ? pre_ : Tensor());
    if (context.training) pre_ = pre;
    z = sparse_code(pre, x, w_enc_, b, selection(context.training));
    x_hat = sparse_decode(z, w_dec_, b_dec_);
    if (config_.kind == SaeKind::jumprelu) sparsity = mul(z.l0, config_.l0);
    if (context.training && config_.kind == SaeKind::batch_topk) {
      // θ ← m θ + (1 − m) kth: the batches' smallest selected activation, averaged. The
      // momentum warms up as min(momentum, (1 + t) / (10 + t)) over the t updates so far (the
      // moving average of TensorFlow's ExponentialMovingAverage with num_updates): the first
      // batches' activations, larger than the trained model's, would otherwise hold θ above
      // them for hundreds of steps (a run of 15 steps left the inference L0 at 2 of k 16).
      NoGradGuard no_grad;
      const double t = static_cast<double>(threshold_updates_);
      const double m = t == 0 ? 0.0 : std::min(config_.threshold_momentum, (1 + t) / (10 + t));
      threshold_.copy_(add(mul(threshold_, m), mul(relu(z.kth), 1 - m)));
      ++threshold_updates_;
    }
    // AuxK: the dead latents' k_aux largest pre-activations model the residual.
    const bool auxk = context.training && config_.auxk_alpha > 0 &&
                      (config_.kind == SaeKind::topk || config_.kind == SaeKind::batch_topk);
    const int64_t dead = auxk ? dead_latents() : 0;
    if (dead > 0) {
      const int64_t k_aux =
          std::min(dead, config_.auxk_k > 0 ? config_.auxk_k : std::max<int64_t>(1, config_.inputs / 2));
      std::vector<double> mask(static_cast<size_t>(config_.latents));
      for (int64_t i = 0; i < config_.latents; ++i)
        mask[i] = since_fired_[i] >= config_.dead_after ? 0.0
                                                        : -std::numeric_limits<double>::infinity();
      // pre is not read again: the mask goes into it in place.
      add_rows_(pre, on(mask, {config_.latents}, config_.dtype, device_));
      const SparseCode za =
          sparse_code(pre, x, w_enc_, b, {SparseSelection::Kind::topk, k_aux, {}, 0});
      const Tensor e = sub(x, x_hat).detach();
      const Tensor e_hat = sparse_decode(za, w_dec_, Tensor());
      const Tensor centred = sub(e, mean(e, 0));
      const Tensor aux = div(sum(square(sub(e_hat, e))),
                             add(sum(square(centred)), std::numeric_limits<float>::min()));
      {
        NoGradGuard no_grad;
        auxk_ += aux.item();
        ++auxk_steps_;
      }
      // In the reconstruction's units: the normalised AuxK times the batch's variance of x, so
      // that α weighs it against the reconstruction as Gao et al.'s normalised losses do.
      const Tensor variance = div(sum(square(sub(x, mean(x, 0)))), static_cast<double>(rows));
      const Tensor weighted = mul(mul(aux, variance.detach()), config_.auxk_alpha);
      sparsity = sparsity.defined() ? add(sparsity, weighted) : weighted;
    }
  }
  const Tensor reconstruction = mse_loss(x_hat, x, Reduction::batch_mean);
  if (context.training) record(z, x, reconstruction);
  Losses out;
  out.total = sparsity.defined() ? add(reconstruction, sparsity) : reconstruction;
  out.reconstruction = reconstruction.detach();
  out.penalty = sparsity.defined() ? sparsity.detach() : Tensor::zeros({}, config_.dtype, device_);
  out.kl = Tensor::zeros(Shape{}, config_.dtype, device_);
  return out;
}

void SparseAutoencoder::record(const SparseCode& z, const Tensor& x,
                               const Tensor& reconstruction) {
  NoGradGuard no_grad;
  const SparseIndex& idx = *z.index;
  const std::vector<double> values = z.values.detach().to_vector();
  const std::vector<int32_t> index = idx.to_host();
  for (int64_t& s : since_fired_) s += idx.rows;
  for (size_t p = 0; p < index.size(); ++p) {
    if (index[p] < 0 || values[p] <= 0) continue;
    since_fired_[index[p]] = 0;
    ++fired_[index[p]];
    active_ += 1;
  }
  samples_ += idx.rows;
  // The reconstruction loss is Σ ‖x − x̂‖² / rows already: no second pass over the batch.
  err_ += reconstruction.item() * static_cast<double>(idx.rows);
  x_sq_ += sum(square(x)).item();
  const std::vector<double> col = sum(x, 0).to_vector();
  for (size_t j = 0; j < col.size(); ++j) x_sum_[j] += col[j];
}

LatentActivity SparseAutoencoder::take_activity() {
  LatentActivity a;
  a.samples = samples_;
  a.fired = fired_;
  a.dead = dead_latents();
  if (samples_ > 0) {
    a.l0 = active_ / static_cast<double>(samples_);
    for (int64_t f : fired_) a.dense += f * 10 > samples_;
    double mean_sq = 0;
    for (double s : x_sum_) mean_sq += s * s;
    const double total = x_sq_ - mean_sq / static_cast<double>(samples_);
    a.fvu = total > 0 ? err_ / total : 0;
    a.mse = err_ / static_cast<double>(samples_);
  }
  a.auxk = auxk_steps_ > 0 ? auxk_ / static_cast<double>(auxk_steps_) : 0;
  std::fill(fired_.begin(), fired_.end(), 0);
  std::fill(x_sum_.begin(), x_sum_.end(), 0.0);
  samples_ = auxk_steps_ = 0;
  active_ = err_ = x_sq_ = auxk_ = 0;
  return a;
}

int64_t SparseAutoencoder::dead_latents() const {
  int64_t dead = 0;
  for (int64_t s : since_fired_) dead += s >= config_.dead_after;
  return dead;
}

void SparseAutoencoder::set_samples_since_fired(std::vector<int64_t> s) {
  AE_CHECK(static_cast<int64_t>(s.size()) == config_.latents, "sparse autoencoder: ", s.size(),
           " counters for ", config_.latents, " latents");
  since_fired_ = std::move(s);
}

Tensor SparseAutoencoder::reconstruct(const Tensor& x) {
  NoGradGuard no_grad;
  return sparse_decode(encode(x), w_dec_, b_dec_);
}

Tensor SparseAutoencoder::code(const Tensor& x) const {
  NoGradGuard no_grad;
  return to_dense(encode(x));
}

Tensor SparseAutoencoder::decode(const Tensor& z) const {
  AE_CHECK(z.defined() && z.ndim() == 2 && z.size(1) == config_.latents, "sparse autoencoder: ",
           "codes ", z.defined() ? z.shape().str() : "undefined", " for a model of ",
           config_.latents, " latents");
  NoGradGuard no_grad;
  return add(matmul(z, w_dec_), b_dec_);
}

std::vector<Parameter> SparseAutoencoder::parameters() const {
  std::vector<Parameter> p{{"encoder.weight", w_enc_, true},
                           {"encoder.bias", b_enc_, false},
                           {"decoder.weight", w_dec_, true},
                           {"decoder.bias", b_dec_, false}};
  if (config_.kind == SaeKind::jumprelu) p.push_back({"log_threshold", log_threshold_, false});
  return p;
}

std::vector<Parameter> SparseAutoencoder::buffers() const {
  std::vector<double> since(since_fired_.begin(), since_fired_.end());
  std::vector<Parameter> b{{"latents.samples_since_fired",
                            Tensor::from_host(since, {config_.latents}, Device::cpu()), false}};
  if (config_.kind == SaeKind::batch_topk) {
    b.push_back({"threshold", threshold_, false});
    b.push_back({"threshold_updates",
                 Tensor::full({}, static_cast<double>(threshold_updates_), DType::f64, Device::cpu()),
                 false});
  }
  return b;
}

void SparseAutoencoder::set_buffer(const std::string& name, const Tensor& value) {
  NoGradGuard no_grad;
  if (name == "threshold" && config_.kind == SaeKind::batch_topk) {
    threshold_.copy_(value.to(config_.dtype).to(device_));
    // A checkpoint written before the count was kept: its θ has had many updates.
    threshold_updates_ = std::max<int64_t>(threshold_updates_, 1000);
    return;
  }
  if (name == "threshold_updates" && config_.kind == SaeKind::batch_topk) {
    threshold_updates_ = static_cast<int64_t>(value.item());
    return;
  }
  AE_CHECK(name == "latents.samples_since_fired" && value.numel() == config_.latents,
           "sparse autoencoder: no buffer '", name, "' ", value.shape(), " in a ",
           sae_kind_name(config_.kind), " model of ", config_.latents, " latents");
  const std::vector<double> v = value.to_vector();
  for (int64_t i = 0; i < config_.latents; ++i) since_fired_[i] = static_cast<int64_t>(v[i]);
}

std::string SparseAutoencoder::graph_obstacle() const {
  return cat("the ", sae_kind_name(config_.kind),
             " sparse autoencoder reads its latents' firing back to the host every step");
}

void SparseAutoencoder::before_update() {
  if (!config_.unit_norm_decoder) return;
  if (const Tensor g = w_dec_.grad(); g.defined()) project_out_rows_(w_dec_, g);
}

void SparseAutoencoder::after_update() {
  if (config_.unit_norm_decoder) normalize_rows_(w_dec_);
}

}  // namespace ae::models
