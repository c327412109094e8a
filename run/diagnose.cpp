#include "run/diagnose.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "analysis/pca.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "data/normalize.h"
#include "run/session.h"

namespace ae::run {
namespace {

// The mean over the rows of x (n, features) of Σ_j (x_ij − mean_j)²: what predicting the rows'
// mean costs per sample, in squared error.
double total_variance(const Tensor& x) {
  const Tensor host = x.to(Device::cpu()).to(DType::f32);
  models::FeatureMoments moments;
  moments.add(host.data_as<float>(), host.size(0), host.size(1));
  double total = 0;
  for (double m2 : moments.m2) total += m2 / static_cast<double>(moments.count);
  return total;
}

Tensor first_rows(const Tensor& x) { return slice(x, 0, std::min<int64_t>(x.size(0), kCheckedRows)); }

bool relu_type(const models::ModelSpec& spec) {
  const models::Activation a = spec.autoencoder.code;
  return spec.kind == models::ModelKind::autoencoder &&
         (a == models::Activation::relu || a == models::Activation::leaky_relu);
}

// What PCA says of the training rows x for a code of `width` units: the effective rank (the
// principal components explaining 99% of the variance, at most k = min(width, features, rows))
// and the share of the variance the top k explain.
struct Structure {
  int64_t rank = 0, k = 0;
  double explained = 0;
};
Structure structure(const Tensor& x, int64_t width) {
  Structure s;
  s.k = std::min({width, x.size(1), x.size(0)});
  const models::Pca pca = models::Pca::fit(x, s.k);
  if (pca.total_variance <= 0) return s;
  const std::vector<double> ratio = pca.explained_variance_ratio();
  s.rank = s.k;
  for (int64_t j = 0; j < s.k; ++j) {
    s.explained += ratio[static_cast<size_t>(j)];
    if (s.explained >= 0.99 && s.rank == s.k) s.rank = j + 1;
  }
  return s;
}

}  // namespace

std::optional<double> firing_threshold(const models::ModelSpec& spec) {
  if (spec.kind != models::ModelKind::autoencoder) return std::nullopt;
  if (relu_type(spec)) return 0.0;
  const models::CodePenalty p = spec.autoencoder.penalty;
  const bool penalised = spec.autoencoder.penalty_weight > 0 &&
                         (p == models::CodePenalty::l1 || p == models::CodePenalty::kl_sparsity);
  if (penalised && spec.autoencoder.code == models::Activation::sigmoid) return 0.5;
  return std::nullopt;
}

models::CodeFiring measure_firing(models::Model& model, const models::ModelSpec& spec,
                                  const Tensor& x, double threshold) {
  models::CodeFiring firing(threshold);
  const Tensor rows = first_rows(x);
  constexpr int64_t kBatch = 1024;
  for (int64_t lo = 0; lo < rows.size(0); lo += kBatch)
    firing.add(encode(model, spec, slice(rows, lo, std::min(rows.size(0), lo + kBatch))));
  return firing;
}

Sparsity epoch_sparsity(models::Model& model, const models::ModelSpec& spec, const Tensor& train) {
  if (auto* sae = dynamic_cast<models::SparseAutoencoder*>(&model)) {
    // Its own counts over the epoch's training steps: no second pass over the data.
    models::LatentActivity a = sae->take_activity();
    const double n = static_cast<double>(sae->config().latents);
    Sparsity s;
    s.measured = s.sae = true;
    s.l0 = a.l0;
    s.dead_latents = a.dead;
    s.dead_fraction = static_cast<double>(a.dead) / n;
    s.dense_fraction = static_cast<double>(a.dense) / n;
    s.mse = a.mse;
    s.fvu = a.fvu;
    s.auxk = a.auxk;
    s.fired = std::move(a.fired);
    s.samples = a.samples;
    return s;
  }
  const std::optional<double> threshold = firing_threshold(spec);
  if (!threshold || !train.defined() || train.size(0) == 0) return {};
  const models::CodeFiring firing = measure_firing(model, spec, train, *threshold);
  Sparsity s;
  s.measured = true;
  s.l0 = firing.l0();
  s.dead_fraction = firing.dead_fraction();
  s.dense_fraction = firing.dense_fraction();
  return s;
}

std::string destroying_noise(const RunConfig& config, const Tensor& x) {
  const std::string& kind = config.model.noise;
  const double level = config.model.noise_level;
  if (kind == "none" || level <= 0) return "";
  if (kind == "gaussian") {
    const double stddev = std::sqrt(total_variance(first_rows(x)) / static_cast<double>(x.size(1)));
    if (level < 3 * stddev) return "";
    return cat("the corruption (gaussian σ=", level, " on data with std ", stddev,
               ") leaves no signal to reconstruct from; lower --noise-level");
  }
  if (level < 0.9) return "";
  return cat("the corruption (", kind, " of ", level * 100, "% of the inputs) leaves no signal "
             "to reconstruct from; lower --noise-level");
}

std::optional<CodeDiagnosis> diagnose_code(models::Model& model, const models::ModelSpec& spec,
                                           const RunConfig& config, const PreparedData& data) {
  const bool val = data.val.size() > 1;
  const models::Dataset& shown = val ? data.val : data.train;
  // A sparse autoencoder's latents are measured during training (epoch_sparsity): a check over
  // dense codes of its many latents would cost rows × latents of memory.
  if (shown.size() < 2 || spec.kind == models::ModelKind::sae) return std::nullopt;
  NoGradGuard no_grad;
  CodeDiagnosis d;
  d.split = val ? "validation" : "training";
  const Tensor x = first_rows(shown.x);
  const int64_t n = x.size(0);
  d.samples = n;
  const bool vae = spec.kind == models::ModelKind::vae;
  // A VAE's posterior means are on the prior's scale: Burda et al.'s activity threshold. Other
  // codes: a unit that moves by less than 1e-3 (a sigmoid or tanh code spans 1).
  const double tolerance = vae ? 0.1 : 1e-3;
  const Tensor codes = encode(model, spec, x);
  d.activity = models::code_activity(codes, tolerance);
  if (const std::optional<double> threshold = firing_threshold(spec)) {
    d.firing.emplace(*threshold);
    d.firing->add(codes);
    d.dead = static_cast<int64_t>(d.firing->dead().size());
  }
  const std::vector<double> errors = per_sample_error(model, x);
  for (double e : errors) d.error += e / static_cast<double>(n);
  d.mean_error = total_variance(x);

  const int64_t units = d.activity.units;
  const int64_t constant = static_cast<int64_t>(d.activity.constant.size());
  const bool most_constant = 2 * constant > units;
  const bool no_better = d.mean_error > 0 && d.error >= 0.98 * d.mean_error;
  d.collapsed = most_constant || no_better;
  const bool dead_warning = relu_type(spec) && 4 * d.dead >= units && d.dead > 0;
  const std::string over = cat(n == shown.size() ? "" : "first ", n, " ", d.split, " samples");
  const std::string counted = cat(constant, " of ", units, " code units constant over the ", over);
  if (!d.collapsed && !dead_warning) {
    d.note = cat("code: ", counted, " (standard deviation <= ", tolerance, ")");
    if (d.firing)
      d.note += cat("; L0 ", d.firing->l0(), " of ", units, " units fire per sample, ", d.dead,
                    " never fire");
    return d;
  }

  std::vector<std::string> causes;
  const std::string noise = destroying_noise(config, data.train.x);
  if (d.collapsed && !noise.empty()) {
    causes.push_back(noise);
  } else {
    // A smaller code is advice only where the code is wider than the data's effective rank.
    const int64_t width = spec.code_width();
    const Structure pca = structure(first_rows(data.train.x), width);
    const int64_t rank = pca.rank;
    const bool too_wide = rank < width;
    const bool unit_range = data.low >= 0 && data.high <= 1;
    if (data.normalization == "none" && !unit_range)
      causes.push_back(cat("unscaled data (values in [", data.low, ", ", data.high,
                           "]; --normalize auto standardises them)"));
    if (vae)
      causes.push_back(cat("the KL term outweighing the reconstruction (--beta ", config.model.beta,
                           too_wide ? "; a smaller --code)" : ")"));
    else if (config.model.penalty != "none" && config.model.penalty_weight > 0)
      causes.push_back(cat("too strong a penalty (--penalty ", config.model.penalty,
                           " with --penalty-weight ", config.model.penalty_weight, ")"));
    if (causes.empty() && dead_warning && !d.collapsed)
      causes.push_back(cat("a learning rate that pushed them below zero for good (--lr ",
                           config.train.lr, ")"));
    // A code of k units does little better than the mean where k principal components do.
    if (causes.empty() && no_better && !most_constant && pca.explained < 0.25)
      causes.push_back(cat("data with little structure for a code of ", width, " units (PCA's top ",
                           pca.k, " components explain ",
                           std::round(1000 * pca.explained) / 10, "% of the training rows' variance)"));
    if (causes.empty())
      causes.push_back(too_wide
                           ? cat("a code wider than the data needs (", rank,
                                 rank == 1 ? " principal component explains"
                                           : " principal components explain",
                                 " 99% of its variance; a smaller --code)")
                           : cat("too little training (--epochs ", config.train.epochs,
                                 "; train longer) or a learning rate that saturated the code "
                                 "units (--lr ", config.train.lr, ")"));
  }
  std::string likely;
  for (size_t i = 0; i < causes.size(); ++i) likely += cat(i ? " or " : "", causes[i]);
  if (most_constant)
    d.warning = cat(counted, " (units ", models::unit_list(d.activity.constant),
                    ": standard deviation <= ", tolerance, "), so the code carries almost nothing");
  else if (no_better)
    d.warning = cat("the reconstruction error over the ", over, " (", d.error,
                    " per sample) is no better than predicting their mean (", d.mean_error,
                    "), so the model has collapsed to a mean predictor");
  else
    d.warning = cat(d.dead, " of ", units, " code units never fire over the ", over, " (units ",
                    models::unit_list(d.firing->dead()), ": ",
                    models::activation_name(spec.autoencoder.code),
                    " code never above 0), so they are dead and carry nothing");
  d.warning += cat("; likely cause: ", likely);
  return d;
}

std::string prior_mismatch(models::Vae& vae, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor rows = first_rows(x);
  if (rows.size(0) < 2) return "";
  const models::Posterior q = vae.encode(rows.to(vae.device()).to(vae.dtype()));
  const std::vector<double> mu = q.mu.to_vector(), logvar = q.logvar.to_vector();
  const int64_t n = q.mu.size(0), k = q.mu.size(1);
  double lo_var = INFINITY, hi_var = 0, far_mean = 0;
  int64_t lo_dim = 0, hi_dim = 0, mean_dim = 0;
  for (int64_t j = 0; j < k; ++j) {
    double m = 0, s2 = 0, v = 0;
    for (int64_t i = 0; i < n; ++i) {
      m += mu[i * k + j] / static_cast<double>(n);
      s2 += std::exp(logvar[i * k + j]) / static_cast<double>(n);
    }
    for (int64_t i = 0; i < n; ++i) v += (mu[i * k + j] - m) * (mu[i * k + j] - m) / static_cast<double>(n);
    const double total = v + s2;
    if (total < lo_var) lo_var = total, lo_dim = j;
    if (total > hi_var) hi_var = total, hi_dim = j;
    if (std::abs(m) > std::abs(far_mean)) far_mean = m, mean_dim = j;
  }
  if (lo_var >= 0.5 && hi_var <= 2 && std::abs(far_mean) <= 0.5) return "";
  return cat("the training codes' aggregate posterior is far from the prior N(0, I) the samples "
             "are drawn from: its variance per latent dimension runs from ", lo_var, " (dimension ",
             lo_dim, ") to ", hi_var, " (dimension ", hi_dim, "), its largest mean is ", far_mean,
             " (dimension ", mean_dim, "; the prior has variance 1 and mean 0, and ae expects "
             "variances in [0.5, 2] and means within ±0.5), so the samples will not look like the "
             "data; a larger --beta brings the codes to the prior");
}

}  // namespace ae::run
